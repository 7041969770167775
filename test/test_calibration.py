"""KITTI calibration files and stereo calibration YAML files -> StereoCalibration, checked against
hand-computed numbers."""
import numpy as np
import pytest

from kitti_fixtures import KITTI2012_CALIB_TEXT, RAW_CALIB_TEXT
from psmnet_ros.core.calibration import (StereoCalibration, kitti_stereo_calibration, read_calib_file, read_calibration,
                                         write_calibration_yaml)
from psmnet_ros.core.errors import InputError


@pytest.fixture
def raw_calib(tmp_path):
    path = tmp_path / "calib_cam_to_cam.txt"
    path.write_text(RAW_CALIB_TEXT.format(width=1242.0, height=375.0))
    return path


def test_read_calib_file_skips_text_values(raw_calib):
    values = read_calib_file(raw_calib)
    assert "calib_time" not in values
    assert values["corner_dist"].tolist() == [0.0995]
    assert values["P_rect_02"].shape == (12,)
    assert values["P_rect_02"][3] == 44.85728
    assert values["S_rect_02"].tolist() == [1242.0, 375.0]


def test_raw_colour_pair_hand_computed(raw_calib):
    calibration = kitti_stereo_calibration(raw_calib)
    assert calibration.fx == 721.5377 and calibration.fy == 721.5377
    assert calibration.cx_left == 609.5593 and calibration.cx_right == 609.5593 and calibration.cy == 172.854
    assert calibration.doffs == 0.0
    # B = (P_rect_02[0,3] - P_rect_03[0,3]) / fx = (44.85728 + 339.5242) / 721.5377
    assert calibration.baseline_m == pytest.approx(384.38148 / 721.5377, rel=1e-12)
    assert calibration.baseline_m == pytest.approx(0.5327, abs=1e-4)
    # the textbook -P_right[0,3]/fx = 0.4706 is wrong here
    assert abs(calibration.baseline_m - 339.5242 / 721.5377) > 0.06
    assert calibration.size == (1242, 375)
    assert calibration.P_left[1, 3] == 0.2163791 and calibration.P_right[2, 3] == 0.002729905
    assert calibration.R_left[0].tolist() == [0.9998817, 0.01511453, -0.002841595]
    assert calibration.R_right[2].tolist() == [-0.01683901, 0.002415116, 0.9998553]
    np.testing.assert_array_equal(calibration.camera_matrix,
                                  [[721.5377, 0, 609.5593], [0, 721.5377, 172.854], [0, 0, 1]])


def test_raw_grey_pair(raw_calib):
    calibration = kitti_stereo_calibration(raw_calib, cameras=("00", "01"))
    assert calibration.baseline_m == pytest.approx(387.5744 / 721.5377, rel=1e-12)   # 0.5372 m
    assert calibration.R_left[0, 1] == 0.00983776


def test_image_size_overrides_s_rect(raw_calib):
    assert kitti_stereo_calibration(raw_calib, image_size=(1241, 376)).size == (1241, 376)


def test_kitti2012_format(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text(KITTI2012_CALIB_TEXT)
    colour = kitti_stereo_calibration(path, image_size=(1242, 375))
    assert colour.baseline_m == pytest.approx((45.75831 + 334.1081) / 707.0493, rel=1e-12)
    np.testing.assert_array_equal(colour.R_left, np.eye(3))
    np.testing.assert_array_equal(colour.R_right, np.eye(3))
    assert colour.size == (1242, 375) and colour.cy == 180.5066
    grey = kitti_stereo_calibration(path, cameras=("00", "01"), image_size=(1242, 375))
    assert grey.baseline_m == pytest.approx(379.7842 / 707.0493, rel=1e-12)


def test_kitti2012_format_needs_a_size(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text(KITTI2012_CALIB_TEXT)
    with pytest.raises(InputError, match="000000.txt has no image size"):
        kitti_stereo_calibration(path)


def test_missing_keys_are_named(tmp_path):
    path = tmp_path / "calib_cam_to_cam.txt"
    text = RAW_CALIB_TEXT.format(width=1242.0, height=375.0)
    path.write_text("\n".join(line for line in text.splitlines()
                              if not line.startswith(("P_rect_03", "R_rect_02"))))
    with pytest.raises(InputError) as info:
        kitti_stereo_calibration(path)
    message = str(info.value)
    assert str(path) in message and "P_rect_03" in message and "R_rect_02" in message
    assert "P_rect_02" not in message


def test_missing_p3_in_2012_format(tmp_path):
    path = tmp_path / "000007.txt"
    path.write_text("\n".join(KITTI2012_CALIB_TEXT.splitlines()[:3]))
    with pytest.raises(InputError, match=r"000007.txt lacks P3"):
        kitti_stereo_calibration(path, image_size=(10, 10))


def test_wrong_value_count(tmp_path):
    path = tmp_path / "calib.txt"
    text = RAW_CALIB_TEXT.format(width=1242.0, height=375.0)
    path.write_text(text.replace("P_rect_02: 7.215377e+02 ", "P_rect_02: "))
    with pytest.raises(InputError, match="P_rect_02 has 11 values, expected 12"):
        kitti_stereo_calibration(path)


def test_unreadable_file_is_named(tmp_path):
    with pytest.raises(InputError, match="cannot read calibration file .*nothing.txt"):
        read_calib_file(tmp_path / "nothing.txt")


def test_stereo_calibration_checks_shapes():
    with pytest.raises(InputError, match="P_left must have 12 values"):
        StereoCalibration(P_left=np.eye(3), P_right=np.zeros((3, 4)), R_left=np.eye(3), R_right=np.eye(3),
                          size=(10, 10))


# Two cameras in the form camera_info_manager writes (a ROS user's left.yaml and right.yaml under one key each):
# fx 700, cx 320 / 330 (doffs 10), cy 240, right camera 0.12 m to the right: P_right[0,3] = -700 * 0.12 = -84.
STEREO_YAML = """\
left:
  image_width: 640
  image_height: 480
  camera_name: left
  camera_matrix: {rows: 3, cols: 3, data: [700, 0, 320, 0, 700, 240, 0, 0, 1]}
  distortion_model: plumb_bob
  distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}
  rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
  projection_matrix: {rows: 3, cols: 4, data: [700, 0, 320, 0, 0, 700, 240, 0, 0, 0, 1, 0]}
right:
  image_width: 640
  image_height: 480
  camera_name: right
  rectification_matrix: {rows: 3, cols: 3, data: [0, -1, 0, 1, 0, 0, 0, 0, 1]}
  projection_matrix: {rows: 3, cols: 4, data: [700, 0, 330, -84, 0, 700, 240, 0, 0, 0, 1, 0]}
"""


def test_stereo_yaml_hand_computed(tmp_path):
    path = tmp_path / "stereo.yaml"
    path.write_text(STEREO_YAML)
    calibration = read_calibration(path)
    assert (calibration.fx, calibration.cx_left, calibration.cy, calibration.size) == (700, 320, 240, (640, 480))
    assert calibration.doffs == 10 and calibration.baseline_m == pytest.approx(0.12, rel=1e-15)
    np.testing.assert_array_equal(calibration.R_right, [[0, -1, 0], [1, 0, 0], [0, 0, 1]])


def test_stereo_yaml_round_trip_keeps_every_number(tmp_path, raw_calib):
    original = kitti_stereo_calibration(raw_calib)   # KITTI: P_left carries its own Tx, R is not the identity
    write_calibration_yaml(tmp_path / "kitti.yml", original)
    again = read_calibration(tmp_path / "kitti.yml")
    for name in ("P_left", "P_right", "R_left", "R_right"):
        np.testing.assert_array_equal(getattr(again, name), getattr(original, name))
    assert again.size == original.size
    assert read_calibration(raw_calib).baseline_m == original.baseline_m   # not .yaml: a KITTI text file


@pytest.mark.parametrize("edit,message", [
    (lambda text: text.split("right:")[0], "has no 'right' camera"),
    (lambda text: text.replace("image_width: 640\n  image_height: 480\n  camera_name: right",
                               "image_width: 320\n  image_height: 480\n  camera_name: right"),
     "the left camera is 640x480 px, the right 320x480 px"),
    (lambda text: text.replace("  projection_matrix: {rows: 3, cols: 4, data: [700, 0, 330",
                               "  projection: {rows: 3, cols: 4, data: [700, 0, 330"),
     "the right camera lacks or mangles 'projection_matrix'"),
    (lambda text: text.replace("-84", "84"), "stereo baseline"),
    (lambda text: "left: [unclosed", "cannot read calibration file"),
])
def test_bad_stereo_yaml_is_named(tmp_path, edit, message):
    path = tmp_path / "stereo.yaml"
    path.write_text(edit(STEREO_YAML))
    with pytest.raises(InputError, match=message):
        read_calibration(path)
