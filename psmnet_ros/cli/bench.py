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
import select
import statistics
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from ..core.device import parse_device
from ..core.errors import InputError, one_line_errors
from ..core.estimator import load_estimator
from ..core.benchmarking.rows import (BENCH_ROWS, BENCH_ROWS_BY_NAME, CPU_BENCH_ROWS, Measurement, build_estimator,
                                   format_table, graph_report, middlebury_errors, reference_differences,
                                   reference_model, release, time_batches)
from ..core.fast.versions import cudnn_notes, runtime_text
from ..core.preprocess import MIN_SIZE
from ..core.psmnet import VARIANTS, check_maxdisp
from ..core.weights import DEFAULT, RANDOM

PROG = "psmnet-bench"
KITTI_SIZE = (1242, 375)
"""Width and height (pixels) of the node-overhead measurement."""


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


def _timing_pair(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    from ..core.datasets.middlebury import MiddleburyMotorcycle

    frame = MiddleburyMotorcycle().load(0)
    return tuple(cv2.resize(frame[side], (width, height), interpolation=cv2.INTER_AREA) for side in ("left", "right"))


def model_rows(args: argparse.Namespace, device: torch.device, model: torch.nn.Module) -> list[Measurement]:
    """Time every requested row of ``model`` at every batch size; add the accuracy columns that apply."""
    names = args.variants or (tuple(BENCH_ROWS_BY_NAME) if device.type == "cuda" else CPU_BENCH_ROWS)
    pair = _timing_pair(args.width, args.height)
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


_LISTENER = """
import json, sys, threading
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from psmnet_ros.ros.outputs import OUTPUTS
context = Context()
rclpy.init(context=context)
node = Node("psmnet_bench_listener", context=context)
received = {}

def count(name):
    received[name] += 1
    if received[name] == 1 and min(received.values()) == 1:
        print("complete", flush=True)

for output in OUTPUTS:
    received[output.topic] = 0
    node.create_subscription(output.msg_type, "bench_subscribed/" + output.topic,
                             lambda msg, n=output.topic: count(n), 1)
executor = SingleThreadedExecutor(context=context)
executor.add_node(node)
spinner = threading.Thread(target=executor.spin)
spinner.start()
sys.stdin.read()
executor.shutdown()
spinner.join()
node.destroy_node()
context.try_shutdown()
print(json.dumps(received), flush=True)
"""
"""A subscriber process on the node's output topics (:data:`~psmnet_ros.ros.outputs.OUTPUTS`): prints
"complete" once each has delivered a message, and its message counts (JSON) when stdin closes."""


def node_overhead(repeats: int) -> list[tuple[str, float]]:
    """Median milliseconds of each per-frame CPU step of the node at KITTI size, rclpy publishing included.

    The steps are the node's own calls: :func:`~psmnet_ros.ros.conversions.image_to_rgb` on rgb8 Image
    messages of the Motorcycle pair resized to KITTI size, and :func:`~psmnet_ros.ros.outputs.frame_messages`
    (stereo products, then every output's message) on a synthetic disparity and confidence ramp with a
    KITTI-like camera;
    stereo_products alone is timed too, as a part of it. Publishing is timed twice: on topics nobody
    subscribes to, and on topics a subscriber in another process receives (ROS domain and discovery
    range from the environment).
    """
    import subprocess

    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from std_msgs.msg import Header

    from ..core.calibration import StereoCalibration
    from ..core.stereo_products import stereo_products
    from ..ros.conversions import image_to_rgb, rgb_image_msg
    from ..ros.outputs import OUTPUTS, frame_messages

    width, height = KITTI_SIZE
    maxdisp = 192
    camera = StereoCalibration.from_pinhole(721.5377, 0.5327, (width - 1) / 2, (height - 1) / 2, (width, height))
    left, right = _timing_pair(width, height)
    disparity = np.broadcast_to(np.linspace(2.0, 120.0, height, dtype=np.float32)[:, None], (height, width)).copy()
    confidence = np.broadcast_to(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, width)).copy()
    count = len(OUTPUTS)
    header = Header(frame_id="camera")
    images = [rgb_image_msg(left, header), rgb_image_msg(right, header)]
    steps: dict[str, list[float]] = {}

    def timed(step, fn, *fn_args):
        start = time.perf_counter()
        result = fn(*fn_args)
        steps.setdefault(step, []).append((time.perf_counter() - start) * 1000.0)
        return result

    listener = subprocess.Popen([sys.executable, "-c", _LISTENER], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    context = Context()
    rclpy.init(context=context)
    node = Node("psmnet_bench", context=context)
    try:
        quiet = {o.topic: node.create_publisher(o.msg_type, f"bench_unsubscribed/{o.topic}", 1) for o in OUTPUTS}
        heard = {o.topic: node.create_publisher(o.msg_type, f"bench_subscribed/{o.topic}", 1) for o in OUTPUTS}
        deadline = time.monotonic() + 30.0
        while any(p.get_subscription_count() < 1 for p in heard.values()):
            if time.monotonic() > deadline or listener.poll() is not None:
                raise InputError("node overhead: the subscriber process was not discovered within 30 s")
            time.sleep(0.05)
        for _ in range(repeats):
            start = time.perf_counter()
            rgb = timed("Image -> RGB array (left + right)", lambda: [image_to_rgb(m) for m in images])[0]
            messages, _ = timed(f"frame messages (products + {count} messages)", frame_messages, disparity, rgb,
                                camera, header, float(maxdisp - 1), set(heard), 0.0, 0.0, confidence)
            timed(f"publish {count} messages, subscribed",
                  lambda: [heard[n].publish(m) for n, m in messages.items()])
            steps.setdefault("total, subscribed", []).append((time.perf_counter() - start) * 1000.0)
            timed(f"publish {count} messages, no subscriber",
                  lambda: [quiet[n].publish(m) for n, m in messages.items()])
            timed("  of which stereo products (depth, points)", stereo_products, disparity, camera)
        delivered = _wait_for_line(listener, "complete", timeout_s=30.0, keep_publishing=lambda: [
            heard[n].publish(m) for n, m in messages.items()])
    finally:
        node.destroy_node()
        context.try_shutdown()
        try:
            counts, _ = listener.communicate("", timeout=30)
        except subprocess.TimeoutExpired:
            listener.kill()
            counts, _ = listener.communicate()
    if not delivered:
        raise InputError(f"node overhead: the subscriber process did not receive every topic within 30 s "
                         f"(counts {counts.strip() or 'unknown'})")
    return [(step, statistics.median(values)) for step, values in steps.items()]


def _wait_for_line(process, line: str, timeout_s: float, keep_publishing) -> bool:
    """Whether ``process`` prints ``line`` within the timeout; ``keep_publishing()`` runs every second meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            text = process.stdout.readline()
            if text.strip() == line:
                return True
            if not text:
                return False
        else:
            keep_publishing()
    return False


def format_overhead(medians: list[tuple[str, float]]) -> str:
    lines = [f"| node step, {KITTI_SIZE[0]}x{KITTI_SIZE[1]} | median ms |", "|---|---|"]
    return "\n".join(lines + [f"| {step} | {ms:.2f} |" for step, ms in medians])


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
