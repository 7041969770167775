"""Compressed camera input (image_transport:=compressed) and stereo sets whose stamps never match, over real
rclpy + DDS with the node in another process.

Expected disparities come from the core StereoEstimator on the raw pixels (reference checkpoint, as
test_node.py); PNG is lossless, so the node's answer agrees with the raw pair's as two float32 evaluations of one
network do (disparity_agreement.py); JPEG (quality 95) changes pixels, so only a bound holds.
"""
import time

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from stereo_msgs.msg import DisparityImage

from disparity_agreement import assert_disparities_agree
from psmnet_ros.ros.spinning import SpinThread
from ros_helpers import NodeProcess, camera_info_msg, image_msg, make_header, reserve_domain_id, ros_context
from psmnet_ros.core.image_codec import encode_image

DOMAIN_ID = reserve_domain_id()
FX, BASELINE = 100.0, 0.1
MAXDISP = 16
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
JPEG_MEAN_PX = 3.0
"""Bound on the mean |disparity(JPEG q95) - disparity(raw)| over the crop (pixels); measured 1.78 px: with maxdisp
16 on a crop whose true disparities reach beyond it, the network's answer is sensitive to JPEG's small changes."""


@pytest.fixture(scope="module")
def pair(reference_cases):
    """A 256x256 crop of the Middlebury Motorcycle pair (RGB uint8), as test_node.py's."""
    case = reference_cases["stackhourglass"][0]
    return tuple(np.ascontiguousarray(np.asarray(case[k])[:, 128:384]) for k in ("left", "right"))


@pytest.fixture(scope="module")
def estimator(reference_dir):
    from psmnet_ros.core import StereoEstimator
    return StereoEstimator.from_checkpoint(reference_dir / "stackhourglass_ref.tar", maxdisp=MAXDISP, device="cpu")


class Feeder:
    """Publishes stereo sets (compressed or raw images) into ``namespace`` and records the disparities published
    in ``outputs`` (default: the same namespace)."""

    def __init__(self, node: Node, namespace: str, compressed: bool, outputs: str | None = None):
        image_type, suffix = (CompressedImage, "/compressed") if compressed else (Image, "")
        self.publishers = [node.create_publisher(t, f"{namespace}/{name}", RELIABLE) for name, t in (
            ("left/image_rect" + suffix, image_type), ("left/camera_info", CameraInfo),
            ("right/image_rect" + suffix, image_type), ("right/camera_info", CameraInfo))]
        self.received = {}
        node.create_subscription(DisparityImage, f"{outputs or namespace}/disparity",
                                 lambda m: self.received.__setitem__(_stamp(m.header), m), RELIABLE)

    def connected(self) -> bool:
        return all(p.get_subscription_count() for p in self.publishers)

    def send(self, images, stamp_ns: int, info_offsets_ns=(0, 0)) -> None:
        """images: (left, right) messages without headers; camera infos stamped ``stamp_ns`` + offsets."""
        header = make_header(stamp_ns, "left_optical")
        width, height = 256, 256
        infos = [camera_info_msg(make_header(stamp_ns + info_offsets_ns[0], "left_optical"), width, height, FX),
                 camera_info_msg(make_header(stamp_ns + info_offsets_ns[1], "left_optical"), width, height, FX,
                                 tx=-FX * BASELINE)]
        for image in images:
            image.header = header
        for publisher, msg in zip(self.publishers, (images[0], infos[0], images[1], infos[1])):
            publisher.publish(msg)

    def wait(self, stamp_ns: int, log, timeout_s: float = 90.0) -> np.ndarray:
        deadline = time.monotonic() + timeout_s
        while stamp_ns not in self.received:
            assert time.monotonic() < deadline, f"no disparity for {stamp_ns}:\n{log()}"
            time.sleep(0.05)
        image = self.received[stamp_ns].image
        return np.frombuffer(bytes(image.data), "<f4").reshape(image.height, image.width)


def _stamp(header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def _compressed(rgb: np.ndarray, codec: str) -> CompressedImage:
    data, format_ = encode_image(rgb, codec)
    return CompressedImage(format=format_, data=data)


@pytest.fixture(scope="module")
def ros(reference_dir, tmp_path_factory):
    """A compressed-input node (its image topics remapped: /compressed follows the remap) and two nodes for the
    stamp tests, exact and approximate sync; started together so their start-ups overlap."""
    logs = tmp_path_factory.mktemp("compressed_logs")
    common = ("-p", f"weights:={reference_dir / 'stackhourglass_ref.tar'}", "-p", "device:=cpu",
              "-p", f"maxdisp:={MAXDISP}", "-p", "qos:=reliable")
    nodes = {
        "compressed": NodeProcess(logs / "compressed.log", DOMAIN_ID, *common, "-p", "image_transport:=compressed",
                                  "-r", "__ns:=/png", "-r", "left/image_rect:=/cam/left/image_rect",
                                  "-r", "right/image_rect:=/cam/right/image_rect",
                                  "-r", "left/camera_info:=/cam/left/camera_info",
                                  "-r", "right/camera_info:=/cam/right/camera_info"),
        "exact": NodeProcess(logs / "exact.log", DOMAIN_ID, *common, "-r", "__ns:=/exact"),
        "approximate": NodeProcess(logs / "approximate.log", DOMAIN_ID, *common, "-r", "__ns:=/approximate",
                                   "-p", "approximate_sync:=true", "-p", "approximate_sync_tolerance_seconds:=0.1"),
    }
    with ros_context(DOMAIN_ID) as context:
        node = Node("compressed_test_client", context=context)
        feeders = {"compressed": Feeder(node, "/cam", compressed=True, outputs="/png"),
                   "exact": Feeder(node, "/exact", compressed=False),
                   "approximate": Feeder(node, "/approximate", compressed=False)}
        spin = SpinThread(node)
        try:
            for process in nodes.values():
                process.wait_ready()
            yield {"nodes": nodes, **feeders}
        finally:
            spin.stop()
            node.destroy_node()
            for process in nodes.values():
                process.stop()


def _wait_connected(feeder, log, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while not feeder.connected():
        assert time.monotonic() < deadline, f"the node did not subscribe to the inputs:\n{log()}"
        time.sleep(0.05)


@pytest.mark.parametrize("codec, grey", [("png", False), ("png", True), ("jpeg", False)])
def test_compressed_pairs_give_the_raw_pairs_disparity(ros, pair, estimator, codec, grey):
    node, feeder = ros["nodes"]["compressed"], ros["compressed"]
    left, right = pair
    if grey:  # mono8 PNGs: the network sees the grey level in all three channels
        left, right = (np.repeat(np.asarray(img.mean(axis=2), np.uint8)[:, :, None], 3, axis=2) for img in pair)
    sources = (left[..., 0].copy(), right[..., 0].copy()) if grey else (left, right)
    stamp = time.time_ns()  # increasing in any test order: the synchronizer drops sets older than the last
    _wait_connected(feeder, node.log)
    feeder.send([_compressed(img, codec) for img in sources], stamp)
    disparity = feeder.wait(stamp, node.log)
    expected = estimator.predict(left, right)  # cx equal on both sides: published d' = d
    if codec == "png":
        assert_disparities_agree(disparity, expected, f"PNG {'grey' if grey else 'colour'} pair")
    else:
        assert np.abs(disparity - expected).mean() < JPEG_MEAN_PX


def test_corrupted_bytes_are_named_and_the_next_pair_is_served(ros, pair):
    node, feeder = ros["nodes"]["compressed"], ros["compressed"]
    _wait_connected(feeder, node.log)
    bad = time.time_ns()
    feeder.send([CompressedImage(format="png", data=b"\x89PNG\r\n\x1a\n" + bytes(100)),
                 _compressed(pair[1], "png")], bad)
    node.wait_for_log("left image on /cam/left/image_rect/compressed: compressed image (108 bytes, format 'png') "
                      "is not a readable PNG or JPEG")
    good = bad + 1
    feeder.send([_compressed(img, "png") for img in pair], good)
    feeder.wait(good, node.log)
    assert bad not in feeder.received and "Traceback" not in node.log()


def test_camera_info_50_ms_off_is_explained_and_approximate_sync_then_works(ros, pair):
    exact, approximate = ros["nodes"]["exact"], ros["nodes"]["approximate"]
    for name in ("exact", "approximate"):
        _wait_connected(ros[name], ros["nodes"][name].log)
    start = time.time_ns()
    deadline = time.monotonic() + 20.0
    k = 0
    while "stamps do not match" not in exact.log():
        assert time.monotonic() < deadline, f"no sync warning:\n{exact.log()}"
        stamp = start + k * 200_000_000  # 5 Hz (at 10 Hz, 50 ms would be as near the next frame), left info 50 ms late
        for name in ("exact", "approximate"):
            ros[name].send([image_msg(img, "rgb8", make_header(0)) for img in pair], stamp, (50_000_000, 0))
        k += 1
        time.sleep(0.2)
    warning = next(line for line in exact.log().splitlines() if "stamps do not match" in line)
    assert "WARN" in warning and "/exact/left/camera_info +50.0 ms" in warning, warning
    assert "approximate_sync:=true" in warning
    assert not ros["exact"].received  # exact sync never paired them
    ros["approximate"].wait(start, approximate.log)  # within the 0.1 s tolerance: the first set already paired


def test_a_compressed_kitti_bag_plays_into_a_compressed_node(tmp_path):
    """psmnet-kitti2bag --compress png, psmnet-play, a node with image_transport:=compressed remapped as
    kitti_playback.launch.py remaps it: a disparity for every frame of the bag."""
    import subprocess
    import sys

    from kitti_fixtures import make_raw_drive
    from ros_helpers import ros_env
    from psmnet_ros.cli.kitti2bag import main as kitti2bag

    drive = make_raw_drive(tmp_path / "raw", n_frames=2, size=(256, 256), cameras=("02", "03"))
    assert kitti2bag([str(drive.drive), str(tmp_path / "bag"), "--compress", "png", "--no-progress"]) == 0
    left, right = "/kitti/camera_color_left", "/kitti/camera_color_right"
    with NodeProcess(tmp_path / "node.log", DOMAIN_ID, "-p", "weights:=random", "-p", "variant:=basic",
                     "-p", f"maxdisp:={MAXDISP}", "-p", "device:=cpu", "-p", "image_transport:=compressed",
                     "-r", "__ns:=/kitti/stereo", "-r", f"left/image_rect:={left}/image_rect",
                     "-r", f"left/camera_info:={left}/camera_info", "-r", f"right/image_rect:={right}/image_rect",
                     "-r", f"right/camera_info:={right}/camera_info") as node, ros_context(DOMAIN_ID) as context:
        listener = Node("kitti_bag_listener", context=context)
        received = []
        listener.create_subscription(DisparityImage, "/kitti/stereo/disparity", received.append, RELIABLE)
        spin = SpinThread(listener)
        try:
            node.wait_ready()
            node.wait_for_log("subscribing to the inputs")
            player = subprocess.run([sys.executable, "-m", "psmnet_ros.cli.play", str(tmp_path / "bag"),
                                     "--wait-for-subscribers", "1", "--start-delay", "30", "--topics",
                                     f"{left}/image_rect/compressed", f"{left}/camera_info",
                                     f"{right}/image_rect/compressed", f"{right}/camera_info"],
                                    env=ros_env(DOMAIN_ID), capture_output=True, text=True, timeout=120)
            assert player.returncode == 0, player.stderr
            deadline = time.monotonic() + 90.0
            while len(received) < 2:
                assert time.monotonic() < deadline, f"{len(received)} of 2 disparities:\n{node.log()}"
                time.sleep(0.1)
        finally:
            spin.stop()
            listener.destroy_node()
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in received]
    assert stamps == sorted(stamps) and len(set(stamps)) == 2
    assert "Traceback" not in node.log()
