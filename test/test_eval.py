"""psmnet-eval end to end: a miniature KITTI 2015 tree and the Middlebury Motorcycle pair.

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
    # No checkpoint: one loud line about random weights, then the 32x24 frame is too small for the network.
    err = run_error(["--dataset", "kitti2015", "--root", str(tree.root), "--split", "all", "--variant", "basic",
                     "--out-dir", str(tmp_path / "o")], capsys)
    assert "WARNING: no checkpoint given" in err and "random weights" in err
    assert "too small for PSMNet" in err.splitlines()[-1]
