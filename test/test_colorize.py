"""colorize: OpenCV's turbo map from vmin to vmax, black where the value is not finite."""
import cv2
import numpy as np

from psmnet_ros.core.colorize import colorize
from psmnet_ros.core.scratch import Scratch


def _turbo_rgb(index):
    return cv2.applyColorMap(np.uint8([[index]]), cv2.COLORMAP_TURBO)[0, 0, ::-1]


def test_ends_and_middle_of_the_range_take_turbo_entries_and_non_finite_is_black():
    values = np.array([[10.0, 20.0, 15.0], [np.nan, np.inf, -np.inf], [5.0, 25.0, 10.0 + 10.0 * 100 / 255]],
                      dtype=np.float32)
    rgb = colorize(values, 10.0, 20.0)
    assert rgb.shape == (3, 3, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 0], _turbo_rgb(0))
    np.testing.assert_array_equal(rgb[0, 1], _turbo_rgb(255))
    np.testing.assert_array_equal(rgb[0, 2], _turbo_rgb(127))      # 127.5 truncated
    np.testing.assert_array_equal(rgb[1], np.zeros((3, 3), np.uint8))
    np.testing.assert_array_equal(rgb[2, 0], _turbo_rgb(0))        # clipped below
    np.testing.assert_array_equal(rgb[2, 1], _turbo_rgb(255))      # clipped above
    np.testing.assert_array_equal(rgb[2, 2], _turbo_rgb(100))


def test_default_range_is_the_finite_extremes_and_all_invalid_is_black():
    values = np.array([[2.0, np.nan, 4.0]], dtype=np.float32)
    rgb = colorize(values)
    np.testing.assert_array_equal(rgb[0, 0], _turbo_rgb(0))
    np.testing.assert_array_equal(rgb[0, 2], _turbo_rgb(255))
    assert not colorize(np.full((2, 2), np.nan, np.float32)).any()


def test_every_pixel_is_its_turbo_entry_written_in_place_with_reused_scratch():
    rng = np.random.default_rng(6)
    scratch = Scratch()
    for shape in [(37, 53), (37, 53), (8, 5)]:
        values = rng.uniform(-20.0, 220.0, shape).astype(np.float32)
        values[rng.random(shape) < 0.1] = np.nan
        values[0, 0], values[-1, -1] = np.inf, -np.inf
        # The definition (float32 arithmetic): the entry floor(255 (v - 0) / 191), clipped to [0, 255].
        entry = np.clip((np.nan_to_num(values) - np.float32(0.0)) * np.float32(255.0 / 191.0), 0, 255)
        expected = cv2.applyColorMap(entry.astype(np.uint8), cv2.COLORMAP_TURBO)[..., ::-1].copy()
        expected[~np.isfinite(values)] = 0
        out = np.full(shape + (3,), 99, np.uint8)
        assert colorize(values, 0.0, 191.0, out=out, scratch=scratch) is out
        np.testing.assert_array_equal(out, expected)
