"""numpy <-> ROS messages for the stereo node (no cv_bridge / sensor_msgs_py needed).

Byte buffers go into ``msg.data`` as ``array.array('B')`` filled with one
memcpy (``frombytes``). Where the installed message classes take a
``check_fields`` argument (rosidl Jazzy and later) they are built with it, so
the setter keeps that array instead of copying it again; older classes keep an
``array.array`` as-is anyway.
"""
from __future__ import annotations

import array
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField, RegionOfInterest
from stereo_msgs.msg import DisparityImage

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.geometry import baseline_from_projections

SUPPORTED_ENCODINGS = ("mono8", "rgb8", "bgr8", "rgba8", "bgra8")

_CHANNELS = {"mono8": 1, "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4}
# Channel indices that give R, G, B in order, per encoding.
_RGB_ORDER = {"mono8": [0, 0, 0], "rgb8": [0, 1, 2], "bgr8": [2, 1, 0],
              "rgba8": [0, 1, 2], "bgra8": [2, 1, 0]}

_HAS_CHECK_FIELDS = "_check_fields" in Image.__slots__

FLOAT32_NORMAL = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))
"""Smallest and largest positive normal float32 (about 1.2e-38 and 3.4e+38). Calibration is
published in float32 (DisparityImage f and t) and depth and points are computed in it, so a
focal length, baseline or f*B outside this range would come out as 0 or inf."""

# Organized cloud layout: x, y, z, rgb as float32, 16 bytes a point.
_POINT_STEP = 16
_CLOUD_FIELDS = (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))


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


def float_image_msg(values: np.ndarray, header) -> Image:
    """HxW float -> 32FC1 Image (little-endian, step = 4*width); NaN kept (REP 118 invalid)."""
    values = np.asarray(values)
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.floating):
        raise InputError(f"expected an HxW float image, got shape {values.shape} "
                         f"dtype {values.dtype}")
    height, width = values.shape
    msg = _new(Image, header=header, height=height, width=width, encoding="32FC1",
               is_bigendian=0, step=4 * width)
    msg.data = _byte_array(values.astype("<f4", copy=False))
    return msg


def disparity_msg(disparity: np.ndarray, header, focal_px: float, baseline_m: float,
                  min_disparity: float, max_disparity: float, delta_d: float,
                  valid_window: tuple[int, int, int, int]) -> DisparityImage:
    """stereo_msgs/DisparityImage: 32FC1 disparity (pixels) with f (pixels), T (metres).

    valid_window = (x_offset, y_offset, width, height) in pixels of the region
    where disparities can be valid.
    """
    x_offset, y_offset, width, height = (int(v) for v in valid_window)
    if min(x_offset, y_offset, width, height) < 0:
        raise InputError(f"valid_window must be non-negative (x, y, width, height), "
                         f"got {tuple(valid_window)}")
    return DisparityImage(
        header=header, image=float_image_msg(disparity, header),
        f=float(focal_px), t=float(baseline_m),
        valid_window=RegionOfInterest(x_offset=x_offset, y_offset=y_offset,
                                      width=width, height=height, do_rectify=False),
        min_disparity=float(min_disparity), max_disparity=float(max_disparity),
        delta_d=float(delta_d))


def pointcloud2_msg(points: np.ndarray, rgb: np.ndarray, header) -> PointCloud2:
    """Organized cloud (height H, width W) of x, y, z (metres, NaN invalid) and packed rgb.

    points: HxWx3 float32; rgb: HxWx3 uint8. Each point is 16 bytes,
    little-endian: float32 x, y, z at offsets 0, 4, 8, and at offset 12 the
    uint32 0x00RRGGBB read as a float32 (the PCL / RViz "rgb" convention).
    """
    points = np.asarray(points)
    rgb = np.asarray(rgb)
    if points.ndim != 3 or points.shape[2] != 3:
        raise InputError(f"expected HxWx3 points, got shape {points.shape}")
    if rgb.dtype != np.uint8 or rgb.shape != points.shape:
        raise InputError(f"expected HxWx3 uint8 colours of the points' shape {points.shape}, "
                         f"got shape {rgb.shape} dtype {rgb.dtype}")
    height, width = points.shape[:2]
    data = array.array("B", [0]) * (height * width * _POINT_STEP)
    cloud = np.frombuffer(data, dtype=np.uint8).reshape(height, width, _POINT_STEP)
    xyz = cloud.view("<f4")  # H x W x 4 floats sharing data's memory
    for axis in range(3):
        xyz[:, :, axis] = points[:, :, axis]
    cloud[:, :, 12] = rgb[:, :, 2]  # little-endian 0x00RRGGBB: bytes B, G, R, 0 (already 0)
    cloud[:, :, 13] = rgb[:, :, 1]
    cloud[:, :, 14] = rgb[:, :, 0]
    del cloud, xyz  # release the buffer views so the array is an ordinary message field again
    msg = _new(PointCloud2, header=header, height=height, width=width,
               fields=[PointField(name=name, offset=offset, datatype=PointField.FLOAT32, count=1)
                       for name, offset in _CLOUD_FIELDS],
               is_bigendian=False, point_step=_POINT_STEP, row_step=_POINT_STEP * width,
               is_dense=False)
    msg.data = data
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
    missing = [name for name, _ in _CLOUD_FIELDS if name not in offsets]
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


@dataclass(frozen=True)
class StereoCamera:
    """A rectified stereo pair: focal lengths and principal points in pixels, baseline in metres."""

    fx: float
    fy: float
    cx_left: float
    cx_right: float
    cy: float
    baseline_m: float
    width: int
    height: int

    @property
    def camera_matrix(self) -> np.ndarray:
        """3x3 rectified camera matrix of the left camera (left 3x3 of its P)."""
        return np.array([[self.fx, 0.0, self.cx_left],
                         [0.0, self.fy, self.cy],
                         [0.0, 0.0, 1.0]])

    @property
    def doffs(self) -> float:
        """cx_right - cx_left in pixels: add to disparity before Z = f*B/d."""
        return self.cx_right - self.cx_left


def _check_float32(what: str, value: float, positive: bool) -> None:
    """InputError unless ``value`` survives float32: within FLOAT32_NORMAL when ``positive``, else finite."""
    low, high = FLOAT32_NORMAL
    if not (low <= value <= high if positive else abs(value) <= high):
        kind = f"a positive float32 (normal range {low:.3g} to {high:.3g})" if positive else "finite in float32"
        raise InputError(f"{what} = {value:g} is not {kind}, the precision the node publishes and computes in")


def stereo_camera(left_info: CameraInfo, right_info: CameraInfo) -> StereoCamera:
    """StereoCamera from the rectified projection matrices P of two CameraInfo messages."""
    matrices = {}
    for side, info in (("left", left_info), ("right", right_info)):
        k = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
        p = np.asarray(info.p, dtype=np.float64).reshape(3, 4)
        if not (np.isfinite(k).all() and np.isfinite(p).all()):
            raise InputError(f"{side} camera_info K or P contains NaN or inf")
        if not (p[0, 0] > 0 and p[1, 1] > 0):
            raise InputError(f"{side} camera_info has non-positive focal length in P "
                             f"(fx={p[0, 0]}, fy={p[1, 1]}): is the camera calibrated and rectified?")
        for name, value in (("fx", p[0, 0]), ("fy", p[1, 1])):
            _check_float32(f"{side} camera_info focal length {name}", value, positive=True)
        for name, value in (("cx", p[0, 2]), ("cy", p[1, 2]), ("Tx", p[0, 3])):
            _check_float32(f"{side} camera_info P {name}", value, positive=False)
        matrices[side] = p
    left_size = (int(left_info.width), int(left_info.height))
    right_size = (int(right_info.width), int(right_info.height))
    if left_size != right_size:
        raise InputError(f"left and right camera_info sizes differ: {left_size[0]}x{left_size[1]} "
                         f"vs {right_size[0]}x{right_size[1]}")
    p_left, p_right = matrices["left"], matrices["right"]
    baseline = baseline_from_projections(p_left, p_right)
    if not baseline > 0:
        raise InputError(f"stereo baseline from the P matrices is {baseline} m, must be positive "
                         f"(right P[0,3] must be -fx*baseline relative to the left)")
    _check_float32("stereo baseline from the P matrices (m)", baseline, positive=True)
    _check_float32("depth scale f*B (px m)", p_left[0, 0] * baseline, positive=True)
    _check_float32("principal point offset cx_right - cx_left", p_right[0, 2] - p_left[0, 2], positive=False)
    return StereoCamera(fx=float(p_left[0, 0]), fy=float(p_left[1, 1]),
                        cx_left=float(p_left[0, 2]), cx_right=float(p_right[0, 2]),
                        cy=float(p_left[1, 2]), baseline_m=baseline,
                        width=left_size[0], height=left_size[1])
