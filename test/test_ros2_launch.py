"""The launch files run by the real `ros2 launch` (the launch stack's wheels from ../shared; skipped with the
reason without them), across processes over Fast DDS: what a ROS user types."""
from __future__ import annotations

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage

from launch_helpers import LaunchProcess, launch_env, require_launch_stack, write_params
from ros_helpers import (camera_info_msg, image_msg, make_header, reserve_domain_id, ros_context, spin_until,
                         wait_for_publishers, wait_for_subscribers)
from psmnet_ros.ros.conversions import float_image_to_array

DOMAIN_ID = reserve_domain_id()
STOP_S = 3.0
"""SIGINT to ros2 launch ends everything with status 0 within this (issue 21)."""
WINDOW_ROWS, WINDOW_COLS = slice(122, 378), slice(240, 496)  # as test_node_startup: a sixth of a full pass


@pytest.fixture(autouse=True)
def launch_stack():
    require_launch_stack()


def _assert_stopped_cleanly(launch: LaunchProcess) -> None:
    rc, seconds = launch.stop()
    output = launch.log()
    assert rc == 0 and seconds < STOP_S, f"status {rc} after {seconds:.2f} s:\n{output}"
    assert not launch.left_running(), f"left running: {launch.left_running()}\n{output}"
    assert "Traceback" not in output, output


def test_stereo_launch_shipped_params_every_set_once_then_sigint(tmp_path, motorcycle, default_estimator):
    """stereo.launch.py with remapped namespaces and the shipped parameters (qos auto), fed two sets of a
    Motorcycle window, each sent once by a reliable writer with the node idle: a DisparityImage for each,
    equal to the estimator's (principal points moved by the window's offset); SIGINT ends it."""
    from psmnet_ros.core.datasets.middlebury import motorcycle_calibration

    calib = motorcycle_calibration()
    left, right = (np.ascontiguousarray(motorcycle[side][WINDOW_ROWS, WINDOW_COLS]) for side in ("left", "right"))
    x0, y0 = WINDOW_COLS.start, WINDOW_ROWS.start
    height, width = left.shape[:2]
    with LaunchProcess(tmp_path / "launch.log", DOMAIN_ID, "stereo.launch.py", "namespace:=/lt",
                       "left_namespace:=/cam/left", "right_namespace:=/cam/right") as launch:
        launch.wait_for_log("ready:")
        with ros_context(DOMAIN_ID) as context:
            node = Node("launch_feeder", context=context)
            received = []
            sub = node.create_subscription(DisparityImage, "/lt/disparity", received.append, 5)
            reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
            publishers = [node.create_publisher(t, f"/cam/{topic}", reliable) for topic, t in (
                ("left/image_rect", Image), ("left/camera_info", CameraInfo),
                ("right/image_rect", Image), ("right/camera_info", CameraInfo))]
            assert wait_for_subscribers(node, publishers, 30.0) and wait_for_publishers(node, [sub], 30.0), \
                launch.log()
            expected = None
            for k in range(2):
                header = make_header(1_700_000_000_000_000_000 + k * 100_000_000, "motorcycle_left")
                infos = [camera_info_msg(header, width, height, calib.fx, cx=calib.cx_left - x0, cy=calib.cy - y0),
                         camera_info_msg(header, width, height, calib.fx, cx=calib.cx_right - x0,
                                         cy=calib.cy - y0, tx=-calib.fx * calib.baseline_m)]
                for publisher, msg in zip(publishers, [image_msg(left, "rgb8", header), infos[0],
                                                       image_msg(right, "rgb8", header), infos[1]]):
                    publisher.publish(msg)
                if expected is None:
                    expected = default_estimator.predict(left, right)  # while the node computes its own
                assert spin_until(node, lambda: len(received) > k, 120.0), launch.log()
            node.destroy_node()
        _assert_stopped_cleanly(launch)
    output = launch.log()
    assert "input QoS (qos=auto): reliable on /cam/left/image_rect" in output
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in received] == [(1_700_000_000, 0),
                                                                                (1_700_000_000, 100_000_000)]
    for msg in received:
        difference = np.abs(float_image_to_array(msg.image) - (expected + np.float32(calib.doffs)))
        assert difference.max() <= 0.05, difference.max()


def test_kitti_playback_defaults_without_rviz2_or_rosbag2(tmp_path, monkeypatch):
    """kitti_playback.launch.py with its default arguments where neither rviz2 nor rosbag2 is installed, on a
    psmnet-kitti2bag bag of a miniature raw drive: it says RViz is missing, plays with psmnet-play --clock, and
    a disparity comes out on /kitti/stereo/disparity for every frame, stamped as recorded; SIGINT ends all."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    from kitti_fixtures import make_raw_drive
    from psmnet_ros.cli.kitti2bag import main as kitti2bag

    monkeypatch.setenv("AMENT_PREFIX_PATH", launch_env(DOMAIN_ID)["AMENT_PREFIX_PATH"])
    for package in ("rviz2", "ros2bag"):
        with pytest.raises(PackageNotFoundError):
            get_package_prefix(package)  # what this test is about: neither is installed here
    drive = make_raw_drive(tmp_path / "raw", n_frames=3, size=(256, 256), cameras=("02", "03"))
    assert kitti2bag([str(drive.drive), str(tmp_path / "bag"), "--no-progress"]) == 0
    params = write_params(tmp_path / "fast.yaml", variant="basic", maxdisp=16, device="cpu", frame_queue_size=3)
    with ros_context(DOMAIN_ID) as context:
        node = Node("kitti_listener", context=context)
        received = []
        node.create_subscription(DisparityImage, "/kitti/stereo/disparity", received.append, 10)
        with LaunchProcess(tmp_path / "launch.log", DOMAIN_ID, "kitti_playback.launch.py",
                           f"bag:={tmp_path / 'bag'}", "checkpoint:=random", f"params_file:={params}",
                           "rate:=2.0") as launch:
            assert spin_until(node, lambda: len(received) >= 3, 120.0), launch.log()
            _assert_stopped_cleanly(launch)
        node.destroy_node()
    output = launch.log()
    assert "rviz2 is not installed: running without RViz" in output
    assert "[psmnet_play]: published 12 messages on 4 topics" in output  # psmnet-play, not ros2 bag play
    assert "ready: basic maxdisp=16" in output  # the params file applied in the namespace /kitti/stereo
    stamps = sorted(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in received)
    assert len(stamps) == 3 and len(set(stamps)) == 3


def test_kitti_playback_missing_player_or_tf2_starts_nothing(tmp_path):
    """player:=ros2 without rosbag2 and static_tf:=true without tf2_ros: one error naming the package, exit
    status 1, and no process left (nothing was started)."""
    for argument, package in (("player:=ros2", "rosbag2"), ("static_tf:=true", "tf2_ros")):
        launch = LaunchProcess(tmp_path / f"{package}.log", DOMAIN_ID, "kitti_playback.launch.py",
                               f"bag:={tmp_path}", argument, "rviz:=false")
        try:
            assert launch.proc.wait(60) == 1, launch.log()
        finally:
            launch.stop()
        output = launch.log()
        assert f"{package}" in output and "is not installed" in output, output
        assert "process started" not in output, output
        assert not launch.left_running(), output


def test_stereo_launch_lifecycle_starts_the_managed_node_unconfigured(tmp_path):
    """lifecycle:=true starts psmnet_lifecycle_node: its standard get_state service answers 'unconfigured'
    (nothing loaded until configure); SIGINT ends it like the plain node."""
    import time

    from lifecycle_msgs.msg import State
    from lifecycle_msgs.srv import GetState

    with LaunchProcess(tmp_path / "launch.log", DOMAIN_ID, "stereo.launch.py", "lifecycle:=true",
                       "namespace:=/managed_launch") as launch:
        with ros_context(DOMAIN_ID) as context:
            node = Node("lifecycle_launch_client", context=context)
            client = node.create_client(GetState, "/managed_launch/psmnet_node/get_state")
            assert client.wait_for_service(timeout_sec=60.0), launch.log()
            future = client.call_async(GetState.Request())
            assert spin_until(node, future.done, 30.0), launch.log()
            assert future.result().current_state.id == State.PRIMARY_STATE_UNCONFIGURED
            node.destroy_node()
        time.sleep(0.5)
        _assert_stopped_cleanly(launch)
    assert "psmnet_lifecycle_node" in launch.log()
