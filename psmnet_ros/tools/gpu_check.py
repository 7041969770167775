"""The prepared GPU check: CUDA tests, psmnet-bench, GPU probes, the node and CUDA training in one command.

``scripts/gpu_check.sh OUT`` sets up a bare GPU machine (carried wheels) and runs
``python -m psmnet_ros.tools.gpu_check --out OUT``. Each step runs in subprocesses of its own
with a timeout, so a crash or a stuck GPU ends that step only; the steps share one time
budget (``--budget``), and a step that no longer fits is reported as skipped. Written to OUT:
``gpu_check.log`` (every command and its output), ``summary.md`` and ``summary.json`` (per
step: pass / fail / skipped, seconds, the numbers), rewritten after every step.

Steps: ``env`` (versions, known cuDNN issues, the weights, rclpy), ``tests`` (``pytest -m
cuda``; a skip on a GPU machine is a failure, except for want of a second GPU), ``bench``
(``psmnet-bench`` with the default weights and the reference cases), ``probe`` (two pairs
alternating through the recorded graph in a worker thread against the eager fast path, no
eager fallback, smaller batches padded instead of recorded, inf/NaN in fp16/bf16, a forced
out-of-memory and the node's one-pair retry), ``bench-cudnn-off`` (the strict-fp32 rows with
cudnn.benchmark off), ``node`` (psmnet_node with every output subscribed, fed at 10 Hz and as
fast as it goes: start to first frame, rate, latency, drops) and ``train`` (``psmnet-train
--dataset synthetic`` with AMP, interrupted after ``--train-seconds``, resumed; then without
AMP, resumed). ``--device cpu --tiny`` runs them all at tiny sizes (test/test_gpu_check.py).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULT = "RESULT "
"""Prefix of the JSON line a probe subprocess ends with."""
TOLERANCE = {"strict_mean_px": 0.01, "strict_max_px": 0.5, "epe_px": 0.05, "bad1_points": 0.5}
"""Strict fp32 against the official outputs; reduced precision against strict fp32 by ground truth (issue 14)."""
TARGETS = {"ms_per_frame_batch4": 10.0, "ms_per_frame_batch1": 12.0, "peak_mib_batch1": 1024.0, "first_frame_s": 30.0}
NODE_DOMAIN_ID = 29
"""The check's ROS domain: below the 30-101 the test suite reserves for itself (test/ros_helpers.py)."""
KITTI_FX, KITTI_BASELINE_M = 721.5377, 0.5327


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


@dataclass
class StepResult:
    name: str
    status: str                     # pass, fail, skipped
    seconds: float
    summary: str
    details: dict = field(default_factory=dict)


class StepFailed(Exception):
    """A step's own verdict: what did not meet its criterion (details still reported)."""

    def __init__(self, summary: str, details: dict):
        super().__init__(summary)
        self.details = details


class Check:
    """Runs the steps within the budget, logs every command, keeps the summary files current."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log_path = self.out / "gpu_check.log"
        self.log_path.write_text("")
        self.deadline = time.monotonic() + args.budget
        self.results: list[StepResult] = []
        self.sizes = sizes_for(args.tiny, args.device)
        self.work = Path(tempfile.mkdtemp(prefix="psmnet_gpu_check_"))
        self.cuda = args.device.startswith("cuda")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def log(self, text: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(text if text.endswith("\n") else text + "\n")

    def command(self, argv: list[str], timeout_s: float, env: dict | None = None) -> tuple[int, str]:
        """Run ``argv`` in the repository (own process group), at most ``timeout_s`` (and the budget);
        (exit status, output). 124: timed out, the group killed."""
        timeout_s = max(1.0, min(timeout_s, self.remaining()))
        self.log(f"\n$ {' '.join(argv)}   (timeout {timeout_s:.0f} s)")
        with tempfile.TemporaryFile("w+") as output:
            proc = subprocess.Popen(argv, cwd=REPO, env=env or child_env(), stdout=output, stderr=subprocess.STDOUT,
                                    start_new_session=True, text=True)
            try:
                rc = proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = 124
            output.seek(0)
            text = output.read()
        self.log(text + f"[exit {rc}]")
        return rc, text

    def probe(self, what: str, timeout_s: float, *extra: str) -> dict:
        rc, text = self.command([sys.executable, "-m", "psmnet_ros.tools.gpu_check", "probe", what,
                                 "--device", self.args.device, *(["--tiny"] if self.args.tiny else []), *extra],
                                timeout_s)
        return parse_result(rc, text, f"probe {what}")

    def step(self, name: str, fn, min_seconds: float) -> None:
        started = time.monotonic()
        if self.remaining() < min_seconds:
            result = StepResult(name, "skipped", 0.0, f"out of time ({self.remaining():.0f} s of the budget left, "
                                                      f"{min_seconds:.0f} s needed)")
        else:
            try:
                summary, details = fn()
                result = StepResult(name, "pass", 0.0, summary, details)
            except StepFailed as exc:
                result = StepResult(name, "fail", 0.0, str(exc), exc.details)
            except Exception as exc:  # noqa: BLE001  one failing step must not stop the others
                self.log(traceback.format_exc())
                result = StepResult(name, "fail", 0.0, f"{type(exc).__name__}: {exc}")
        result.seconds = round(time.monotonic() - started, 1)
        self.results.append(result)
        self.log(f"=== {name}: {result.status} in {result.seconds} s: {result.summary}")
        self.write_summary()

    def write_summary(self) -> None:
        (self.out / "summary.json").write_text(json.dumps([asdict(r) for r in self.results], indent=1, default=str))
        lines = [f"# GPU check ({self.args.device}{', tiny' if self.args.tiny else ''})", "",
                 "| step | status | seconds | summary |", "|---|---|---|---|"]
        lines += [f"| {r.name} | {r.status} | {r.seconds} | {r.summary.replace('|', '/')} |" for r in self.results]
        for r in self.results:
            if r.details.get("table"):
                lines += ["", f"## {r.name}", "", r.details["table"]]
        (self.out / "summary.md").write_text("\n".join(lines) + "\n")


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


def markdown_rows(text: str) -> list[dict]:
    """The first Markdown table of ``text`` as dicts keyed by its header cells."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and not line.startswith("|---")]
    return [dict(zip(rows[0], r)) for r in rows[1:]] if rows else []


def number(cell: str | None) -> float | None:
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------ steps
def step_env(check: Check):
    info = check.probe("env", 120)
    summary = f"{info['runtime']}; weights {info['weights']}; rclpy {info['rclpy']}"
    if info["cudnn_notes"]:
        summary += "; " + "; ".join(info["cudnn_notes"])
    return summary, info


def cuda_test_files() -> list[str]:
    """The test files that hold ``cuda``-marked tests (collecting only these needs no rosbags, no launch)."""
    return sorted(str(f.relative_to(REPO)) for f in (REPO / "test").glob("test_*.py")
                  if "pytest.mark.cuda" in f.read_text())


def step_tests(check: Check):
    rc, text = check.command([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-rs", "-p", "no:cacheprovider",
                              *cuda_test_files()], 240)
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", text)}
    skips = re.findall(r"SKIPPED \[\d+\] (\S+): (.*)", text)
    unexpected = [f"{where}: {why}" for where, why in skips if "second GPU" not in why]
    details = {"counts": counts, "skipped": [f"{w}: {r}" for w, r in skips], "exit": rc}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or f"exit {rc}"
    if rc != 0 or (check.cuda and (unexpected or not counts.get("passed"))):
        raise StepFailed(f"{summary}; skipped on a GPU machine: {unexpected}" if unexpected else summary, details)
    return summary, details


def bench_command(check: Check, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "psmnet_ros.cli.bench", "--device", check.args.device, *check.sizes.bench, *extra]
    if check.args.reference_dir:
        argv += ["--reference-dir", check.args.reference_dir]
    return argv


def judge_rows(rows: list[dict]) -> tuple[list[str], dict]:
    """Problems of a psmnet-bench table (strict fp32 off the official outputs, graphs fallen back) and, per
    reduced-precision row, whether it keeps EPE / bad-1 within the tolerance of strict fp32."""
    problems, precision = [], {}
    reference = {r["batch"]: r for r in rows if r["variant"] == "reference"}
    for r in rows:
        name, mean, worst = r["variant"], number(r.get("mean diff px")), number(r.get("max diff px"))
        strict = name in ("reference", "official-style", "fold-bn", "fused", "node-default")
        if strict and mean is not None and (mean > TOLERANCE["strict_mean_px"] or worst > TOLERANCE["strict_max_px"]):
            problems.append(f"{name} batch {r['batch']}: {mean} / {worst} px from the official strict fp32")
        if "FELL BACK" in r.get("CUDA graphs", ""):
            problems.append(f"{name} batch {r['batch']}: {r['CUDA graphs']}")
        ref = reference.get(r["batch"])
        epe, bad1 = number(r.get("EPE px")), number(r.get("bad-1 %"))
        if not strict and ref and epe is not None and number(ref.get("EPE px")) is not None:
            precision[name] = (epe <= number(ref["EPE px"]) + TOLERANCE["epe_px"]
                               and bad1 <= number(ref["bad-1 %"]) + TOLERANCE["bad1_points"])
    return problems, precision


def step_bench(check: Check):
    rc, text = check.command(bench_command(check), 300)
    table = "\n".join(line for line in text.splitlines() if line.startswith(("|", "PSMNet", "warning:")))
    rows = markdown_rows(text)
    if rc != 0 or not rows:
        raise StepFailed(f"psmnet-bench exit {rc}", {"table": table})
    problems, within = judge_rows(rows)
    details = {"table": table, "rows": rows, "within_ground_truth_tolerance": within, "targets": targets(rows)}
    summary = (f"{len(rows)} rows; reduced precision within the ground-truth tolerance: "
               f"{', '.join(k for k, ok in within.items() if ok) or 'none measured'}; targets {details['targets']}")
    if problems:
        raise StepFailed("; ".join(problems), details)
    return summary, details


def targets(rows: list[dict]) -> dict:
    """The issue's speed and memory targets, judged on the node's default row (where there is one)."""
    node = {r["batch"]: r for r in rows if r["variant"] == "node-default"}
    found = {}
    if "1" in node:
        found["ms_per_frame_batch1"] = number(node["1"]["ms/frame"])
        found["peak_mib_batch1"] = number(node["1"]["peak MiB"])
    if "4" in node:
        found["ms_per_frame_batch4"] = number(node["4"]["ms/frame"])
    return {k: {"value": v, "target": TARGETS[k], "met": v is not None and v <= TARGETS[k]} for k, v in found.items()}


def step_bench_cudnn_off(check: Check):
    on = next((r for r in check.results if r.name == "bench"), None)
    rc, text = check.command(bench_command(check, "--cudnn-benchmark", "off", "--batch", "1", "--variants",
                                           *check.sizes.bench_off_rows), 150)
    rows = markdown_rows(text)
    if rc != 0 or not rows:
        raise StepFailed(f"psmnet-bench --cudnn-benchmark off exit {rc}", {})
    problems, _ = judge_rows(rows)
    compared = {}
    for r in rows:
        twin = next((o for o in (on.details.get("rows", []) if on else []) if o["variant"] == r["variant"]
                     and o["batch"] == r["batch"]), None)
        compared[r["variant"]] = {"off": {k: r.get(k) for k in ("ms/frame", "mean diff px", "max diff px", "EPE px")},
                                  "on": {k: twin.get(k) for k in ("ms/frame", "mean diff px", "max diff px",
                                                                   "EPE px")} if twin else None}
    details = {"table": "\n".join(line for line in text.splitlines() if line.startswith("|")), "compared": compared}
    if problems:
        raise StepFailed("; ".join(problems), details)
    return f"strict fp32 with cudnn.benchmark off: {len(rows)} rows within tolerance", details


def step_probe(check: Check):
    found = check.probe("gpu", 240)
    problems = []
    alt = found["alternation"]
    if not alt["max_diff_px"] <= 0.1 or not alt["mean_diff_px"] <= 1e-3:
        problems.append(f"graph vs eager: {alt}")
    if not alt["pair_difference_px"] > (0.5 if check.cuda else 0.0):  # untrained tiny weights: nearly flat
        problems.append(f"the two pairs gave the same disparity ({alt['pair_difference_px']} px apart): stale replay")
    graphs = found.get("graphs")
    if check.cuda and (not graphs or graphs["fallback"] or not graphs["recorded"] or graphs["padding_recorded"]):
        problems.append(f"graphs: {graphs}")
    bad = {p: v for p, v in found["nonfinite"].items() if v["nonfinite"]}
    if bad:
        problems.append(f"inf/NaN: {bad}")
    oom = found.get("oom")
    if check.cuda and not (oom and oom.get("recovered")):
        problems.append(f"out of memory: {oom}")
    summary = (f"graph vs eager max {alt['max_diff_px']:.2g} px; graphs {graphs}; inf/NaN "
               f"{ {p: v['nonfinite'] for p, v in found['nonfinite'].items()} }; out of memory {oom}")
    if problems:
        raise StepFailed("; ".join(problems), found)
    return summary, found


def step_node(check: Check):
    found = run_node(check)
    problems = [f"{phase}: nothing came out" for phase, v in found["phases"].items() if not v["received"]]
    if found["first_frame_s"] is None:
        problems.append("no first frame")
    summary = f"first frame {found['first_frame_s']} s; " + "; ".join(
        f"{phase}: {v['rate_hz']} Hz out of {v['sent']} sent, latency p50/p95 {v['latency_ms_p50']}/"
        f"{v['latency_ms_p95']} ms, dropped {v['dropped']}, refused by DDS {v['publish_failed']}"
        for phase, v in found["phases"].items())
    if problems:
        raise StepFailed("; ".join(problems), found)
    return summary, found


def step_train(check: Check):
    base = [sys.executable, "-m", "psmnet_ros.tools.gpu_check", "train-run"]
    common = ["--dataset", "synthetic", "--device", check.args.device, "--val-limit", "0", "--workers", "0",
              *check.sizes.train]
    runs, problems = {}, []
    seconds = min(check.args.train_seconds, max(10.0, check.remaining() - 150))
    for name, amp in (("amp", ["--amp"]),) if check.args.tiny else (("amp", ["--amp"]), ("fp32", [])):
        out_dir = check.work / f"train_{name}"
        first = ["--seconds", str(seconds if name == "amp" else 0), "--", *common, *amp, "--out-dir", str(out_dir),
                 "--epochs", "100000" if name == "amp" else "1"]
        runs[name] = run = parse_result(*check.command(base + first, seconds + 120), f"train {name}")
        resumed = ["--seconds", "0", "--", "--dataset", "synthetic", "--device", check.args.device, "--val-limit",
                   "0", "--workers", "0", *amp, "--resume", str(out_dir / "last.tar"),
                   "--epochs", str(run["epoch"] + 1)]
        runs[f"{name} resumed"] = again = parse_result(*check.command(base + resumed, 120), f"train {name} resume")
        if not run["epoch"] or again["rc"] != 0 or again["epoch"] != run["epoch"] + 1 or again["steps"] <= run["steps"]:
            problems.append(f"{name}: run {run}, resumed {again}")
    summary = "; ".join(f"{k}: {v['iterations_per_s']} it/s over {v['steps']} steps, peak {v['peak_mib']} MiB, "
                        f"epoch {v['epoch']}, exit {v['rc']}" for k, v in runs.items())
    if problems:
        raise StepFailed("; ".join(problems), runs)
    return summary, runs


STEPS = (("env", step_env, 20), ("tests", step_tests, 60), ("bench", step_bench, 60), ("probe", step_probe, 40),
         ("bench-cudnn-off", step_bench_cudnn_off, 30), ("node", step_node, 40), ("train", step_train, 60))
"""(name, function, least seconds of budget left to start it), in order of priority."""


# ------------------------------------------------------------------------------------------------ node
def kitti_sized_pairs(count: int, size: tuple[int, int]) -> list[tuple]:
    """``count`` different stereo pairs of ``size`` (height, width): shifted crops of the Motorcycle pair."""
    import cv2
    import numpy as np

    from ..core.datasets.middlebury import MiddleburyMotorcycle

    frame = MiddleburyMotorcycle().load(0)
    h, w = size
    pairs = []
    for i in range(count):
        box = (slice(20 * i, 20 * i + 240), slice(30 * i, 30 * i + 600))
        pairs.append(tuple(cv2.resize(np.ascontiguousarray(frame[side][box]), (w, h), interpolation=cv2.INTER_CUBIC)
                           for side in ("left", "right")))
    return pairs


def camera_infos(header, height: int, width: int):
    """Left and right CameraInfo of a rectified KITTI-like rig (P_right[0,3] = -fx * baseline)."""
    from sensor_msgs.msg import CameraInfo

    cx, cy = (width - 1) / 2, (height - 1) / 2
    infos = []
    for tx in (0.0, -KITTI_FX * KITTI_BASELINE_M):
        infos.append(CameraInfo(header=header, height=height, width=width, distortion_model="plumb_bob",
                                d=[0.0] * 5, k=[KITTI_FX, 0.0, cx, 0.0, KITTI_FX, cy, 0.0, 0.0, 1.0],
                                r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                                p=[KITTI_FX, 0.0, cx, tx, 0.0, KITTI_FX, cy, 0.0, 0.0, 0.0, 1.0, 0.0]))
    return infos


def run_node(check: Check) -> dict:
    """psmnet_node in a subprocess, fed and listened to from this process over DDS (domain NODE_DOMAIN_ID)."""
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    from ..ros.conversions import rgb_image_msg
    from ..ros.recorder import OutputRecorder

    height, width = check.sizes.image
    pairs = kitti_sized_pairs(2, (height, width))
    params = dict(check.sizes.node_params, qos="reliable")
    command = [sys.executable, "-m", "psmnet_ros.ros.node", "--ros-args", "--params-file", "config/psmnet.yaml"]
    for name, value in params.items():
        command += ["-p", f"{name}:={value}"]
    env = child_env(ROS_DOMAIN_ID=NODE_DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=NODE_DOMAIN_ID)
    recorder = OutputRecorder("/", "/left/image_rect", keep_messages=False, context=context)
    feeder = Node("psmnet_gpu_check_feeder", context=context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    publishers = [feeder.create_publisher(t, name, qos) for name, t in (
        ("left/image_rect", Image), ("left/camera_info", CameraInfo), ("right/image_rect", Image),
        ("right/camera_info", CameraInfo))]
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(recorder)
    executor.add_node(feeder)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    sent: dict[int, float] = {}
    failed: list[str] = []  # the phase's refused publications (RCLError texts)
    node_log = check.work / "node.log"
    check.log(f"\n$ {' '.join(command)}   (log below, after the node stops)")
    started = time.monotonic()
    with open(node_log, "w") as log:
        node = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def publish(index: int) -> int | None:
            """Publish one stereo set; None if DDS refused a message of it (counted in publish_failed)."""
            stamp = time.time_ns()
            header = Header(frame_id="camera", stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9))
            left, right = pairs[index % 2]
            left_info, right_info = camera_infos(header, height, width)
            messages = (rgb_image_msg(left, header), left_info, rgb_image_msg(right, header), right_info)
            sent[stamp] = time.monotonic()
            try:
                for publisher, msg in zip(publishers, messages):
                    publisher.publish(msg)
            except _rclpy.RCLError as exc:  # "cannot publish data": the reliable writer found no room in time
                del sent[stamp]
                failed.append(str(exc).split(",")[0])
                return None
            return stamp

        def feed(interval_s: float, until, stamps: list) -> None:
            index = 0
            while not until():
                if node.poll() is not None:
                    raise RuntimeError(f"psmnet_node exited with status {node.returncode}")
                due = time.monotonic() + interval_s
                stamp = publish(index)
                if stamp is not None:
                    stamps.append(stamp)
                index += 1
                time.sleep(max(0.0, due - time.monotonic()))

        first_deadline = started + min(180.0, check.remaining() - 2 * check.sizes.phase_s - 10)
        feed(0.1, lambda: recorder.count("/disparity") > 0 or time.monotonic() > first_deadline, [])
        first = min(recorder.arrival_times("/disparity").values(), default=None)
        found = {"first_frame_s": None if first is None else round(first - started, 2), "params": params,
                 "phases": {}}
        for phase, interval in (("10 Hz", 0.1), ("as fast as it goes", 0.01)):
            stamps: list[int] = []
            failed.clear()
            begin = time.monotonic()
            feed(interval, lambda: time.monotonic() - begin > check.sizes.phase_s, stamps)
            duration = time.monotonic() - begin
            drain = time.monotonic() + 30.0  # the queue keeps the newest frame: the phase's last one comes out
            while time.monotonic() < drain and stamps and stamps[-1] not in recorder.arrival_times("/disparity"):
                time.sleep(0.05)
            found["phases"][phase] = dict(phase_stats(recorder, stamps, sent, duration),
                                          publish_failed=len(failed), publish_error=failed[0] if failed else None)
        return found
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        executor.shutdown()
        spinner.join(5)
        recorder.destroy_node()
        feeder.destroy_node()
        context.try_shutdown()
        check.log(node_log.read_text() + f"[psmnet_node exit {node.returncode}]")


def phase_stats(recorder, stamps: list[int], sent: dict, duration_s: float) -> dict:
    """Sent and received frames of one feeding phase, output rate, latency (publish -> disparity) and drops."""
    import numpy as np

    arrivals = {topic: recorder.arrival_times(topic) for topic in recorder.topics}
    done = [arrivals["/disparity"][s] for s in stamps if s in arrivals["/disparity"]]
    latency = [1000 * (arrivals["/disparity"][s] - sent[s]) for s in stamps if s in arrivals["/disparity"]]
    span = (max(done) - min(done)) if len(done) > 1 else 0.0
    return {"sent": len(stamps), "received": len(done), "dropped": len(stamps) - len(done),
            "input_rate_hz": round(len(stamps) / duration_s, 1),
            "rate_hz": round((len(done) - 1) / span, 1) if span else None,
            "latency_ms_p50": round(float(np.percentile(latency, 50)), 1) if latency else None,
            "latency_ms_p95": round(float(np.percentile(latency, 95)), 1) if latency else None,
            "other_outputs": {t: sum(s in arrivals[t] for s in stamps) for t in arrivals
                              if t not in ("/disparity", recorder.input_topic)}}


# ------------------------------------------------------------------------------------------------ probes
def probe_env(device: str) -> dict:
    import torch

    from ..core.fast.versions import cudnn_notes, runtime_text
    from ..core.weights import CATALOG, DEFAULT, catalog_path

    dev = torch.device(device)
    found = {"runtime": runtime_text(dev) if dev.type == "cpu" or torch.cuda.is_available() else "no GPU visible",
             "gpus": torch.cuda.device_count(), "python": sys.version.split()[0],
             "cudnn_notes": cudnn_notes(torch.backends.cudnn.version()) if dev.type == "cuda" else []}
    try:
        found["weights"] = f"{DEFAULT} at {catalog_path(CATALOG[DEFAULT])}"
    except Exception as exc:  # noqa: BLE001  reported, not fatal: other steps say what it costs
        found["weights"] = f"MISSING ({exc})"
    try:
        import rclpy
        found["rclpy"] = f"at {Path(rclpy.__file__).parent}"
    except ImportError as exc:
        found["rclpy"] = f"MISSING ({exc})"
    return found


def probe_gpu(device: str, tiny: bool) -> dict:
    """Graph against eager in a worker thread, padding, inf/NaN per precision, a forced out-of-memory."""
    import dataclasses

    import numpy as np

    from ..core.datasets.middlebury import MiddleburyMotorcycle
    from ..core.estimator import load_estimator
    from ..core.fast.cuda_graph import error_chain

    sizes = sizes_for(tiny, device)
    model = sizes.model
    pairs = kitti_sized_pairs(2, sizes.image)
    fast, _ = load_estimator(sizes.weights, device=device, fast=True, **model)
    eager, _ = load_estimator(sizes.weights, device=device, fast=dataclasses.replace(fast.fast, cuda_graph=False),
                              **model)
    outputs: list = []
    worker = threading.Thread(target=lambda: outputs.extend(fast.predict(*pairs[i % 2]) for i in range(4)))
    worker.start()
    worker.join()
    expected = [eager.predict(*pair) for pair in pairs]
    diffs = [np.abs(out - expected[i % 2]) for i, out in enumerate(outputs)]
    found = {"alternation": {"max_diff_px": float(max(d.max() for d in diffs)),
                             "mean_diff_px": float(max(d.mean() for d in diffs)),
                             "pair_difference_px": float(np.abs(expected[0] - expected[1]).mean())}}
    runner = fast.graphs
    if runner is not None:
        fast.predict_batch([pairs[0], pairs[1]] * 2)
        recorded = len(runner.recorded_shapes)
        fast.predict_batch(pairs)
        found["graphs"] = {"recorded": [str(k[0][0]) for k in runner.recorded_shapes], "replays": runner.replays,
                           "fallback": runner.fallback_reason, "padding_recorded": len(runner.recorded_shapes) > recorded}
    frames = pairs[:1] if tiny else pairs + [(lambda m: (m["left"], m["right"]))(MiddleburyMotorcycle().load(0))]
    found["nonfinite"] = {}
    for precision in (("fp16", "bf16") if device.startswith("cuda") else ("bf16",)):
        est, _ = load_estimator(sizes.weights, device=device, precision=precision, **model)
        results = [est.predict(*frame) for frame in frames]
        found["nonfinite"][precision] = {"nonfinite": int(sum((~np.isfinite(r)).sum() for r in results)),
                                         "pixels": int(sum(r.size for r in results))}
        del est
    if device.startswith("cuda"):
        del eager
        runner.release()
        found["oom"] = forced_out_of_memory(fast, pairs[0], error_chain)
    return found


def forced_out_of_memory(estimator, pair, error_chain) -> dict:
    """Limit the process to 1.3 times what one pair holds, send four pairs through the node's retry, report."""
    import torch

    import gc

    device = estimator.device
    gc.collect()
    torch.cuda.empty_cache()
    estimator.predict(*pair)  # records the one-pair graph: what a single pair holds
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    limit = min(1.0, 1.3 * torch.cuda.memory_reserved(device) / torch.cuda.get_device_properties(device).total_memory)
    retries, failures = [], []
    torch.cuda.set_per_process_memory_fraction(limit, device)
    try:
        results = estimator.predict_batch_with_fallback(
            [pair] * 4, on_failure=lambda i, e: failures.append(error_chain(e)),
            on_retry=lambda e: retries.append(f"{type(e).__name__}: {error_chain(e)}"))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
    return {"memory_fraction": round(limit, 4), "batch_error": retries[0] if retries else None,
            "failures": failures, "recovered": bool(retries) and all(r is not None for r in results)}


_TRAIN_CHILD = """
import runpy, sys
import torch
sys.argv = ["psmnet-train", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("psmnet_ros.cli.train", run_name="__main__")
except SystemExit as exit:
    code = exit.code
cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
print("PEAK_MIB", round(torch.cuda.max_memory_allocated() / 2**20) if cuda else "none", flush=True)
sys.exit(code)
"""
"""psmnet-train run as a program (``python -m psmnet_ros.cli.train``), then its CUDA peak memory printed."""


def train_run(seconds: float, argv: list[str]) -> dict:
    """psmnet-train with ``argv`` in a child process, interrupted (SIGINT, as Ctrl-C) after ``seconds`` (0: never)
    once an epoch has been saved; its exit status, its CUDA peak memory, and what last.tar records. A child
    process as a user runs it: tools sit below the commands and do not import them."""
    from ..core.checkpoint import load_checkpoint

    out_dir = Path(argv[argv.index("--out-dir") + 1]) if "--out-dir" in argv else Path(
        argv[argv.index("--resume") + 1]).parent
    train = subprocess.Popen([sys.executable, "-c", _TRAIN_CHILD, *argv], cwd=REPO, env=child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(train.stdout), daemon=True)
    reader.start()
    if seconds:
        try:
            train.wait(seconds)
        except subprocess.TimeoutExpired:
            while not (out_dir / "last.tar").is_file() and train.poll() is None:
                time.sleep(0.2)
            if train.poll() is None:
                train.send_signal(signal.SIGINT)
    rc = train.wait()
    reader.join(10)
    text = "".join(output)
    print(text, end="", flush=True)
    extra = load_checkpoint(out_dir / "last.tar").extra if (out_dir / "last.tar").is_file() else {}
    steps, train_s = int(extra.get("steps", 0)), float(extra.get("train_seconds", 0.0))
    peak = re.findall(r"^PEAK_MIB (\d+)$", text, re.MULTILINE)
    return {"rc": rc, "epoch": int(extra.get("epoch", 0)), "steps": steps, "train_seconds": round(train_s, 1),
            "iterations_per_s": round(steps / train_s, 2) if train_s else None,
            "peak_mib": int(peak[-1]) if peak else None}


# ------------------------------------------------------------------------------------------------ entry
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m psmnet_ros.tools.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_check.log, summary.md and summary.json")
    parser.add_argument("--device", default="cuda", help="cuda[:N] or cpu (default cuda)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and random weights (the CPU smoke test)")
    parser.add_argument("--budget", type=float, default=470.0, help="seconds for all steps (default 470)")
    parser.add_argument("--train-seconds", type=float, default=120.0, help="AMP training time (default 120)")
    parser.add_argument("--reference-dir", default=os.environ.get("PSMNET_REFERENCE_DIR"),
                        help="cases.pt + reference checkpoint (default $PSMNET_REFERENCE_DIR)")
    parser.add_argument("--steps", nargs="+", choices=[s[0] for s in STEPS], help="run only these steps")
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["probe"]:
        what, rest = argv[1], argv[2:]
        device = rest[rest.index("--device") + 1]
        found = probe_env(device) if what == "env" else probe_gpu(device, "--tiny" in rest)
        print(RESULT + json.dumps(found, default=str), flush=True)
        return 0
    if argv[:1] == ["train-run"]:
        split = argv.index("--")
        print(RESULT + json.dumps(train_run(float(argv[argv.index("--seconds") + 1]), argv[split + 1:])), flush=True)
        return 0
    args = build_parser().parse_args(argv)
    check = Check(args)
    for name, fn, min_seconds in STEPS:
        if args.steps is None or name in args.steps:
            check.step(name, lambda fn=fn: fn(check), min_seconds)
    failed = [r.name for r in check.results if r.status != "pass"]
    print(f"GPU check: {len(check.results) - len(failed)} of {len(check.results)} steps passed"
          f"{'; not passed: ' + ', '.join(failed) if failed else ''}; summary in {check.out / 'summary.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
