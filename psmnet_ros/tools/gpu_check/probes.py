"""The check's probes, each run in a child process of its own (``python -m psmnet_ros.tools.gpu_check probe ...``
or ``train-run``): versions, the GPU paths of the estimator, CUDA training."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .common import REPO, child_env, sizes_for
from .node_run import kitti_sized_pairs


def probe_env(device: str) -> dict:
    import torch

    from ...core.fast.versions import cudnn_notes, runtime_text
    from ...core.weights import CATALOG, DEFAULT, catalog_path

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

    from ...core.datasets.middlebury import MiddleburyMotorcycle
    from ...core.estimator import load_estimator
    from ...core.fast.cuda_graph import error_chain

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
    from ...core.checkpoint import load_checkpoint

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
