"""What ``psmnet-bench`` measures: its rows (ways of running inference), their timing, memory and accuracy.

Every row is a :class:`~psmnet_ros.core.estimator.StereoEstimator` over the same plain
model, timed end to end through ``predict_batch`` (numpy in, numpy out: host copies included).
Every row runs with the process's ``torch.backends.cudnn.benchmark`` (the fast ones with
``FastConfig.cudnn_benchmark`` None), so all rows of a run share one setting.
"""
from __future__ import annotations

import copy
import dataclasses
import gc
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..estimator import StereoEstimator
from ..evaluation import evaluate
from ..fast.model import FastConfig
from ..model_loading import model_from_checkpoint
from .official_style import official_style_copy


@dataclass(frozen=True)
class BenchRow:
    """One row family of the benchmark (a ``--variants`` name of psmnet-bench, one line per batch size):
    a precision and a fast-path configuration (None: plain path)."""

    name: str
    description: str
    precision: str = "fp32"
    fast: FastConfig | None = None
    official_style: bool = False
    cuda_only: bool = False


BENCH_ROWS = (
    BenchRow("reference", "plain model, eager, strict fp32: the official formulation"),
    BenchRow("official-style", "reference with the official per-frame zeroed host cost volume and per-shift loop",
            official_style=True),
    BenchRow("fold-bn", "BatchNorm folded, one feature pass for both images",
            fast=FastConfig(fused_last_stage=False)),
    BenchRow("fused", "fold-bn + fused last stage (no full probability volume)", fast=FastConfig()),
    BenchRow("bf16", "reference with bfloat16 autocast (the last stage in fp32)", "bf16"),
    BenchRow("tf32-cl", "fused + TF32 convolutions + channels_last(_3d)", "tf32",
            FastConfig(channels_last=True), cuda_only=True),
    BenchRow("bf16-cl", "fused + bf16 convolutions + channels_last(_3d)", "bf16",
            FastConfig(channels_last=True), cuda_only=True),
    BenchRow("fp16-cl", "fused + fp16 convolutions + channels_last(_3d)", "fp16",
            FastConfig(channels_last=True), cuda_only=True),
    BenchRow("fp16-cl-graph", "fp16-cl + CUDA graphs", "fp16",
            FastConfig(channels_last=True, cuda_graph=True), cuda_only=True),
    BenchRow("node-default", "what the node runs by default: strict fp32, fused + channels_last(_3d) + CUDA graphs",
            fast=dataclasses.replace(FastConfig.for_device(torch.device("cuda")), cudnn_benchmark=None),
            cuda_only=True),
)
BENCH_ROWS_BY_NAME = {row.name: row for row in BENCH_ROWS}
CPU_BENCH_ROWS = tuple(row.name for row in BENCH_ROWS if not row.cuda_only)


def build_estimator(row: BenchRow, model: nn.Module, device: torch.device) -> StereoEstimator:
    """An estimator running ``row`` with a copy of the plain ``model``'s weights."""
    plain = official_style_copy(model) if row.official_style else copy.deepcopy(model)
    return StereoEstimator(plain, device, row.precision, fast=row.fast or False)


def reference_model(reference_dir: Path, cases: dict, variant: str) -> nn.Module:
    """The plain model with the reference checkpoint of ``variant`` (CPU)."""
    meta = cases["meta"]
    model, _ = model_from_checkpoint(Path(reference_dir) / meta["checkpoints"][variant], variant=variant,
                                     maxdisp=meta["maxdisp"], align_corners=meta["align_corners"])
    return model.eval()


@dataclass
class Timing:
    """Median milliseconds per ``predict_batch`` call and peak device memory (bytes; None on the CPU)."""

    ms_per_batch: float
    peak_bytes: int | None


def _now(device: torch.device):
    if device.type == "cuda":
        with torch.cuda.device(device):  # an event belongs to the device current when it is made
            event = torch.cuda.Event(enable_timing=True)
            event.record(torch.cuda.current_stream(device))
        return event
    return time.perf_counter()


def _elapsed_ms(start, end, device: torch.device) -> float:
    if device.type == "cuda":
        end.synchronize()
        return start.elapsed_time(end)
    return (end - start) * 1000.0


def time_batches(estimator: StereoEstimator, pairs: list, warmup: int, repeats: int) -> Timing:
    """Warm up, then the median over ``repeats`` timed calls (CUDA events on a GPU, perf_counter on the CPU).

    Peak memory on CUDA: the larger of the peak allocated during the timed calls and the memory
    reserved afterwards once the cache is emptied (which holds what CUDA graphs keep), so
    cudnn.benchmark's trial workspaces during warm-up do not count.
    """
    device = estimator.device
    for _ in range(warmup):
        estimator.predict_batch(pairs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = _now(device)
        estimator.predict_batch(pairs)
        times.append(_elapsed_ms(start, _now(device), device))
    peak = None
    if device.type == "cuda":
        torch.cuda.empty_cache()
        peak = max(torch.cuda.max_memory_allocated(device), torch.cuda.memory_reserved(device))
    return Timing(statistics.median(times), peak)


def reference_differences(estimator: StereoEstimator, cases: list[dict]) -> tuple[float, float]:
    """Mean and max |disparity - official strict-fp32 disparity| (pixels) over the pixels of ``cases``."""
    diffs = [np.abs(estimator.predict(c["left"].numpy(), c["right"].numpy()) - c["disparity"].numpy()).ravel()
             for c in cases]
    every = np.concatenate(diffs)
    return float(every.mean(dtype=np.float64)), float(every.max())


def middlebury_errors(estimator: StereoEstimator) -> tuple[float, float]:
    """EPE (pixels) and bad-1 (fraction) on the Middlebury Motorcycle pair (unknown ground truth skipped)."""
    from ..datasets.middlebury import MiddleburyMotorcycle

    counts = evaluate({"estimator": estimator.predict}, MiddleburyMotorcycle())["estimator"].pooled
    return counts.epe, counts.bad1_rate


def release(device: torch.device) -> None:
    """Free what a finished row left behind, so the next one's memory is measured alone."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


@dataclass
class Measurement:
    """One line of the benchmark table (None: not measured); ``graphs``: what the CUDA-graph runner did
    (recordings, replays, fallback), for the rows that use one."""

    row: str
    batch: int
    ms_per_batch: float
    speedup: float | None = None
    peak_bytes: int | None = None
    mean_diff: float | None = None
    max_diff: float | None = None
    epe: float | None = None
    bad1: float | None = None
    graphs: str | None = None


def graph_report(estimator: StereoEstimator) -> str | None:
    """"recorded N, replayed M" or "FELL BACK TO EAGER: why" for an estimator that uses CUDA graphs, else None."""
    runner = estimator.graphs
    if runner is None:
        return None
    if runner.fell_back:
        return f"FELL BACK TO EAGER: {runner.fallback_reason}"
    return f"recorded {len(runner.recorded_shapes)}, replayed {runner.replays}"


COLUMNS = ("variant", "batch", "ms/batch", "ms/frame", "speed-up", "peak MiB", "mean diff px", "max diff px",
           "EPE px", "bad-1 %", "CUDA graphs")


def format_table(measurements: list[Measurement]) -> str:
    """A Markdown table with :data:`COLUMNS`; "n/a" where a value was not measured."""
    def num(value, fmt):
        return "n/a" if value is None else format(value, fmt)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in measurements:
        cells = [r.row, str(r.batch), num(r.ms_per_batch, ".1f"), num(r.ms_per_batch / r.batch, ".1f"),
                 num(r.speedup, ".2f"), num(None if r.peak_bytes is None else r.peak_bytes / 2**20, ".0f"),
                 num(r.mean_diff, ".4f"), num(r.max_diff, ".4f"), num(r.epe, ".3f"),
                 num(None if r.bad1 is None else 100 * r.bad1, ".2f"), r.graphs or "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
