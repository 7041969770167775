"""psmnet-demo: the main job on a real stereo pair, the Middlebury 2014 Motorcycle pair.

1. Offline inference with its real calibration (different principal points in the two
   cameras): disparity, depth and a coloured point cloud in ``OUT_DIR/offline``; dense EPE
   and bad-2 against the pair's ground truth beside OpenCV SGBM's, and a picture of it all
   in ``OUT_DIR/figures/motorcycle.jpg``.
2. The ROS pipeline: a short stereo bag of the pair (``OUT_DIR/bag``) is played with
   psmnet-play into psmnet_node, and what the node publishes is recorded into
   ``OUT_DIR/ros``, followed by a summary (frames in/out, dropped, latency).

Both use the official PSMNet KITTI 2015 weights (``kitti2015``) unless --checkpoint names
other weights or a file (``random``: untrained weights).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from ..core.calibration import StereoCalibration
from ..core.datasets.base import write_rgb
from ..core.datasets.middlebury import MiddleburyMotorcycle
from ..core.errors import InputError, one_line_errors
from ..core.metrics import coverage_counts
from ..core.sgbm import sgbm_disparity
from ..core.stereo_products import corrected_disparity, uncorrected_disparity
from ..tools.figures import OFFLINE_STEM, write_figure
from ..core.weights import parse_weights
from .common import add_estimator_arguments, estimator_from_args
from .eval import COMPARISON_COLUMNS, SGBM_DISPARITIES, comparison_row, format_comparison, write_csv
from .infer import infer_pair

PROG = "psmnet-demo"
DEMO_FRAME_QUEUE = 16
"""Most pairs the demo's node keeps waiting for the network (two 741x500 RGB images each)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", default="results", help="result folder (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=3, help="frames in the demo bag (default: %(default)s)")
    parser.add_argument("--interval", type=float,
                        help="seconds between frames when playing the bag (default: 1.5 x the offline "
                             "inference time, so that the node keeps up)")
    parser.add_argument("--offline-only", action="store_true", help="skip the ROS pipeline")
    add_estimator_arguments(parser)
    return parser


def run_offline(args: argparse.Namespace, sample: dict, calibration: StereoCalibration) -> str:
    """Write the pair to PNG files (the figure's input) and what psmnet-infer writes for it with
    ``calibration``; returns the output folder."""
    inputs = os.path.join(args.out_dir, "input")
    out = os.path.join(args.out_dir, "offline")
    os.makedirs(inputs, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    for side in ("left", "right"):
        write_rgb(os.path.join(inputs, f"motorcycle_{side}.png"), sample[side])
    estimator = estimator_from_args(args)
    print(infer_pair(estimator, sample["left"], sample["right"], out, Path(OFFLINE_STEM).name, calibration))
    return out


def compare_with_sgbm(out_dir: str, sample: dict, calibration: StereoCalibration) -> str:
    """Score the offline disparity and OpenCV SGBM's against the pair's ground truth; writes SGBM's disparity
    (``..._sgbm_disp.npy``, NaN = no value; corrected for the principal points like psmnet-infer's) beside it
    and ``comparison.csv``; returns the table."""
    stem = os.path.join(out_dir, OFFLINE_STEM)
    disparity = uncorrected_disparity(np.load(f"{stem}_disp.npy"), calibration)  # ground truth is x_left - x_right
    start = time.perf_counter()
    sgbm = sgbm_disparity(sample["left"], sample["right"], num_disparities=SGBM_DISPARITIES["middlebury"])
    sgbm_s = time.perf_counter() - start
    np.save(f"{stem}_sgbm_disp.npy", corrected_disparity(sgbm, calibration))
    rows = [comparison_row("PSMNet", coverage_counts(disparity, sample["disparity"]), 1, float("nan")),
            comparison_row("SGBM", coverage_counts(sgbm, sample["disparity"]), 1, sgbm_s)]
    write_csv(Path(stem).parent / "comparison.csv", COMPARISON_COLUMNS, rows)
    return (f"against the pair's ground truth ({rows[0]['valid_px']} pixels), beside OpenCV SGBM:\n"
            + format_comparison(rows))


def node_parameters(args: argparse.Namespace) -> dict[str, object]:
    """The node's parameters for the demo's options: only those given (the params file has the rest)."""
    # The player publishes reliably; a reliable subscription also avoids losing megabyte-sized
    # images over UDP, where Fast DDS runs without shared memory (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
    # Reliable delivery repairs a lost UDP fragment a second or more later, so a delayed image can
    # arrive together with the next frame's; the demo keeps such bursts instead of dropping the older
    # frame as a live node would. The interval lets the node keep up, so the queue stays short.
    params = {"device": args.device, "precision": args.precision, "input_scale": args.input_scale,
              "qos": "reliable", "frame_queue_size": min(args.frames, DEMO_FRAME_QUEUE)}
    params.update({k: v for k, v in (("weights", args.checkpoint), ("variant", args.variant),
                                     ("maxdisp", args.maxdisp), ("align_corners", args.align_corners))
                   if v not in (None, "")})   # "" = the default weights: the params file's empty weights
    return params


def run_ros(args: argparse.Namespace, sample: dict, calibration: StereoCalibration, interval_s: float) -> str:
    """Write the demo bag, play it through psmnet_node, record the outputs; returns the summary."""
    from ..ros.demo_pipeline import LEFT_NS, RIGHT_NS, run_pipeline, summary
    from ..tools.bag_writer import write_stereo_bag

    bag = Path(args.out_dir) / "bag"
    shutil.rmtree(bag, ignore_errors=True)
    start_ns, period_ns = 1_700_000_000 * 10**9, 100_000_000  # 10 Hz from a fixed instant
    frames = [(start_ns + i * period_ns, sample["left"], sample["right"]) for i in range(args.frames)]
    write_stereo_bag(bag, frames, calibration, left_topic_ns=LEFT_NS, right_topic_ns=RIGHT_NS,
                     left_frame="camera_left", right_frame="camera_right", progress=False)
    result = run_pipeline(bag, Path(args.out_dir) / "ros", node_parameters(args), rate=0.1 / interval_s,
                          frame_timeout_s=max(30.0, 4 * interval_s))
    return summary(result)


@one_line_errors(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 1:
        raise InputError(f"--frames must be at least 1, got {args.frames}")
    parse_weights(args.checkpoint, args.variant, args.maxdisp, args.align_corners)
    dataset = MiddleburyMotorcycle()
    sample, calibration = dataset[0], dataset.calibration
    started = time.monotonic()
    out = run_offline(args, sample, calibration)
    offline_s = time.monotonic() - started
    print(f"offline results (disparity, depth, point cloud .ply): {os.path.abspath(out)}")
    print(compare_with_sgbm(args.out_dir, sample, calibration))
    print(f"picture: {os.path.abspath(write_figure(args.out_dir))}", flush=True)
    if not args.offline_only:
        interval = args.interval if args.interval else max(0.1, 1.5 * offline_s)
        print(f"playing {args.frames} frames {interval:.1f} s apart into psmnet_node ...", flush=True)
        print(run_ros(args, sample, calibration, interval))
    return 0


if __name__ == "__main__":
    sys.exit(main())
