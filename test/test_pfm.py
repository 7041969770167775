"""PFM reading and writing against hand-written bytes."""
import struct

import numpy as np
import pytest

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.pfm import read_pfm, write_pfm

TOP_FIRST = np.array([[1.0, 2.0], [3.0, -4.5]], dtype=np.float32)


def test_little_endian_rows_bottom_to_top(tmp_path):
    path = tmp_path / "a.pfm"
    path.write_bytes(b"Pf\n2 2\n-1.0\n" + struct.pack("<4f", 3.0, -4.5, 1.0, 2.0))
    array, scale = read_pfm(path)
    assert array.dtype == np.float32 and scale == 1.0
    np.testing.assert_array_equal(array, TOP_FIRST)


def test_big_endian_with_scale(tmp_path):
    path = tmp_path / "b.pfm"
    path.write_bytes(b"Pf\n2 2\n2.5\n" + struct.pack(">4f", 3.0, -4.5, 1.0, 2.0))
    array, scale = read_pfm(path)
    assert scale == 2.5
    np.testing.assert_array_equal(array, TOP_FIRST)


def test_colour_pfm(tmp_path):
    path = tmp_path / "c.pfm"
    # width 1, height 2: bottom pixel (4, 5, 6) is stored first
    path.write_bytes(b"PF\n1 2\n-1.0\n" + struct.pack("<6f", 4, 5, 6, 1, 2, 3))
    array, _ = read_pfm(path)
    assert array.shape == (2, 1, 3)
    np.testing.assert_array_equal(array[:, 0], [[1, 2, 3], [4, 5, 6]])


def test_write_gives_the_format_bytes(tmp_path):
    path = tmp_path / "w.pfm"
    write_pfm(path, TOP_FIRST, scale=1.0)
    assert path.read_bytes() == b"Pf\n2 2\n-1.0\n" + struct.pack("<4f", 3.0, -4.5, 1.0, 2.0)


@pytest.mark.parametrize("shape", [(5, 7), (4, 3, 3)])
def test_round_trip(tmp_path, shape):
    data = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    data.flat[0] = np.inf
    write_pfm(tmp_path / "r.pfm", data, scale=3.0)
    back, scale = read_pfm(tmp_path / "r.pfm")
    assert scale == 3.0
    np.testing.assert_array_equal(back, data)


def test_bad_header(tmp_path):
    path = tmp_path / "bad.pfm"
    path.write_bytes(b"P6\n2 2\n255\n" + bytes(12))
    with pytest.raises(InputError, match="bad.pfm is not a PFM file"):
        read_pfm(path)


def test_truncated_data(tmp_path):
    path = tmp_path / "short.pfm"
    path.write_bytes(b"Pf\n2 2\n-1.0\n" + bytes(12))
    with pytest.raises(InputError, match="cut short"):
        read_pfm(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read PFM file .*none.pfm"):
        read_pfm(tmp_path / "none.pfm")


def test_write_rejects_bad_shapes(tmp_path):
    with pytest.raises(InputError, match="HxW or HxWx3"):
        write_pfm(tmp_path / "x.pfm", np.zeros((2, 2, 2)))
