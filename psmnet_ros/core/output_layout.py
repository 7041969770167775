"""How the node's outputs are laid out in bytes: point clouds (density, organization, fields) and 16-bit depth.

Point layout (PCL / RViz convention): little-endian float32 x, y, z at offsets 0, 4, 8 (metres, NaN invalid);
with colour, at offset 12 the uint32 0x00RRGGBB read as a float32 ("rgb"): 16 bytes a point, 12 without.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InputError

DECIMATIONS = (1, 2, 4, 8)
POINT_FIELDS = {"xyzrgb": (("x", 0), ("y", 4), ("z", 8), ("rgb", 12)), "xyz": (("x", 0), ("y", 4), ("z", 8))}
"""Field names and byte offsets per choice; every field is one float32, so a point is 4 bytes a field."""
DEPTH_ENCODINGS = ("32FC1", "16UC1")
MAX_DEPTH_MM = 65535
"""Largest depth 16UC1 can hold (millimetres); farther is 0 (invalid), as REP 118 has it."""


@dataclass(frozen=True)
class CloudLayout:
    """A packed cloud: ``data`` uint8 of height x width x point_step bytes, its fields (name, offset), and
    whether every point is valid (an unorganized cloud holds only valid points)."""

    data: np.ndarray
    height: int
    width: int
    fields: tuple[tuple[str, int], ...]
    is_dense: bool

    @property
    def point_step(self) -> int:
        """Bytes a point."""
        return 4 * len(self.fields)


def pack_cloud(points: np.ndarray, rgb: np.ndarray | None, decimation: int = 1, organized: bool = True,
               fields: str = "xyzrgb") -> CloudLayout:
    """HxWx3 float32 points (metres, NaN invalid) and HxWx3 uint8 RGB -> a packed cloud.

    decimation N keeps every N-th row and column from the first (an organized cloud of ceil(H/N) x ceil(W/N));
    organized False keeps only points with finite x, y, z, in row-major order (height 1, is_dense True).
    """
    if decimation not in DECIMATIONS:
        raise InputError(f"points decimation must be one of {DECIMATIONS}, got {decimation}")
    if fields not in POINT_FIELDS:
        raise InputError(f"points fields must be one of {', '.join(POINT_FIELDS)}, got {fields!r}")
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[2] != 3:
        raise InputError(f"expected HxWx3 points, got shape {points.shape}")
    with_rgb = fields == "xyzrgb"
    if with_rgb and (rgb is None or rgb.dtype != np.uint8 or rgb.shape != points.shape):
        raise InputError(f"expected HxWx3 uint8 colours of the points' shape {points.shape}, got "
                         f"{None if rgb is None else (rgb.shape, rgb.dtype)}")
    if decimation > 1:
        points = points[::decimation, ::decimation]
        rgb = rgb[::decimation, ::decimation] if with_rgb else None
    if not organized:
        valid = np.isfinite(points).all(axis=2)
        points = points[valid][None]
        rgb = rgb[valid][None] if with_rgb else None
    height, width = points.shape[:2]
    points = np.ascontiguousarray(points, dtype=np.float32)
    if not with_rgb:
        return CloudLayout(points.view(np.uint8).reshape(height, width, 12), height, width, POINT_FIELDS[fields],
                           is_dense=not organized)
    # Channel shuffles in OpenCV (one pass each): B, G, R, 0 bytes make the packed rgb float, then x, y, z, rgb.
    bgr0 = np.empty((height, width, 4), dtype=np.uint8)
    cv2.mixChannels([np.ascontiguousarray(rgb), np.zeros((height, width), np.uint8)], [bgr0],
                    [2, 0, 1, 1, 0, 2, 3, 3])
    data = np.empty((height, width, 4), dtype=np.float32)
    cv2.mixChannels([points, bgr0.view(np.float32)], [data], [0, 0, 1, 1, 2, 2, 3, 3])
    return CloudLayout(data.view(np.uint8).reshape(height, width, 16), height, width, POINT_FIELDS[fields],
                       is_dense=not organized)


def depth_millimetres(depth_m: np.ndarray) -> np.ndarray:
    """HxW depth in metres (NaN invalid) -> HxW uint16 millimetres, round(1000 x depth); 0 where invalid or
    beyond 65.535 m (REP 118's 16UC1)."""
    millimetres = np.rint(np.asarray(depth_m, dtype=np.float64) * 1000.0)
    usable = np.isfinite(millimetres) & (millimetres > 0) & (millimetres <= MAX_DEPTH_MM)
    return np.where(usable, millimetres, 0).astype(np.uint16)
