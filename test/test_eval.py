"""psmnet-eval end to end: a miniature KITTI 2015 tree and the Middlebury Motorcycle pair
(there side by side with OpenCV SGBM).

The reference checkpoint has untrained weights, so the errors are large; what is
checked is the plumbing: files written, table printed, and CSV values equal to
metrics recomputed here, by hand, from the saved disparities.
"""
import csv
import struct

import numpy as np
import pytest
from PIL import Image

from kitti_fixtures import make_kitti2015
from psmnet_ros.cli.eval import main


def read_pfm_by_hand(path):
    """Little-endian 1-channel PFM as written by psmnet-eval: rows bottom-to-top."""
    data = path.read_bytes()
    kind, dims, scale, body = data.split(b"\n", 3)
    width, height = map(int, dims.split())
    assert kind == b"Pf" and float(scale) < 0
    values = struct.unpack(f"<{width * height}f", body[:4 * width * height])
    return np.flipud(np.array(values, dtype=np.float32).reshape(height, width))


def by_hand(disparity, gt):
    """EPE (px), D1 (%) and valid count over finite, positive ground truth."""
    valid = np.isfinite(gt) & (gt > 0)
    err = np.abs(disparity[valid].astype(np.float64) - gt[valid].astype(np.float64))
    d1 = np.mean((err > 3) & (err > 0.05 * gt[valid].astype(np.float64)))
    return err.mean(), 100 * d1, int(valid.sum())


def read_rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_kitti2015_miniature(tmp_path, reference_dir, capsys):
    tree = make_kitti2015(tmp_path / "kitti", names=("000000_10", "000001_10"), size=(256, 256))
    out = tmp_path / "out"
    code = main(["--dataset", "kitti2015", "--root", str(tree.root), "--split", "all", "--limit", "1",
                 "--checkpoint", str(reference_dir / "basic_ref.tar"), "--variant", "basic", "--maxdisp", "192",
                 "--out-dir", str(out), "--worst", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "pooled (KITTI)" in printed and "mean of frames" in printed and "D1-all %" in printed
    assert "basic_ref.tar" in printed and "1 frames" in printed
    assert "SGBM" not in printed and not (out / "comparison.csv").exists()    # SGBM: middlebury only by default

    rows = read_rows(out / "metrics.csv")
    assert [r["name"] for r in rows] == ["000000_10"]            # --limit 1
    disparity = read_pfm_by_hand(out / "disparity" / "000000_10.pfm")
    assert disparity.shape == (256, 256)
    epe, d1, count = by_hand(disparity, tree.disparity["000000_10"])
    _, d1_noc, noc_count = by_hand(disparity, tree.noc["000000_10"])
    row = rows[0]
    assert int(row["valid_px"]) == count == 128 * 256           # every other row has ground truth
    assert int(row["noc_valid_px"]) == noc_count == 128 * (256 - 5)
    assert float(row["epe_px"]) == pytest.approx(epe, rel=1e-9)
    assert float(row["d1_all_pct"]) == pytest.approx(d1, rel=1e-9)
    assert float(row["d1_noc_pct"]) == pytest.approx(d1_noc, rel=1e-9)
    assert f"{epe:.3f}" in printed

    summary = {r["aggregate"]: r for r in read_rows(out / "summary.csv")}
    assert float(summary["pooled"]["epe_px"]) == pytest.approx(epe, rel=1e-9)
    assert int(summary["mean_of_frames"]["frames"]) == 1
    with Image.open(out / "error_maps" / "000000_10.png") as image:
        assert image.size == (256, 256) and image.mode == "RGB"


def test_middlebury_motorcycle(tmp_path, reference_dir, capsys):
    from skimage import data
    out = tmp_path / "mb"
    # Half resolution inside the network keeps this CPU test short; errors are measured at full size.
    code = main(["--dataset", "middlebury", "--checkpoint", str(reference_dir / "basic_ref.tar"),
                 "--variant", "basic", "--input-scale", "0.5", "--out-dir", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    row, = read_rows(out / "metrics.csv")
    assert row["name"] == "motorcycle" and row["d1_noc_pct"] == ""
    disparity = read_pfm_by_hand(out / "disparity" / "motorcycle.pfm")
    gt = data.stereo_motorcycle()[2]
    epe, d1, count = by_hand(disparity, gt)
    assert np.isfinite(epe) and count == int(np.isfinite(gt).sum())
    assert float(row["epe_px"]) == pytest.approx(epe, rel=1e-9)
    assert float(row["d1_all_pct"]) == pytest.approx(d1, rel=1e-9)
    assert f"{epe:.3f}" in printed
    assert (out / "error_maps" / "motorcycle.png").is_file()

    # SGBM on the same pair, side by side: density, dense (holes = errors) and own-pixel errors.
    valid = np.isfinite(gt)
    sgbm = read_pfm_by_hand(out / "disparity_sgbm" / "motorcycle.pfm")
    assert sgbm.shape == gt.shape and np.isnan(sgbm).any()
    has_value = valid & np.isfinite(sgbm)
    err = np.abs(sgbm[has_value].astype(np.float64) - gt[has_value].astype(np.float64))
    density = 100 * has_value.sum() / valid.sum()
    holes = int((valid & ~has_value).sum())
    methods = {r["method"]: r for r in read_rows(out / "comparison.csv")}
    assert list(methods) == ["PSMNet", "SGBM"]
    s = methods["SGBM"]
    assert 50 < float(s["density_pct"]) < 100
    assert float(s["density_pct"]) == pytest.approx(density, rel=1e-9)
    assert int(s["valid_px"]) == count and int(s["own_px"]) == int(has_value.sum())
    assert float(s["own_epe_px"]) == pytest.approx(err.mean(), rel=1e-9)
    for n in (1, 2, 3):
        assert float(s[f"own_bad{n}_pct"]) == pytest.approx(100 * np.mean(err > n), rel=1e-9)
        assert float(s[f"bad{n}_pct"]) == pytest.approx(100 * (np.sum(err > n) + holes) / count, rel=1e-9)
    assert float(s["epe_px"]) == np.inf
    p = methods["PSMNet"]                       # the network fills every pixel: dense = own pixels
    assert float(p["density_pct"]) == 100 and float(p["epe_px"]) == pytest.approx(epe, rel=1e-9)
    assert float(p["own_epe_px"]) == float(p["epe_px"]) and float(p["bad2_pct"]) == float(row["bad2_pct"])
    lines = printed.splitlines()
    psmnet_line, = [line for line in lines if line.startswith("PSMNet ")]
    sgbm_line, = [line for line in lines if line.startswith("SGBM ")]
    assert f"{epe:.3f}" in psmnet_line and "100.00" in psmnet_line
    assert f"{density:.2f}" in sgbm_line and f"{err.mean():.3f}" in sgbm_line
    assert "numDisparities 64" in printed

    # Sparsification: the network's bad-2 on its kept pixels as the density falls, above the oracle, which
    # ranks by the true error; at 100 % density both are the dense bad-2; at 50 % the oracle keeps the best
    # half, whose errors are the lower half of the sorted errors (by hand here).
    curve = read_rows(out / "sparsification.csv")
    assert [float(r["density_pct"]) for r in curve] == pytest.approx([100 - 5 * i for i in range(11)])
    assert float(curve[0]["bad2_pct"]) == pytest.approx(float(row["bad2_pct"]), rel=1e-9)
    assert float(curve[0]["epe_px"]) == pytest.approx(epe, rel=1e-9)
    errors = np.sort(np.abs(disparity[valid].astype(np.float64) - gt[valid].astype(np.float64)))
    best_half = errors[:int(np.floor(0.5 * errors.size + 0.5))]
    assert float(curve[-1]["oracle_epe_px"]) == pytest.approx(best_half.mean(), rel=1e-9)
    assert float(curve[-1]["oracle_bad2_pct"]) == pytest.approx(100 * np.mean(best_half > 2), rel=1e-9, abs=1e-12)
    assert all(float(r["oracle_bad2_pct"]) <= float(r["bad2_pct"]) + 1e-9 for r in curve)
    thresholds = [float(r["threshold"]) for r in curve]
    assert thresholds == sorted(thresholds) and 0 <= thresholds[0] and thresholds[-1] <= 1
    assert "AUC bad-2" in printed and "at SGBM's density" in printed
    assert (out / "sparsification.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_error(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("psmnet-eval: error: ")
    return "\n".join(err)


def test_errors_and_random_weights_warning(tmp_path, capsys):
    tree = make_kitti2015(tmp_path / "kitti", names=("000000_10",), testing=True)
    assert "needs --root" in run_error(["--dataset", "kitti2015"], capsys)
    assert "no ground truth" in run_error(["--dataset", "kitti2015", "--root", str(tree.root), "--split", "test"],
                                          capsys)
    assert "is not a KITTI 2012 stereo tree" in run_error(["--dataset", "kitti2012", "--root", str(tree.root)],
                                                          capsys)
    assert "missing file" in run_error(["--dataset", "kitti2015", "--root", str(tree.root)], capsys)   # val frames
    assert "--limit must be at least 1" in run_error(["--dataset", "middlebury", "--limit", "0"], capsys)
    assert "--sgbm-disparities must be a positive multiple of 16, got 40" in run_error(
        ["--dataset", "middlebury", "--sgbm-disparities", "40"], capsys)
    # Random weights: one loud line about them, then the 32x24 frame is too small for the network.
    err = run_error(["--dataset", "kitti2015", "--root", str(tree.root), "--split", "all", "--variant", "basic",
                     "--checkpoint", "random", "--out-dir", str(tmp_path / "o")], capsys)
    assert "WARNING: weights 'random'" in err and "RANDOM UNTRAINED weights" in err
    assert "too small for PSMNet" in err.splitlines()[-1]
