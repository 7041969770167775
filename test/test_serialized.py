"""Hand-written CDR, laid out around a data field the caller fills, is byte for byte what an independent CDR writer
(rosbags, zero padding) produces for the same message, and what rclpy's serialize_message produces on every byte
except alignment padding, which Fast CDR leaves uninitialised (ours is zero); rclpy reads it back as the same
message. The messages are built the long way (rclpy objects from ros/conversions.py) as the reference."""
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from message_reference import disparity_msg, float_image_msg, pointcloud2_msg
from psmnet_ros.ros.conversions import rgb_image_msg
from psmnet_ros.ros.serialized import (DATA_ALIGNMENT, MessageBuffer, disparity_message, image_message,
                                      pointcloud2_message)
from wire_reference import assert_wire_equal


def _header(frame_id):
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = 1_317_042_145, 964_389_445
    return header


def _image_bytes(values: np.ndarray, encoding: str, header) -> bytes:
    height, width = values.shape[:2]
    buffer = MessageBuffer()
    data = image_message(buffer, header, height, width, encoding, values.nbytes // (height * width))
    data[:] = values.reshape(-1).view(np.uint8)
    return buffer.message.tobytes()


@pytest.mark.parametrize("frame_id", ["", "l", "left_optical", "cam"])
@pytest.mark.parametrize("shape", [(3, 5), (1, 1), (4, 7)])
def test_32fc1_image(frame_id, shape):
    values = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    values[0, 0] = np.nan
    header = _header(frame_id)
    assert_wire_equal(_image_bytes(values, "32FC1", header), float_image_msg(values, header))


@pytest.mark.parametrize("frame_id", ["", "ab", "camera_left"])
def test_rgb8_and_16uc1_images(frame_id):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (5, 3, 3), dtype=np.uint8)
    header = _header(frame_id)
    assert_wire_equal(_image_bytes(rgb, "rgb8", header), rgb_image_msg(rgb, header))
    millimetres = rng.integers(0, 65536, (4, 3), dtype=np.uint16)
    reference = Image(header=header, height=4, width=3, encoding="16UC1", is_bigendian=0, step=6,
                      data=millimetres.astype("<u2").tobytes())
    assert_wire_equal(_image_bytes(millimetres, "16UC1", header), reference)


@pytest.mark.parametrize("frame_id", ["", "abc", "left_optical"])
def test_disparity_image(frame_id):
    disparity = np.random.default_rng(2).uniform(0, 60, (6, 9)).astype(np.float32)
    args = (_header(frame_id), 721.5377, 0.5327, -0.25, 191.75, 1 / 16, (1, 2, 7, 4))
    buffer = MessageBuffer()
    disparity_message(buffer, args[0], 6, 9, *args[1:])[:] = disparity.reshape(-1).view(np.uint8)
    assert_wire_equal(buffer.message.tobytes(), disparity_msg(disparity, *args))


@pytest.mark.parametrize("frame_id", ["", "a", "base"])
@pytest.mark.parametrize("is_dense", [False, True])
def test_pointcloud2(frame_id, is_dense):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(4, 5, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    header = _header(frame_id)
    reference = pointcloud2_msg(points, rgb, header)
    reference.is_dense = is_dense
    buffer = MessageBuffer()
    data = pointcloud2_message(buffer, header, 4, 5, [("x", 0), ("y", 4), ("z", 8), ("rgb", 12)], 16, is_dense)
    data[:] = np.frombuffer(bytes(reference.data), np.uint8)
    assert_wire_equal(buffer.message.tobytes(), reference)


def test_a_buffer_is_reused_while_the_size_stays_and_its_data_starts_cache_line_aligned():
    buffer = MessageBuffer()
    first = image_message(buffer, _header("a"), 4, 5, "32FC1", 4)
    first[:] = 7
    again = image_message(buffer, _header("b"), 4, 5, "32FC1", 4)  # same sizes: same memory, data kept
    assert again.ctypes.data == first.ctypes.data and (again == 7).all()
    assert again.ctypes.data % DATA_ALIGNMENT == 0
    longer = image_message(buffer, _header("camera"), 4, 5, "32FC1", 4)  # a longer frame_id: laid out anew
    assert longer.ctypes.data % DATA_ALIGNMENT == 0
    longer[:] = np.arange(20, dtype=np.float32).view(np.uint8)
    values = np.arange(20, dtype=np.float32).reshape(4, 5)
    assert_wire_equal(buffer.message.tobytes(), float_image_msg(values, _header("camera")))
