"""psmnet-bench: time the reference PSMNet formulation and every fast variant in one process.

Prints the versions (PyTorch, CUDA, cuDNN, GPU) and one Markdown table: per variant and
batch size, milliseconds per batch and per frame, speed-up over the reference row of the
same batch size, peak device memory, the difference from the official strict-fp32
disparities of ``--reference-dir`` and, with trained weights (by default the official KITTI
2015 ones), EPE and bad-1 on the Middlebury Motorcycle pair, so that every variant and
precision is judged against ground truth, and what the CUDA-graph rows recorded. Every row
runs with the same ``--cudnn-benchmark`` setting. Timing inputs: that pair resized to
``--height`` x ``--width``. ``--node-overhead`` adds a second table:
the node's per-frame CPU work around the network at KITTI size, with real rclpy publishing.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

from ..core.benchmarking.rows import (BENCH_ROWS, BENCH_ROWS_BY_NAME, CPU_BENCH_ROWS, Measurement, build_estimator,
                                   format_table, graph_report, middlebury_errors, reference_differences,
                                   reference_model, release, time_batches)
from ..core.device import parse_device
from ..core.errors import InputError, one_line_errors
from ..core.estimator import load_estimator
from ..core.fast.versions import cudnn_notes, runtime_text
from ..core.preprocess import MIN_SIZE
from ..core.psmnet import VARIANTS, check_maxdisp
from ..core.weights import DEFAULT, RANDOM
from ..tools.node_overhead import KITTI_SIZE, format_overhead, motorcycle_pair, node_overhead

PROG = "psmnet-bench"


def build_parser() -> argparse.ArgumentParser:
    legend = "\n".join(f"  {r.name:15s} {r.description}{' (CUDA only)' if r.cuda_only else ''}" for r in BENCH_ROWS)
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"variants:\n{legend}")
    parser.add_argument("--device", default="cuda", help="cuda[:N] or cpu (default cuda)")
    parser.add_argument("--height", type=int, default=384, help="image height in pixels (default 384)")
    parser.add_argument("--width", type=int, default=1248, help="image width in pixels (default 1248)")
    parser.add_argument("--maxdisp", type=int, help="disparity range in pixels (default: the weights', else 192)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="batch sizes (default 1 4)")
    parser.add_argument("--variant", choices=VARIANTS, help="PSMNet variant (default: the weights')")
    parser.add_argument("--checkpoint", default="", metavar="NAME|PATH",
                        help=f"weights, a name or a checkpoint file (default {DEFAULT}): trained weights add EPE / "
                             f"bad-1 on the Middlebury Motorcycle pair; '{RANDOM}': untrained, timing only")
    parser.add_argument("--reference-dir", type=Path, help="directory with cases.pt and the reference checkpoints: "
                                                           "adds the difference from strict fp32")
    parser.add_argument("--reference-cases", type=int, help="use only the first N reference cases (default all)")
    parser.add_argument("--variants", nargs="+", choices=tuple(BENCH_ROWS_BY_NAME), metavar="NAME",
                        help="rows to run, from the list below (default: all on CUDA; the fp32 ones on the CPU)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per row, median reported (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing (default 3)")
    parser.add_argument("--cudnn-benchmark", choices=("on", "off"), default="on",
                        help="torch.backends.cudnn.benchmark for every row (default on, as the node runs)")
    parser.add_argument("--node-overhead", action="store_true",
                        help=f"also measure the node's per-frame CPU overhead at {KITTI_SIZE[0]}x{KITTI_SIZE[1]}")
    return parser


def _check_args(args: argparse.Namespace) -> torch.device:
    if min(args.height, args.width) < MIN_SIZE:
        raise InputError(f"--height and --width must be at least {MIN_SIZE} px, got {args.height}x{args.width}")
    if args.maxdisp is not None:
        try:
            check_maxdisp(args.variant, args.maxdisp)
        except InputError as exc:
            raise InputError(f"--{exc}") from None
    if min(args.batch) < 1 or args.repeats < 1 or args.warmup < 0:
        raise InputError("--batch and --repeats must be at least 1 and --warmup at least 0")
    if args.reference_cases is not None and args.reference_cases < 1:
        raise InputError(f"--reference-cases must be at least 1, got {args.reference_cases}")
    if args.reference_dir is not None and not (args.reference_dir / "cases.pt").is_file():
        raise InputError(f"--reference-dir {args.reference_dir} holds no cases.pt")
    try:
        device = parse_device(args.device)
    except InputError:
        raise InputError(f"--device {args.device!r} is not a device; use cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {args.device} requested but torch.cuda.is_available() is False; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(f"--device {args.device!r} does not exist: {torch.cuda.device_count()} GPU(s) visible")
    cuda_only = [name for name in args.variants or () if BENCH_ROWS_BY_NAME[name].cuda_only]
    if device.type == "cpu" and cuda_only:
        raise InputError(f"variants {', '.join(cuda_only)} need a CUDA device")
    return device


def _timing_model(args: argparse.Namespace) -> tuple[torch.nn.Module, str]:
    """The plain model of the requested weights (CPU) and their label."""
    estimator, notices = load_estimator(args.checkpoint, variant=args.variant, maxdisp=args.maxdisp, fast=False)
    if args.checkpoint == RANDOM:
        print(f"{PROG}: random weights: timing only (no EPE / bad-1)", file=sys.stderr)
    return estimator.model, estimator.weights


def model_rows(args: argparse.Namespace, device: torch.device, model: torch.nn.Module) -> list[Measurement]:
    """Time every requested row of ``model`` at every batch size; add the accuracy columns that apply."""
    names = args.variants or (tuple(BENCH_ROWS_BY_NAME) if device.type == "cuda" else CPU_BENCH_ROWS)
    pair = motorcycle_pair(args.width, args.height)
    cases, reference = None, None
    if args.reference_dir is not None:
        cases = torch.load(args.reference_dir / "cases.pt", weights_only=True)
        reference = reference_model(args.reference_dir, cases, model.variant)
        cases = cases[model.variant][:args.reference_cases]
    measured, baseline = [], {}
    for name in names:
        row = BENCH_ROWS_BY_NAME[name]
        diffs = epe = (None, None)
        if cases:
            print(f"{PROG}: {name}: difference from strict fp32 on {len(cases)} reference case(s)", file=sys.stderr)
            diffs = reference_differences(build_estimator(row, reference, device), cases)
            release(device)
        with warnings.catch_warnings(record=True) as notices:
            warnings.simplefilter("always")
            estimator = build_estimator(row, model, device)
        for notice in notices:
            print(f"{PROG}: {name}: {notice.message}", file=sys.stderr)
        label = row_label(name, row.precision, estimator.precision)
        if args.checkpoint != RANDOM:
            epe = middlebury_errors(estimator)
        for batch in args.batch:
            print(f"{PROG}: {name}: timing batch {batch}", file=sys.stderr, flush=True)
            timing = time_batches(estimator, [pair] * batch, args.warmup, args.repeats)
            per_frame = timing.ms_per_batch / batch
            if name == "reference":
                baseline[batch] = per_frame
            measured.append(Measurement(label, batch, timing.ms_per_batch,
                                        baseline[batch] / per_frame if batch in baseline else None,
                                        timing.peak_bytes, *diffs, *epe, graph_report(estimator)))
        del estimator
        release(device)
    return measured


def row_label(name: str, requested: str, ran: str) -> str:
    """A row's name in the table; where it ran in another precision than its own (bf16 on a CPU without native
    bfloat16 kernels runs in fp32), the name says so: ``bf16 (ran fp32)``."""
    return name if ran == requested else f"{name} (ran {ran})"


@one_line_errors(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    device = _check_args(args)
    model, weights = _timing_model(args)
    print(f"PSMNet {model.variant}, {args.width}x{args.height}, maxdisp {model.maxdisp}, weights {weights}, on "
          f"{runtime_text(device)}; cudnn.benchmark {args.cudnn_benchmark}; median of {args.repeats} after "
          f"{args.warmup} warm-up")
    for note in cudnn_notes(torch.backends.cudnn.version()) if device.type == "cuda" else ():
        print(f"warning: {note}")
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = args.cudnn_benchmark == "on"
    try:
        print(format_table(model_rows(args, device, model)))
    finally:
        torch.backends.cudnn.benchmark = saved
    if args.node_overhead:
        print()
        print(format_overhead(node_overhead(args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
