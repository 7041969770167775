"""Shared command-line plumbing: estimator options, and errors as one readable line."""
from __future__ import annotations

import argparse
import functools
import sys

from ..core.errors import PSMNetError
from ..core.estimator import PRECISIONS, StereoEstimator
from ..core.psmnet import VARIANTS

RANDOM_WEIGHTS_WARNING = (
    "WARNING: no checkpoint given: the network has random weights and its output is meaningless. "
    "Get the official weights (pretrained_model_KITTI2015.tar, ...) from the PSMNet repository "
    "(github.com/JiaRenChang/PSMNet) and pass --checkpoint PATH.")


def add_estimator_arguments(parser: argparse.ArgumentParser, checkpoint_required: bool = False) -> None:
    """--checkpoint, --variant, --maxdisp, --align-corners, --device, --precision, --input-scale."""
    parser.add_argument("--checkpoint", required=checkpoint_required,
                        help="official .tar, bare state_dict or psmnet_ros checkpoint (default: random weights)")
    parser.add_argument("--variant", choices=VARIANTS, help="default: from the checkpoint, else stackhourglass")
    parser.add_argument("--maxdisp", type=int, help="disparity range in pixels (default: checkpoint's, else 192)")
    parser.add_argument("--align-corners", dest="align_corners", action=argparse.BooleanOptionalAction,
                        default=None, help="upsampling mode: True for the official KITTI/old SceneFlow weights, "
                                           "False for the 2021 SceneFlow release (default: checkpoint's, else True)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (cuda falls back to cpu without a GPU)")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="fp32")
    parser.add_argument("--input-scale", type=float, default=1.0,
                        help="run the network at this fraction of the resolution, in (0, 1]")


def estimator_from_args(args: argparse.Namespace) -> StereoEstimator:
    """Build the estimator the parsed options describe; random weights with one loud warning."""
    common = {"device": args.device, "precision": args.precision, "input_scale": args.input_scale}
    if args.checkpoint:
        return StereoEstimator.from_checkpoint(args.checkpoint, variant=args.variant, maxdisp=args.maxdisp,
                                               align_corners=args.align_corners, **common)
    print(RANDOM_WEIGHTS_WARNING, file=sys.stderr)
    return StereoEstimator.random(variant=args.variant or "stackhourglass", maxdisp=args.maxdisp or 192,
                                  align_corners=True if args.align_corners is None else args.align_corners,
                                  **common)


def one_line_errors(prog: str):
    """Decorate ``main``: a PSMNetError or OSError becomes ``prog: error: ...`` on stderr and exit code 2."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            try:
                return main(argv)
            except (PSMNetError, OSError) as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
        return run
    return wrap
