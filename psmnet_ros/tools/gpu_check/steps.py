"""The check's steps, in order of priority: each returns (summary, details) or raises StepFailed."""
from __future__ import annotations

import re
import sys

from .check import Check, StepFailed
from .common import REPO, TARGETS, TOLERANCE, parse_result
from .node_run import run_node


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
