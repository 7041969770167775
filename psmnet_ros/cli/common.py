"""Shared command-line plumbing: estimator options, and errors as one readable line."""
from __future__ import annotations

import argparse
import functools
import sys

from ..core.errors import InputError, PSMNetError
from ..core.estimator import PRECISIONS, StereoEstimator
from ..core.pretrained import RANDOM, describe_pretrained, pretrained_mismatch
from ..core.psmnet import VARIANTS

RANDOM_WEIGHTS_WARNING = (
    f"WARNING: --checkpoint {RANDOM}: the network has random weights and its output is meaningless. "
    "Leave --checkpoint out for the shipped pretrained weights, or pass --checkpoint PATH "
    "(official weights: github.com/JiaRenChang/PSMNet).")


def add_estimator_arguments(parser: argparse.ArgumentParser, checkpoint_required: bool = False) -> None:
    """--checkpoint, --variant, --maxdisp, --align-corners, --device, --precision, --input-scale."""
    parser.add_argument("--checkpoint", required=checkpoint_required, metavar=f"PATH|{RANDOM}",
                        help="official .tar, bare state_dict or psmnet_ros checkpoint; default: the shipped "
                             f"pretrained weights ({describe_pretrained()}); '{RANDOM}': untrained random "
                             "weights (meaningless output)")
    parser.add_argument("--variant", choices=VARIANTS, help="default: from the checkpoint, else stackhourglass")
    parser.add_argument("--maxdisp", type=int, help="disparity range in pixels (default: checkpoint's, else 192)")
    parser.add_argument("--align-corners", dest="align_corners", action=argparse.BooleanOptionalAction,
                        default=None, help="upsampling mode: True for the official KITTI/old SceneFlow weights, "
                                           "False for the 2021 SceneFlow release (default: checkpoint's, else True)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (cuda falls back to cpu without a GPU)")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="fp32")
    parser.add_argument("--input-scale", type=float, default=1.0,
                        help="run the network at this fraction of the resolution, in (0, 1]")


def check_weights_args(args: argparse.Namespace) -> None:
    """InputError when no --checkpoint is given but the options ask for a model the shipped weights are not."""
    if args.checkpoint:
        return
    options = {"variant": lambda v: f"--variant {v}", "maxdisp": lambda v: f"--maxdisp {v}",
               "align_corners": lambda v: "--align-corners" if v else "--no-align-corners"}
    mismatch = pretrained_mismatch(args.variant, args.maxdisp, args.align_corners)
    if mismatch:
        asked = " ".join(options[name](value) for name, value in mismatch.items())
        raise InputError(f"{asked} needs --checkpoint: the shipped pretrained weights are {describe_pretrained()}; "
                         f"pass --checkpoint PATH for matching weights, or --checkpoint {RANDOM} for untrained ones")


def estimator_from_args(args: argparse.Namespace) -> StereoEstimator:
    """Build the estimator the parsed options describe.

    No --checkpoint: the shipped pretrained weights; ``--checkpoint random``: random weights,
    with one loud warning; else the checkpoint file.
    """
    check_weights_args(args)
    common = {"device": args.device, "precision": args.precision, "input_scale": args.input_scale}
    if not args.checkpoint:
        return StereoEstimator.pretrained(**common)
    if args.checkpoint == RANDOM:
        print(RANDOM_WEIGHTS_WARNING, file=sys.stderr)
        return StereoEstimator.random(variant=args.variant or "stackhourglass", maxdisp=args.maxdisp or 192,
                                      align_corners=True if args.align_corners is None else args.align_corners,
                                      **common)
    return StereoEstimator.from_checkpoint(args.checkpoint, variant=args.variant, maxdisp=args.maxdisp,
                                           align_corners=args.align_corners, **common)


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
