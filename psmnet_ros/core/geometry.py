"""Stereo geometry: disparity (pixels) to depth (metres) to points (metres).

Conventions: rectified pinhole cameras described by a validated
:class:`~psmnet_ros.core.calibration.StereoCalibration`; disparities corrected for the
principal points, d' = x_left - x_right - (cx_left - cx_right), so that Z = fx * B / d'
(stereo_msgs/DisparityImage's convention); depth along the optical axis (REP 118); points in
the left camera's optical frame (x right, y down, z forward). Invalid values are NaN.
"""
from __future__ import annotations

import numpy as np

from .calibration import StereoCalibration


def disparity_to_depth(disparity: np.ndarray, calibration: StereoCalibration) -> np.ndarray:
    """Depth Z = fx * B / d' in metres (HxW float32) of HxW corrected disparities d' (pixels);
    NaN where d' <= 0 or is not finite."""
    d = np.asarray(disparity, dtype=np.float32)
    depth = np.full(d.shape, np.nan, dtype=np.float32)
    valid = np.isfinite(d) & (d > 0)
    depth[valid] = np.float32(calibration.fx * calibration.baseline_m) / d[valid]
    return depth


def depth_to_points(depth: np.ndarray, calibration: StereoCalibration) -> np.ndarray:
    """Organized point cloud HxWx3 float32 (metres) of HxW depth, through the left camera's rectified matrix.

    X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z = depth; NaN depth gives NaN points.
    """
    fx, fy, cx, cy = calibration.fx, calibration.fy, calibration.cx_left, calibration.cy
    z = np.asarray(depth, dtype=np.float32)
    h, w = z.shape
    u = ((np.arange(w, dtype=np.float32) - np.float32(cx)) / np.float32(fx))[None, :]
    v = ((np.arange(h, dtype=np.float32) - np.float32(cy)) / np.float32(fy))[:, None]
    points = np.empty((h, w, 3), dtype=np.float32)
    np.multiply(u, z, out=points[..., 0])
    np.multiply(v, z, out=points[..., 1])
    points[..., 2] = z
    return points
