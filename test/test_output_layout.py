"""Packed clouds and 16-bit depth, checked against the definitions: the pinhole model, PCL's rgb packing, REP 118's
16UC1."""
import numpy as np
import pytest

from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.output_layout import depth_millimetres, pack_cloud
from psmnet_ros.core.scratch import Scratch


CAMERA = StereoCalibration.from_pinhole(500.0, 0.25, 4.0, 3.0, (9, 7))
"""fx = fy = 500 px, principal point (4, 3), 9x7 pixels."""


@pytest.fixture
def cloud():
    rng = np.random.default_rng(4)
    depth = rng.uniform(0.5, 40.0, size=(7, 9)).astype(np.float32)
    depth[1, 2] = np.nan
    depth[4, 4] = np.nan
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    return depth, rgb


def _pinhole(depth, v, u):
    """(X, Y, Z) of pixel (u, v) at its depth, from the definition (float64)."""
    z = float(depth[v, u])
    return [(u - 4.0) * z / 500.0, (v - 3.0) * z / 500.0, z]


def _unpack(layout):
    raw = layout.data.reshape(layout.height, layout.width, layout.point_step)
    xyz = raw[..., :12].copy().view("<f4")
    packed = raw[..., 12:16].copy().view("<u4")[..., 0] if layout.point_step == 16 else None
    return xyz, packed


def test_organized_xyzrgb_is_the_pinhole_model_with_rgb_packed_as_pcl_does(cloud):
    depth, rgb = cloud
    layout = pack_cloud(depth, rgb, CAMERA)
    assert (layout.height, layout.width, layout.point_step, layout.is_dense) == (7, 9, 16, False)
    assert layout.fields == (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))
    xyz, packed = _unpack(layout)
    for v in range(7):
        for u in range(9):
            if np.isnan(depth[v, u]):
                assert np.isnan(xyz[v, u]).all()
            else:
                np.testing.assert_allclose(xyz[v, u], _pinhole(depth, v, u), rtol=1e-6, atol=1e-9)
    expected = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    np.testing.assert_array_equal(packed, expected)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_decimation_keeps_every_nth_pixel_from_the_first_with_its_own_geometry(cloud, n):
    depth, rgb = cloud
    layout = pack_cloud(depth, rgb, CAMERA, decimation=n)
    rows, cols = -(-7 // n), -(-9 // n)
    assert (layout.height, layout.width) == (rows, cols)
    xyz, packed = _unpack(layout)
    for i in range(rows):
        for j in range(cols):
            if np.isnan(depth[n * i, n * j]):
                assert np.isnan(xyz[i, j]).all()
            else:
                np.testing.assert_allclose(xyz[i, j], _pinhole(depth, n * i, n * j), rtol=1e-6, atol=1e-9)
            assert packed[i, j] == int(rgb[n * i, n * j, 0]) << 16 | int(rgb[n * i, n * j, 1]) << 8 | \
                int(rgb[n * i, n * j, 2])


def test_unorganized_holds_exactly_the_valid_points_in_row_major_order(cloud):
    depth, rgb = cloud
    layout = pack_cloud(depth, rgb, CAMERA, organized=False)
    assert layout.height == 1 and layout.is_dense
    xyz, packed = _unpack(layout)
    valid = [(v, u) for v in range(7) for u in range(9) if np.isfinite(depth[v, u])]
    assert layout.width == len(valid) == 7 * 9 - 2
    np.testing.assert_allclose(xyz[0], np.array([_pinhole(depth, v, u) for v, u in valid]), rtol=1e-6, atol=1e-9)
    assert packed[0, 0] == (int(rgb[0, 0, 0]) << 16 | int(rgb[0, 0, 1]) << 8 | int(rgb[0, 0, 2]))


def test_depth_limits_make_points_nan_and_leave_the_others(cloud):
    depth, rgb = cloud
    xyz, _ = _unpack(pack_cloud(depth, rgb, CAMERA, min_depth_m=5.0, max_depth_m=30.0))
    outside = (depth < 5.0) | (depth > 30.0)
    assert outside.any() and (~outside & np.isfinite(depth)).any()
    assert np.isnan(xyz[outside]).all()
    kept = ~outside & np.isfinite(depth)
    np.testing.assert_array_equal(xyz[kept][:, 2], depth[kept])


def test_xyz_only_is_twelve_bytes_a_point_and_needs_no_colour(cloud):
    depth, _ = cloud
    layout = pack_cloud(depth, None, CAMERA, decimation=2, organized=False, fields="xyz")
    assert layout.point_step == 12 and layout.fields == (("x", 0), ("y", 4), ("z", 8))
    assert layout.data.nbytes == 12 * layout.width
    assert np.isfinite(layout.data.view("<f4")).all()


def test_packs_into_the_given_memory_and_reuses_scratch(cloud):
    depth, rgb = cloud
    target = np.zeros((7, 9, 16), np.uint8)
    scratch = Scratch()
    first = pack_cloud(depth, rgb, CAMERA, allocate=lambda h, w, step: target, scratch=scratch)
    assert first.data is target and target.any()
    again = pack_cloud(depth * 2, rgb, CAMERA, allocate=lambda h, w, step: target, scratch=scratch)
    np.testing.assert_array_equal(_unpack(again)[0][..., 2], depth * 2)  # nothing stale from the first frame


def test_no_valid_point_gives_an_empty_unorganized_cloud(cloud):
    depth, rgb = cloud
    layout = pack_cloud(np.full_like(depth, np.nan), rgb, CAMERA, organized=False)
    assert (layout.height, layout.width, layout.data.nbytes) == (1, 0, 0)


def test_bad_options_are_named(cloud):
    depth, rgb = cloud
    with pytest.raises(InputError, match="decimation"):
        pack_cloud(depth, rgb, CAMERA, decimation=3)
    with pytest.raises(InputError, match="fields"):
        pack_cloud(depth, rgb, CAMERA, fields="xyzi")
    with pytest.raises(InputError, match="colours"):
        pack_cloud(depth, None, CAMERA)
    with pytest.raises(InputError, match="9x7 depth"):
        pack_cloud(depth[:, :5], rgb, CAMERA)


def test_16uc1_is_rounded_millimetres_with_zero_where_invalid_or_too_far():
    depth = np.array([[1.0, 0.0004, 0.0006, 2.3456], [65.535, 65.5357, np.nan, np.inf]], dtype=np.float32)
    expected = np.array([[1000, 0, 1, 2346], [65535, 0, 0, 0]], dtype=np.uint16)
    # 0.4 mm rounds to 0 (invalid), 0.6 mm to 1; 65.5357 m rounds to 65536 mm (beyond the range)
    np.testing.assert_array_equal(depth_millimetres(depth), expected)
    assert depth_millimetres(depth).dtype == np.uint16
    out = np.full((2, 4), 7, np.uint16)
    assert depth_millimetres(depth, out=out) is out
    np.testing.assert_array_equal(out, expected)
