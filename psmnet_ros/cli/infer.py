"""psmnet-infer: disparity, depth and point cloud of stereo pairs from files.

    psmnet-infer LEFT.png RIGHT.png [--checkpoint CKPT | --checkpoint random] [--out-dir DIR]
                 [--calibration FILE | --focal F --baseline B [--doffs D --cx CX --cy CY]]
    psmnet-infer LEFT_DIR RIGHT_DIR ...   (every pair, matched by file name, with a progress bar)

Without --checkpoint the network runs with the official PSMNet KITTI 2015 weights (``kitti2015``,
see psmnet_ros/weights/MODEL_CARD.md); ``--checkpoint random`` gives untrained weights.

Writes per pair, named after the left image: ``NAME_disp.png`` (KITTI uint16, value x 256,
0 = invalid), ``NAME_disp.npy`` (float32 pixels), ``NAME_disp_color.png``; with a calibration
also ``NAME_depth.npy`` (float32 metres, NaN invalid), ``NAME_depth_color.png`` and ``NAME.ply``;
always ``NAME_confidence.npy`` (float32 in [0, 1]) and ``NAME_confidence.png``.
``--confidence-threshold T`` marks pixels of lower confidence invalid in the disparity, depth and PLY.
Disparities follow stereo_msgs/DisparityImage, as the node's: corrected for the principal points,
d' = x_left - x_right + (cx_right - cx_left), so that Z = f * B / d' (see psmnet_ros.core.stereo_products).
--calibration reads a stereo calibration YAML file (left/right cameras in camera_info_manager form:
psmnet_ros.core.calibration.write_calibration_yaml) or a KITTI calib_cam_to_cam.txt (colour cameras 02/03).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
from tqdm import tqdm

from ..core.calibration import StereoCalibration, read_calibration
from ..core.colorize import colorize, colorize_depth
from ..core.confidence import check_threshold
from ..core.datasets.base import read_rgb, write_rgb
from ..core.datasets.folder import StereoFolder
from ..core.disparity_io import write_kitti_disparity
from ..core.errors import InputError, one_line_errors
from ..core.ply import write_ply
from ..core.estimator import StereoEstimator
from ..core.stereo_products import check_depth_limits, disparity_range, stereo_products
from .common import add_estimator_arguments, estimator_from_args

PROG = "psmnet-infer"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("left", help="left image, or a directory of left images")
    parser.add_argument("right", help="right image, or a directory of right images (same file names)")
    parser.add_argument("--out-dir", default="psmnet_output", help="where results go (default: %(default)s)")
    add_estimator_arguments(parser)
    calibration = parser.add_argument_group("calibration (for depth and point cloud)")
    calibration.add_argument("--calibration", metavar="FILE",
                             help="stereo calibration YAML (.yaml/.yml: left and right cameras as camera_info_manager "
                                  "writes them) or KITTI calib_cam_to_cam.txt (colour cameras 02/03)")
    calibration.add_argument("--calib", dest="deprecated_calib", metavar="FILE", help=argparse.SUPPRESS)
    calibration.add_argument("--focal", type=float, help="rectified focal length, pixels")
    calibration.add_argument("--baseline", type=float, help="baseline, metres")
    calibration.add_argument("--doffs", type=float, default=0.0,
                             help="cx_right - cx_left in pixels (Middlebury's doffs; default 0)")
    calibration.add_argument("--cx", type=float, help="left principal point x, pixels (default: image centre)")
    calibration.add_argument("--cy", type=float, help="principal point y, pixels (default: image centre)")
    calibration.add_argument("--min-depth", type=float, default=0.0,
                             help="leave points nearer than this (metres) out of the point cloud (default 0)")
    calibration.add_argument("--max-depth", type=float, default=0.0,
                             help="leave points farther than this (metres) out of the point cloud "
                                  "(default 0: no limit)")
    parser.add_argument("--confidence-threshold", type=float, default=0.0,
                        help="pixels whose confidence (NAME_confidence.npy, in [0, 1]) is below this are invalid in "
                             "the disparity, depth and PLY outputs (default 0: none)")
    return parser


def calibration_from_args(args: argparse.Namespace, width: int, height: int) -> StereoCalibration | None:
    """The calibration the options give for images of width x height, or None."""
    if args.deprecated_calib:
        if args.calibration:
            raise InputError("give --calibration only (--calib is its old name)")
        warnings.warn("--calib is deprecated and will be removed in the next release: use --calibration",
                      FutureWarning, stacklevel=2)
        args.calibration, args.deprecated_calib = args.deprecated_calib, None
    if args.calibration:
        if args.focal is not None or args.baseline is not None:
            raise InputError("give either --calibration or --focal/--baseline, not both")
        return read_calibration(args.calibration)
    if args.focal is None and args.baseline is None:
        return None
    if args.focal is None or args.baseline is None:
        raise InputError("--focal and --baseline go together")
    cx = (width - 1) / 2 if args.cx is None else args.cx
    cy = (height - 1) / 2 if args.cy is None else args.cy
    return StereoCalibration.from_pinhole(args.focal, args.baseline, cx, cy, (width, height), doffs=args.doffs)


def write_outputs(out_dir: str, name: str, left: np.ndarray, network_disparity: np.ndarray,
                  confidence: np.ndarray, calibration: StereoCalibration | None, max_network_disparity: float,
                  min_depth: float = 0.0, max_depth: float = 0.0,
                  confidence_threshold: float = 0.0) -> np.ndarray | None:
    """Write every output file of one pair; returns the depth map (metres) when calibrated.

    Pixels whose confidence is below ``confidence_threshold`` are invalid: NaN in the .npy files,
    0 in the KITTI PNG, black in the colour images, absent from the PLY. Disparity colours span
    what the network can output, [0, max_network_disparity] px shifted by the principal-point
    offset, as the node's disparity/image_color does.
    """
    stem = os.path.join(out_dir, name)
    invalid = confidence < confidence_threshold if confidence_threshold > 0 else None
    np.save(f"{stem}_confidence.npy", confidence)
    write_rgb(f"{stem}_confidence.png", colorize(confidence, 0.0, 1.0))
    if calibration is None:
        products = None
        disparity = np.where(invalid, np.float32(np.nan), network_disparity) if invalid is not None \
            else network_disparity
    else:
        products = stereo_products(network_disparity, calibration, min_depth_m=min_depth, max_depth_m=max_depth,
                                   invalid=invalid)
        disparity = products.disparity
    write_kitti_disparity(f"{stem}_disp.png", disparity)
    np.save(f"{stem}_disp.npy", disparity)
    write_rgb(f"{stem}_disp_color.png", colorize(disparity, *disparity_range(calibration, max_network_disparity)))
    if products is None:
        return None
    np.save(f"{stem}_depth.npy", products.depth)
    write_rgb(f"{stem}_depth_color.png", colorize_depth(products.depth))
    write_ply(f"{stem}.ply", products.points, left)
    return products.depth


@one_line_errors(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    check_depth_limits(args.min_depth, args.max_depth)
    check_threshold(args.confidence_threshold)
    if os.path.isdir(args.left) != os.path.isdir(args.right):
        raise InputError("LEFT and RIGHT must both be files or both be directories")
    if os.path.isdir(args.left):
        pairs = [(f.left, f.right) for f in StereoFolder(args.left, args.right).frames]
    else:
        pairs = [(args.left, args.right)]
        for path in pairs[0]:
            if not os.path.isfile(path):
                raise InputError(f"no such image: {path}")
    estimator = estimator_from_args(args)
    os.makedirs(args.out_dir, exist_ok=True)
    for left_path, right_path in tqdm(pairs, desc=PROG, unit="pair", disable=len(pairs) == 1, file=sys.stderr):
        left, right = read_rgb(left_path), read_rgb(right_path)
        calibration = calibration_from_args(args, left.shape[1], left.shape[0])
        name = os.path.splitext(os.path.basename(left_path))[0]
        tqdm.write(infer_pair(estimator, left, right, args.out_dir, name, calibration, args.min_depth,
                              args.max_depth, args.confidence_threshold), file=sys.stdout)
    print(f"results written to {os.path.abspath(args.out_dir)}")
    return 0


def infer_pair(estimator: StereoEstimator, left: np.ndarray, right: np.ndarray, out_dir: str, name: str,
               calibration: StereoCalibration | None, min_depth: float = 0.0, max_depth: float = 0.0,
               confidence_threshold: float = 0.0) -> str:
    """Run ``estimator`` on one HxWx3 uint8 RGB pair and write its outputs (:func:`write_outputs`) as
    OUT_DIR/NAME_*; returns the summary line (disparity range, median depth when calibrated)."""
    disparity, confidence = estimator.predict(left, right, with_confidence=True)
    depth = write_outputs(out_dir, name, left, disparity, confidence, calibration,
                          estimator.max_disparity(left.shape[1]), min_depth, max_depth, confidence_threshold)
    summary = f"{name}: disparity {np.nanmin(disparity):.1f}..{np.nanmax(disparity):.1f} px"
    if depth is not None:
        summary += f", median depth {np.nanmedian(depth):.2f} m"
    return summary


if __name__ == "__main__":
    sys.exit(main())
