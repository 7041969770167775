"""One evaluation loop for every accuracy number: psmnet-eval, training validation, the benchmark.

``evaluate`` runs one or more disparity predictors over the frames of a dataset with ground
truth and scores them with :mod:`psmnet_ros.core.metrics`; each frame is read once, whatever
the number of predictors.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .metrics import CoverageCounts, ErrorCounts, FrameMetrics, covered_counts, frame_metrics, pooled

Predict = Callable[[np.ndarray, np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray]"]
"""(left, right) HxWx3 uint8 RGB -> HxW float32 disparity in pixels (NaN/inf: no value), or
(disparity, HxW confidence in [0, 1])."""


@dataclass(frozen=True)
class FrameScore:
    """One predictor on one frame: metrics on the all and noc maps (a hole is an error), the errors on the
    pixels it has a value for, seconds to predict."""

    name: str
    metrics: FrameMetrics
    covered: ErrorCounts
    seconds: float

    @property
    def coverage(self) -> CoverageCounts:
        return CoverageCounts(dense=self.metrics.all, covered=self.covered)


@dataclass
class Evaluation:
    """The frames one predictor was scored on, in order, and their totals."""

    frames: list[FrameScore] = field(default_factory=list)

    @property
    def pooled(self) -> ErrorCounts:
        """Errors pooled over every pixel of every frame (the KITTI benchmark's way)."""
        return pooled(f.metrics.all for f in self.frames)

    @property
    def pooled_noc(self) -> ErrorCounts | None:
        """The same on the noc maps; None unless every frame has one."""
        if not self.frames or any(f.metrics.noc is None for f in self.frames):
            return None
        return pooled(f.metrics.noc for f in self.frames)

    @property
    def coverage(self) -> CoverageCounts:
        """Dense and own-pixel errors pooled over the frames, and so the density."""
        total = CoverageCounts()
        for f in self.frames:
            total = total + f.coverage
        return total

    @property
    def seconds(self) -> float:
        """Total prediction time (seconds)."""
        return sum(f.seconds for f in self.frames)


def evaluate(predictors: dict[str, Predict], dataset, indices: Iterable[int] | None = None,
             max_disparity: float | None = None,
             on_prediction: Callable[[str, dict, np.ndarray, np.ndarray | None], None] | None = None,
             ) -> dict[str, Evaluation]:
    """Score each predictor on the frames ``indices`` (default all) of ``dataset``, by name.

    dataset: samples with "name", "left", "right", "disparity" (HxW pixels, NaN unknown) and "noc"
    (or None). max_disparity: ground truth at or above it is left out (training scores only what the
    network can output). on_prediction(predictor name, sample, disparity, confidence or None) sees every
    prediction, e.g. to write it to a file.
    """
    results = {name: Evaluation() for name in predictors}
    for index in range(len(dataset)) if indices is None else indices:
        sample = dataset[index]
        truth, noc = sample["disparity"], sample["noc"]
        if max_disparity is not None:
            truth = np.where(truth < max_disparity, truth, np.nan)
            noc = None if noc is None else np.where(noc < max_disparity, noc, np.nan)
        for name, predict in predictors.items():
            start = time.perf_counter()
            output = predict(sample["left"], sample["right"])
            seconds = time.perf_counter() - start
            disparity, confidence = output if isinstance(output, tuple) else (output, None)
            if on_prediction is not None:
                on_prediction(name, sample, disparity, confidence)
            results[name].frames.append(FrameScore(sample["name"], frame_metrics(disparity, truth, noc),
                                                   covered_counts(disparity, truth), seconds))
    return results
