"""psmnet_node stops with exit status 0, within STOP_LIMIT_S and without a traceback, whatever it is
doing when SIGINT or SIGTERM arrives: importing torch, loading the model, inferring with a full queue,
already stopping. Real processes, real signals; each test waits for the moment it targets (a signal
handler installed, a log line, a diagnostics report), never for a fixed time."""
import signal

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from ros_helpers import NodeProcess, reserve_domain_id, ros_context, spin_until, stereo_messages

DOMAIN_ID = reserve_domain_id()
STOP_LIMIT_S = 3.0
"""The issue's bound (systemd and ros2 launch wait longer before killing); measured at most 0.89 s in 50
start/stop cycles with two busy processes (scripts/node_cycles.py, docs/development.md)."""
INPUTS = (("left/image_rect", Image), ("left/camera_info", CameraInfo), ("right/image_rect", Image),
          ("right/camera_info", CameraInfo))


def assert_stopped_cleanly(node: NodeProcess, rc, seconds: float, what: str) -> None:
    log = node.log()
    assert rc == 0, f"exit status {rc} after {what}:\n{log}"
    assert seconds < STOP_LIMIT_S, f"{seconds:.2f} s to stop after {what}:\n{log}"
    assert "Traceback" not in log and "Exception in thread" not in log, log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_importing(tmp_path, sig):
    """The node's first line installs the handlers; the signal arrives during the imports that follow."""
    with NodeProcess(tmp_path / "node.log", DOMAIN_ID, "-p", "device:=cpu") as node:
        node.wait_catching_sigterm()
        rc, seconds = node.stop(sig)
    assert_stopped_cleanly(node, rc, seconds, f"{sig.name} during the imports")
    assert "ready:" not in node.log()


def test_signal_while_the_model_loads(tmp_path):
    """fp16 on the cpu is announced as loading starts; the shipped weights then take a while to read and build."""
    with NodeProcess(tmp_path / "node.log", DOMAIN_ID, "-p", "device:=cpu", "-p", "precision:=fp16") as node:
        node.wait_for_log("precision 'fp16' is not usable on the cpu")
        rc, seconds = node.stop(signal.SIGINT)
    assert_stopped_cleanly(node, rc, seconds, "SIGINT while loading")


def test_stop_mid_inference_with_a_full_queue_does_not_wait_for_the_forward_pass(tmp_path):
    """A 496x496 pair takes the shipped stackhourglass seconds on a CPU. With one pair in the forward pass
    and one waiting (the queue is full: batch_size 1), SIGTERM must not wait for the pass; a second signal
    while the node stops (ros2 launch's SIGTERM, or Ctrl-C twice) must not break the stop either."""
    rng = np.random.default_rng(3)
    left = rng.integers(0, 256, (496, 496, 3), dtype=np.uint8)
    right = np.roll(left, -5, axis=1)
    with NodeProcess(tmp_path / "node.log", DOMAIN_ID, "-p", "device:=cpu", "-p", "qos:=reliable",
                     "-p", "lazy:=false", "-p", "diagnostics_period:=0.2") as node, ros_context(DOMAIN_ID) as context:
        client = Node("shutdown_test_client", context=context)
        reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        publishers = [client.create_publisher(msg_type, topic, reliable) for topic, msg_type in INPUTS]
        reports = []  # (input rate in Hz, frames queued) of each /diagnostics report, in order
        client.create_subscription(DiagnosticArray, "/diagnostics", lambda msg: reports.extend(
            (float(values["input rate (Hz)"]), values["queued frames"])
            for values in ({kv.key: kv.value for kv in status.values} for status in msg.status)), 10)

        def send(k):
            for publisher, msg in zip(publishers, stereo_messages(left, right, 1_700_000_000 * 10**9 + k)):
                publisher.publish(msg)

        def taken_by_the_worker():  # a report saw the pair arrive, a later one (or the same) an empty queue
            arrived = next((i for i, (rate, _) in enumerate(reports) if rate > 0), None)
            return arrived is not None and any(queued == "0" for _, queued in reports[arrived:])

        node.wait_ready()
        assert spin_until(client, lambda: all(p.get_subscription_count() for p in publishers), 30.0)
        send(0)
        assert spin_until(client, taken_by_the_worker, 60.0), f"the first pair never reached the worker:\n{node.log()}"
        send(1)
        assert spin_until(client, lambda: reports[-1][1] == "1", 60.0), f"the queue never filled:\n{node.log()}"
        rc, seconds = node.stop(signal.SIGTERM, then=signal.SIGINT, then_after_s=0.05)
        client.destroy_node()
    assert_stopped_cleanly(node, rc, seconds, "SIGTERM (then SIGINT) mid-inference")
