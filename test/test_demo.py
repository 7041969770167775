"""The README's main job, end to end: offline inference, then bag -> psmnet-play -> psmnet_node -> results."""
import os
import re
import signal
import subprocess
import sys

import cv2
import numpy as np

from psmnet_ros.core.datasets.middlebury import motorcycle_calibration
from ros_helpers import reserve_domain_id, ros_env

DOMAIN_ID = reserve_domain_id()


def run_demo(*args, timeout_s: float) -> subprocess.CompletedProcess:
    """psmnet-demo in a process group of its own: if it has to be killed, its node and player go with it."""
    command = [sys.executable, "-m", "psmnet_ros.cli.demo", *args]
    proc = subprocess.Popen(command, env=ros_env(DOMAIN_ID), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def test_demo_writes_offline_and_ros_results(tmp_path):
    out = tmp_path / "results"
    # --interval 1: the second frame arrives while the node computes the first (seconds a frame on a CPU), so
    # the node's queue holds it (frame_queue_size = the bag's frames), instead of 1.5 offline passes' idle wait.
    result = run_demo("--out-dir", str(out), "--frames", "2", "--checkpoint", "random", "--variant", "basic",
                      "--maxdisp", "16", "--input-scale", "0.5", "--interval", "1", timeout_s=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "WARNING: weights 'random'" in result.stderr and "RANDOM UNTRAINED weights" in result.stderr
    for name in ("motorcycle_left_disp.png", "motorcycle_left_depth.npy", "motorcycle_left.ply",
                 "motorcycle_left_sgbm_disp.npy", "comparison.csv"):
        assert (out / "offline" / name).is_file()
    # The offline result is scored against the pair's ground truth beside SGBM, and pictured.
    assert re.search(r"^PSMNet\s+100\.00\s+\d+\.\d{3}\s", result.stdout, re.M), result.stdout
    assert re.search(r"^SGBM\s+87\.\d\d\s+inf\s", result.stdout, re.M), result.stdout
    picture = cv2.imread(str(out / "figures" / "motorcycle.jpg"))
    assert picture is not None and picture.shape[1] == 3 * round(741 / 2)   # three half-size panels a row

    summary = result.stdout
    assert re.search(r"frames in:\s+2\b", summary) and re.search(r"frames out:\s+2\b", summary), summary
    assert re.search(r"latency p50 / p95:\s+\d+ / \d+ ms", summary), summary
    # The node's own FrameStats break the latency down, one value a frame for each stage.
    for stage in ("inputs -> out:", "queue wait:", "forward pass:", "building outputs:", "publishing:"):
        assert re.search(rf"^  {re.escape(stage)}\s+\d+\.\d / \d+\.\d ms$", summary, re.M), summary
    ros = out / "ros"
    stamps = sorted(p.name.split("_")[0] for p in ros.glob("*_depth.npy"))
    assert stamps == ["1700000000000000000", "1700000000100000000"]
    assert len(list(ros.glob("*_points.ply"))) == 1

    # What the node published obeys the Motorcycle calibration: Z = f * B / d', where d' is the
    # published disparity, already corrected by the principal-point offset (cx_right - cx_left).
    calibration = motorcycle_calibration()
    disparity = cv2.imread(str(ros / f"{stamps[0]}_disparity.png"), cv2.IMREAD_UNCHANGED) / 256.0
    depth = np.load(ros / f"{stamps[0]}_depth.npy")
    assert disparity.shape == depth.shape == (500, 741)
    valid = disparity > 0
    assert valid.mean() > 0.99 and disparity[valid].min() >= calibration.doffs - 0.01
    # The PNG holds round(256 d'): |error| <= 1/512 px, relative <= (1/512) / 31.07 = 6.3e-5 as d' >= doffs - 0.01.
    np.testing.assert_allclose(depth[valid], calibration.fx * calibration.baseline_m / disparity[valid], rtol=1e-4)


def test_demo_refuses_a_variant_the_default_weights_are_not_before_doing_anything(tmp_path):
    result = run_demo("--out-dir", str(tmp_path / "r"), "--variant", "basic", timeout_s=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "psmnet-demo: error: the kitti2015 (official PSMNet, KITTI 2015) weights are variant 'stackhourglass', "
        "maxdisp 192, align_corners True; variant 'basic' needs other weights: pass a matching checkpoint file, "
        "or 'random' for untrained weights"]
    assert not (tmp_path / "r").exists()


def test_default_options_give_the_node_a_command_line_it_can_parse():
    """Without --checkpoint the demo leaves the weights to the params file (an empty `-p checkpoint:=` is a
    rule rcl cannot parse); the node started with the demo's parameters gets past argument parsing."""
    from psmnet_ros.cli.demo import build_parser, node_parameters
    from psmnet_ros.ros.demo_pipeline import node_command

    params = node_parameters(build_parser().parse_args([]))
    assert "checkpoint" not in params and params["qos"] == "reliable"
    assert params["frame_queue_size"] == 3, "the node keeps every frame of the 3-frame bag, bursts too"
    command = node_command({**params, "maxdisp": 12})   # refused by validation, after rcl parsed the arguments
    result = subprocess.run(command, env=ros_env(DOMAIN_ID), capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "parameter 'maxdisp' = 12" in output and "Traceback" not in output, output


def test_a_malformed_ros_argument_is_one_readable_line():
    result = subprocess.run([sys.executable, "-m", "psmnet_ros.ros.node", "--ros-args", "-p", "checkpoint:="],
                            env=ros_env(DOMAIN_ID), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "psmnet_node: cannot start: failed to initialize rcl: Couldn't parse parameter override rule" in result.stderr
