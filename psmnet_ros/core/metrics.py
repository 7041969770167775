"""Disparity error metrics as the KITTI and SceneFlow benchmarks define them.

Only pixels with valid ground truth count: finite and > 0 (KITTI stores 0 for
"no value"). On those pixels, with err = |d - gt| in pixels:

- EPE: mean err (end-point error, pixels);
- D1: fraction with err > 3 px AND err > 0.05 * gt (KITTI 2015 devkit,
  ABS_THRESH 3, REL_THRESH 0.05; both comparisons strict, evaluated in float64);
- bad-N: fraction with err > N px, N = 1, 2, 3.

A prediction that is not finite on a valid pixel counts as an infinite error
(an outlier for D1 and bad-N, EPE becomes inf). A region without valid pixels
gives NaN rates and count 0.

Over a dataset, :func:`pooled` sums pixels and errors over all frames, which is
what the KITTI benchmark reports (the devkit accumulates error and pixel counts
over the images, then divides once); :func:`mean_of_frames` averages the
per-frame values instead, as many papers' scripts do.

A matcher that leaves holes (SGBM: NaN where it has no value) is scored twice by
:func:`coverage_counts`: dense, on all pixels with ground truth, holes counting
as errors; and on its own pixels (ground truth and a finite prediction). Its
density is the fraction of ground-truth pixels it covers.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .errors import InputError

D1_ABS_THRESHOLD_PX = 3.0
D1_REL_THRESHOLD = 0.05
BAD_THRESHOLDS_PX = (1, 2, 3)


@dataclass(frozen=True)
class ErrorCounts:
    """Error sums over the valid pixels of one region (one frame or many).

    count: valid pixels; abs_error_sum: sum of |d - gt| (pixels);
    d1_outliers / bad1 / bad2 / bad3: numbers of pixels over the thresholds.
    """

    count: int = 0
    abs_error_sum: float = 0.0
    d1_outliers: int = 0
    bad1: int = 0
    bad2: int = 0
    bad3: int = 0

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def _rate(self, number: float) -> float:
        return number / self.count if self.count else float("nan")

    @property
    def epe(self) -> float:
        """Mean absolute disparity error, pixels (NaN without valid pixels)."""
        return self._rate(self.abs_error_sum)

    @property
    def d1(self) -> float:
        """Fraction of KITTI D1 outliers (err > 3 px and > 5 % of gt)."""
        return self._rate(self.d1_outliers)

    @property
    def bad1_rate(self) -> float:
        """Fraction of pixels with err > 1 px."""
        return self._rate(self.bad1)

    @property
    def bad2_rate(self) -> float:
        """Fraction of pixels with err > 2 px."""
        return self._rate(self.bad2)

    @property
    def bad3_rate(self) -> float:
        """Fraction of pixels with err > 3 px."""
        return self._rate(self.bad3)

    def rates(self) -> dict[str, float]:
        """{'epe', 'd1', 'bad1', 'bad2', 'bad3'} (pixels / fractions) and 'count'."""
        return {"epe": self.epe, "d1": self.d1, "bad1": self.bad1_rate, "bad2": self.bad2_rate,
                "bad3": self.bad3_rate, "count": self.count}


def error_counts(prediction: np.ndarray, ground_truth: np.ndarray) -> ErrorCounts:
    """ErrorCounts of an HxW predicted disparity against HxW ground truth (pixels)."""
    pred = np.asarray(prediction, dtype=np.float64)
    gt = np.asarray(ground_truth, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise InputError(f"prediction {pred.shape} and ground truth {gt.shape} must be HxW arrays of one size")
    valid = np.isfinite(gt) & (gt > 0)
    if not valid.any():
        return ErrorCounts()
    g = gt[valid]
    p = pred[valid]
    err = np.where(np.isfinite(p), np.abs(p - g), np.inf)
    return ErrorCounts(
        count=int(g.size),
        abs_error_sum=float(err.sum()),
        d1_outliers=int(np.count_nonzero((err > D1_ABS_THRESHOLD_PX) & (err > D1_REL_THRESHOLD * g))),
        bad1=int(np.count_nonzero(err > BAD_THRESHOLDS_PX[0])),
        bad2=int(np.count_nonzero(err > BAD_THRESHOLDS_PX[1])),
        bad3=int(np.count_nonzero(err > BAD_THRESHOLDS_PX[2])),
    )


@dataclass(frozen=True)
class FrameMetrics:
    """Errors of one frame: ``all`` on the occ (all) ground truth, ``noc`` on the
    non-occluded ground truth when the dataset has one (else None)."""

    all: ErrorCounts
    noc: ErrorCounts | None = None


def frame_metrics(prediction: np.ndarray, ground_truth: np.ndarray,
                  noc: np.ndarray | None = None) -> FrameMetrics:
    """FrameMetrics of an HxW prediction against the all (occ) and optional noc maps."""
    return FrameMetrics(all=error_counts(prediction, ground_truth),
                        noc=None if noc is None else error_counts(prediction, noc))


@dataclass(frozen=True)
class CoverageCounts:
    """Errors of a disparity map that may have holes (non-finite values).

    ``dense``: all pixels with ground truth, a hole counting as an infinite
    error (an outlier for D1 and bad-N; EPE inf when there is a hole);
    ``covered``: only the pixels with ground truth where the map has a value.
    Adding two sums pixels and errors of both regions, as :func:`pooled` does.
    """

    dense: ErrorCounts = ErrorCounts()
    covered: ErrorCounts = ErrorCounts()

    def __add__(self, other: "CoverageCounts") -> "CoverageCounts":
        return CoverageCounts(self.dense + other.dense, self.covered + other.covered)

    @property
    def density(self) -> float:
        """Fraction of ground-truth pixels with a finite prediction (NaN without ground truth)."""
        return self.covered.count / self.dense.count if self.dense.count else float("nan")


def covered_counts(prediction: np.ndarray, ground_truth: np.ndarray) -> ErrorCounts:
    """ErrorCounts on the pixels where the HxW prediction has a value (finite) and the ground truth too."""
    covered_gt = np.array(ground_truth, dtype=np.float64)
    covered_gt[~np.isfinite(np.asarray(prediction, dtype=np.float64))] = np.nan
    return error_counts(prediction, covered_gt)


def coverage_counts(prediction: np.ndarray, ground_truth: np.ndarray) -> CoverageCounts:
    """CoverageCounts of an HxW prediction (pixels, NaN/inf = no value) against HxW ground truth."""
    return CoverageCounts(dense=error_counts(prediction, ground_truth),
                          covered=covered_counts(prediction, ground_truth))


def pooled(counts) -> ErrorCounts:
    """Sum of ErrorCounts over frames: rates weighted by valid pixels (KITTI benchmark)."""
    total = ErrorCounts()
    for c in counts:
        total = total + c
    return total


def mean_of_frames(counts) -> dict[str, float]:
    """Unweighted mean of per-frame rates over frames with valid pixels.

    Returns the keys of :meth:`ErrorCounts.rates`; 'count' is the number of
    frames averaged. NaN rates when no frame has a valid pixel.
    """
    per_frame = [c.rates() for c in counts if c.count]
    keys = ("epe", "d1", "bad1", "bad2", "bad3")
    if not per_frame:
        return {**{k: float("nan") for k in keys}, "count": 0}
    return {**{k: float(np.mean([r[k] for r in per_frame])) for k in keys}, "count": len(per_frame)}
