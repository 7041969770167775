"""psmnet-eval: disparity accuracy of PSMNet on a dataset with ground truth.

    psmnet-eval --dataset kitti2015 --root DIR --checkpoint CKPT [--split val] [--out-dir DIR]
    psmnet-eval --dataset middlebury --checkpoint CKPT          (scikit-image's Motorcycle pair)
    psmnet-eval --dataset synthetic --checkpoint CKPT           (the 16 scenes psmnet-train validates on)

Writes to --out-dir: ``metrics.csv`` (one row per frame: EPE px, D1-all %, D1-noc %,
bad-1/2/3 %, valid pixels, seconds), ``summary.csv`` (pooled over all pixels, as the
KITTI benchmark reports, and mean of frames), ``disparity/NAME.pfm`` (float32 pixels)
and KITTI-style error maps ``error_maps/NAME.png`` of the --worst frames by D1-all.

With --sgbm (the default for middlebury only) OpenCV's StereoSGBM runs on the same
frames as a classical baseline: ``disparity_sgbm/NAME.pfm`` (NaN = no value) and
``comparison.csv``, one row per method pooled over the frames: density (% of
ground-truth pixels with a value), EPE and bad-1/2/3 on all ground-truth pixels with
holes counted as errors (EPE inf when there are holes), and on the method's own pixels.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..core.dataset_registry import DATASETS, dataset_entry, open_dataset
from ..core.error_map import error_image
from ..core.errors import InputError, one_line_errors
from ..core.evaluation import evaluate
from ..core.metrics import CoverageCounts, ErrorCounts, mean_of_frames, pooled
from ..core.pfm import read_pfm, write_pfm
from ..core.sgbm import SGBM_BLOCK_SIZE, sgbm_disparity
from ..core.sparsification import (Point, confidence_at_density, oracle_curve, pixel_errors,
                                   sparsification_curve)
from ..tools.figures import sparsification_plot
from .common import add_estimator_arguments, estimator_from_args

PROG = "psmnet-eval"
FRAME_COLUMNS = ("name", "epe_px", "d1_all_pct", "d1_noc_pct", "bad1_pct", "bad2_pct", "bad3_pct",
                 "valid_px", "noc_valid_px", "seconds")
SUMMARY_COLUMNS = ("aggregate", "epe_px", "d1_all_pct", "d1_noc_pct", "bad1_pct", "bad2_pct", "bad3_pct",
                   "valid_px", "frames")
COMPARISON_COLUMNS = ("method", "density_pct", "epe_px", "bad1_pct", "bad2_pct", "bad3_pct", "own_epe_px",
                      "own_bad1_pct", "own_bad2_pct", "own_bad3_pct", "valid_px", "own_px", "frames",
                      "seconds_per_frame")
SPARSIFICATION_COLUMNS = ("density_pct", "bad2_pct", "epe_px", "oracle_bad2_pct", "oracle_epe_px", "threshold")
# SGBM search range per dataset, a multiple of 16: 64 covers the Motorcycle pair (7..60 px).
# Elsewhere the network's maxdisp rounded up to a multiple of 16.
SGBM_DISPARITIES = {"middlebury": 64}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, choices=tuple(DATASETS))
    parser.add_argument("--root", help="dataset folder (KITTI: the folder holding training/; "
                                       "not for middlebury and synthetic)")
    parser.add_argument("--split", default="val",
                        help="train, val, all or a split file listing frame names (default: %(default)s)")
    parser.add_argument("--out-dir", help="where results go (default: psmnet_eval_DATASET)")
    parser.add_argument("--worst", type=int, default=5, help="error maps for this many worst frames (default 5)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N frames of the split")
    parser.add_argument("--sgbm", action=argparse.BooleanOptionalAction, default=None,
                        help="also run OpenCV StereoSGBM on each frame and print both side by side "
                             "(default: on for middlebury, off otherwise)")
    parser.add_argument("--sgbm-disparities", type=int,
                        help="SGBM numDisparities, a multiple of 16; implies --sgbm (default: 64 for "
                             "middlebury, else the network's maxdisp rounded up to a multiple of 16)")
    add_estimator_arguments(parser)
    return parser


def _file_name(name: str) -> str:
    return name.replace("/", "__")


def _pct(value: float) -> float:
    return 100.0 * value


def _cell(value) -> str:
    return "" if value is None else repr(float(value)) if isinstance(value, float) else str(value)


def frame_row(name: str, metrics, seconds: float) -> dict:
    """One metrics.csv row; noc columns are None when the dataset has no noc map."""
    noc = metrics.noc
    return {"name": name, "epe_px": metrics.all.epe, "d1_all_pct": _pct(metrics.all.d1),
            "d1_noc_pct": None if noc is None else _pct(noc.d1), "bad1_pct": _pct(metrics.all.bad1_rate),
            "bad2_pct": _pct(metrics.all.bad2_rate), "bad3_pct": _pct(metrics.all.bad3_rate),
            "valid_px": metrics.all.count, "noc_valid_px": None if noc is None else noc.count, "seconds": seconds}


def _summary_row(label: str, rates: dict, noc_rates: dict | None, valid_px: int, frames: int) -> dict:
    return {"aggregate": label, "epe_px": rates["epe"], "d1_all_pct": _pct(rates["d1"]),
            "d1_noc_pct": None if noc_rates is None else _pct(noc_rates["d1"]), "bad1_pct": _pct(rates["bad1"]),
            "bad2_pct": _pct(rates["bad2"]), "bad3_pct": _pct(rates["bad3"]), "valid_px": valid_px,
            "frames": frames}


def summary_rows(all_counts: list[ErrorCounts], noc_counts: list[ErrorCounts] | None) -> list[dict]:
    """The pooled (KITTI benchmark: all pixels of all frames) and mean-of-frames rows of summary.csv."""
    total = pooled(all_counts)
    mean = mean_of_frames(all_counts)
    return [_summary_row("pooled", total.rates(), None if noc_counts is None else pooled(noc_counts).rates(),
                         total.count, len(all_counts)),
            _summary_row("mean_of_frames", mean, None if noc_counts is None else mean_of_frames(noc_counts),
                         total.count, mean["count"])]


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])


def format_table(rows: list[dict]) -> str:
    """The summary rows as an aligned text table."""
    def number(value, digits):
        return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    header = f"{'':16}{'EPE px':>9}{'D1-all %':>10}{'D1-noc %':>10}{'bad-1 %':>9}{'bad-2 %':>9}{'bad-3 %':>9}" \
             f"{'valid px':>12}{'frames':>8}"
    lines = [header]
    for row in rows:
        label = "pooled (KITTI)" if row["aggregate"] == "pooled" else "mean of frames"
        lines.append(f"{label:16}{number(row['epe_px'], 3):>9}{number(row['d1_all_pct'], 2):>10}"
                     f"{number(row['d1_noc_pct'], 2):>10}{number(row['bad1_pct'], 2):>9}"
                     f"{number(row['bad2_pct'], 2):>9}{number(row['bad3_pct'], 2):>9}"
                     f"{row['valid_px']:>12}{row['frames']:>8}")
    return "\n".join(lines)


def comparison_row(method: str, counts: CoverageCounts, frames: int, seconds: float) -> dict:
    """One comparison.csv row: density %, dense (holes = errors) and own-pixel EPE px / bad-N %."""
    dense, own = counts.dense, counts.covered
    return {"method": method, "density_pct": _pct(counts.density), "epe_px": dense.epe,
            "bad1_pct": _pct(dense.bad1_rate), "bad2_pct": _pct(dense.bad2_rate), "bad3_pct": _pct(dense.bad3_rate),
            "own_epe_px": own.epe, "own_bad1_pct": _pct(own.bad1_rate), "own_bad2_pct": _pct(own.bad2_rate),
            "own_bad3_pct": _pct(own.bad3_rate), "valid_px": dense.count, "own_px": own.count, "frames": frames,
            "seconds_per_frame": seconds / frames if frames else float("nan")}


def format_comparison(rows: list[dict]) -> str:
    """The comparison rows as an aligned text table (dense block, then own-pixel block)."""
    def number(value, digits):
        return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"
    block = f"{'EPE px':>9}{'bad-1 %':>9}{'bad-2 %':>9}{'bad-3 %':>9}"
    lines = [f"{'':19}{'all ground-truth pixels, holes = errors':<42}only where the method has a value",
             f"{'method':<8}{'density %':>11}{block}   {block}"]
    for row in rows:
        dense = "".join(f"{number(row[k], d):>9}" for k, d in (("epe_px", 3), ("bad1_pct", 2), ("bad2_pct", 2),
                                                                ("bad3_pct", 2)))
        own = "".join(f"{number(row[k], d):>9}" for k, d in (("own_epe_px", 3), ("own_bad1_pct", 2),
                                                              ("own_bad2_pct", 2), ("own_bad3_pct", 2)))
        lines.append(f"{row['method']:<8}{number(row['density_pct'], 2):>11}{dense}   {own}")
    return "\n".join(lines)


def sparsification_report(errors: np.ndarray, confidence: np.ndarray, sgbm: Point | None, out_dir: Path) -> str:
    """Write ``sparsification.csv`` and ``sparsification.png`` (the network's confidence against the oracle, and
    SGBM's point) for the valid pixels' errors (px) and confidences pooled over the frames; returns the printout."""
    curve, oracle = sparsification_curve(errors, confidence), oracle_curve(errors)
    rows = [{"density_pct": _pct(q), "bad2_pct": _pct(b), "epe_px": e, "oracle_bad2_pct": _pct(ob), "oracle_epe_px": oe,
             "threshold": t} for q, b, e, ob, oe, t in zip(curve.density, curve.bad2, curve.epe, oracle.bad2,
                                                          oracle.epe, confidence_at_density(confidence))]
    write_csv(out_dir / "sparsification.csv", SPARSIFICATION_COLUMNS, rows)
    sparsification_plot(curve, oracle, sgbm, out_dir / "sparsification.png")
    lines = [f"sparsification by confidence ({len(errors)} pixels; density 100 % -> 50 %, least confident dropped "
             "first):",
             f"{'density %':>10}" + "".join(f"{_pct(q):>7.0f}" for q in curve.density),
             f"{'bad-2 %':>10}" + "".join(f"{_pct(v):>7.2f}" for v in curve.bad2),
             f"{'oracle':>10}" + "".join(f"{_pct(v):>7.2f}" for v in oracle.bad2),
             f"{'EPE px':>10}" + "".join(f"{v:>7.3f}" for v in curve.epe),
             f"AUC bad-2 {_pct(curve.auc_bad2):.2f} % (oracle {_pct(oracle.auc_bad2):.2f} %, ratio "
             f"{curve.auc_bad2 / oracle.auc_bad2 if oracle.auc_bad2 else float('inf'):.2f}); AUC EPE {curve.auc_epe:.3f} px "
             f"(oracle {oracle.auc_epe:.3f} px)"]
    if sgbm is not None and sgbm.density > 0:
        at = sparsification_curve(errors, confidence, [sgbm.density])
        lines.append(f"at SGBM's density {_pct(sgbm.density):.2f} %: PSMNet bad-2 {_pct(at.bad2[0]):.2f} %, EPE "
                     f"{at.epe[0]:.3f} px; SGBM bad-2 {_pct(sgbm.bad2):.2f} %, EPE {sgbm.epe:.3f} px")
    lines.append(f"curve: {out_dir / 'sparsification.csv'}, plot: {out_dir / 'sparsification.png'}")
    return "\n".join(lines)


def worst_frames(rows: list[dict], count: int) -> list[int]:
    """Indices of the ``count`` rows with the highest D1-all (then EPE); frames without valid pixels excluded."""
    ranked = [i for i, row in enumerate(rows) if row["valid_px"]]
    ranked.sort(key=lambda i: (rows[i]["d1_all_pct"], rows[i]["epe_px"]), reverse=True)
    return ranked[:max(count, 0)]


@one_line_errors(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if dataset_entry(args.dataset).needs_root and not args.root:
        raise InputError(f"--dataset {args.dataset} needs --root")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    dataset = open_dataset(args.dataset, args.root, args.split)
    if not dataset.has_ground_truth:
        raise InputError(f"{args.dataset} split {args.split} has no ground truth to evaluate against")
    indices = range(len(dataset) if args.limit is None else min(args.limit, len(dataset)))
    if args.sgbm_disparities is not None and (args.sgbm_disparities < 16 or args.sgbm_disparities % 16):
        raise InputError(f"--sgbm-disparities must be a positive multiple of 16, got {args.sgbm_disparities}")
    use_sgbm = args.sgbm if args.sgbm is not None else \
        args.dataset == "middlebury" or args.sgbm_disparities is not None
    estimator = estimator_from_args(args)
    sgbm_range = args.sgbm_disparities if args.sgbm_disparities is not None else \
        SGBM_DISPARITIES.get(args.dataset, -(-estimator.maxdisp // 16) * 16)
    out_dir = Path(args.out_dir or f"psmnet_eval_{args.dataset}")
    folders = {"PSMNet": out_dir / "disparity", "SGBM": out_dir / "disparity_sgbm"}
    predictors = {"PSMNet": lambda left, right: estimator.predict(left, right, with_confidence=True)}
    if use_sgbm:
        predictors["SGBM"] = lambda left, right: sgbm_disparity(left, right, num_disparities=sgbm_range)
    for name in predictors:
        folders[name].mkdir(parents=True, exist_ok=True)

    ranked = ([], [])  # per frame: errors and confidences of the valid pixels, for sparsification

    def save(method: str, sample: dict, disparity, confidence) -> None:
        write_pfm(folders[method] / f"{_file_name(sample['name'])}.pfm", disparity)
        if confidence is not None:
            errors, valid = pixel_errors(disparity, sample["disparity"])
            ranked[0].append(errors)
            ranked[1].append(confidence[valid])

    progress = tqdm(indices, desc=f"{args.dataset} {args.split}", unit="frame", file=sys.stderr)
    results = evaluate(predictors, dataset, progress, on_prediction=save)
    frames = results["PSMNet"].frames
    rows = [frame_row(f.name, f.metrics, f.seconds) for f in frames]
    has_noc = results["PSMNet"].pooled_noc is not None
    summary = summary_rows([f.metrics.all for f in frames], [f.metrics.noc for f in frames] if has_noc else None)
    write_csv(out_dir / "metrics.csv", FRAME_COLUMNS, rows)
    write_csv(out_dir / "summary.csv", SUMMARY_COLUMNS, summary)
    comparison = [comparison_row(method, result.coverage, len(result.frames), result.seconds)
                  for method, result in results.items()] if use_sgbm else []
    if comparison:
        write_csv(out_dir / "comparison.csv", COMPARISON_COLUMNS, comparison)
    sgbm_point = None
    if use_sgbm:
        own = results["SGBM"].coverage
        sgbm_point = Point(own.density, own.covered.bad2_rate, own.covered.epe)
    sparsification = sparsification_report(np.concatenate(ranked[0]), np.concatenate(ranked[1]), sgbm_point, out_dir)

    worst = worst_frames(rows, args.worst)
    if worst:
        (out_dir / "error_maps").mkdir(exist_ok=True)
    for index in worst:
        sample = dataset[indices[index]]
        disparity, _ = read_pfm(out_dir / "disparity" / f"{_file_name(sample['name'])}.pfm")
        image = error_image(disparity, sample["disparity"], sample["noc"])
        cv2.imwrite(str(out_dir / "error_maps" / f"{_file_name(sample['name'])}.png"), image[:, :, ::-1])

    print(f"{PROG}: {args.dataset} split {args.split}, {len(rows)} frames, weights {estimator.weights} "
          f"({estimator.variant}, maxdisp {estimator.maxdisp}, {estimator.precision}, input_scale "
          f"{estimator.input_scale:g})")
    print(format_table(summary))
    if comparison:
        print(f"side by side with OpenCV StereoSGBM (numDisparities {sgbm_range}, blockSize {SGBM_BLOCK_SIZE}) "
              f"on the same {len(rows)} frames, {comparison[0]['valid_px']} ground-truth pixels:")
        print(format_comparison(comparison))
    if worst:
        listed = ", ".join(f"{rows[i]['name']} ({rows[i]['d1_all_pct']:.2f} %)" for i in worst)
        print(f"worst frames by D1-all: {listed}; error maps in {out_dir / 'error_maps'}")
    print(sparsification)
    print(f"per-frame metrics: {out_dir / 'metrics.csv'}"
          + (f"; side by side: {out_dir / 'comparison.csv'}" if comparison else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
