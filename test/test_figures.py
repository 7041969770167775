"""What the main job's picture is made of: depth colours and their scale, the point-cloud view, PLY reading."""
import cv2
import numpy as np
import pytest

from psmnet_ros.core.colorize import colorize, colorize_depth, depth_range, depth_scale_bar
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.ply import read_ply, write_ply
from psmnet_ros.core.point_render import orbit_rotation, render_points


def _turbo(fraction: float) -> np.ndarray:
    """The turbo colour OpenCV gives a grey level, RGB."""
    grey = np.array([[round(255 * fraction)]], np.uint8)
    return cv2.applyColorMap(grey, cv2.COLORMAP_TURBO)[0, 0, ::-1]


def test_depth_colours_are_linear_in_inverse_depth_over_the_robust_range():
    """A scene from 2.5 m to 10 m with 1 % of stray points at 1000 m: the 2nd-98th percentiles of 1/Z span the
    colours, so the strays do not push the scene into half of the colour map; near is warm (turbo's red end)."""
    depth = np.concatenate([np.full(4950, 2.5), np.full(4950, 10.0), np.full(100, 1000.0)]).reshape(100, 100)
    near, far = depth_range(depth)
    assert (near, far) == pytest.approx((2.5, 10.0))
    colours = colorize_depth(depth)
    np.testing.assert_array_equal(colours[0, 0], _turbo(1.0))          # 2.5 m: the warm end
    np.testing.assert_array_equal(colours[60, 0], _turbo(0.0))         # 10 m: the cool end
    # 1/Z halfway between 1/2.5 and 1/10 is Z = 4 m: the middle of the map.
    middle = colorize_depth(np.array([[4.0]]), 2.5, 10.0)
    np.testing.assert_array_equal(middle[0, 0], colorize(np.array([[0.5]]), 0.0, 1.0)[0, 0])
    invalid = colorize_depth(np.array([[np.nan, -1.0, 0.0]]), 2.5, 10.0)
    assert not invalid.any()


def test_scale_bar_ticks_sit_at_their_depths():
    bar = depth_scale_bar(2.5, 10.0, width=301)
    ramp = bar[0]
    np.testing.assert_array_equal(ramp[0], _turbo(0.0))     # far on the left
    np.testing.assert_array_equal(ramp[-1], _turbo(1.0))    # near on the right
    tick_row = bar[bar.shape[0] // 3 + 1]
    ticks = np.flatnonzero((tick_row == 0).all(axis=1))
    # 1/Z is linear along the bar: Z = 4 m sits at (1/4 - 1/10) / (1/2.5 - 1/10) = 0.5 of its width.
    # Ticks mark round depths (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k m); 2.5 m and 10 m are the ends.
    round_depths = (2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
    positions = {round((1 / z - 0.1) / 0.3 * 300) for z in round_depths}
    assert {0, 300} <= set(ticks.tolist()) <= positions and 3 <= len(ticks) <= 5, ticks


def test_points_project_through_the_camera_and_the_nearest_wins():
    k = np.array([[100.0, 0.0, 50.0], [0.0, 100.0, 40.0], [0.0, 0.0, 1.0]])
    points = np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 4.0], [0.2, 0.1, 2.0]])   # the first hides the second
    colours = np.array([[255, 0, 0], [0, 0, 255], [0, 255, 0]], np.uint8)
    image = render_points(points, colours, k, (100, 80), point_px=1, background=(9, 9, 9))
    assert image[40, 50].tolist() == [255, 0, 0]
    assert image[40 + 5, 50 + 10].tolist() == [0, 255, 0]                   # u = 50 + 100 * 0.2 / 2
    assert (image == 9).all(axis=2).sum() == 100 * 80 - 2


def test_orbiting_moves_the_camera_left_and_up():
    """yaw > 0 carries the camera to its left (x < 0), pitch > 0 up (y < 0 in the optical frame)."""
    pivot = np.array([0.0, 0.0, 3.0])
    centre_yaw = pivot - orbit_rotation(30.0, 0.0) @ pivot
    centre_pitch = pivot - orbit_rotation(0.0, 30.0) @ pivot
    assert centre_yaw[0] == pytest.approx(-3.0 * np.sin(np.radians(30))) and centre_yaw[1] == 0
    assert centre_pitch[1] == pytest.approx(-3.0 * np.sin(np.radians(30))) and centre_pitch[0] == 0


def test_ply_round_trip_and_foreign_files(tmp_path):
    points = np.array([[[0.5, -1.0, 2.0], [np.nan, 0.0, 1.0]]], np.float32)
    colours = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)
    assert write_ply(tmp_path / "c.ply", points, colours) == 1
    read_points, read_colours = read_ply(tmp_path / "c.ply")
    np.testing.assert_array_equal(read_points, [[0.5, -1.0, 2.0]])
    np.testing.assert_array_equal(read_colours, [[1, 2, 3]])
    (tmp_path / "ascii.ply").write_text("ply\nformat ascii 1.0\nelement vertex 0\nend_header\n")
    with pytest.raises(InputError, match="ascii.ply is not a binary little-endian x y z red green blue PLY"):
        read_ply(tmp_path / "ascii.ply")
