"""The check's node step: psmnet_node in a child process, fed stereo sets and listened to over DDS."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .check import Check
from ..node_overhead import kitti_like_camera
from .common import NODE_DOMAIN_ID, REPO, child_env


def kitti_sized_pairs(count: int, size: tuple[int, int]) -> list[tuple]:
    """``count`` different stereo pairs of ``size`` (height, width): shifted crops of the Motorcycle pair."""
    import cv2
    import numpy as np

    from ...core.datasets.middlebury import MiddleburyMotorcycle

    frame = MiddleburyMotorcycle().load(0)
    h, w = size
    pairs = []
    for i in range(count):
        box = (slice(20 * i, 20 * i + 240), slice(30 * i, 30 * i + 600))
        pairs.append(tuple(cv2.resize(np.ascontiguousarray(frame[side][box]), (w, h), interpolation=cv2.INTER_CUBIC)
                           for side in ("left", "right")))
    return pairs


def run_node(check: Check) -> dict:
    """psmnet_node in a subprocess, fed and listened to from this process over DDS (domain NODE_DOMAIN_ID)."""
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    from ...ros.conversions import camera_info_msgs, rgb_image_msg
    from ...ros.recorder import OutputRecorder
    from ...ros.spinning import SpinThread

    height, width = check.sizes.image
    pairs = kitti_sized_pairs(2, (height, width))
    calibration = kitti_like_camera(width, height)
    params = dict(check.sizes.node_params, qos="reliable")
    command = [sys.executable, "-m", "psmnet_ros.ros.node", "--ros-args", "--params-file", "config/psmnet.yaml"]
    for name, value in params.items():
        command += ["-p", f"{name}:={value}"]
    env = child_env(ROS_DOMAIN_ID=NODE_DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=NODE_DOMAIN_ID)
    recorder = OutputRecorder("/", "/left/image_rect", keep_messages=False, context=context)
    feeder = Node("psmnet_gpu_check_feeder", context=context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    publishers = [feeder.create_publisher(t, name, qos) for name, t in (
        ("left/image_rect", Image), ("left/camera_info", CameraInfo), ("right/image_rect", Image),
        ("right/camera_info", CameraInfo))]
    spin = SpinThread(recorder, feeder)
    sent: dict[int, float] = {}
    failed: list[str] = []  # the phase's refused publications (RCLError texts)
    node_log = check.work / "node.log"
    check.log(f"\n$ {' '.join(command)}   (log below, after the node stops)")
    started = time.monotonic()
    with open(node_log, "w") as log:
        node = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def publish(index: int) -> int | None:
            """Publish one stereo set; None if DDS refused a message of it (counted in publish_failed)."""
            stamp = time.time_ns()
            header = Header(frame_id="camera", stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9))
            left, right = pairs[index % 2]
            left_info, right_info = camera_info_msgs(calibration, header)
            messages = (rgb_image_msg(left, header), left_info, rgb_image_msg(right, header), right_info)
            sent[stamp] = time.monotonic()
            try:
                for publisher, msg in zip(publishers, messages):
                    publisher.publish(msg)
            except _rclpy.RCLError as exc:  # "cannot publish data": the reliable writer found no room in time
                del sent[stamp]
                failed.append(str(exc).split(",")[0])
                return None
            return stamp

        def feed(interval_s: float, until, stamps: list) -> None:
            index = 0
            while not until():
                if node.poll() is not None:
                    raise RuntimeError(f"psmnet_node exited with status {node.returncode}")
                due = time.monotonic() + interval_s
                stamp = publish(index)
                if stamp is not None:
                    stamps.append(stamp)
                index += 1
                time.sleep(max(0.0, due - time.monotonic()))

        first_deadline = started + min(180.0, check.remaining() - 2 * check.sizes.phase_s - 10)
        feed(0.1, lambda: recorder.count("/disparity") > 0 or time.monotonic() > first_deadline, [])
        first = min(recorder.arrival_times("/disparity").values(), default=None)
        found = {"first_frame_s": None if first is None else round(first - started, 2), "params": params,
                 "phases": {}}
        for phase, interval in (("10 Hz", 0.1), ("as fast as it goes", 0.01)):
            stamps: list[int] = []
            failed.clear()
            begin = time.monotonic()
            feed(interval, lambda: time.monotonic() - begin > check.sizes.phase_s, stamps)
            duration = time.monotonic() - begin
            drain = time.monotonic() + 30.0  # the queue keeps the newest frame: the phase's last one comes out
            while time.monotonic() < drain and stamps and stamps[-1] not in recorder.arrival_times("/disparity"):
                time.sleep(0.05)
            found["phases"][phase] = dict(phase_stats(recorder, stamps, sent, duration),
                                          publish_failed=len(failed), publish_error=failed[0] if failed else None)
        return found
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        spin.stop()
        recorder.destroy_node()
        feeder.destroy_node()
        context.try_shutdown()
        check.log(node_log.read_text() + f"[psmnet_node exit {node.returncode}]")


def phase_stats(recorder, stamps: list[int], sent: dict, duration_s: float) -> dict:
    """Sent and received frames of one feeding phase, output rate, latency (publish -> disparity) and drops."""
    import numpy as np

    arrivals = {topic: recorder.arrival_times(topic) for topic in recorder.topics}
    done = [arrivals["/disparity"][s] for s in stamps if s in arrivals["/disparity"]]
    latency = [1000 * (arrivals["/disparity"][s] - sent[s]) for s in stamps if s in arrivals["/disparity"]]
    span = (max(done) - min(done)) if len(done) > 1 else 0.0
    return {"sent": len(stamps), "received": len(done), "dropped": len(stamps) - len(done),
            "input_rate_hz": round(len(stamps) / duration_s, 1),
            "rate_hz": round((len(done) - 1) / span, 1) if span else None,
            "latency_ms_p50": round(float(np.percentile(latency, 50)), 1) if latency else None,
            "latency_ms_p95": round(float(np.percentile(latency, 95)), 1) if latency else None,
            "other_outputs": {t: sum(s in arrivals[t] for s in stamps) for t in arrivals
                              if t not in ("/disparity", recorder.input_topic)}}
