"""KITTI uint16 disparity PNGs: value = round(d * 256), 0 = no value."""
import numpy as np
import pytest
from PIL import Image

from psmnet_ros.core.disparity_io import read_kitti_disparity, write_kitti_disparity
from psmnet_ros.core.errors import InputError


def test_read_decodes_kitti_values(tmp_path):
    path = tmp_path / "000000_10.png"
    Image.fromarray(np.array([[0, 256, 1152], [65535, 1, 3]], dtype=np.uint16)).save(path)
    disparity = read_kitti_disparity(path)
    assert disparity.dtype == np.float32
    assert np.isnan(disparity[0, 0])
    np.testing.assert_array_equal(disparity.ravel()[1:], [1.0, 4.5, 255.99609375, 1 / 256, 3 / 256])


def test_write_encodes_kitti_values(tmp_path):
    path = tmp_path / "out.png"
    write_kitti_disparity(path, np.array([[np.nan, 1.0, 4.5, 2.3], [-2.0, 0.0, 300.0, 0.001]], dtype=np.float32))
    with Image.open(path) as image:
        assert image.mode == "I;16"
        stored = np.array(image)
    # 2.3 * 256 = 588.8 -> 589; 300 px saturates at 65535; 0.001 px stays valid as 1
    np.testing.assert_array_equal(stored, [[0, 256, 1152, 589], [0, 0, 65535, 1]])


def test_round_trip_is_exact_on_the_grid(tmp_path):
    d = (np.arange(1, 13, dtype=np.float32) * 7 / 256).reshape(3, 4)
    write_kitti_disparity(tmp_path / "d.png", d)
    np.testing.assert_array_equal(read_kitti_disparity(tmp_path / "d.png"), d)


def test_eight_bit_png_is_rejected(tmp_path):
    path = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((2, 2), dtype=np.uint8)).save(path)
    with pytest.raises(InputError, match="rgb.png is not a KITTI disparity map"):
        read_kitti_disparity(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing.png does not exist"):
        read_kitti_disparity(tmp_path / "missing.png")
