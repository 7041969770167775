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


def disparity_to_depth(disparity: np.ndarray, calibration: StereoCalibration, out: np.ndarray | None = None
                       ) -> np.ndarray:
    """Depth Z = fx * B / d' in metres (HxW float32) of HxW corrected disparities d' (pixels);
    NaN where d' <= 0 or is not finite. ``out``: an HxW float32 array to write into (returned)."""
    d = np.asarray(disparity, dtype=np.float32)
    depth = np.empty(d.shape, dtype=np.float32) if out is None else out
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.divide(np.float32(calibration.fx * calibration.baseline_m), d, out=depth)
    np.copyto(depth, np.float32(np.nan), where=~((d > 0) & (d < np.inf)))
    return depth


def pixel_rays(calibration: StereoCalibration) -> tuple[np.ndarray, np.ndarray]:
    """((u - cx) / fx for each column u, (v - cy) / fy for each row v): float32 (W,) and (H,), the X / Z and Y / Z
    of each pixel's ray in the left camera's rectified frame."""
    width, height = calibration.size
    u = (np.arange(width, dtype=np.float32) - np.float32(calibration.cx_left)) / np.float32(calibration.fx)
    v = (np.arange(height, dtype=np.float32) - np.float32(calibration.cy)) / np.float32(calibration.fy)
    return u, v


def depth_to_points(depth: np.ndarray, calibration: StereoCalibration) -> np.ndarray:
    """Organized point cloud HxWx3 float32 (metres) of HxW depth, through the left camera's rectified matrix.

    X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z = depth; NaN depth gives NaN points.
    """
    z = np.asarray(depth, dtype=np.float32)
    u, v = pixel_rays(calibration)
    points = np.empty(z.shape + (3,), dtype=np.float32)
    np.multiply(u[None, :], z, out=points[..., 0])
    np.multiply(v[:, None], z, out=points[..., 1])
    points[..., 2] = z
    return points
