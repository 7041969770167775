"""Shared command-line plumbing: the estimator options and the estimator they describe."""
from __future__ import annotations

import argparse
import sys

from ..core.estimator import MAX_INPUT_SCALE, PRECISIONS, StereoEstimator, load_estimator
from ..core.psmnet import VARIANTS
from ..core.weights import CATALOG, DEFAULT, RANDOM


def add_estimator_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint, --variant, --maxdisp, --align-corners, --device, --precision, --input-scale."""
    named = ", ".join(f"'{name}' ({entry.description})" for name, entry in CATALOG.items())
    parser.add_argument("--checkpoint", default="", metavar="NAME|PATH",
                        help=f"weights: a name ({named}; '{RANDOM}': untrained, meaningless output) or a "
                             "checkpoint file (official .tar, bare state_dict or psmnet_ros checkpoint); "
                             f"default: {DEFAULT}")
    parser.add_argument("--variant", choices=VARIANTS, help="default: from the weights, else stackhourglass")
    parser.add_argument("--maxdisp", type=int, help="disparity range in pixels (default: the weights', else 192)")
    parser.add_argument("--align-corners", dest="align_corners", action=argparse.BooleanOptionalAction,
                        default=None, help="upsampling mode: True for the official KITTI/old SceneFlow weights, "
                                           "False for the 2021 SceneFlow release (default: the weights', else True)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (cuda falls back to cpu without a GPU)")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="fp32")
    parser.add_argument("--input-scale", type=float, default=1.0,
                        help=f"resize the pair by this factor for the network, in (0, {MAX_INPUT_SCALE:g}]; "
                             "disparities come back in image pixels (default: %(default)s)")


def estimator_from_args(args: argparse.Namespace) -> StereoEstimator:
    """The estimator the parsed options describe; its notices go to stderr, one line each."""
    estimator, notices = load_estimator(args.checkpoint, variant=args.variant, maxdisp=args.maxdisp,
                                        align_corners=args.align_corners, device=args.device,
                                        precision=args.precision, input_scale=args.input_scale)
    for text in notices:
        print(f"WARNING: {text}", file=sys.stderr)
    return estimator
