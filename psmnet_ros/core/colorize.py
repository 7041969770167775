"""False-colour images of disparity and depth for people to look at."""
from __future__ import annotations

import cv2
import numpy as np


def colorize(values: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """HxW float -> HxWx3 uint8 RGB with the turbo colour map; NaN/inf are black.

    vmin/vmax default to the finite minimum and maximum of ``values``.
    """
    v = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(v)
    if not finite.any():
        return np.zeros(v.shape + (3,), dtype=np.uint8)
    lo = float(v[finite].min()) if vmin is None else float(vmin)
    hi = float(v[finite].max()) if vmax is None else float(vmax)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    grey = np.clip((np.where(finite, v, lo) - lo) * scale, 0, 255).astype(np.uint8)
    rgb = cv2.applyColorMap(grey, cv2.COLORMAP_TURBO)[..., ::-1].copy()
    rgb[~finite] = 0
    return rgb


def colorize_depth(depth: np.ndarray) -> np.ndarray:
    """HxW depth (metres, NaN invalid) -> HxWx3 uint8 RGB over [0, 95th percentile], so that a
    few far points do not wash out the near ones."""
    finite = depth[np.isfinite(depth)]
    return colorize(depth, 0.0, float(np.percentile(finite, 95)) if finite.size else 1.0)
