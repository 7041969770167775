"""Disparity metrics and the KITTI error image, on tiny maps computed by hand."""
import warnings

import numpy as np
import pytest

from psmnet_ros.core.error_map import error_image
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.metrics import (CoverageCounts, ErrorCounts, coverage_counts, error_counts, frame_metrics,
                                     mean_of_frames, pooled)

NAN = np.nan


def test_basic_values():
    gt = np.array([[10, 20], [0, NAN]], dtype=np.float32)
    pred = np.array([[11, 24], [5, 5]], dtype=np.float32)
    c = error_counts(pred, gt)
    # valid: (10 -> err 1), (20 -> err 4); 0 and NaN ground truth are unknown
    assert c.count == 2
    assert c.epe == 2.5
    assert c.d1 == 0.5                      # 4 > 3 and 4 > 0.05 * 20; 1 is not
    assert (c.bad1_rate, c.bad2_rate, c.bad3_rate) == (0.5, 0.5, 0.5)   # err 1 is not > 1


@pytest.mark.parametrize("gt, pred, outlier", [
    (40.0, 43.0, False),     # err 3: not > 3 px
    (40.0, 43.5, True),      # err 3.5 > 3 and > 2 (5 % of 40)
    (100.0, 105.0, False),   # err 5 > 3 but not > 5 (5 % of 100)
    (100.0, 94.5, True),     # err 5.5 > 5
    (10.0, 13.25, True),     # err 3.25 > 3 and > 0.5
])
def test_d1_boundary(gt, pred, outlier):
    c = error_counts(np.array([[pred]], np.float32), np.array([[gt]], np.float32))
    assert c.d1_outliers == int(outlier)


def test_bad_thresholds_are_strict():
    gt = np.full((1, 4), 50.0, dtype=np.float32)
    pred = gt + np.array([[1.0, 2.0, 3.0, 3.5]], dtype=np.float32)
    c = error_counts(pred, gt)
    assert (c.bad1, c.bad2, c.bad3) == (3, 2, 1)


def test_huge_and_non_finite_errors():
    gt = np.array([[10.0, 10.0, 10.0]], dtype=np.float32)
    c = error_counts(np.array([[1e6, 10.0, 10.0]], np.float32), gt)
    assert c.epe == pytest.approx((1e6 - 10) / 3)
    assert c.d1_outliers == 1 and c.bad3 == 1
    c = error_counts(np.array([[NAN, 10.0, np.inf]], np.float32), gt)
    assert c.epe == np.inf and c.d1_outliers == 2 and c.bad1 == 2


def test_no_valid_pixel_gives_nan_without_warnings():
    gt = np.array([[0.0, NAN], [-1.0, np.inf]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = error_counts(np.ones((2, 2), np.float32), gt)
        rates = c.rates()
        summary = mean_of_frames([c])
    assert c.count == 0
    assert all(np.isnan(rates[k]) for k in ("epe", "d1", "bad1", "bad2", "bad3"))
    assert summary["count"] == 0 and np.isnan(summary["d1"])


def test_frame_metrics_noc_region():
    gt = np.array([[10, 10, 10, 10]], dtype=np.float32)
    noc = np.array([[0, 0, 10, 10]], dtype=np.float32)
    pred = np.array([[20, 20, 10, 11]], dtype=np.float32)
    m = frame_metrics(pred, gt, noc)
    assert m.all.count == 4 and m.all.d1 == 0.5 and m.all.epe == 21 / 4
    assert m.noc.count == 2 and m.noc.d1 == 0.0 and m.noc.epe == 0.5
    assert frame_metrics(pred, gt).noc is None


def test_pooled_and_mean_of_frames_differ():
    a = error_counts(np.array([[20.0]], np.float32), np.array([[10.0]], np.float32))       # 1 px, err 10
    b = error_counts(np.full((1, 3), 30.0, np.float32), np.full((1, 3), 30.0, np.float32))  # 3 px, err 0
    empty = ErrorCounts()
    total = pooled([a, b, empty])
    assert total.count == 4
    assert total.d1 == 0.25 and total.epe == 2.5               # 1 outlier / 4 px, 10 px / 4 px
    mean = mean_of_frames([a, b, empty])                       # empty frame not averaged
    assert mean["count"] == 2 and mean["d1"] == 0.5 and mean["epe"] == 5.0


def test_coverage_counts_holes_dense_and_own_pixels():
    gt = np.array([[10, 20, 30, NAN], [0, 40, 50, 60]], dtype=np.float32)
    pred = np.array([[11, NAN, 30, 5], [5, np.inf, 52.5, 60]], dtype=np.float32)
    c = coverage_counts(pred, gt)
    # gt pixels: 10, 20, 30, 40, 50, 60; holes at 20 and 40; errors elsewhere 1, 0, 2.5, 0
    assert c.dense.count == 6 and c.covered.count == 4
    assert c.density == 4 / 6
    assert (c.dense.bad1, c.dense.bad2, c.dense.bad3) == (3, 3, 2)     # holes count; err 1 is not > 1
    assert c.dense.epe == np.inf
    assert c.covered.epe == 3.5 / 4
    assert (c.covered.bad1, c.covered.bad2, c.covered.bad3) == (1, 1, 0)
    total = c + c
    assert total.dense.count == 12 and total.covered.bad1 == 2 and total.density == 4 / 6
    assert np.isnan(CoverageCounts().density)


def test_coverage_counts_of_a_dense_map_equal_error_counts():
    gt = np.array([[10.0, 20.0, NAN]], dtype=np.float32)
    pred = np.array([[12.5, 20.0, NAN]], dtype=np.float32)     # a hole where gt is unknown does not count
    c = coverage_counts(pred, gt)
    assert c.density == 1.0 and c.dense == c.covered == error_counts(pred, gt)
    assert (c.dense.count, c.dense.bad2, c.dense.bad3, c.dense.epe) == (2, 1, 0, 1.25)
    with pytest.raises(InputError, match="must be HxW arrays of one size"):
        coverage_counts(np.zeros((2, 3)), np.zeros((3, 2)))


def test_shape_mismatch():
    with pytest.raises(InputError, match="must be HxW arrays of one size"):
        error_counts(np.zeros((2, 3)), np.zeros((3, 2)))


# KITTI devkit log colours (io_disp.h / log_colormap): n = min(err/3, 20 err/gt)
DARK_BLUE = (49, 54, 149)       # n < 1/16
LIGHT_ORANGE = (254, 224, 144)  # 1 <= n < 2
DARK_RED = (165, 0, 38)         # n >= 16


def test_error_image_single_pixel_paints_3x3():
    gt = np.full((5, 5), NAN, dtype=np.float32)
    gt[2, 2] = 10.0
    image = error_image(np.full((5, 5), 10.0, np.float32), gt)
    assert image.dtype == np.uint8 and image.shape == (5, 5, 3)
    expected = np.zeros((5, 5, 3), np.uint8)
    expected[1:4, 1:4] = DARK_BLUE
    np.testing.assert_array_equal(image, expected)


def test_error_image_bins_and_half_brightness_off_noc():
    gt = np.zeros((3, 9), dtype=np.float32)
    gt[1, 1] = gt[1, 4] = gt[1, 7] = 10.0
    pred = np.full((3, 9), 10.0, np.float32)
    pred[1, 4] = 13.0         # err 3: n = min(1, 6) = 1 -> [1, 2)
    pred[1, 7] = NAN          # no estimate counts as the largest error
    noc = gt.copy()
    noc[1, 4] = 0             # occluded pixel: colour at half brightness, truncated
    image = error_image(pred, gt, noc)
    assert tuple(image[1, 1]) == DARK_BLUE
    assert tuple(image[1, 4]) == (127, 112, 72)
    assert tuple(image[1, 7]) == DARK_RED
    assert tuple(error_image(pred, gt)[0, 3]) == LIGHT_ORANGE


def test_error_image_row_major_overwrite_and_border():
    gt = np.full((6, 6), NAN, dtype=np.float32)
    gt[2, 2] = gt[2, 3] = gt[3, 2] = 10.0
    gt[0, 5] = 10.0           # border pixel: never a centre in the devkit
    pred = np.full((6, 6), 10.0, np.float32)
    pred[2, 3] = 13.0         # orange; later in row-major order than (2, 2)
    pred[3, 2] = 1000.0       # red; later than both
    image = error_image(pred, gt)
    assert tuple(image[1, 1]) == DARK_BLUE       # only (2, 2) reaches it
    assert tuple(image[1, 2]) == LIGHT_ORANGE    # (2, 2) then (2, 3): the later wins
    assert tuple(image[2, 4]) == LIGHT_ORANGE
    assert tuple(image[2, 2]) == DARK_RED        # (3, 2) is painted last
    assert tuple(image[4, 1]) == DARK_RED
    assert tuple(image[0, 5]) == (0, 0, 0) and tuple(image[5, 5]) == (0, 0, 0)
