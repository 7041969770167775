"""Sparsification curves, their AUC, the oracle and the holes point, on arrays small enough to score by hand."""
import numpy as np
import pytest

from psmnet_ros.core import InputError
from psmnet_ros.core.sparsification import (DENSITIES, area_under, confidence_at_density, holes_point, oracle_curve,
                                            pixel_errors, sparsification_curve)

# Four pixels, errors 0, 1, 3, 5 px; confidence ranks them 0 (0.9), 3 (0.8), 5 (0.2), 1 (0.1).
ERRORS = np.array([0.0, 1.0, 3.0, 5.0])
CONFIDENCE = np.array([0.9, 0.1, 0.8, 0.2])


def test_curve_keeps_the_most_confident_pixels():
    curve = sparsification_curve(ERRORS, CONFIDENCE, [1.0, 0.75, 0.5])
    # 4 kept: 3 and 5 are over 2 px; 3 kept {0, 3, 5}; 2 kept {0, 3}.
    np.testing.assert_allclose(curve.bad2, [2 / 4, 2 / 3, 1 / 2])
    np.testing.assert_allclose(curve.epe, [9 / 4, 8 / 3, 3 / 2])
    np.testing.assert_array_equal(curve.density, [1.0, 0.75, 0.5])


def test_oracle_keeps_the_smallest_errors_and_its_auc():
    oracle = oracle_curve(ERRORS, [1.0, 0.75, 0.5])
    # 4 kept: {0, 1, 3, 5}; 3 kept {0, 1, 3}; 2 kept {0, 1}.
    np.testing.assert_allclose(oracle.bad2, [2 / 4, 1 / 3, 0])
    np.testing.assert_allclose(oracle.epe, [9 / 4, 4 / 3, 1 / 2])
    # Trapezoids over density 0.5..1 in two 0.25 steps, divided by the width 0.5:
    # bad-2 (0 + 1/3)/2 * 0.25 + (1/3 + 1/2)/2 * 0.25 = 7/48, / 0.5 = 7/24.
    assert oracle.auc_bad2 == pytest.approx(7 / 24)
    assert oracle.auc_epe == pytest.approx(((1 / 2 + 4 / 3) / 2 * 0.25 + (4 / 3 + 9 / 4) / 2 * 0.25) / 0.5)


def test_an_error_of_exactly_two_pixels_is_not_bad():
    curve = sparsification_curve([2.0, 2.0 + 1e-9], [1.0, 0.0], [0.5, 1.0])
    np.testing.assert_allclose(curve.bad2, [0.0, 0.5])


def test_ties_count_as_their_mean_whatever_the_pixel_order():
    """Confidences {1, 1, 0, 0}: keeping 1 pixel keeps half of the first pair on average (mean error 2 px, half
    a bad pixel); keeping 3 keeps the first pair and half of the second (4 + (1 + 5) / 2 = 7 px, 1.5 bad)."""
    errors, confidence = np.array([0.0, 4.0, 1.0, 5.0]), np.array([1.0, 1.0, 0.0, 0.0])
    curve = sparsification_curve(errors, confidence, [0.25, 0.75])
    np.testing.assert_allclose(curve.epe, [2.0, 7 / 3])
    np.testing.assert_allclose(curve.bad2, [0.5, 1.5 / 3])
    swapped = sparsification_curve(errors[[1, 0, 3, 2]], confidence, [0.25, 0.75])
    np.testing.assert_allclose(swapped.epe, curve.epe)


def test_kept_count_rounds_to_the_nearest_pixel():
    """Ten pixels with errors 0..9 ranked in order: 55 % keeps 6 (5.5 rounds up), 54 % keeps 5, 1 % keeps 1."""
    errors = np.arange(10.0)
    curve = sparsification_curve(errors, -errors, [0.55, 0.54, 0.01])
    np.testing.assert_allclose(curve.epe, [15 / 6, 10 / 5, 0.0])


def test_threshold_of_a_density_is_the_lowest_kept_confidence():
    """Confidences 0.9, 0.1, 0.8, 0.2: 100 % keeps down to 0.1, 75 % (3 pixels) down to 0.2, 50 % down to 0.8."""
    np.testing.assert_array_equal(confidence_at_density(CONFIDENCE, [1.0, 0.75, 0.5]), [0.1, 0.2, 0.8])
    with pytest.raises(InputError, match="at least one pixel"):
        confidence_at_density([], [0.5])


def test_default_densities_and_a_perfect_confidence_equals_the_oracle():
    assert DENSITIES[0] == 1.0 and DENSITIES[-1] == 0.5 and len(DENSITIES) == 11
    errors = np.random.default_rng(0).exponential(2.0, 1000)
    perfect = sparsification_curve(errors, 1 / (1 + errors))
    oracle = oracle_curve(errors)
    np.testing.assert_allclose(perfect.bad2, oracle.bad2)
    assert perfect.auc_epe == pytest.approx(oracle.auc_epe)


def test_area_under_a_line_is_its_mean_and_needs_two_densities():
    assert area_under([1.0, 0.5], [4.0, 2.0]) == pytest.approx(3.0)
    with pytest.raises(InputError, match="two distinct densities"):
        area_under([0.5, 0.5], [1.0, 2.0])


def test_pixel_errors_use_valid_ground_truth_only():
    prediction = np.array([[1.0, 2.0, np.nan], [4.0, 5.0, 6.0]])
    ground_truth = np.array([[1.5, 0.0, 3.0], [np.nan, 2.0, np.inf]])
    errors, valid = pixel_errors(prediction, ground_truth)
    np.testing.assert_array_equal(valid, [[True, False, True], [False, True, False]])
    np.testing.assert_array_equal(errors, [0.5, np.inf, 3.0])


def test_holes_point_scores_the_filled_pixels_at_their_density():
    """Five valid pixels, four filled with errors 0, 1, 3, 0.5: density 4/5, one of four over 2 px, EPE 4.5/4."""
    prediction = np.array([[10.0, 11.0, np.nan], [13.0, 7.5, 1.0]])
    ground_truth = np.array([[10.0, 10.0, 9.0], [10.0, 7.0, 0.0]])
    point = holes_point(prediction, ground_truth)
    assert (point.density, point.bad2, point.epe) == pytest.approx((4 / 5, 1 / 4, 4.5 / 4))
    empty = holes_point(np.full((2, 2), np.nan), np.ones((2, 2)))
    assert empty.density == 0.0 and np.isnan(empty.bad2)


@pytest.mark.parametrize("errors, confidence, densities, message", [
    ([1.0, 2.0], [0.5], DENSITIES, "one confidence per error"),
    ([], [], DENSITIES, "at least one pixel"),
    ([1.0, np.inf], [0.5, 0.5], DENSITIES, "finite errors"),
    ([1.0, 2.0], [0.5, np.nan], DENSITIES, "finite errors and confidences"),
    ([1.0, 2.0], [0.5, 0.4], [0.0, 1.0], "fractions in"),
    ([1.0, 2.0], [0.5, 0.4], [1.2], "fractions in"),
])
def test_bad_inputs_are_refused(errors, confidence, densities, message):
    with pytest.raises(InputError, match=message):
        sparsification_curve(errors, confidence, densities)
