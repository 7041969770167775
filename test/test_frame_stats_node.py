"""psmnet_node publishes one psmnet_ros/msg/FrameStats per published frame, through real rclpy + Fast DDS."""
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage

from psmnet_ros.msg import FrameStats
from ros_helpers import (reserve_domain_id, ros_context, ros_env, spin_until, stereo_messages, wait_for_publishers,
                         wait_for_subscribers)

REPO = Path(__file__).resolve().parents[1]
DOMAIN_ID = reserve_domain_id()
SIZE = (256, 288)            # height, width: the network pads 288 to 288 and 256 to 256 (multiples of 16)


def test_one_frame_stats_per_disparity_with_its_stamp(tmp_path):
    rng = np.random.default_rng(3)
    left = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    right = np.roll(left, -2, axis=1)
    log_path = tmp_path / "node.log"
    command = [sys.executable, "-m", "psmnet_ros.ros.node", "--ros-args", "--params-file", "config/psmnet.yaml",
               "-p", "weights:=random", "-p", "variant:=basic", "-p", "maxdisp:=16", "-p", "device:=cpu",
               "-p", "qos:=reliable"]
    with open(log_path, "w") as log:
        node_proc = subprocess.Popen(command, cwd=REPO, env=ros_env(DOMAIN_ID), stdout=log, stderr=subprocess.STDOUT)
    try:
        with ros_context(DOMAIN_ID) as context:
            node = Node("frame_stats_test", context=context)
            stats, disparities = [], []
            subs = [node.create_subscription(FrameStats, "frame_stats", stats.append, 10),
                    node.create_subscription(DisparityImage, "disparity", disparities.append, 10)]
            reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
            publishers = [node.create_publisher(t, topic, reliable) for topic, t in (
                ("left/image_rect", Image), ("left/camera_info", CameraInfo),
                ("right/image_rect", Image), ("right/camera_info", CameraInfo))]
            assert wait_for_subscribers(node, publishers, 60.0) and wait_for_publishers(node, subs, 60.0), \
                log_path.read_text()
            stamps = [1_700_000_000_000_000_000 + k * 100_000_000 for k in range(2)]
            for k, stamp in enumerate(stamps):
                for publisher, msg in zip(publishers, stereo_messages(left, right, stamp, frame_id="cam")):
                    publisher.publish(msg)
                assert spin_until(node, lambda: len(stats) > k and len(disparities) > k, 90.0), log_path.read_text()
            node.destroy_node()
    finally:
        node_proc.send_signal(signal.SIGINT)
        try:
            assert node_proc.wait(timeout=10) == 0, log_path.read_text()
        finally:
            if node_proc.poll() is None:
                node_proc.kill()
                node_proc.wait()
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in stats] == \
        [(m.header.stamp.sec, m.header.stamp.nanosec) for m in disparities] == [(1_700_000_000, 0), (1_700_000_000, 100_000_000)]
    for msg, disparity in zip(stats, disparities):
        assert msg.header.frame_id == "cam"
        assert msg.latency_ms > 0 and 0 <= msg.queue_wait_ms <= msg.latency_ms and msg.inference_ms > 0
        assert msg.output_ms > 0 and msg.publish_ms > 0
        assert msg.inference_ms + msg.output_ms + msg.publish_ms <= msg.latency_ms
        assert (msg.image_width, msg.image_height, msg.network_width, msg.network_height) == (288, 256, 288, 256)
        assert msg.batch_size == 1 and msg.frames_dropped == 0
        assert (msg.weights, msg.device, msg.precision) == ("random (untrained)", "cpu", "fp32")
        published = np.frombuffer(disparity.image.data, "<f4").reshape(SIZE)
        valid = np.isfinite(published) & (published > 0)
        assert msg.valid_fraction == np.float32(valid.mean())
        np.testing.assert_allclose([msg.disparity_min_px, msg.disparity_median_px, msg.disparity_max_px],
                                   np.percentile(published[valid], (0, 50, 100)), rtol=1e-6)
        assert np.isnan(msg.mean_confidence)    # no confidence output yet: "not available"
