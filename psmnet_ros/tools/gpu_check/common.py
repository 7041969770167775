"""What the GPU check's parts share: the repository, the sizes each step runs at, the tolerances and targets,
and how a child process is started and its result read."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RESULT = "RESULT "
"""Prefix of the JSON line a probe subprocess ends with."""
TOLERANCE = {"strict_mean_px": 0.01, "strict_max_px": 0.5, "epe_px": 0.05, "bad1_points": 0.5}
"""Strict fp32 against the official outputs; reduced precision against strict fp32 by ground truth (issue 14)."""
TARGETS = {"ms_per_frame_batch4": 10.0, "ms_per_frame_batch1": 12.0, "peak_mib_batch1": 1024.0, "first_frame_s": 30.0}
NODE_DOMAIN_ID = 29
"""The check's ROS domain: below the 30-101 the test suite reserves for itself (test/ros_helpers.py)."""


@dataclass
class Sizes:
    """What each step runs: full (the issue's sizes) or tiny (the CPU smoke test)."""

    bench: list[str]
    bench_off_rows: list[str]
    image: tuple[int, int]          # height, width of the probe's and the node's pairs
    weights: str                    # "" = the default (official KITTI 2015)
    model: dict                     # architecture for random weights (variant, maxdisp); {} = the weights'
    node_params: dict
    train: list[str]
    phase_s: float                  # seconds of each node feeding phase


def sizes_for(tiny: bool, device: str) -> Sizes:
    if not tiny:
        return Sizes(bench=["--height", "384", "--width", "1248", "--maxdisp", "192", "--batch", "1", "4",
                            "--repeats", "5", "--warmup", "2"],
                     bench_off_rows=["reference", "fused", "node-default"], image=(375, 1242), weights="",
                     model={}, node_params={"device": device},
                     train=["--batch-size", "8", "--crop", "256x512", "--scenes-per-epoch", "64"],
                     phase_s=10.0)
    return Sizes(bench=["--height", "256", "--width", "256", "--variant", "basic", "--maxdisp", "16", "--batch", "1",
                        "--repeats", "1", "--warmup", "0", "--checkpoint", "random", "--variants", "reference",
                        "fused", "--reference-cases", "1"],
                 bench_off_rows=["fused"], image=(256, 256), weights="random",
                 model={"variant": "basic", "maxdisp": 16},
                 node_params={"device": device, "weights": "random", "variant": "basic", "maxdisp": 16},
                 train=["--variant", "basic", "--maxdisp", "16", "--batch-size", "1", "--crop", "256x512",
                        "--scenes-per-epoch", "1"],
                 phase_s=1.0)


def child_env(**extra) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{k: str(v) for k, v in extra.items()})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def parse_result(rc: int, text: str, what: str) -> dict:
    """The JSON a subprocess printed after RESULT; RuntimeError naming the exit status and last line else."""
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT):])
    last = text.strip().splitlines()[-1] if text.strip() else "no output"
    raise RuntimeError(f"{what} ended with exit status {rc} and no result: {last}")
