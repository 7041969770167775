"""Packed clouds and 16-bit depth, checked against the definitions: PCL's rgb packing, REP 118's 16UC1."""
import numpy as np
import pytest

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.output_layout import depth_millimetres, pack_cloud


@pytest.fixture
def cloud():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(7, 9, 3)).astype(np.float32)
    points[1, 2] = np.nan
    points[4, 4, 0] = np.nan   # one coordinate invalid is an invalid point
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    return points, rgb


def _unpack(layout):
    raw = layout.data.reshape(layout.height, layout.width, layout.point_step)
    xyz = raw[..., :12].copy().view("<f4")
    packed = raw[..., 12:16].copy().view("<u4")[..., 0] if layout.point_step == 16 else None
    return xyz, packed


def test_organized_xyzrgb_packs_rgb_as_pcl_does(cloud):
    points, rgb = cloud
    layout = pack_cloud(points, rgb)
    assert (layout.height, layout.width, layout.point_step, layout.is_dense) == (7, 9, 16, False)
    assert layout.fields == (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))
    xyz, packed = _unpack(layout)
    np.testing.assert_array_equal(xyz, points)
    expected = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    np.testing.assert_array_equal(packed, expected)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_decimation_keeps_every_nth_pixel_from_the_first(cloud, n):
    points, rgb = cloud
    layout = pack_cloud(points, rgb, decimation=n)
    rows, cols = -(-7 // n), -(-9 // n)
    assert (layout.height, layout.width) == (rows, cols)
    xyz, _ = _unpack(layout)
    for i in range(rows):
        for j in range(cols):
            np.testing.assert_array_equal(xyz[i, j], points[n * i, n * j])


def test_unorganized_holds_exactly_the_valid_points_in_row_major_order(cloud):
    points, rgb = cloud
    layout = pack_cloud(points, rgb, organized=False)
    assert layout.height == 1 and layout.is_dense
    xyz, packed = _unpack(layout)
    valid = [(i, j) for i in range(7) for j in range(9) if np.isfinite(points[i, j]).all()]
    assert layout.width == len(valid) == 7 * 9 - 2
    np.testing.assert_array_equal(xyz[0], np.array([points[i, j] for i, j in valid]))
    assert packed[0, 0] == (int(rgb[0, 0, 0]) << 16 | int(rgb[0, 0, 1]) << 8 | int(rgb[0, 0, 2]))


def test_xyz_only_is_twelve_bytes_a_point_and_needs_no_colour(cloud):
    points, _ = cloud
    layout = pack_cloud(points, None, decimation=2, organized=False, fields="xyz")
    assert layout.point_step == 12 and layout.fields == (("x", 0), ("y", 4), ("z", 8))
    assert layout.data.nbytes == 12 * layout.width
    assert np.isfinite(layout.data.view("<f4")).all()


def test_bad_options_are_named(cloud):
    points, rgb = cloud
    with pytest.raises(InputError, match="decimation"):
        pack_cloud(points, rgb, decimation=3)
    with pytest.raises(InputError, match="fields"):
        pack_cloud(points, rgb, fields="xyzi")
    with pytest.raises(InputError, match="colours"):
        pack_cloud(points, None)


def test_16uc1_is_rounded_millimetres_with_zero_where_invalid_or_too_far():
    depth = np.array([[1.0, 0.0004, 0.0006, 2.3456], [65.535, 65.5357, np.nan, np.inf]], dtype=np.float32)
    expected = np.array([[1000, 0, 1, 2346], [65535, 0, 0, 0]], dtype=np.uint16)
    # 0.4 mm rounds to 0 (invalid), 0.6 mm to 1; 65.5357 m rounds to 65536 mm (beyond the range)
    np.testing.assert_array_equal(depth_millimetres(depth), expected)
    assert depth_millimetres(depth).dtype == np.uint16
