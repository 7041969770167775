"""The stereo camera model, geometry and the per-frame products against hand-computed values."""
import numpy as np
import pytest

from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.geometry import depth_to_points, disparity_to_depth
from psmnet_ros.core.stereo_products import (check_depth_limits, corrected_disparity, disparity_range, stereo_products,
                                             uncorrected_disparity)


def pinhole(f=700.0, b=0.5, cx=2.0, cy=1.0, size=(4, 3), doffs=0.0, fy=None):
    calibration = StereoCalibration.from_pinhole(f, b, cx, cy, size, doffs=doffs)
    if fy is None:
        return calibration
    p_left, p_right = calibration.P_left.copy(), calibration.P_right.copy()
    p_left[1, 1] = p_right[1, 1] = fy
    return StereoCalibration(P_left=p_left, P_right=p_right, R_left=np.eye(3), R_right=np.eye(3), size=size)


def test_depth_is_f_times_b_over_d_and_invalid_is_nan():
    d = np.array([[10.0, 0.0, -1.0], [np.nan, 50.0, 2.5]], np.float32)
    z = disparity_to_depth(d, pinhole(size=(3, 2)))
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[0, 0], 35.0)           # 700 * 0.5 / 10
    np.testing.assert_allclose(z[1, 1], 7.0)            # 700 * 0.5 / 50
    np.testing.assert_allclose(z[1, 2], 140.0)          # 700 * 0.5 / 2.5
    assert np.isnan(z[0, 1]) and np.isnan(z[0, 2]) and np.isnan(z[1, 0])


def test_depth_of_an_infinite_disparity_is_nan_and_can_be_written_in_place():
    d = np.array([[np.inf, 35.0, -np.inf]], np.float32)
    out = np.zeros((1, 3), np.float32)
    assert disparity_to_depth(d, pinhole(size=(3, 1)), out=out) is out
    assert np.isnan(out[0, 0]) and np.isnan(out[0, 2])
    np.testing.assert_allclose(out[0, 1], 10.0)         # 700 * 0.5 / 35


def test_points_reproject_with_the_left_camera():
    depth = np.full((3, 4), 2.0, np.float32)
    depth[0, 0] = np.nan
    pts = depth_to_points(depth, pinhole(f=500.0, fy=400.0))
    assert pts.shape == (3, 4, 3) and pts.dtype == np.float32
    # pixel (u=3, v=2): X = (3 - 2) * 2 / 500, Y = (2 - 1) * 2 / 400, Z = 2
    np.testing.assert_allclose(pts[2, 3], [0.004, 0.005, 2.0], rtol=1e-6)  # float32: 3 roundings of 6e-8
    np.testing.assert_allclose(pts[1, 2], [0.0, 0.0, 2.0], atol=1e-7)  # u = cx, v = cy: x, y exactly 0
    assert np.isnan(pts[0, 0]).all()


def test_baseline_both_conventions():
    fx = 721.5377
    ros_left = [[fx, 0, 609.5593, 0], [0, fx, 172.854, 0], [0, 0, 1, 0]]
    ros_right = [[fx, 0, 609.5593, -0.5327 * fx], [0, fx, 172.854, 0], [0, 0, 1, 0]]
    calibration = StereoCalibration(P_left=ros_left, P_right=ros_right, R_left=np.eye(3), R_right=np.eye(3),
                                    size=(10, 10))
    assert calibration.baseline_m == pytest.approx(0.5327)
    # KITTI 2011_09_26 P_rect_02 / P_rect_03: Tx of their own relative to camera 00
    kitti_left = [[fx, 0, 609.5593, 44.85728], [0, fx, 172.854, 0.2163791], [0, 0, 1, 0.002745884]]
    kitti_right = [[fx, 0, 609.5593, -339.5242], [0, fx, 172.854, 2.199936], [0, 0, 1, 0.002729905]]
    kitti = StereoCalibration(P_left=kitti_left, P_right=kitti_right, R_left=np.eye(3), R_right=np.eye(3),
                              size=(10, 10))
    assert kitti.baseline_m == pytest.approx((44.85728 + 339.5242) / fx)
    assert kitti.baseline_m == pytest.approx(0.5327, abs=1e-4)


@pytest.mark.parametrize("f,b,message", [
    (0.0, 1.0, "focal lengths fx=0.0"), (-5.0, 1.0, "focal lengths fx=-5.0"),
    (700.0, 0.0, "baseline .* = 0.0 m must be positive"), (700.0, -0.1, "must be positive"),
    (np.nan, 1.0, "P_left contains NaN, inf or a number beyond float32"),
    # Positive in float64, but 0 or inf in float32, where f and t are published and depth computed:
    (1e-300, 1.0, "focal lengths fx=1e-300"), (1e300, 1.0, "P_left contains NaN, inf or a number beyond float32"),
    (1.0, 1e-39, "baseline .* = 1e-39 m must be positive"),   # a float32 subnormal: precision lost
    (1e30, 1e10, "P_right contains NaN, inf or a number beyond float32"),   # P_right[0,3] = -f B = -1e40
])
def test_bad_calibration_is_refused_once_when_the_camera_is_made(f, b, message):
    with pytest.raises(InputError, match=message):
        pinhole(f=f, b=b)


def test_products_correct_the_disparity_then_compute_depth_and_points():
    """Middlebury Motorcycle numbers: f 994.978 px, B 193.001 mm, doffs 31.086 px; Z = f B / (d + doffs)."""
    camera = pinhole(f=994.978, b=0.193001, cx=1.0, cy=0.0, size=(3, 1), doffs=31.086)
    network = np.array([[40.0, -31.086, 10.0]], np.float32)
    products = stereo_products(network, camera, max_depth_m=3.0)
    np.testing.assert_allclose(products.disparity, [[71.086, 0.0, 41.086]], atol=1e-5)
    np.testing.assert_allclose(products.depth[0, 0], 994.978 * 0.193001 / 71.086, rtol=1e-6)
    assert np.isnan(products.depth[0, 1])                                # d' = 0: no depth
    far = 994.978 * 0.193001 / 41.086                                    # 4.67 m: in the depth image ...
    np.testing.assert_allclose(products.depth[0, 2], far, rtol=1e-6)
    assert np.isnan(products.points[0, 2]).all() and not np.isnan(products.points[0, 0]).any()  # ... not in points
    masked = stereo_products(network, camera, invalid=np.array([[True, False, False]]), points=False)
    assert np.isnan(masked.disparity[0, 0]) and np.isnan(masked.depth[0, 0]) and masked.points is None
    assert stereo_products(network, camera, depth=False, points=False).depth is None


def test_products_refuse_a_disparity_of_another_size_and_bad_depth_limits():
    with pytest.raises(InputError, match="disparity is 2x1 px but the camera is 3x1 px"):
        stereo_products(np.zeros((1, 2)), pinhole(size=(3, 1)))
    for low, high, message in ((-1.0, 0.0, "minimum depth -1.0 must be a finite number >= 0"),
                               (0.0, np.inf, "maximum depth inf must be a finite number >= 0"),
                               (5.0, 2.0, "maximum depth 2.0 must exceed the minimum depth \\(5.0 m\\)")):
        with pytest.raises(InputError, match=message):
            check_depth_limits(low, high)


def test_principal_point_correction_its_inverse_and_the_colour_range():
    """cx_left 2, cx_right 12.5: d' = (x_l - x_r) + 10.5; the published range is the network's shifted by 10.5."""
    calibration = pinhole(cx=2.0, doffs=10.5)
    network = np.array([[0.0, 1.25, np.nan]], dtype=np.float32)
    corrected = corrected_disparity(network, calibration)
    np.testing.assert_array_equal(corrected, [[10.5, 11.75, np.nan]])
    np.testing.assert_array_equal(uncorrected_disparity(corrected, calibration), network)
    assert corrected.dtype == np.float32 and corrected is not network
    assert disparity_range(calibration, 95.0) == (10.5, 105.5)
    assert disparity_range(None, 95.0) == (0.0, 95.0)
    np.testing.assert_array_equal(corrected_disparity(network, None), network)
