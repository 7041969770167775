"""The one evaluation loop: predictors scored on a dataset from first principles, each frame read once."""
import numpy as np
import pytest

from psmnet_ros.core.evaluation import evaluate


class TwoFrames:
    """Two 2x3 frames with known ground truth (NaN = unknown); counts how often a frame is read."""

    def __init__(self, with_noc: bool):
        self.reads = 0
        truth = np.array([[10.0, 20.0, np.nan], [30.0, 200.0, 5.0]], np.float32)
        self.samples = [{"name": f"f{i}", "left": np.full((2, 3, 3), i, np.uint8), "right": np.zeros((2, 3, 3), np.uint8),
                         "disparity": truth + i,
                         "noc": np.where([[True, False, True], [True, True, True]], truth + i, np.nan) if with_noc
                         else None} for i in range(2)]

    def __len__(self):
        return 2

    def __getitem__(self, index):
        self.reads += 1
        return self.samples[index]


def _truth_plus(offset, dataset):
    """A predictor returning the frame's ground truth (found by its left image) plus ``offset`` px."""
    return lambda left, right: np.nan_to_num(dataset.samples[int(left[0, 0, 0])]["disparity"]) + offset


def test_pooled_errors_coverage_and_a_single_read_per_frame():
    data = TwoFrames(with_noc=True)
    holes = lambda left, right: np.where(np.arange(3) == 0, np.nan, _truth_plus(0.0, data)(left, right))
    seen = []
    results = evaluate({"plus1.5": _truth_plus(1.5, data), "holes": holes}, data,
                       on_prediction=lambda name, sample, d, confidence: seen.append((name, sample["name"])))
    assert data.reads == 2
    assert seen == [("plus1.5", "f0"), ("holes", "f0"), ("plus1.5", "f1"), ("holes", "f1")]
    shifted = results["plus1.5"]
    # 5 known pixels a frame, each off by 1.5 px: EPE 1.5, every pixel bad-1, none bad-2;
    # D1 needs err > 3 px: none.
    assert shifted.pooled.count == 10 and shifted.pooled.epe == pytest.approx(1.5)
    assert shifted.pooled.bad1 == 10 and shifted.pooled.bad2 == 0 and shifted.pooled.d1_outliers == 0
    assert shifted.pooled_noc.count == 8          # the noc maps hide one known pixel a frame
    assert [f.name for f in shifted.frames] == ["f0", "f1"]
    # Column 0 holds no value: 2 of the 5 known pixels a frame are holes (infinite errors).
    coverage = results["holes"].coverage
    assert coverage.dense.count == 10 and coverage.covered.count == 6 and coverage.density == pytest.approx(0.6)
    assert coverage.dense.epe == np.inf and coverage.covered.epe == 0.0 and coverage.dense.bad3 == 4


def test_ground_truth_beyond_the_network_range_is_left_out():
    data = TwoFrames(with_noc=False)
    result = evaluate({"exact": _truth_plus(0.0, data)}, data, indices=[1], max_disparity=192)["exact"]
    assert result.pooled.count == 4 and result.pooled.epe == 0.0   # 201 px >= 192 is not scored
    assert result.pooled_noc is None and data.reads == 1
