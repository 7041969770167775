"""How the node's outputs are laid out in bytes: point clouds (density, organization, fields) and 16-bit depth.

Point layout (PCL / RViz convention): little-endian float32 x, y, z at offsets 0, 4, 8 (metres, NaN invalid);
with colour, at offset 12 the uint32 0x00RRGGBB read as a float32 ("rgb"): 16 bytes a point, 12 without.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from .calibration import StereoCalibration
from .errors import InputError
from .geometry import pixel_rays
from .scratch import Scratch, opencv_into
from .stereo_products import depth_within

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


def pack_cloud(depth: np.ndarray, rgb: np.ndarray | None, calibration: StereoCalibration, decimation: int = 1,
               organized: bool = True, fields: str = "xyzrgb", min_depth_m: float = 0.0, max_depth_m: float = 0.0,
               allocate: Callable[[int, int, int], np.ndarray] | None = None, scratch: Scratch | None = None
               ) -> CloudLayout:
    """The points of an HxW depth image (metres, NaN invalid), packed: X = (u - cx) Z / fx, Y = (v - cy) Z / fy
    through the left camera's rectified matrix (as :func:`~psmnet_ros.core.geometry.depth_to_points`), NaN where
    the depth is invalid or outside [min_depth_m, max_depth_m] (0 = no limit); colours from HxWx3 uint8 RGB.

    decimation N keeps every N-th row and column from the first (an organized cloud of ceil(H/N) x ceil(W/N));
    organized False keeps only points with finite x, y, z, in row-major order (height 1, is_dense True).
    allocate(height, width, point_step) gives the uint8 array to pack into (a message's data field); by default a
    new one; ``scratch`` keeps the temporaries. Only the kept pixels are computed.
    """
    if decimation not in DECIMATIONS:
        raise InputError(f"points decimation must be one of {DECIMATIONS}, got {decimation}")
    if fields not in POINT_FIELDS:
        raise InputError(f"points fields must be one of {', '.join(POINT_FIELDS)}, got {fields!r}")
    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape[::-1] != tuple(calibration.size):
        raise InputError(f"expected a {calibration.size[0]}x{calibration.size[1]} depth image, got shape {depth.shape}")
    with_rgb = fields == "xyzrgb"
    if with_rgb and (rgb is None or rgb.dtype != np.uint8 or rgb.shape != depth.shape + (3,)):
        raise InputError(f"expected HxWx3 uint8 colours of the depth's size {depth.shape}, got "
                         f"{None if rgb is None else (rgb.shape, rgb.dtype)}")
    scratch = Scratch() if scratch is None else scratch
    u, v = pixel_rays(calibration)
    n = decimation
    z = depth[::n, ::n]
    shape = z.shape
    if min_depth_m or max_depth_m:
        limited = scratch("cloud.z", shape, np.float32)
        np.copyto(limited, z)
        np.copyto(limited, np.float32(np.nan), where=~depth_within(z, min_depth_m, max_depth_m))
        z = limited
    planes = [np.multiply(u[None, ::n], z, out=scratch("cloud.x", shape, np.float32)),
              np.multiply(v[::n, None], z, out=scratch("cloud.y", shape, np.float32)), np.ascontiguousarray(z)]
    if with_rgb:
        planes.append(_packed_rgb(rgb[::n, ::n], scratch("cloud.bgra", shape + (4,), np.uint8)))
    if not organized:
        valid = np.isfinite(planes[0]) & np.isfinite(planes[1]) & np.isfinite(planes[2])
        planes = [plane[valid][None] for plane in planes]
    height, width = planes[0].shape
    point_step = 4 * len(planes)
    data = (allocate or _new_cloud)(height, width, point_step)
    if data.size:
        points = data.view(np.float32).reshape(height, width, len(planes))
        opencv_into(points, cv2.merge(planes, dst=points))  # one interleaving pass, straight into ``data``
    return CloudLayout(data, height, width, POINT_FIELDS[fields], is_dense=not organized)


def _new_cloud(height: int, width: int, point_step: int) -> np.ndarray:
    return np.empty((height, width, point_step), dtype=np.uint8)


def _packed_rgb(rgb: np.ndarray, bgra: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> HxW float32 whose little-endian bytes are B, G, R, 0 (the uint32 0x00RRGGBB), in
    ``bgra`` (HxWx4 uint8)."""
    # B, G, R and an alpha of 255, cleared below
    opencv_into(bgra, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGRA, dst=bgra))
    packed = bgra.view("<u4").reshape(rgb.shape[:2])
    np.bitwise_and(packed, np.uint32(0x00FFFFFF), out=packed)
    return packed.view("<f4")


def depth_millimetres(depth_m: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """HxW depth in metres (NaN invalid) -> HxW uint16 millimetres, round(1000 x depth); 0 where invalid or
    beyond 65.535 m (REP 118's 16UC1). ``out``: an HxW uint16 array to write into (returned)."""
    millimetres = np.rint(np.asarray(depth_m, dtype=np.float64) * 1000.0)
    usable = np.isfinite(millimetres) & (millimetres > 0) & (millimetres <= MAX_DEPTH_MM)
    out = np.empty(millimetres.shape, dtype=np.uint16) if out is None else out
    np.copyto(out, np.where(usable, millimetres, 0), casting="unsafe")
    return out
