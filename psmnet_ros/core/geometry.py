"""Stereo geometry: disparity (pixels) to depth (metres) to points (metres).

Conventions: rectified pinhole cameras, depth along the optical axis (REP 118),
points in the left camera's optical frame (x right, y down, z forward).
Invalid values are NaN.
"""
from __future__ import annotations

import numpy as np

from .errors import InputError


def baseline_from_projections(p_left, p_right) -> float:
    """Stereo baseline in metres from the two rectified 3x4 projection matrices.

    B = (P_left[0,3] - P_right[0,3]) / fx. This holds both when the left
    camera's P has Tx = 0 (ROS convention) and when it carries its own offset
    from a reference camera (KITTI's P_rect_02 / P_rect_03).
    """
    p_left = np.asarray(p_left, dtype=np.float64).reshape(3, 4)
    p_right = np.asarray(p_right, dtype=np.float64).reshape(3, 4)
    fx = p_left[0, 0]
    if not np.isfinite(fx) or fx <= 0:
        raise InputError(f"focal length fx={fx} in the left projection matrix is not positive")
    return float((p_left[0, 3] - p_right[0, 3]) / fx)


def disparity_to_depth(disparity: np.ndarray, focal_px: float, baseline_m: float,
                       doffs_px: float = 0.0) -> np.ndarray:
    """Depth Z = f * B / (d + doffs) in metres, NaN where d + doffs <= 0 or d is not finite.

    disparity: HxW pixels (x_left - x_right); focal_px: rectified focal length;
    baseline_m: > 0; doffs_px: cx_right - cx_left, the principal-point offset
    (0 for most rectified rigs, 31.086 px for the Middlebury Motorcycle pair).
    Returns HxW float32.
    """
    if not (np.isfinite(focal_px) and focal_px > 0):
        raise InputError(f"focal length must be positive, got {focal_px}")
    if not (np.isfinite(baseline_m) and baseline_m > 0):
        raise InputError(f"baseline must be positive, got {baseline_m}")
    d = np.asarray(disparity, dtype=np.float32) + np.float32(doffs_px)
    depth = np.full(d.shape, np.nan, dtype=np.float32)
    valid = np.isfinite(d) & (d > 0)
    depth[valid] = np.float32(focal_px * baseline_m) / d[valid]
    return depth


def depth_to_points(depth: np.ndarray, camera_matrix) -> np.ndarray:
    """Organized point cloud HxWx3 float32 (metres) from HxW depth and a 3x3 camera matrix.

    X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z = depth; NaN rows stay NaN.
    The camera matrix is the rectified one (the left 3x3 of the projection matrix).
    """
    k = np.asarray(camera_matrix, dtype=np.float64)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    if not (fx > 0 and fy > 0):
        raise InputError(f"camera matrix focal lengths must be positive, got fx={fx}, fy={fy}")
    z = np.asarray(depth, dtype=np.float32)
    h, w = z.shape
    u = ((np.arange(w, dtype=np.float32) - np.float32(cx)) / np.float32(fx))[None, :]
    v = ((np.arange(h, dtype=np.float32) - np.float32(cy)) / np.float32(fy))[:, None]
    points = np.empty((h, w, 3), dtype=np.float32)
    np.multiply(u, z, out=points[..., 0])
    np.multiply(v, z, out=points[..., 1])
    points[..., 2] = z
    return points
