"""psmnet-infer end to end on the Middlebury Motorcycle pair (real images, real calibration).

Most tests ask for small random networks (``--checkpoint random``) to stay fast; one runs the
default weights (the official KITTI 2015 checkpoint)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from psmnet_ros.cli.infer import build_parser, main
from psmnet_ros.core import StereoEstimator

F, B, DOFFS, CX, CY = 994.978, 0.193001, 31.086, 311.193, 254.877   # scikit-image's docstring


@pytest.fixture(scope="module")
def motorcycle_files(tmp_path_factory):
    from skimage import data
    left, right, _ = data.stereo_motorcycle()
    folder = tmp_path_factory.mktemp("motorcycle")
    for side, img in (("left", left), ("right", right)):
        (folder / side).mkdir()
        cv2.imwrite(str(folder / side / "motorcycle.png"), img[..., ::-1])
    return folder, left


def read_ply(path):
    data = path.read_bytes()
    header, _, body = data.partition(b"end_header\n")
    count = int(next(line.split()[2] for line in header.decode().splitlines() if line.startswith("element vertex")))
    vertex = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                        ("r", "u1"), ("g", "u1"), ("b", "u1")], count=count)
    assert len(body) == count * 15
    return vertex


def test_all_outputs_on_the_motorcycle_pair(motorcycle_files, tmp_path, capsys):
    folder, left = motorcycle_files
    right = cv2.imread(str(folder / "right" / "motorcycle.png"))[..., ::-1].copy()
    out = tmp_path / "out"
    max_depth = 5.0
    rc = main([str(folder / "left" / "motorcycle.png"), str(folder / "right" / "motorcycle.png"),
               "--out-dir", str(out), "--checkpoint", "random", "--variant", "basic", "--maxdisp", "48",
               "--input-scale", "0.5",
               "--focal", str(F), "--baseline", str(B), "--doffs", str(DOFFS), "--cx", str(CX), "--cy", str(CY),
               "--max-depth", str(max_depth)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "WARNING: weights 'random'" in err and "RANDOM UNTRAINED weights" in err and "MEANINGLESS" in err
    disparity = np.load(out / "motorcycle_disp.npy")
    assert disparity.shape == (500, 741) and disparity.dtype == np.float32
    png = cv2.imread(str(out / "motorcycle_disp.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16
    np.testing.assert_array_equal(png, np.round(np.clip(disparity, 0, None) * 256).astype(np.uint16))
    assert cv2.imread(str(out / "motorcycle_disp_color.png")).shape == (500, 741, 3)
    assert cv2.imread(str(out / "motorcycle_depth_color.png")).shape == (500, 741, 3)

    # The files hold the disparity corrected for the principal points, d' = x_l - x_r + doffs, so Z = f B / d'
    # (stereo_msgs/DisparityImage's convention, the node's): the network's own disparity plus doffs.
    network = StereoEstimator.random("basic", maxdisp=48, input_scale=0.5).predict(left, right)
    np.testing.assert_allclose(disparity, network + np.float32(DOFFS), atol=1e-4)
    depth = np.load(out / "motorcycle_depth.npy")
    expected = np.where(disparity > 0, F * B / disparity, np.nan)
    np.testing.assert_allclose(depth, expected, rtol=1e-5)  # float32 depth: a few roundings of 6e-8
    # network disparities in [0, 96) px and doffs 31.086 px bound depth to (f B / 127.1, f B / 31.086] = (1.51, 6.18] m
    assert np.nanmin(depth) > F * B / (96 + DOFFS) and np.nanmax(depth) <= F * B / DOFFS + 1e-4

    cloud = read_ply(out / "motorcycle.ply")
    assert len(cloud) == int((depth <= max_depth).sum())
    v, u = 100, 600
    assert depth[v, u] <= max_depth, "the checked pixel should be in the cloud"
    z = F * B / disparity[v, u]
    index = int((depth <= max_depth)[:v].sum() + (depth[v, :u] <= max_depth).sum())
    np.testing.assert_allclose([cloud["x"][index], cloud["y"][index], cloud["z"][index]],
                               [(u - CX) * z / F, (v - CY) * z / F, z], rtol=1e-5)  # float32, as above
    assert (cloud["r"][index], cloud["g"][index], cloud["b"][index]) == tuple(left[v, u])


def test_directories_with_a_progress_bar(motorcycle_files, tmp_path):
    folder, _ = motorcycle_files
    rc = main([str(folder / "left"), str(folder / "right"), "--out-dir", str(tmp_path),
               "--checkpoint", "random", "--variant", "basic", "--maxdisp", "16", "--input-scale", "0.5"])
    assert rc == 0
    assert (tmp_path / "motorcycle_disp.png").is_file() and not (tmp_path / "motorcycle.ply").exists()


def test_without_checkpoint_the_default_weights_run_without_a_warning(motorcycle_files, tmp_path, capsys,
                                                                      motorcycle_prediction_half_scale):
    folder, left = motorcycle_files
    left_path, right_path = folder / "left" / "motorcycle.png", folder / "right" / "motorcycle.png"
    assert main([str(left_path), str(right_path), "--out-dir", str(tmp_path), "--input-scale", "0.5"]) == 0
    assert "WARNING" not in capsys.readouterr().err
    # The PNGs hold scikit-image's arrays losslessly: the pair the fixture predicted from.
    np.testing.assert_array_equal(np.load(tmp_path / "motorcycle_disp.npy"), motorcycle_prediction_half_scale)


def test_a_missing_image_exits_2_with_one_line_and_no_traceback():
    """The installed command as a user runs it: the exit status and stderr of a real process."""
    result = subprocess.run([sys.executable, "-m", "psmnet_ros.cli.infer", "/no/left.png", "/no/right.png",
                             "--checkpoint", "random", "--variant", "basic", "--maxdisp", "16",
                             "--out-dir", "/tmp/psmnet_err"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["psmnet-infer: error: no such image: /no/left.png"]


def _stderr_lines(argv, capsys) -> list[str]:
    """psmnet-infer's main in this process (no interpreter start-up): exit status 2, stderr ending in the one
    error line (after the random-weights warning, where random weights are asked for)."""
    assert main([*argv, "--out-dir", "/tmp/psmnet_err"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if "error" in line] == lines[-1:], lines
    assert lines[-1].startswith("psmnet-infer: error: ")
    return lines


@pytest.mark.parametrize("args,message", [
    (["L", "R", "--focal", "700"], "--focal and --baseline go together"),
    (["L", "R", "--checkpoint", "/no/ckpt.tar"], "unknown weights '/no/ckpt.tar': not a file, and not one of the "
                                                 "names kitti2015, random"),
])
def test_errors_are_one_line(motorcycle_files, args, message, capsys):
    folder, _ = motorcycle_files
    args = [str(folder / "left" / "motorcycle.png") if a == "L" else str(folder / "right" / "motorcycle.png")
            if a == "R" else a for a in args]
    # A --checkpoint in args comes after "random" and wins.
    assert message in _stderr_lines(["--checkpoint", "random", "--variant", "basic", "--maxdisp", "16",
                                     "--input-scale", "0.5", *args], capsys)[-1]


def test_settings_the_default_weights_cannot_run_are_one_line(motorcycle_files, capsys):
    folder, _ = motorcycle_files
    (line,) = _stderr_lines([str(folder / "left" / "motorcycle.png"), str(folder / "right" / "motorcycle.png"),
                             "--variant", "basic", "--maxdisp", "96", "--no-align-corners"], capsys)
    assert line.startswith("psmnet-infer: error: the kitti2015 (official PSMNet, KITTI 2015) weights are variant "
                           "'stackhourglass'")
    assert "variant 'basic', maxdisp 96, align_corners False needs other weights" in line
    assert "'random' for untrained weights" in line


def test_confidence_files_and_threshold(motorcycle_files, tmp_path, reference_dir):
    """NAME_confidence.npy/png always; --confidence-threshold T marks exactly the pixels of confidence < T invalid:
    NaN in the disparity and depth .npy, 0 in the KITTI PNG, left out of the PLY. The reference's untrained basic
    weights spread their confidence over (0, 1), so its median splits the pixels (a small random network's
    matching distributions are so peaked that every pixel has confidence 1)."""
    folder, left = motorcycle_files
    right = cv2.imread(str(folder / "right" / "motorcycle.png"))[..., ::-1].copy()
    checkpoint = str(reference_dir / "basic_ref.tar")
    network, confidence = StereoEstimator.from_checkpoint(checkpoint, input_scale=0.5).predict(
        left, right, with_confidence=True)
    threshold = float(np.median(confidence))
    out = tmp_path / "out"
    assert main([str(folder / "left" / "motorcycle.png"), str(folder / "right" / "motorcycle.png"), "--out-dir",
                 str(out), "--checkpoint", checkpoint, "--input-scale", "0.5",
                 "--focal", str(F), "--baseline", str(B), "--doffs", str(DOFFS),
                 "--confidence-threshold", repr(threshold)]) == 0
    written = np.load(out / "motorcycle_confidence.npy")
    np.testing.assert_array_equal(written, confidence)
    assert written.min() >= 0 and written.max() <= 1
    assert cv2.imread(str(out / "motorcycle_confidence.png")).shape == (500, 741, 3)
    invalid = confidence < np.float32(threshold)
    assert 0.2 < invalid.mean() < 0.8
    disparity = np.load(out / "motorcycle_disp.npy")
    assert np.isnan(disparity[invalid]).all() and np.isfinite(disparity[~invalid]).all()
    np.testing.assert_allclose(disparity[~invalid], network[~invalid] + np.float32(DOFFS), atol=1e-4)
    assert (cv2.imread(str(out / "motorcycle_disp.png"), cv2.IMREAD_UNCHANGED)[invalid] == 0).all()
    depth = np.load(out / "motorcycle_depth.npy")
    assert np.isnan(depth[invalid]).all() and np.isfinite(depth[~invalid]).all()
    assert len(read_ply(out / "motorcycle.ply")) == int((~invalid).sum())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["L", "R", "--confidence-threshold", "x"])
    assert main(["L", "R", "--confidence-threshold", "1.5"]) == 2


def test_calibration_file_gives_the_camera_as_an_object(motorcycle_files, tmp_path, capsys):
    """--calibration FILE (a stereo calibration YAML here) carries P and R whole: the same files as the pair's
    numbers on the command line; the old name --calib still works, with a deprecation warning."""
    from psmnet_ros.core.calibration import write_calibration_yaml
    from psmnet_ros.core.datasets import motorcycle_calibration

    folder, left = motorcycle_files
    calibration_file = tmp_path / "motorcycle.yaml"
    write_calibration_yaml(calibration_file, motorcycle_calibration())
    pair = [str(folder / "left" / "motorcycle.png"), str(folder / "right" / "motorcycle.png"), "--checkpoint",
            "random", "--variant", "basic", "--maxdisp", "16", "--input-scale", "0.5"]
    assert main(pair + ["--out-dir", str(tmp_path / "file"), "--calibration", str(calibration_file)]) == 0
    disparity = np.load(tmp_path / "file" / "motorcycle_disp.npy")
    right = cv2.imread(str(folder / "right" / "motorcycle.png"))[..., ::-1].copy()
    network = StereoEstimator.random("basic", maxdisp=16, input_scale=0.5).predict(left, right)
    np.testing.assert_allclose(disparity, network + np.float32(DOFFS), atol=1e-4)
    np.testing.assert_allclose(np.load(tmp_path / "file" / "motorcycle_depth.npy"),
                               np.where(disparity > 0, F * B / disparity, np.nan), rtol=1e-5)
    with pytest.warns(FutureWarning, match="--calib is deprecated .* use --calibration"):
        assert main(pair + ["--out-dir", str(tmp_path / "old"), "--calib", str(calibration_file)]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "old" / "motorcycle_disp.npy"), disparity)
    capsys.readouterr()
    assert main(pair + ["--out-dir", str(tmp_path / "x"), "--calibration", str(calibration_file), "--focal", "9"]) == 2
    assert "give either --calibration or --focal/--baseline, not both" in capsys.readouterr().err
