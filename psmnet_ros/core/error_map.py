"""KITTI-devkit-style disparity error images (the "log colour" error map).

For each pixel with valid ground truth the devkit computes the error relative
to the D1 outlier threshold, n = min(err / 3, 20 * err / gt) = err / max(3 px,
5 % of gt), so n >= 1 exactly for D1 outliers, and colours it by the bin of n:
below 1/16 dark blue ... 1 to 2 light orange ... 16 and more dark red. Pixels
without non-occluded ground truth (valid in the all map only) are drawn at half
brightness. Each valid pixel paints a 3x3 block, in row-major order, so sparse
KITTI ground truth is visible; the one-pixel image border is never a centre.
Pixels without ground truth stay black. A prediction that is not finite counts
as the largest error (dark red).
"""
from __future__ import annotations

import numpy as np

from .errors import InputError

# (lower bound of n, R, G, B); a bin runs up to the next lower bound.
KITTI_LOG_COLORS = (
    (0.0, 49, 54, 149),
    (0.0625, 69, 117, 180),
    (0.125, 116, 173, 209),
    (0.25, 171, 217, 233),
    (0.5, 224, 243, 248),
    (1.0, 254, 224, 144),
    (2.0, 253, 174, 97),
    (4.0, 244, 109, 67),
    (8.0, 215, 48, 39),
    (16.0, 165, 0, 38),
)


def _valid(disparity: np.ndarray) -> np.ndarray:
    return np.isfinite(disparity) & (disparity > 0)


def error_image(prediction: np.ndarray, ground_truth: np.ndarray,
                noc: np.ndarray | None = None) -> np.ndarray:
    """HxWx3 uint8 RGB error image of an HxW prediction against the all (occ)
    ground truth and the optional non-occluded map (pixels)."""
    pred = np.asarray(prediction, dtype=np.float64)
    gt = np.asarray(ground_truth, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2 or (noc is not None and np.shape(noc) != gt.shape):
        raise InputError(f"prediction {pred.shape}, ground truth {gt.shape} and noc map must be HxW of one size")
    valid = _valid(gt)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(np.isfinite(pred), np.abs(pred - gt), np.inf)
        relative = err / np.maximum(3.0, 0.05 * gt)
    bounds = np.array([c[0] for c in KITTI_LOG_COLORS])
    palette = np.array([c[1:] for c in KITTI_LOG_COLORS], dtype=np.float64)
    bins = np.searchsorted(bounds, np.where(valid, relative, 0.0), side="right") - 1
    colors = palette[bins]
    if noc is not None:
        occluded = valid & ~_valid(np.asarray(noc, dtype=np.float64))
        colors[occluded] *= 0.5
    colors = colors.astype(np.uint8)

    h, w = gt.shape
    image = np.zeros((h, w, 3), dtype=np.uint8)
    centres = np.zeros_like(valid)
    centres[1:-1, 1:-1] = valid[1:-1, 1:-1]
    # Paint in the devkit's row-major order: for every output pixel the last
    # centre painted is the one with the largest (row, column), which is what
    # the assignments below leave behind, taken from lowest to highest centre.
    for dv in (-1, 0, 1):
        for du in (-1, 0, 1):
            ys = slice(max(0, -dv), h - max(0, dv))
            xs = slice(max(0, -du), w - max(0, du))
            src_ys = slice(max(0, dv), h - max(0, -dv))
            src_xs = slice(max(0, du), w - max(0, -du))
            take = centres[src_ys, src_xs]
            image[ys, xs][take] = colors[src_ys, src_xs][take]
    return image
