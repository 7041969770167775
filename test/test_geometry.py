"""Geometry against hand-computed values."""
import numpy as np
import pytest

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.geometry import baseline_from_projections, depth_to_points, disparity_to_depth


def test_depth_is_f_times_b_over_d_and_invalid_is_nan():
    d = np.array([[10.0, 0.0, -1.0], [np.nan, 50.0, 2.5]], np.float32)
    z = disparity_to_depth(d, focal_px=700.0, baseline_m=0.5)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[0, 0], 35.0)           # 700 * 0.5 / 10
    np.testing.assert_allclose(z[1, 1], 7.0)            # 700 * 0.5 / 50
    np.testing.assert_allclose(z[1, 2], 140.0)          # 700 * 0.5 / 2.5
    assert np.isnan(z[0, 1]) and np.isnan(z[0, 2]) and np.isnan(z[1, 0])


def test_principal_point_offset_middlebury():
    # Middlebury Motorcycle (quarter size): f 994.978 px, B 193.001 mm, doffs 31.086 px: Z = fB / (d + doffs)
    z = disparity_to_depth(np.array([[40.0]]), 994.978, 0.193001, doffs_px=31.086)
    np.testing.assert_allclose(z[0, 0], 994.978 * 0.193001 / 71.086, rtol=1e-6)  # float32: 3 roundings of 6e-8
    assert np.isnan(disparity_to_depth(np.array([[-31.086]]), 994.978, 0.193001, doffs_px=31.086)[0, 0])


@pytest.mark.parametrize("f,b", [(0.0, 1.0), (-5.0, 1.0), (700.0, 0.0), (700.0, np.nan)])
def test_bad_calibration_rejected(f, b):
    with pytest.raises(InputError):
        disparity_to_depth(np.ones((2, 2)), f, b)


def test_points_reproject_with_the_camera_matrix():
    k = np.array([[500.0, 0, 2.0], [0, 400.0, 1.0], [0, 0, 1]])
    depth = np.full((3, 4), 2.0, np.float32)
    depth[0, 0] = np.nan
    pts = depth_to_points(depth, k)
    assert pts.shape == (3, 4, 3) and pts.dtype == np.float32
    # pixel (u=3, v=2): X = (3 - 2) * 2 / 500, Y = (2 - 1) * 2 / 400, Z = 2
    np.testing.assert_allclose(pts[2, 3], [0.004, 0.005, 2.0], rtol=1e-6)  # float32: 3 roundings of 6e-8
    np.testing.assert_allclose(pts[1, 2], [0.0, 0.0, 2.0], atol=1e-7)  # u = cx, v = cy: x, y exactly 0
    assert np.isnan(pts[0, 0]).all()


def test_baseline_both_conventions():
    fx = 721.5377
    ros_left = [[fx, 0, 609.5593, 0], [0, fx, 172.854, 0], [0, 0, 1, 0]]
    ros_right = [[fx, 0, 609.5593, -0.5327 * fx], [0, fx, 172.854, 0], [0, 0, 1, 0]]
    assert baseline_from_projections(ros_left, ros_right) == pytest.approx(0.5327)
    # KITTI 2011_09_26 P_rect_02 / P_rect_03: Tx of their own relative to camera 00
    kitti_left = [[fx, 0, 609.5593, 44.85728], [0, fx, 172.854, 0.2163791], [0, 0, 1, 0.002745884]]
    kitti_right = [[fx, 0, 609.5593, -339.5242], [0, fx, 172.854, 2.199936], [0, 0, 1, 0.002729905]]
    assert baseline_from_projections(kitti_left, kitti_right) == pytest.approx((44.85728 + 339.5242) / fx)
    assert baseline_from_projections(kitti_left, kitti_right) == pytest.approx(0.5327, abs=1e-4)
