"""Sparsification: how the error of a dense disparity map falls as its least confident pixels go.

Only pixels with valid ground truth count (finite and > 0, as in :mod:`psmnet_ros.core.metrics`);
err = |d - gt| in pixels. The pixels are ranked by confidence, highest first; at density q the
round(q * n) most confident of the n valid pixels are kept (halves round up, at least one) and
scored: bad-2 (fraction of kept pixels with err > 2 px) and EPE (mean err of the kept pixels,
pixels). Pixels of equal confidence are kept or dropped as a group: where a density cuts through
a group, the curve takes the group's mean error for the part kept (the expectation over random
orders of the tie), so the result does not depend on where the pixels sit in the image.

The oracle ranks by the true error (smallest kept first): no confidence can do better, so its
curve is the lower bound. The AUC of a curve is its area over the density range divided by the
range's width (trapezoid rule): the curve's mean, in its own units. A method that leaves holes
(SGBM: non-finite values) gives one point, at its own density, scored on the pixels it fills.
:func:`confidence_at_density` gives the confidence threshold that keeps a density.

Over several frames, concatenate the valid pixels' errors and confidences of all frames
(:func:`pixel_errors`): one ranking, as one confidence threshold applied to every frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError

DENSITIES = tuple(round(1.0 - 0.05 * i, 2) for i in range(11))
"""Densities of the curve: 100 % down to 50 % of the valid pixels, in steps of 5 %."""
BAD_THRESHOLD_PX = 2.0
"""bad-2: a kept pixel is bad when err > this (pixels)."""


@dataclass(frozen=True)
class Curve:
    """Errors of the kept pixels at each density.

    density: fractions of the valid pixels kept; bad2: fraction of kept pixels with err > 2 px;
    epe: mean err of the kept pixels (pixels). Arrays of one length, in the order asked for.
    """

    density: np.ndarray
    bad2: np.ndarray
    epe: np.ndarray

    @property
    def auc_bad2(self) -> float:
        """Area under the bad-2 curve over the density range, divided by the range's width (a fraction)."""
        return area_under(self.density, self.bad2)

    @property
    def auc_epe(self) -> float:
        """Area under the EPE curve over the density range, divided by the range's width (pixels)."""
        return area_under(self.density, self.epe)


@dataclass(frozen=True)
class Point:
    """A method with holes at its own density: fraction of valid pixels it fills, and its bad-2
    (fraction) and EPE (pixels) on those pixels (NaN when it fills none)."""

    density: float
    bad2: float
    epe: float


def pixel_errors(prediction: np.ndarray, ground_truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|d - gt| (pixels, float64, inf where the prediction is not finite) on the valid ground-truth
    pixels, in raster order, and the HxW bool mask of those pixels."""
    pred = np.asarray(prediction, dtype=np.float64)
    gt = np.asarray(ground_truth, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise InputError(f"prediction {pred.shape} and ground truth {gt.shape} must be HxW arrays of one size")
    valid = np.isfinite(gt) & (gt > 0)
    p = pred[valid]
    return np.where(np.isfinite(p), np.abs(p - gt[valid]), np.inf), valid


def _kept_counts(densities, n: int) -> np.ndarray:
    """Pixels kept of ``n`` at each density (fractions in (0, 1]): the nearest whole number, halves up,
    at least one."""
    density = np.asarray(densities, dtype=np.float64).ravel()
    if density.size == 0 or not ((density > 0) & (density <= 1)).all():
        raise InputError(f"densities must be fractions in (0, 1], got {densities}")
    return np.clip(np.floor(density * n + 0.5).astype(np.int64), 1, n)


def sparsification_curve(errors: np.ndarray, confidence: np.ndarray, densities=DENSITIES) -> Curve:
    """Curve of pixels with ``errors`` (pixels, finite) ranked by ``confidence`` (finite, higher kept
    first), at ``densities`` (fractions in (0, 1]); 1-D arrays of one length, at least one pixel."""
    errors = np.asarray(errors, dtype=np.float64).ravel()
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    density = np.asarray(densities, dtype=np.float64).ravel()
    if errors.size != confidence.size or errors.size == 0:
        raise InputError(f"sparsification needs one confidence per error and at least one pixel, got "
                         f"{errors.size} errors and {confidence.size} confidences")
    if not (np.isfinite(errors).all() and np.isfinite(confidence).all()):
        raise InputError("sparsification needs finite errors and confidences (a dense prediction on every "
                         "valid pixel)")
    kept = _kept_counts(density, errors.size)
    order = np.argsort(-confidence, kind="stable")
    ranked = confidence[order]
    err_sum = np.concatenate([[0.0], np.cumsum(errors[order])])
    bad_sum = np.concatenate([[0.0], np.cumsum(errors[order] > BAD_THRESHOLD_PX)])
    # Groups of equal confidence: [start, end) in the ranking.
    starts = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
    ends = np.append(starts[1:], ranked.size)
    group = np.searchsorted(starts, kept - 1, side="right") - 1
    start, end = starts[group], ends[group]
    share = (kept - start) / (end - start)

    def kept_sum(cumulative):
        return cumulative[start] + share * (cumulative[end] - cumulative[start])

    return Curve(density=density, bad2=kept_sum(bad_sum) / kept, epe=kept_sum(err_sum) / kept)


def confidence_at_density(confidence: np.ndarray, densities=DENSITIES) -> np.ndarray:
    """The confidence threshold of each density: the lowest confidence among the pixels kept there (keeping
    the pixels at or above it gives that density, give or take pixels tied with it)."""
    ranked = np.sort(np.asarray(confidence, dtype=np.float64).ravel())[::-1]
    if not ranked.size:
        raise InputError("a confidence threshold needs at least one pixel")
    return ranked[_kept_counts(densities, ranked.size) - 1]


def oracle_curve(errors: np.ndarray, densities=DENSITIES) -> Curve:
    """Curve of the same pixels ranked by their true error, smallest kept first: the lower bound."""
    errors = np.asarray(errors, dtype=np.float64)
    return sparsification_curve(errors, -errors, densities)


def holes_point(prediction: np.ndarray, ground_truth: np.ndarray) -> Point:
    """A prediction with holes (non-finite values) at its own density, against HxW ground truth."""
    errors, _ = pixel_errors(prediction, ground_truth)
    filled = errors[np.isfinite(errors)]
    if not filled.size:
        return Point(density=0.0 if errors.size else float("nan"), bad2=float("nan"), epe=float("nan"))
    return Point(density=filled.size / errors.size, bad2=float(np.mean(filled > BAD_THRESHOLD_PX)),
                 epe=float(filled.mean()))


def area_under(density: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area of ``values`` over ``density`` (any order, at least two distinct densities)
    divided by the width of the density range."""
    density, values = np.asarray(density, dtype=np.float64), np.asarray(values, dtype=np.float64)
    order = np.argsort(density)
    density, values = density[order], values[order]
    width = density[-1] - density[0]
    if not width > 0:
        raise InputError(f"an area under a curve needs at least two distinct densities, got {density.tolist()}")
    return float(np.trapezoid(values, density) / width)
