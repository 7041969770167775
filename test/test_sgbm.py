"""OpenCV SGBM baseline on synthetic pairs whose disparity is known by construction."""
import numpy as np
import pytest

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.sgbm import sgbm_disparity

HEIGHT, WIDTH = 48, 128


def shifted_pair(shift: int, seed: int = 0):
    """Random texture; right = left moved left by ``shift`` px: left (x, y) is right (x - shift, y)."""
    base = np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH + shift, 3), dtype=np.uint8)
    return np.ascontiguousarray(base[:, :WIDTH]), np.ascontiguousarray(base[:, shift:])


@pytest.mark.parametrize("shift, num_disparities", [(7, 16), (21, 32)])
def test_constant_shift_is_recovered(shift, num_disparities):
    left, right = shifted_pair(shift)
    np.testing.assert_array_equal(left[:, shift:], right[:, :WIDTH - shift])   # the construction
    disparity = sgbm_disparity(left, right, num_disparities=num_disparities)
    assert disparity.dtype == np.float32 and disparity.shape == (HEIGHT, WIDTH)
    # Columns x < shift have no match in the right image: no value.
    assert np.isnan(disparity[:, :shift]).all()
    # Away from the borders (the search range, a block's half width) nearly every pixel has a value,
    # and every value is the shift to within SGBM's 1/16 px step.
    interior = disparity[3:-3, num_disparities + 3:-3]
    assert np.isfinite(interior).mean() > 0.95
    assert np.nanmax(np.abs(interior - shift)) <= 1 / 16


def test_identical_images_give_zero_disparity():
    left, _ = shifted_pair(0, seed=1)
    interior = sgbm_disparity(left, left.copy(), num_disparities=16)[3:-3, 19:-3]
    assert np.isfinite(interior).mean() > 0.95
    assert np.nanmax(np.abs(interior)) == 0


@pytest.mark.parametrize("left, right, kwargs, message", [
    (np.zeros((48, 128, 3), np.uint8), np.zeros((48, 120, 3), np.uint8), {}, "of one size, got 128x48 and 120x48"),
    (np.zeros((48, 128), np.uint8), np.zeros((48, 128), np.uint8), {}, "HxWx3 uint8 RGB"),
    (np.zeros((48, 128, 3), np.float32), np.zeros((48, 128, 3), np.float32), {}, "HxWx3 uint8 RGB"),
    (np.zeros((48, 128, 3), np.uint8), np.zeros((48, 128, 3), np.uint8), {"num_disparities": 40},
     "positive multiple of 16, got 40"),
    (np.zeros((48, 128, 3), np.uint8), np.zeros((48, 128, 3), np.uint8), {"num_disparities": 0},
     "positive multiple of 16, got 0"),
    (np.zeros((48, 128, 3), np.uint8), np.zeros((48, 128, 3), np.uint8), {"block_size": 4}, "positive odd"),
    (np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64, 3), np.uint8), {"num_disparities": 64},
     "wider than minDisparity \\+ numDisparities"),
])
def test_bad_input(left, right, kwargs, message):
    with pytest.raises(InputError, match=message):
        sgbm_disparity(left, right, **kwargs)
