"""The long-way reference messages (test/message_reference.py) against their definitions: exact byte layouts."""
import math
import struct

import numpy as np
import pytest
from sensor_msgs.msg import PointField
from stereo_msgs.msg import DisparityImage

from message_reference import disparity_msg, float_image_msg, pointcloud2_msg
from psmnet_ros.core.errors import InputError
from ros_helpers import make_header


def test_float_image_msg_bytes_are_little_endian_float32_with_nan():
    values = np.array([[1.0, np.nan], [-2.5, 0.25]], dtype=np.float32)
    msg = float_image_msg(values, make_header(1))
    assert (msg.encoding, msg.width, msg.height, msg.step, msg.is_bigendian) == ("32FC1", 2, 2, 8, 0)
    assert bytes(msg.data[0:4]) == b"\x00\x00\x80\x3f"  # 1.0 = 0x3F800000
    assert bytes(msg.data[8:12]) == b"\x00\x00\x20\xc0"  # -2.5 = 0xC0200000
    assert math.isnan(struct.unpack("<f", bytes(msg.data[4:8]))[0])
    assert struct.unpack("<f", bytes(msg.data[12:16]))[0] == 0.25


def test_float_image_msg_converts_float64():
    msg = float_image_msg(np.array([[0.5]]), make_header(1))
    assert bytes(msg.data) == struct.pack("<f", 0.5)


def test_disparity_msg_fields():
    header = make_header(7_000_000_123, "left")
    disparity = np.array([[3.0, np.nan, 1.5]], dtype=np.float32)
    msg = disparity_msg(disparity, header, focal_px=721.5, baseline_m=0.54, min_disparity=0.0,
                        max_disparity=192.0, delta_d=0.0625, valid_window=(4, 2, 100, 50))
    assert isinstance(msg, DisparityImage)
    assert (msg.f, msg.t, msg.min_disparity, msg.max_disparity, msg.delta_d) == pytest.approx(
        (721.5, 0.54, 0.0, 192.0, 0.0625))
    roi = msg.valid_window
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == (4, 2, 100, 50)
    assert msg.header.stamp.sec == 7 and msg.header.stamp.nanosec == 123
    assert msg.image.header.frame_id == "left" and msg.image.header.stamp.nanosec == 123
    assert msg.image.encoding == "32FC1" and msg.image.width == 3
    decoded = np.frombuffer(bytes(msg.image.data), dtype="<f4")
    assert decoded[0] == 3.0 and math.isnan(decoded[1]) and decoded[2] == 1.5


def test_disparity_msg_rejects_negative_window():
    with pytest.raises(InputError, match="valid_window"):
        disparity_msg(np.zeros((1, 1), np.float32), make_header(1), 1.0, 1.0, 0.0, 1.0, 1.0,
                      (-1, 0, 1, 1))


def test_pointcloud2_exact_byte_layout():
    points = np.array([[[1.0, 2.0, 3.0], [-0.5, 0.25, 8.0], [np.nan, np.nan, np.nan]],
                       [[4.0, 5.0, 6.0], [0.0, -1.0, 2.0], [7.0, 8.0, 9.0]]], dtype=np.float32)
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 1] = (0x12, 0x34, 0x56)
    rgb[1, 2] = (255, 0, 1)
    msg = pointcloud2_msg(points, rgb, make_header(1, "left"))
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (2, 3, 16, 48)
    assert msg.is_dense is False and msg.is_bigendian is False
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        ("x", 0, PointField.FLOAT32, 1), ("y", 4, PointField.FLOAT32, 1),
        ("z", 8, PointField.FLOAT32, 1), ("rgb", 12, PointField.FLOAT32, 1)]
    data = bytes(msg.data)
    assert len(data) == 2 * 48

    def point(row, col):
        offset = row * 48 + col * 16
        x, y, z = struct.unpack_from("<fff", data, offset)
        (packed,) = struct.unpack_from("<I", data, offset + 12)
        return (x, y, z), packed

    assert point(0, 1) == ((-0.5, 0.25, 8.0), 0x00123456)
    assert point(1, 2) == ((7.0, 8.0, 9.0), 0x00FF0001)
    assert point(1, 0) == ((4.0, 5.0, 6.0), 0)
    assert all(math.isnan(v) for v in point(0, 2)[0])
    # the rgb field read as float32 is the same four bytes (PCL convention)
    (as_float,) = struct.unpack_from("<f", data, 16 + 12)
    assert struct.pack("<f", as_float) == struct.pack("<I", 0x00123456)


def test_pointcloud2_rejects_mismatched_inputs():
    with pytest.raises(InputError, match="HxWx3 points"):
        pointcloud2_msg(np.zeros((2, 3), np.float32), np.zeros((2, 3, 3), np.uint8), make_header(1))
    with pytest.raises(InputError, match="uint8 colours"):
        pointcloud2_msg(np.zeros((2, 3, 3), np.float32), np.zeros((2, 2, 3), np.uint8),
                        make_header(1))
