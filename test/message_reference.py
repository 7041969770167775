"""Output messages built the long way, as rclpy message objects from numpy arrays: the reference the node's
hand-written CDR (ros/serialized.py, ros/outputs.py) is compared with."""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image, PointCloud2, PointField, RegionOfInterest
from stereo_msgs.msg import DisparityImage

from psmnet_ros.core.errors import InputError

POINT_STEP = 16
CLOUD_FIELDS = (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))


def float_image_msg(values: np.ndarray, header) -> Image:
    """HxW float -> 32FC1 Image (little-endian, step = 4*width); NaN kept (REP 118 invalid)."""
    values = np.asarray(values)
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.floating):
        raise InputError(f"expected an HxW float image, got shape {values.shape} "
                         f"dtype {values.dtype}")
    height, width = values.shape
    return Image(header=header, height=height, width=width, encoding="32FC1", is_bigendian=0, step=4 * width,
                 data=np.ascontiguousarray(values, dtype="<f4").tobytes())


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
    cloud = np.zeros((height, width, POINT_STEP), dtype=np.uint8)
    cloud[:, :, :12] = np.ascontiguousarray(points, dtype="<f4").view(np.uint8)
    cloud[:, :, 12] = rgb[:, :, 2]  # little-endian 0x00RRGGBB: bytes B, G, R, 0
    cloud[:, :, 13] = rgb[:, :, 1]
    cloud[:, :, 14] = rgb[:, :, 0]
    return PointCloud2(header=header, height=height, width=width,
                       fields=[PointField(name=name, offset=offset, datatype=PointField.FLOAT32, count=1)
                               for name, offset in CLOUD_FIELDS],
                       is_bigendian=False, point_step=POINT_STEP, row_step=POINT_STEP * width, is_dense=False,
                       data=cloud.tobytes())
