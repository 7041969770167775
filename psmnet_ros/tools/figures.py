"""Pictures of the main job's Motorcycle result, made from the files the job wrote.

    python -m psmnet_ros.tools.figures RESULTS_DIR [--out FILE]

Reads ``RESULTS_DIR/input/motorcycle_left.png`` and ``RESULTS_DIR/offline/motorcycle_left_{disp,sgbm_disp,
depth}.npy`` and ``motorcycle_left.ply`` (``psmnet-demo`` writes them), and the pair's ground truth from
scikit-image, and writes one picture (default ``RESULTS_DIR/figures/motorcycle.jpg``): the left image,
PSMNet's and SGBM's disparity on one colour scale (SGBM's holes black), PSMNet's KITTI-style error map,
the depth in metres with its scale bar (near warm), and the coloured point cloud seen from the side.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import one_line_errors
from ..core.colorize import colorize, colorize_depth, depth_range, depth_scale_bar
from ..core.datasets.base import read_rgb
from ..core.datasets.middlebury import MiddleburyMotorcycle
from ..core.error_map import error_image
from ..core.errors import InputError
from ..core.ply import read_ply
from ..core.point_render import render_points
from ..core.sparsification import Curve, Point
from ..core.stereo_products import uncorrected_disparity

PROG = "psmnet-figures"
PANEL_SCALE = 0.5
"""Panels are the images at this fraction of their size."""
TITLE_PX = 22
VIEW = {"yaw_deg": 20.0, "pitch_deg": 15.0, "point_px": 3}
"""Point-cloud viewpoint: 20 degrees to the left and 15 up around the cloud's median point; 3 px points."""
JPEG_QUALITY = 88
OFFLINE_STEM = "offline/motorcycle_left"
"""Where in a result folder the offline outputs of the main job are: STEM_disp.npy, STEM_depth.npy, STEM.ply."""


def _titled(image: np.ndarray, title: str) -> np.ndarray:
    """``image`` under a white band holding ``title``."""
    band = np.full((TITLE_PX, image.shape[1], 3), 255, np.uint8)
    cv2.putText(band, title, (6, TITLE_PX - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, image])


def _panel(image: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * PANEL_SCALE), round(h * PANEL_SCALE)), interpolation=interpolation)


def motorcycle_figure(results_dir: str | Path) -> np.ndarray:
    """The picture of one main-job result folder, H x W x 3 uint8 RGB (see the module docstring)."""
    results_dir = Path(results_dir)
    stem = str(results_dir / OFFLINE_STEM)
    paths = {"left": results_dir / "input" / "motorcycle_left.png", "disparity": Path(f"{stem}_disp.npy"),
             "sgbm": Path(f"{stem}_sgbm_disp.npy"), "depth": Path(f"{stem}_depth.npy"), "cloud": Path(f"{stem}.ply")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise InputError(f"{results_dir} lacks {', '.join(missing)}: run psmnet-demo (bash scripts/main.sh) first")
    dataset = MiddleburyMotorcycle()
    truth, calibration = dataset[0]["disparity"], dataset.calibration
    left = read_rgb(paths["left"])
    # The files hold d' = x_left - x_right + doffs (stereo_products); ground truth and titles x_left - x_right.
    disparity, sgbm = (uncorrected_disparity(np.load(paths[key]), calibration) for key in ("disparity", "sgbm"))
    depth = np.load(paths["depth"])
    lo, hi = float(np.nanmin(truth)), float(np.nanmax(truth))
    near, far = depth_range(depth)
    panels = [
        _titled(_panel(left), "left image (Middlebury Motorcycle)"),
        _titled(_panel(colorize(disparity, lo, hi)), f"PSMNet disparity ({lo:.0f}-{hi:.0f} px)"),
        _titled(_panel(colorize(sgbm, lo, hi), cv2.INTER_NEAREST), "OpenCV SGBM disparity (black: no value)"),
        _titled(_panel(error_image(disparity, truth), cv2.INTER_NEAREST),
                "PSMNet error (KITTI colours: blue small, red large)"),
    ]
    depth_panel = _panel(colorize_depth(depth, near, far), cv2.INTER_NEAREST)
    panels.append(_titled(np.concatenate([depth_panel, depth_scale_bar(near, far, depth_panel.shape[1])]),
                          "PSMNet depth (metres)"))
    points, colors = read_ply(paths["cloud"])
    width, height = calibration.size
    camera = calibration.camera_matrix * PANEL_SCALE
    camera[2, 2] = 1.0
    size = (round(width * PANEL_SCALE), panels[-1].shape[0] - TITLE_PX)
    panels.append(_titled(render_points(points, colors, camera, size, **VIEW), "coloured point cloud, from 20 deg left and 15 deg up"))
    rows = []
    for row in (panels[:3], panels[3:]):
        tallest = max(p.shape[0] for p in row)
        rows.append(np.concatenate([np.pad(p, ((0, tallest - p.shape[0]), (0, 0), (0, 0)), constant_values=255)
                                    for p in row], axis=1))
    return np.concatenate(rows)


def sparsification_plot(curve: Curve, oracle: Curve, holes: Point | None, path: str | Path) -> None:
    """A PNG of bad-2 against density: the network's sparsification curve, the oracle's (the lower bound) and,
    when given, the point of a method with holes (SGBM) at its own density."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(5.2, 3.6), dpi=110)
    axes.plot(100 * curve.density, 100 * curve.bad2, "o-", color="tab:red", label="PSMNet, least confident dropped")
    axes.plot(100 * oracle.density, 100 * oracle.bad2, "--", color="grey", label="oracle (drops the worst first)")
    if holes is not None and holes.density > 0:
        axes.plot(100 * holes.density, 100 * holes.bad2, "s", color="tab:blue", markersize=8,
                  label="OpenCV SGBM at its own density")
    axes.set_xlabel("density (% of pixels with ground truth kept)")
    axes.set_ylabel("bad-2 on kept pixels (%)")
    axes.invert_xaxis()
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def write_figure(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write :func:`motorcycle_figure` of ``results_dir`` as a JPEG (default RESULTS_DIR/figures/motorcycle.jpg)."""
    out = Path(out) if out else Path(results_dir) / "figures" / "motorcycle.jpg"
    out.parent.mkdir(parents=True, exist_ok=True)
    image = motorcycle_figure(results_dir)
    if not cv2.imwrite(str(out), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise InputError(f"cannot write {out}")
    return out


@one_line_errors(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir", help="the main job's result folder (psmnet-demo --out-dir)")
    parser.add_argument("--out", help="picture file (default: RESULTS_DIR/figures/motorcycle.jpg)")
    args = parser.parse_args(argv)
    print(f"figure written to {write_figure(args.results_dir, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
