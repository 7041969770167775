"""numpy <-> ROS message conversions: every encoding, every error, exact byte layouts,
and a real publish/subscribe round trip over DDS."""
import struct

import numpy as np
import pytest
from rclpy.node import Node
from sensor_msgs.msg import Image, PointCloud2, PointField
from stereo_msgs.msg import DisparityImage

from message_reference import disparity_msg, pointcloud2_msg
from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.errors import InputError
from psmnet_ros.ros.conversions import (SUPPORTED_ENCODINGS, camera_info_msgs, image_to_rgb, rgb_image_msg,
                                        stereo_camera)
from ros_helpers import (camera_info_msg, image_msg, make_header, reserve_domain_id, ros_context, spin_until,
                         wait_for_subscribers)

DOMAIN_ID = reserve_domain_id()

# A 2x3 RGB image, every byte distinct: pixel (row r, col c) = (10+r*30+c*10, +1, +2) style.
RGB = np.array([[[10, 11, 12], [20, 21, 22], [30, 31, 32]],
                [[40, 41, 42], [50, 51, 52], [60, 61, 62]]], dtype=np.uint8)


def encoded(encoding):
    """RGB as the raw pixel array of ``encoding`` (channel orders written out by hand)."""
    r, g, b = RGB[..., 0], RGB[..., 1], RGB[..., 2]
    alpha = np.full_like(r, 255)
    return {"rgb8": np.stack([r, g, b], axis=-1), "bgr8": np.stack([b, g, r], axis=-1),
            "rgba8": np.stack([r, g, b, alpha], axis=-1),
            "bgra8": np.stack([b, g, r, alpha], axis=-1)}[encoding]


@pytest.mark.parametrize("padding", [0, 5])
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings_to_rgb(encoding, padding):
    msg = image_msg(encoded(encoding), encoding, make_header(1), row_padding=padding)
    out = image_to_rgb(msg)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, RGB)


def test_bgr8_single_pixel_bytes():
    msg = Image(height=1, width=1, encoding="bgr8", step=3, data=[1, 2, 3])
    assert image_to_rgb(msg).tolist() == [[[3, 2, 1]]]


@pytest.mark.parametrize("padding", [0, 3])
def test_mono8_is_replicated_to_three_channels(padding):
    gray = np.array([[0, 7, 255], [100, 101, 102]], dtype=np.uint8)
    out = image_to_rgb(image_msg(gray, "mono8", make_header(1), row_padding=padding))
    assert out.shape == (2, 3, 3) and out.flags.c_contiguous
    assert out[0, 1].tolist() == [7, 7, 7] and out[1, 2].tolist() == [102, 102, 102]
    assert out[0, 2].tolist() == [255, 255, 255]


def test_rgb8_without_padding_is_a_view_of_msg_data():
    msg = image_msg(RGB, "rgb8", make_header(1))
    out = image_to_rgb(msg)
    msg.data[0] = 99  # writes through to the returned array
    assert out[0, 0, 0] == 99


def test_longer_data_than_needed_is_accepted():
    msg = image_msg(RGB, "rgb8", make_header(1))
    msg.data.extend([0] * 7)
    np.testing.assert_array_equal(image_to_rgb(msg), RGB)


def test_unsupported_encoding_names_it_and_the_supported_ones():
    msg = Image(height=1, width=1, encoding="16UC1", step=2, data=[0, 0])
    with pytest.raises(InputError) as info:
        image_to_rgb(msg)
    assert "16UC1" in str(info.value)
    assert all(name in str(info.value) for name in SUPPORTED_ENCODINGS)


@pytest.mark.parametrize("width,height", [(0, 2), (3, 0)])
def test_empty_image_is_rejected(width, height):
    msg = Image(height=height, width=width, encoding="rgb8", step=3 * width, data=[])
    with pytest.raises(InputError, match="empty"):
        image_to_rgb(msg)


def test_step_smaller_than_row_is_rejected():
    msg = Image(height=2, width=3, encoding="rgb8", step=8, data=[0] * 18)
    with pytest.raises(InputError, match=r"step 8 .* 9 bytes"):
        image_to_rgb(msg)


def test_truncated_data_says_expected_and_got():
    msg = Image(height=2, width=3, encoding="rgba8", step=12, data=[0] * 20)
    with pytest.raises(InputError, match=r"expected 24 bytes .* got 20"):
        image_to_rgb(msg)


def test_rgb_image_msg_layout_and_round_trip():
    header = make_header(5, "cam")
    msg = rgb_image_msg(RGB, header)
    assert (msg.encoding, msg.width, msg.height, msg.step, msg.is_bigendian) == ("rgb8", 3, 2, 9, 0)
    assert msg.header.frame_id == "cam"
    # pixel (row 1, col 2) starts at byte 1*step + 2*3 = 15
    assert list(msg.data[15:18]) == [60, 61, 62]
    np.testing.assert_array_equal(image_to_rgb(msg), RGB)


def test_rgb_image_msg_rejects_wrong_arrays():
    with pytest.raises(InputError, match="HxWx3 uint8"):
        rgb_image_msg(RGB.astype(np.float32), make_header(1))
    with pytest.raises(InputError, match="HxWx3 uint8"):
        rgb_image_msg(RGB[..., 0], make_header(1))


def info_pair(fx=700.0, baseline=0.12, width=640, height=480, cx_right=None):
    header = make_header(1)
    left = camera_info_msg(header, width, height, fx, cx=320.0, cy=240.0)
    right = camera_info_msg(header, width, height, fx, cx=320.0 if cx_right is None else cx_right,
                            cy=240.0, tx=-fx * baseline)
    return left, right


def test_stereo_camera_ros_convention():
    left, right = info_pair(fx=700.0, baseline=0.12)
    cam = stereo_camera(left, right)
    assert isinstance(cam, StereoCalibration)   # the one stereo camera model, shared with the tools
    assert (cam.fx, cam.fy, cam.cx_left, cam.cx_right, cam.cy) == (700.0, 700.0, 320.0, 320.0, 240.0)
    assert cam.baseline_m == pytest.approx(0.12)
    assert cam.size == (640, 480)
    np.testing.assert_array_equal(cam.R_left, np.eye(3))
    np.testing.assert_array_equal(cam.camera_matrix,
                                  [[700.0, 0.0, 320.0], [0.0, 700.0, 240.0], [0.0, 0.0, 1.0]])
    assert cam.doffs == 0.0


def test_stereo_camera_kitti_projection_matrices():
    # KITTI raw 2011_09_26 P_rect_02 / P_rect_03: the left P has its own Tx.
    header = make_header(1)
    left = camera_info_msg(header, 1242, 375, 721.5377, cx=609.5593, cy=172.854)
    right = camera_info_msg(header, 1242, 375, 721.5377, cx=609.5593, cy=172.854)
    left.p = [721.5377, 0.0, 609.5593, 44.85728, 0.0, 721.5377, 172.854, 0.2163791,
              0.0, 0.0, 1.0, 0.002745884]
    right.p = [721.5377, 0.0, 609.5593, -339.5242, 0.0, 721.5377, 172.854, 2.199936,
               0.0, 0.0, 1.0, 0.002729905]
    cam = stereo_camera(left, right)
    assert cam.baseline_m == pytest.approx(0.5327, abs=1e-4)  # KITTI colour pair, ~0.54 m


def test_stereo_camera_doffs_from_principal_points():
    left, right = info_pair(cx_right=351.086)
    assert stereo_camera(left, right).doffs == pytest.approx(31.086)


@pytest.mark.parametrize("field,index,value,pattern", [
    ("k", 0, float("nan"), "right camera_info K contains NaN or inf"),
    ("p", 3, float("inf"), "P_right contains NaN, inf or a number beyond float32"),
    ("r", 4, float("nan"), "R_right contains NaN"),
    ("p", 0, 0.0, "right projection matrix has focal lengths fx=0.0"),
    ("p", 5, -1.0, "right projection matrix has focal lengths fx=700.0, fy=-1.0"),
    ("p", 0, 1e-300, "right projection matrix has focal lengths fx=1e-300"),   # 0 in float32
])
def test_stereo_camera_rejects_bad_matrices(field, index, value, pattern):
    left, right = info_pair()
    values = list(getattr(right, field))
    values[index] = value
    setattr(right, field, values)
    with pytest.raises(InputError, match=pattern):
        stereo_camera(left, right)


@pytest.mark.parametrize("fx,baseline,pattern", [
    (1e-300, 0.12, r"left projection matrix has focal lengths fx=1e-300"),   # float32: 0
    (1e300, 0.12, r"P_left contains NaN, inf or a number beyond float32"),   # float32: inf
    (1.0, 1e-40, r"stereo baseline .* = 1e-40 m must be positive \(and within float32\)"),  # subnormal
])
def test_stereo_camera_rejects_calibration_float32_cannot_hold(fx, baseline, pattern):
    """Positive and finite in float64, but 0, inf or subnormal as the float32 DisparityImage.f/t hold."""
    with pytest.raises(InputError, match=pattern):
        stereo_camera(*info_pair(fx=fx, baseline=baseline))


def test_stereo_camera_rejects_a_depth_scale_beyond_float32():
    """fx, B = 1e38 m and each P[0,3] fit in float32 (KITTI-style, both non-zero); f*B = 4e38 does not."""
    left, right = info_pair(fx=4.0)
    left.p = [4.0, 0.0, 320.0, 2e38, 0.0, 4.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    right.p = [4.0, 0.0, 320.0, -2e38, 0.0, 4.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    with pytest.raises(InputError, match=r"stereo baseline .* = 1e\+38 m must be positive \(and within float32\)"):
        stereo_camera(left, right)


def test_stereo_camera_rejects_swapped_cameras():
    left, right = info_pair()
    with pytest.raises(InputError, match="baseline"):
        stereo_camera(right, left)


def test_stereo_camera_rejects_size_mismatch():
    left, right = info_pair()
    right.width = 320
    with pytest.raises(InputError, match="sizes differ: 640x480 vs 320x480"):
        stereo_camera(left, right)


def test_messages_survive_dds_round_trip():
    header = make_header(1_234_567_890_123, "left")
    disparity = np.array([[1.0, np.nan, 2.0], [3.0, 4.0, np.inf]], dtype=np.float32)
    points = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    points[0, 1] = np.nan
    sent = {
        "image": rgb_image_msg(RGB, header),
        "disparity": disparity_msg(disparity, header, 700.0, 0.12, 0.0, 192.0, 0.25, (1, 0, 2, 2)),
        "points": pointcloud2_msg(points, RGB, header),
    }
    types = {"image": Image, "disparity": DisparityImage, "points": PointCloud2}
    with ros_context(DOMAIN_ID) as context:
        node = Node("conversions_round_trip", context=context)
        received = {}
        publishers = [node.create_publisher(types[name], f"/rt/{name}", 10) for name in sent]
        for name in sent:
            node.create_subscription(types[name], f"/rt/{name}",
                                     lambda msg, name=name: received.setdefault(name, msg), 10)
        assert wait_for_subscribers(node, publishers, timeout_s=10.0)
        for publisher, msg in zip(publishers, sent.values()):
            publisher.publish(msg)
        assert spin_until(node, lambda: len(received) == len(sent), timeout_s=10.0), received.keys()
        node.destroy_node()

    np.testing.assert_array_equal(image_to_rgb(received["image"]), RGB)
    assert received["image"].header == header
    got = received["disparity"]
    decoded = np.frombuffer(bytes(got.image.data), dtype="<f4").reshape(2, 3)
    np.testing.assert_array_equal(decoded, disparity)  # NaN and inf positions kept
    assert (got.f, got.t, got.delta_d, got.valid_window.x_offset) == (700.0, pytest.approx(0.12),
                                                                       0.25, 1)
    cloud = received["points"]
    assert bytes(cloud.data) == bytes(sent["points"].data)
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb"]
    assert (cloud.height, cloud.width, cloud.point_step, cloud.row_step) == (2, 3, 16, 48)
    xyz = np.frombuffer(bytes(cloud.data), dtype="<f4").reshape(2, 3, 4)[..., :3]
    np.testing.assert_array_equal(xyz, points)


def test_decoders_read_hand_built_messages():
    """float_image_to_array / pointcloud2_to_arrays against bytes laid out by hand."""
    from psmnet_ros.ros.conversions import float_image_to_array, pointcloud2_to_arrays

    img = Image(height=2, width=2, encoding="32FC1", is_bigendian=0, step=12)  # 4 bytes of row padding
    img.data = struct.pack("<2f4x2f4x", 1.5, float("nan"), -2.0, 8.25)
    values = float_image_to_array(img)
    assert values.dtype == np.float32 and values.shape == (2, 2)
    assert values[0, 0] == 1.5 and np.isnan(values[0, 1]) and values[1, 0] == -2.0 and values[1, 1] == 8.25

    cloud = PointCloud2(height=1, width=2, is_bigendian=False, point_step=16, row_step=32, is_dense=False)
    cloud.fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
                    for n, o in (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))]
    cloud.data = struct.pack("<3fI3fI", 0.5, -1.0, 2.0, 0x00102030, float("nan"), 0.0, 0.0, 0x00FF0001)
    points, rgb = pointcloud2_to_arrays(cloud)
    np.testing.assert_array_equal(points[0, 0], [0.5, -1.0, 2.0])
    assert np.isnan(points[0, 1, 0])
    assert rgb[0, 0].tolist() == [0x10, 0x20, 0x30] and rgb[0, 1].tolist() == [0xFF, 0x00, 0x01]
    with pytest.raises(InputError, match="32FC1"):
        float_image_to_array(Image(height=1, width=1, encoding="rgb8", step=3, data=b"abc"))


def test_camera_info_msgs_hold_the_rectified_pair_and_come_back_as_the_same_model():
    """A rig with fx = fy = 100 px, B = 0.1 m, cx 131.5 / 127.5 (left / right), cy 120.25, 256x240 px: by the
    CameraInfo definition K = [fx 0 cx; 0 fy cy; 0 0 1], P_right[0,3] = -fx * B = -10 px, R the identity."""
    calibration = StereoCalibration.from_pinhole(100.0, 0.1, 131.5, 120.25, (256, 240), doffs=-4.0)
    left, right = camera_info_msgs(calibration, make_header(1, "left"))
    assert (left.width, left.height, right.width, right.height) == (256, 240, 256, 240)
    assert list(left.k) == [100.0, 0.0, 131.5, 0.0, 100.0, 120.25, 0.0, 0.0, 1.0]
    assert list(right.k) == [100.0, 0.0, 127.5, 0.0, 100.0, 120.25, 0.0, 0.0, 1.0]
    assert right.p[3] == pytest.approx(-10.0) and left.p[3] == 0.0
    assert list(left.r) == list(right.r) == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert left.distortion_model == "plumb_bob" and list(left.d) == [0.0] * 5
    back = stereo_camera(left, right)
    assert back.size == (256, 240) and back.baseline_m == pytest.approx(0.1) and back.doffs == pytest.approx(-4.0)
