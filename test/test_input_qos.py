"""The node in a namespace with a user's params file (key /**/psmnet_node), and its input QoS with the
default qos auto: reliable against a reliable player that sends each set once, best effort once a best-effort
publisher appears. One node process, real rclpy and Fast DDS; no launch stack needed."""
from __future__ import annotations

import time

import numpy as np
import pytest
from rcl_interfaces.srv import GetParameters
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage

from launch_helpers import write_params
from ros_helpers import (NodeProcess, reserve_domain_id, ros_context, spin_until, stereo_messages,
                         wait_for_publishers, wait_for_subscribers)

DOMAIN_ID = reserve_domain_id()
NAMESPACE = "/qos_ns"
USER_PARAMS = {"weights": "random", "variant": "basic", "maxdisp": 16, "device": "cpu", "queue_size": 3,
               "max_depth": 42.0, "frame_queue_size": 2}
"""Each differs from the built-in default (parameters.NodeSettings); qos stays auto."""
INPUTS = (("left/image_rect", Image), ("left/camera_info", CameraInfo),
          ("right/image_rect", Image), ("right/camera_info", CameraInfo))


@pytest.fixture(scope="module")
def node_process(tmp_path_factory):
    folder = tmp_path_factory.mktemp("input_qos")
    params = write_params(folder / "user.yaml", **USER_PARAMS)
    with NodeProcess(folder / "node.log", DOMAIN_ID, "--params-file", str(params),
                     "-r", f"__ns:={NAMESPACE}") as node:
        node.wait_ready()
        yield node


def _publishers(node, reliability):
    qos = QoSProfile(depth=5, reliability=reliability)
    return [node.create_publisher(t, f"{NAMESPACE}/{topic}", qos) for topic, t in INPUTS]


def _pair(seed):
    rng = np.random.default_rng(seed)
    left = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    return left, np.roll(left, -4, axis=1)


def test_user_params_file_applies_in_a_namespace(node_process):
    """Values read back through the node's get_parameters service equal the user's file, not the defaults."""
    names = sorted(USER_PARAMS)
    with ros_context(DOMAIN_ID) as context:
        node = Node("params_reader", context=context)
        client = node.create_client(GetParameters, f"{NAMESPACE}/psmnet_node/get_parameters")
        assert spin_until(node, client.service_is_ready, 30.0)
        future = client.call_async(GetParameters.Request(names=names))
        assert spin_until(node, future.done, 30.0)
        values = future.result().values
        node.destroy_node()
    read = {name: (v.string_value, v.integer_value, v.double_value) for name, v in zip(names, values)}
    for name, expected in USER_PARAMS.items():
        assert expected in read[name], (name, read[name])
    assert "ready: basic maxdisp=16 on cpu" in node_process.log()


def test_auto_qos_reliable_player_then_best_effort_camera(node_process):
    """qos auto (default): with a reliable player each set sent once (node idle) comes out; then a best-effort
    publisher appears, the inputs switch to best effort (logged), and its frames come out too."""
    with ros_context(DOMAIN_ID) as context:
        node = Node("qos_feeder", context=context)
        received = []
        sub = node.create_subscription(DisparityImage, f"{NAMESPACE}/disparity", received.append, 10)
        publishers = _publishers(node, ReliabilityPolicy.RELIABLE)
        assert wait_for_subscribers(node, publishers, 30.0) and wait_for_publishers(node, [sub], 30.0)
        # lazy (default): the node subscribes once its output has a subscriber, with qos auto's choice
        node_process.wait_for_log(f"input QoS (qos=auto): reliable on {NAMESPACE}/left/image_rect", 10.0)
        for k in range(3):
            for publisher, msg in zip(publishers, stereo_messages(*_pair(k), 1_000_000_000 * (k + 1))):
                publisher.publish(msg)
            assert spin_until(node, lambda: len(received) > k, 60.0), node_process.log()
        for publisher in publishers:
            node.destroy_publisher(publisher)
        camera = _publishers(node, ReliabilityPolicy.BEST_EFFORT)  # matched only once the node switched
        assert wait_for_subscribers(node, camera, 30.0), node_process.log()
        messages = stereo_messages(*_pair(9), 10_000_000_000)
        next_send = [0.0]

        def came_out():
            """A best-effort image can lose a fragment: sent again every 2 s, as a camera sends its next frame."""
            if len(received) < 4 and time.monotonic() >= next_send[0]:
                for publisher, msg in zip(camera, messages):
                    publisher.publish(msg)
                next_send[0] = time.monotonic() + 2.0
            return len(received) >= 4

        assert spin_until(node, came_out, 60.0), node_process.log()
        node.destroy_node()
    for topic, _ in INPUTS:
        node_process.wait_for_log(f"{NAMESPACE}/{topic} now best effort (a publisher offers best effort", 10.0)
    assert [m.header.stamp.sec for m in received] == [1, 2, 3, 10]
