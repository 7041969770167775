"""Compare the confidence measures of :mod:`psmnet_ros.core.confidence` on generated scenes.

    python -m psmnet_ros.tools.confidence_study [--scenes 12] [--size 256 512] [--seed 7] [--weights NAME]

Generated scenes (:class:`~psmnet_ros.core.synthetic.SyntheticStereo`) have exact ground truth
and are not in any training set of the published weights; seed 7 is not the training default
(1) either. Each scene goes once through the plain network up to its full probability volume;
every measure is computed from that volume, and all valid pixels of all scenes are pooled (one
ranking, as one threshold). Printed per measure: bad-2 of the kept pixels at densities 100 % to
50 %, the AUC of the bad-2 and EPE curves and their ratio to the oracle's, the Spearman rank
correlation with the absolute error (negative = higher confidence where the error is lower), and
the median over scenes of each scene's own bad-2 AUC ratio. The rule that chose
:data:`~psmnet_ros.core.confidence.CONFIDENCE`: the lowest pooled bad-2 AUC ratio on seed 7,
confirmed on seed 8. Never run this on the Middlebury pair: that pair is the held-out check of the
chosen measure.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from scipy.stats import spearmanr

from ..core.errors import one_line_errors
from ..core.confidence import CONFIDENCE, MEASURES
from ..core.errors import InputError
from ..core.estimator import load_estimator
from ..core.preprocess import crop_output, to_network_input
from ..core.regression import disparity_distribution, expected_disparity
from ..core.sparsification import (DENSITIES, Curve, confidence_at_density, oracle_curve, pixel_errors,
                                   sparsification_curve)
from ..core.synthetic import SyntheticStereo, max_disparity_for

PROG = "confidence-study"
TABLE_DENSITIES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
"""Densities whose bad-2 the table shows (all of DENSITIES go into the AUC)."""


@torch.inference_mode()
def scene_measures(model: torch.nn.Module, left: np.ndarray, right: np.ndarray,
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The plain eval-mode ``model``'s HxW disparity (pixels) of one pair and every measure's HxW confidence,
    all from its full probability volume."""
    device = next(model.parameters()).device
    h, w = left.shape[:2]
    x, y = to_network_input([left], device), to_network_input([right], device)
    cost = model.scores(x, y)[-1]
    prob = crop_output(disparity_distribution(cost, model.maxdisp, *x.shape[-2:], model.align_corners), h, w)
    disparity = expected_disparity(prob)
    measures = {name: fn(prob, disparity)[0].cpu().numpy() for name, fn in MEASURES.items()}
    return disparity[0].cpu().numpy(), measures


def study(model: torch.nn.Module, scenes, log=None) -> dict[str, dict]:
    """Per measure (and "oracle"): the pooled sparsification Curve, the Spearman correlation with the
    absolute error, and the median over scenes of the scene's bad-2 AUC / the scene's oracle bad-2 AUC."""
    errors, confidences, ratios = [], {name: [] for name in MEASURES}, {name: [] for name in MEASURES}
    for index in range(len(scenes)):
        sample = scenes[index]
        disparity, measures = scene_measures(model, sample["left"], sample["right"])
        err, valid = pixel_errors(disparity, sample["disparity"])
        errors.append(err)
        oracle_auc = oracle_curve(err).auc_bad2
        for name, conf in measures.items():
            confidences[name].append(conf[valid])
            ratios[name].append(sparsification_curve(err, conf[valid]).auc_bad2 / oracle_auc)
        if log:
            log(f"{sample['name']}: EPE {err.mean():.2f} px, bad-2 {np.mean(err > 2):.2%}")
    err = np.concatenate(errors)
    results = {"oracle": {"curve": oracle_curve(err), "spearman": None, "scene_ratio": 1.0}}
    for name in MEASURES:
        conf = np.concatenate(confidences[name])
        results[name] = {"curve": sparsification_curve(err, conf), "scene_ratio": float(np.median(ratios[name])),
                         "spearman": float(spearmanr(conf, err).statistic),
                         "thresholds": confidence_at_density(conf, TABLE_DENSITIES)}
    return results


def format_table(results: dict[str, dict]) -> str:
    """The comparison as a Markdown table; the measure the estimator uses is starred."""
    oracle: Curve = results["oracle"]["curve"]
    head = ["measure"] + [f"bad-2 @{q:.0%}" for q in TABLE_DENSITIES] + [
        "AUC bad-2", "/ oracle", "AUC EPE (px)", "/ oracle", "Spearman", "per scene: AUC bad-2 / oracle"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in results.items():
        curve = row["curve"]
        at = dict(zip(curve.density.round(2), curve.bad2))
        cells = [name + (" *" if name == CONFIDENCE else "")] + [f"{at[q]:.2%}" for q in TABLE_DENSITIES] + [
            f"{curve.auc_bad2:.2%}", f"{curve.auc_bad2 / oracle.auc_bad2:.2f}", f"{curve.auc_epe:.3f}",
            f"{curve.auc_epe / oracle.auc_epe:.2f}",
            "" if row["spearman"] is None else f"{row['spearman']:+.3f}", f"{row['scene_ratio']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    thresholds = ", ".join(f"{q:.0%}: {t:.6f}" for q, t in zip(TABLE_DENSITIES, results[CONFIDENCE]["thresholds"]))
    return "\n".join(lines) + f"\n\n{CONFIDENCE} thresholds that keep these densities (pooled): {thresholds}"


@one_line_errors(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=12, help="number of generated scenes (default 12)")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"),
                        help="scene size in pixels (default 256 512)")
    parser.add_argument("--seed", type=int, default=7, help="scene seed (default 7; training defaults to 1)")
    parser.add_argument("--weights", default="", help="weights name or checkpoint (default: the default weights)")
    args = parser.parse_args(argv)
    if args.scenes < 1:
        raise InputError(f"--scenes must be at least 1, got {args.scenes}")
    estimator, notices = load_estimator(args.weights, fast=False)
    for text in notices:
        print(f"{PROG}: {text}", file=sys.stderr)
    scenes = SyntheticStereo(args.scenes, tuple(args.size), seed=args.seed,
                             max_disparity=max_disparity_for(estimator.maxdisp))
    results = study(estimator.model, scenes, log=lambda text: print(text, file=sys.stderr, flush=True))
    print(f"weights {estimator.weights}; {args.scenes} generated scenes {args.size[1]}x{args.size[0]}, seed "
          f"{args.seed}; pooled pixels; densities {DENSITIES[0]:.0%}..{DENSITIES[-1]:.0%} in 5 % steps; "
          f"* = the estimator's measure")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
