"""KITTI disparity PNGs: uint16 single channel, value = round(d * 256), 0 = no value.

This is the ground-truth format of KITTI 2012/2015 and the format the KITTI
benchmark expects for submissions (disparities 0..255.996 px).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

KITTI_DISPARITY_SCALE = 256.0


def read_kitti_disparity(path) -> np.ndarray:
    """HxW float32 disparity in pixels; pixels stored as 0 (no value) become NaN."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"disparity file {path} does not exist")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise InputError(f"cannot decode disparity image {path}")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise InputError(f"{path} is not a KITTI disparity map: expected a 16-bit single-channel PNG, "
                         f"got {raw.dtype} with shape {raw.shape}")
    disparity = raw.astype(np.float32) / np.float32(KITTI_DISPARITY_SCALE)
    disparity[raw == 0] = np.nan
    return disparity


def write_kitti_disparity(path, disparity: np.ndarray) -> None:
    """Write HxW disparity (pixels) as a KITTI uint16 PNG.

    NaN, inf and values <= 0 are stored as 0 (no value); other values are
    rounded to 1/256 px and clipped to [1/256, 65535/256] px so that a tiny
    positive disparity stays valid.
    """
    d = np.asarray(disparity, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise InputError(f"disparity must be an HxW array, got shape {d.shape}")
    valid = np.isfinite(d) & (d > 0)
    scaled = np.zeros(d.shape, dtype=np.float64)
    scaled[valid] = np.clip(np.round(d[valid] * KITTI_DISPARITY_SCALE), 1, 65535)
    path = Path(path)
    if not cv2.imwrite(str(path), scaled.astype(np.uint16)):
        raise InputError(f"cannot write disparity image {path}")
