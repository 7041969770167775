"""Hand-written CDR is byte for byte what an independent CDR writer (rosbags, zero padding) produces for the same
message, and what rclpy's serialize_message produces on every byte except alignment padding, which Fast CDR
leaves uninitialised (ours is zero); rclpy reads it back as the same message. The messages are built the long way
(rclpy objects from ros/conversions.py) as the reference."""
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from psmnet_ros.ros.conversions import disparity_msg, float_image_msg, pointcloud2_msg, rgb_image_msg
from psmnet_ros.ros.serialized import disparity_cdr, image_cdr, pointcloud2_cdr

STORE = get_typestore(Stores.ROS2_HUMBLE)


def _header(frame_id):
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = 1_317_042_145, 964_389_445
    return header


def _rosbags_bytes(msg) -> bytes:
    """``msg`` serialized by rosbags' own CDR writer (through its ROS 1-free message classes)."""
    typename = type(msg).__module__.split(".")[0] + "/msg/" + type(msg).__name__
    return bytes(STORE.serialize_cdr(STORE.deserialize_cdr(serialize_message(msg), typename), typename))


def _assert_wire_equal(ours: bytes, reference_msg):
    assert ours == _rosbags_bytes(reference_msg)
    theirs = serialize_message(reference_msg)
    assert len(ours) == len(theirs)
    a, b = np.frombuffer(ours, np.uint8), np.frombuffer(theirs, np.uint8)
    differ = np.flatnonzero(a != b)
    assert not a[differ].any(), "bytes may differ from rclpy's only in (zeroed) alignment padding"
    # (compared after a round trip: rclpy keeps float32 fields such as f and T as Python floats until sent)
    assert deserialize_message(ours, type(reference_msg)) == deserialize_message(theirs, type(reference_msg))


@pytest.mark.parametrize("frame_id", ["", "l", "left_optical", "cam"])
@pytest.mark.parametrize("shape", [(3, 5), (1, 1), (4, 7)])
def test_32fc1_image(frame_id, shape):
    values = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    values[0, 0] = np.nan
    header = _header(frame_id)
    _assert_wire_equal(image_cdr(values, "32FC1", header), float_image_msg(values, header))


@pytest.mark.parametrize("frame_id", ["", "ab", "camera_left"])
def test_rgb8_and_16uc1_images(frame_id):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (5, 3, 3), dtype=np.uint8)
    header = _header(frame_id)
    _assert_wire_equal(image_cdr(rgb, "rgb8", header), rgb_image_msg(rgb, header))
    millimetres = rng.integers(0, 65536, (4, 3), dtype=np.uint16)
    reference = Image(header=header, height=4, width=3, encoding="16UC1", is_bigendian=0, step=6,
                      data=millimetres.astype("<u2").tobytes())
    _assert_wire_equal(image_cdr(millimetres, "16UC1", header), reference)


@pytest.mark.parametrize("frame_id", ["", "abc", "left_optical"])
def test_disparity_image(frame_id):
    disparity = np.random.default_rng(2).uniform(0, 60, (6, 9)).astype(np.float32)
    args = (_header(frame_id), 721.5377, 0.5327, -0.25, 191.75, 1 / 16, (1, 2, 7, 4))
    _assert_wire_equal(disparity_cdr(disparity, *args), disparity_msg(disparity, *args))


@pytest.mark.parametrize("frame_id", ["", "a", "base"])
@pytest.mark.parametrize("is_dense", [False, True])
def test_pointcloud2(frame_id, is_dense):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(4, 5, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    header = _header(frame_id)
    reference = pointcloud2_msg(points, rgb, header)
    reference.is_dense = is_dense
    data = np.frombuffer(bytes(reference.data), np.uint8)
    ours = pointcloud2_cdr(data, 4, 5, [("x", 0), ("y", 4), ("z", 8), ("rgb", 12)], 16, is_dense, header)
    _assert_wire_equal(ours, reference)
