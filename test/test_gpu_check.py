"""The prepared GPU check (scripts/gpu_check.sh) on the CPU at tiny sizes, so that it cannot rot unseen.

One run of the steps (pytest -m cuda, psmnet-bench twice, the probes, psmnet_node over real DDS
on ROS domain 29) with random weights at 256x256; the summary files must say what each step
did. The numbers themselves are the GPU run's business. The train step is left out here: one
generated-scene training step costs about 30 s on two CPU cores, and psmnet-train's interrupt
and resume are test_training.py's.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STEPS = ["env", "tests", "bench", "probe", "bench-cudnn-off", "node"]


@pytest.fixture(scope="module")
def tiny_check(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    env = dict(os.environ, PYTHON=sys.executable, PSMNET_GPU_CHECK_CARRIED=str(tmp_path_factory.mktemp("carried")))
    proc = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), str(out), "--device", "cpu", "--tiny",
                           "--budget", "400", "--steps", *STEPS], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    return proc, out


def test_every_step_passes_and_is_summarized(tiny_check):
    proc, out = tiny_check
    steps = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in steps] == STEPS
    assert all(s["status"] == "pass" for s in steps), (steps, (out / "gpu_check.log").read_text()[-4000:])
    assert proc.returncode == 0 and "GPU check: 6 of 6 steps passed" in proc.stdout
    summary = (out / "summary.md").read_text()
    assert "| bench | pass |" in summary and "| variant | batch | ms/batch |" in summary
    assert f"$ {sys.executable} -m psmnet_ros.cli.bench --device cpu" in (out / "gpu_check.log").read_text()


def test_steps_report_their_measurements(tiny_check):
    _, out = tiny_check
    steps = {s["name"]: s["details"] for s in json.loads((out / "summary.json").read_text())}
    assert steps["tests"]["exit"] == 0 and steps["tests"]["counts"].get("skipped", 0) >= 1  # CUDA tests skip here
    assert [r["variant"] for r in steps["bench"]["rows"]] == ["reference", "fused"]
    assert steps["probe"]["alternation"]["max_diff_px"] == 0.0  # no graphs on the CPU: identical computations
    assert steps["probe"]["nonfinite"]["bf16"]["nonfinite"] == 0 and "oom" not in steps["probe"]
    node = steps["node"]
    assert node["first_frame_s"] > 0 and set(node["phases"]) == {"10 Hz", "as fast as it goes"}
    for phase in node["phases"].values():
        assert phase["received"] >= 1 and phase["sent"] > phase["received"]  # fed faster than a CPU computes
        # Sets the reliable writers refused ("cannot publish data") are counted, not sent: under load it happens.
        assert isinstance(phase["publish_failed"], int) and (phase["publish_error"] is None) == (
            phase["publish_failed"] == 0)
        assert phase["latency_ms_p50"] > 0 and set(phase["other_outputs"]) == {  # every output but disparity
            "/depth", "/points2", "/disparity/image_color", "/confidence", "/frame_stats"}


def test_a_probe_without_result_line_is_an_error_naming_its_last_line():
    from psmnet_ros.tools.gpu_check.common import parse_result
    with pytest.raises(RuntimeError, match="probe gpu ended with exit status 1 and no result: Traceback"):
        parse_result(1, "some output\nTraceback", "probe gpu")
    assert parse_result(0, 'log\nRESULT {"a": 1}\n', "probe env") == {"a": 1}
