"""numpy <-> ROS messages for the stereo node (no cv_bridge / sensor_msgs_py needed).

Byte buffers go into ``msg.data`` as ``array.array('B')`` filled with one
memcpy (``frombytes``). Where the installed message classes take a
``check_fields`` argument (rosidl Jazzy and later) they are built with it, so
the setter keeps that array instead of copying it again; older classes keep an
``array.array`` as-is anyway.
"""
from __future__ import annotations

import array

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.output_layout import POINT_FIELDS

SUPPORTED_ENCODINGS = ("mono8", "rgb8", "bgr8", "rgba8", "bgra8")

_CHANNELS = {"mono8": 1, "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4}
# Channel indices that give R, G, B in order, per encoding.
_RGB_ORDER = {"mono8": [0, 0, 0], "rgb8": [0, 1, 2], "bgr8": [2, 1, 0],
              "rgba8": [0, 1, 2], "bgra8": [2, 1, 0]}

_HAS_CHECK_FIELDS = "_check_fields" in Image.__slots__



def _new(msg_class, **fields):
    """A message whose ``data`` setter keeps an ``array.array('B')`` without copying."""
    if _HAS_CHECK_FIELDS:
        return msg_class(check_fields=True, **fields)
    return msg_class(**fields)


def _byte_array(values: np.ndarray) -> array.array:
    """The bytes of a C-contiguous array as ``array.array('B')`` (one copy)."""
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(values).reshape(-1).view(np.uint8))
    return data


def stamp_ns(header) -> int:
    """A std_msgs/Header's stamp in integer nanoseconds."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def image_to_rgb(msg: Image) -> np.ndarray:
    """sensor_msgs/Image (mono8, rgb8, bgr8, rgba8, bgra8) -> HxWx3 uint8 RGB, C-contiguous.

    rgb8 without row padding is a zero-copy view of ``msg.data``; everything
    else is copied. mono8 is replicated to three channels.
    """
    encoding = msg.encoding
    if encoding not in _CHANNELS:
        raise InputError(f"unsupported image encoding '{encoding}'; supported: "
                         f"{', '.join(SUPPORTED_ENCODINGS)}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if width == 0 or height == 0:
        raise InputError(f"image is empty: width={width}, height={height}")
    channels = _CHANNELS[encoding]
    row_bytes = width * channels
    if step < row_bytes:
        raise InputError(f"image step {step} is smaller than width*channels = "
                         f"{width}*{channels} = {row_bytes} bytes ({encoding})")
    expected = step * height
    got = len(msg.data)
    if got < expected:
        raise InputError(f"image data truncated: expected {expected} bytes "
                         f"(step {step} x height {height}), got {got}")
    rows = np.frombuffer(msg.data, dtype=np.uint8, count=expected).reshape(height, step)
    pixels = rows[:, :row_bytes].reshape(height, width, channels)
    if encoding == "rgb8" and step == row_bytes:
        return pixels  # zero-copy view of msg.data
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    for channel, source in enumerate(_RGB_ORDER[encoding]):
        rgb[:, :, channel] = pixels[:, :, source]  # one plane at a time: numpy is slow on 3-wide rows
    return rgb


def rgb_image_msg(rgb: np.ndarray, header) -> Image:
    """HxWx3 uint8 RGB -> rgb8 Image, step = 3*width."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"expected an HxWx3 uint8 RGB image, got shape {rgb.shape} "
                         f"dtype {rgb.dtype}")
    height, width = rgb.shape[:2]
    msg = _new(Image, header=header, height=height, width=width, encoding="rgb8",
               is_bigendian=0, step=3 * width)
    msg.data = _byte_array(rgb)
    return msg


def float_image_to_array(msg: Image) -> np.ndarray:
    """32FC1 Image -> HxW float32 (a copy), honouring step and endianness."""
    if msg.encoding != "32FC1":
        raise InputError(f"expected a 32FC1 image, got encoding '{msg.encoding}'")
    if msg.step < 4 * msg.width or len(msg.data) < msg.step * msg.height:
        raise InputError(f"32FC1 image {msg.width}x{msg.height} with step {msg.step} holds only "
                         f"{len(msg.data)} bytes")
    rows = np.frombuffer(msg.data, dtype=np.uint8, count=msg.step * msg.height).reshape(msg.height, msg.step)
    dtype = ">f4" if msg.is_bigendian else "<f4"
    return rows[:, :4 * msg.width].copy().view(dtype).astype(np.float32)


def pointcloud2_to_arrays(msg: PointCloud2) -> tuple[np.ndarray, np.ndarray]:
    """Organized little-endian x, y, z, rgb FLOAT32 cloud -> (HxWx3 float32 metres, HxWx3 uint8 RGB)."""
    offsets = {f.name: f.offset for f in msg.fields if f.datatype == PointField.FLOAT32}
    missing = [name for name, _ in POINT_FIELDS["xyzrgb"] if name not in offsets]
    if missing or msg.is_bigendian:
        raise InputError(f"expected a little-endian cloud with FLOAT32 fields x, y, z, rgb; missing {missing}")
    if len(msg.data) < msg.row_step * msg.height or msg.row_step < msg.point_step * msg.width:
        raise InputError(f"cloud {msg.width}x{msg.height} with row_step {msg.row_step} holds only "
                         f"{len(msg.data)} bytes")
    raw = np.frombuffer(msg.data, dtype=np.uint8, count=msg.row_step * msg.height).reshape(msg.height, -1)
    raw = raw[:, :msg.point_step * msg.width].reshape(msg.height, msg.width, msg.point_step)
    points = np.stack([raw[..., offsets[a]:offsets[a] + 4].copy().view("<f4")[..., 0] for a in "xyz"], axis=-1)
    packed = raw[..., offsets["rgb"]:offsets["rgb"] + 4].copy().view("<u4")[..., 0]
    rgb = np.stack([(packed >> shift) & 0xFF for shift in (16, 8, 0)], axis=-1).astype(np.uint8)
    return points, rgb


def stereo_camera(left_info: CameraInfo, right_info: CameraInfo) -> StereoCalibration:
    """The stereo camera model (rectified P and R, image size) of two CameraInfo messages; InputError naming
    the side or the value otherwise (the model's own validation, :class:`StereoCalibration`)."""
    for side, info in (("left", left_info), ("right", right_info)):
        if not np.isfinite(np.asarray(info.k, dtype=np.float64)).all():
            raise InputError(f"{side} camera_info K contains NaN or inf")
    left_size = (int(left_info.width), int(left_info.height))
    right_size = (int(right_info.width), int(right_info.height))
    if left_size != right_size:
        raise InputError(f"left and right camera_info sizes differ: {left_size[0]}x{left_size[1]} "
                         f"vs {right_size[0]}x{right_size[1]}")
    return StereoCalibration(P_left=left_info.p, P_right=right_info.p, R_left=left_info.r, R_right=right_info.r,
                             size=left_size)


def camera_info_msgs(calibration: StereoCalibration, header, right_header=None) -> tuple[CameraInfo, CameraInfo]:
    """Left and right CameraInfo of a rectified pair (the inverse of :func:`stereo_camera`): P and R as the
    model holds them, K the left 3x3 block of P, no distortion (``plumb_bob``, zeros: the images are rectified).
    ``right_header`` defaults to ``header``."""
    width, height = calibration.size
    infos = []
    for p, r, head in ((calibration.P_left, calibration.R_left, header),
                       (calibration.P_right, calibration.R_right, right_header or header)):
        infos.append(CameraInfo(header=head, width=width, height=height, distortion_model="plumb_bob",
                                d=[0.0] * 5, k=[float(v) for v in p[:, :3].ravel()],
                                r=[float(v) for v in r.ravel()], p=[float(v) for v in p.ravel()]))
    return infos[0], infos[1]
