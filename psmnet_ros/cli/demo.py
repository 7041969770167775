"""psmnet-demo: the main job on a real stereo pair, the Middlebury 2014 Motorcycle pair.

Offline inference with its real calibration: disparity, depth and a coloured point cloud
are written to ``OUT_DIR/offline``.
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2

from ..core.datasets.middlebury import MiddleburyMotorcycle
from . import infer
from .common import add_estimator_arguments, one_line_errors

PROG = "psmnet-demo"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", default="results", help="result folder (default: %(default)s)")
    add_estimator_arguments(parser)
    return parser


def estimator_argv(args: argparse.Namespace) -> list[str]:
    """The estimator options of ``args`` as command-line words for the other tools."""
    argv = ["--device", args.device, "--precision", args.precision, "--input-scale", str(args.input_scale)]
    for option, value in (("--checkpoint", args.checkpoint), ("--variant", args.variant),
                          ("--maxdisp", args.maxdisp)):
        if value is not None:
            argv += [option, str(value)]
    if args.align_corners is not None:
        argv.append("--align-corners" if args.align_corners else "--no-align-corners")
    return argv


def run_offline(args: argparse.Namespace) -> str:
    """Write the pair to PNG files and run psmnet-infer on them; returns the output folder."""
    dataset = MiddleburyMotorcycle()
    sample, calib = dataset[0], dataset.calibration
    inputs = os.path.join(args.out_dir, "input")
    out = os.path.join(args.out_dir, "offline")
    os.makedirs(inputs, exist_ok=True)
    paths = []
    for side in ("left", "right"):
        path = os.path.join(inputs, f"motorcycle_{side}.png")
        cv2.imwrite(path, sample[side][..., ::-1])
        paths.append(path)
    argv = [*paths, "--out-dir", out, "--focal", str(calib.fx), "--baseline", str(calib.baseline_m),
            "--doffs", str(calib.doffs), "--cx", str(calib.cx_left), "--cy", str(calib.cy),
            *estimator_argv(args)]
    if infer.main(argv) != 0:
        raise SystemExit(2)
    return out


@one_line_errors(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = run_offline(args)
    print(f"offline results (disparity, depth, point cloud .ply): {os.path.abspath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
