"""False-colour images of disparity and depth for people to look at."""
from __future__ import annotations

import cv2
import numpy as np

from .scratch import Scratch, opencv_into

DEPTH_PERCENTILES = (2.0, 98.0)
"""Percentiles of inverse depth that span a depth colouring: a few stray points do not squeeze the rest."""


_TURBO_RGBX = np.zeros((256, 4), dtype=np.uint8)
_TURBO_RGBX[:, :3] = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1]
_TURBO_RGBX = _TURBO_RGBX.view(np.int32)
"""OpenCV's turbo colour map as 256 R, G, B, 0 byte quadruples read as int32: a lookup table for cv2.LUT."""


def colorize(values: np.ndarray, vmin: float | None = None, vmax: float | None = None,
             out: np.ndarray | None = None, scratch: Scratch | None = None) -> np.ndarray:
    """HxW float -> HxWx3 uint8 RGB with the turbo colour map (vmin blue, vmax red); NaN/inf are black.

    The map's entry is floor(255 (v - vmin) / (vmax - vmin)) clipped to [0, 255] (float32 arithmetic). vmin/vmax
    default to the finite minimum and maximum of ``values``. ``out``: an HxWx3 uint8 array to write into (returned);
    ``scratch`` keeps the temporaries.
    """
    v = np.asarray(values, dtype=np.float32)
    scratch = Scratch() if scratch is None else scratch
    out = np.empty(v.shape + (3,), dtype=np.uint8) if out is None else out
    finite = np.isfinite(v, out=scratch("colorize.finite", v.shape, bool))
    if not finite.any():
        out[...] = 0
        return out
    lo = float(v[finite].min()) if vmin is None else float(vmin)
    hi = float(v[finite].max()) if vmax is None else float(vmax)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    scaled = np.subtract(v, np.float32(lo), out=scratch("colorize.scaled", v.shape, np.float32))
    scaled *= np.float32(scale)
    np.clip(scaled, 0, 255, out=scaled)
    index = scratch("colorize.index", v.shape, np.uint8)
    with np.errstate(invalid="ignore"):  # NaN has no index; those pixels are made black below
        np.copyto(index, scaled, casting="unsafe")
    # One lookup of four bytes a pixel, black where not finite, then the first three bytes (OpenCV, one pass each).
    rgbx = scratch("colorize.rgbx", v.shape, np.int32)
    opencv_into(rgbx, cv2.LUT(index, _TURBO_RGBX, dst=rgbx))
    np.multiply(rgbx, finite.view(np.uint8), out=rgbx)
    return opencv_into(out, cv2.cvtColor(rgbx.view(np.uint8).reshape(v.shape + (4,)), cv2.COLOR_RGBA2RGB, dst=out))


def depth_range(depth: np.ndarray) -> tuple[float, float]:
    """(near, far) in metres: the DEPTH_PERCENTILES of the frame's inverse depth (valid = finite, > 0).

    (1, 2) when the frame has no valid depth.
    """
    z = np.asarray(depth, dtype=np.float64)
    valid = z[np.isfinite(z) & (z > 0)]
    if not valid.size:
        return 1.0, 2.0
    far_inv, near_inv = np.percentile(1.0 / valid, DEPTH_PERCENTILES)
    return 1.0 / near_inv, 1.0 / far_inv


def colorize_depth(depth: np.ndarray, near_m: float | None = None, far_m: float | None = None) -> np.ndarray:
    """HxW depth (metres, NaN invalid) -> HxWx3 uint8 RGB, near warm (red) to far cool (blue).

    Colours are linear in inverse depth (like disparity) over [near_m, far_m], by default the
    frame's robust range (:func:`depth_range`); invalid pixels are black.
    """
    if near_m is None or far_m is None:
        near_m, far_m = depth_range(depth)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = 1.0 / np.asarray(depth, dtype=np.float32)
    inverse[~(inverse > 0)] = np.nan
    return colorize(inverse, 1.0 / far_m, 1.0 / near_m)


def depth_scale_bar(near_m: float, far_m: float, width: int, height: int = 44) -> np.ndarray:
    """height x width x 3 uint8 RGB legend of :func:`colorize_depth` over [near_m, far_m]: the colour ramp
    with tick marks and labels in metres at round depths (near on the right, warm)."""
    ramp_h = height // 3
    inverse = np.linspace(1.0 / far_m, 1.0 / near_m, width, dtype=np.float32)
    bar = np.zeros((height, width, 3), np.uint8)
    bar[:ramp_h] = colorize(np.broadcast_to(inverse, (ramp_h, width)), 1.0 / far_m, 1.0 / near_m)
    bar[ramp_h:] = 255
    for metres in _round_depths(near_m, far_m):
        x = int(round((1.0 / metres - 1.0 / far_m) / (1.0 / near_m - 1.0 / far_m) * (width - 1)))
        cv2.line(bar, (x, ramp_h), (x, ramp_h + 4), (0, 0, 0), 1)
        text = f"{metres:g} m"
        (text_w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        left = min(max(x - text_w // 2, 0), width - text_w)
        cv2.putText(bar, text, (left, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def _round_depths(near_m: float, far_m: float, count: int = 5) -> list[float]:
    """Up to ``count`` round depths (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k m) inside [near_m, far_m], spread
    evenly in inverse depth."""
    steps = [round(m * 10.0 ** k, 6) for k in range(-2, 4) for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)]
    inside = [d for d in steps if near_m <= d <= far_m]
    if len(inside) <= count:
        return inside
    targets = np.linspace(1.0 / far_m, 1.0 / near_m, count)
    return sorted({min(inside, key=lambda d: abs(1.0 / d - t)) for t in targets})
