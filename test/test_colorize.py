"""colorize: OpenCV's turbo map from vmin to vmax, black where the value is not finite."""
import cv2
import numpy as np

from psmnet_ros.core.colorize import colorize


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
