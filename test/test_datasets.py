"""Dataset readers on miniature trees in the real KITTI / SceneFlow layouts."""
import numpy as np
import pytest
from PIL import Image

from kitti_fixtures import make_kitti2012, make_kitti2015, make_sceneflow, write_pfm_bytes
from psmnet_ros.core.dataset_registry import open_dataset
from psmnet_ros.core.datasets import (Kitti2012, Kitti2015, MiddleburyMotorcycle, SceneFlow, StereoFolder,
                                      random_crop, read_split_file)
from psmnet_ros.core.errors import InputError

VAL_2015 = [f"{i:06d}_10" for i in range(160, 200)]


def assert_same_disparity(actual, expected):
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.nan_to_num(actual), np.nan_to_num(expected))


def test_kitti2015_all_reads_the_written_frames(tmp_path):
    tree = make_kitti2015(tmp_path, names=("000001_10", "000000_10"))
    ds = Kitti2015(tmp_path, split="all")
    assert ds.names == ["000000_10", "000001_10"] and len(ds) == 2   # sorted, *_11 left out
    assert ds.has_ground_truth
    for i, name in enumerate(ds.names):
        sample = ds[i]
        assert sample["name"] == name
        assert sample["left"].dtype == np.uint8 and sample["left"].shape == (24, 32, 3)
        np.testing.assert_array_equal(sample["left"], tree.left[name])
        np.testing.assert_array_equal(sample["right"], tree.right[name])
        assert sample["disparity"].dtype == np.float32
        assert_same_disparity(sample["disparity"], tree.disparity[name])
        assert_same_disparity(sample["noc"], tree.noc[name])
    assert ds[-1]["name"] == "000001_10"
    with pytest.raises(IndexError):
        ds[2]


def test_kitti2015_ground_truth_matches_the_pair(tmp_path):
    tree = make_kitti2015(tmp_path, names=("000000_10",))
    sample = Kitti2015(tmp_path, split="all")[0]
    rows, cols = np.nonzero(np.isfinite(sample["noc"]))
    d = sample["noc"][rows, cols].astype(int)
    # left(x) = right(x - d) on every non-occluded ground-truth pixel
    np.testing.assert_array_equal(sample["left"][rows, cols], sample["right"][rows, cols - d])
    assert np.all(d == 5) and tree.names == ["000000_10"]


def test_kitti2015_shipped_val_split(tmp_path):
    make_kitti2015(tmp_path, names=["000159_10"] + VAL_2015, size=(8, 6))
    ds = Kitti2015(tmp_path, split="val")
    assert ds.names == VAL_2015
    with pytest.raises(InputError, match=r"missing file .*image_2/000000_10\.png"):
        Kitti2015(tmp_path, split="train")


def test_shipped_split_files_are_disjoint_and_complete():
    from importlib import resources
    base = resources.files("psmnet_ros").joinpath("splits")
    for key, total, n_val in (("kitti2015", 200, 40), ("kitti2012", 194, 40)):
        train = read_split_file(base / f"{key}_train.txt")
        val = read_split_file(base / f"{key}_val.txt")
        assert len(val) == n_val and len(train) == total - n_val
        assert sorted(train + val) == [f"{i:06d}_10" for i in range(total)]
        assert val == [f"{i:06d}_10" for i in range(total - n_val, total)]


def test_custom_split_file_and_missing_frame(tmp_path):
    make_kitti2015(tmp_path / "k", names=("000000_10", "000001_10"))
    split = tmp_path / "mine.txt"
    split.write_text("# one frame\n000001_10\n")
    assert Kitti2015(tmp_path / "k", split=str(split)).names == ["000001_10"]
    (tmp_path / "k" / "training" / "disp_noc_0" / "000001_10.png").unlink()
    with pytest.raises(InputError, match=r"missing file .*disp_noc_0/000001_10\.png"):
        Kitti2015(tmp_path / "k", split="all")


def test_kitti2015_testing_has_no_ground_truth(tmp_path):
    make_kitti2015(tmp_path, names=("000000_10",), testing=True)
    ds = Kitti2015(tmp_path, split="test")
    assert not ds.has_ground_truth
    sample = ds[0]
    assert sample["disparity"] is None and sample["noc"] is None


def test_not_a_kitti_tree(tmp_path):
    with pytest.raises(InputError, match=r"is not a KITTI 2015 stereo tree: folder .*training/image_2 is missing"):
        Kitti2015(tmp_path, split="all")
    with pytest.raises(InputError, match="unknown split 'trian'"):
        make_kitti2015(tmp_path, names=("000000_10",))
        Kitti2015(tmp_path, split="trian")


def test_kitti2012(tmp_path):
    tree = make_kitti2012(tmp_path, names=("000000_10", "000001_10"))
    ds = Kitti2012(tmp_path, split="all")
    assert ds.names == ["000000_10", "000001_10"]
    sample = ds[1]
    np.testing.assert_array_equal(sample["left"], tree.left["000001_10"])
    assert_same_disparity(sample["disparity"], tree.disparity["000001_10"])
    assert_same_disparity(sample["noc"], tree.noc["000001_10"])


def test_size_mismatch_names_the_frame(tmp_path):
    make_kitti2015(tmp_path, names=("000000_10",))
    Image.fromarray(np.zeros((24, 30, 3), np.uint8)).save(tmp_path / "training" / "image_3" / "000000_10.png")
    with pytest.raises(InputError, match="frame 000000_10: right is 30x24 px but left is 32x24 px"):
        Kitti2015(tmp_path, split="all")[0]


def test_sceneflow_flyingthings_splits(tmp_path):
    tree = make_sceneflow(tmp_path)
    assert SceneFlow(tmp_path, split="val").names == ["TEST/A/0000/left/0006"]
    train = SceneFlow(tmp_path, split="train")
    assert train.names == ["TRAIN/A/0000/left/0006", "TRAIN/A/0000/left/0007"]
    assert len(SceneFlow(tmp_path, split="all")) == 3
    sample = train[1]
    assert sample["noc"] is None and sample["disparity"].dtype == np.float32
    np.testing.assert_array_equal(sample["disparity"], tree.disparity["TRAIN/A/0000/left/0007"])


def test_sceneflow_folder_of_trees(tmp_path):
    make_sceneflow(tmp_path / "Monkaa", layout="monkaa")
    driving = make_sceneflow(tmp_path / "Driving", layout="driving")
    ds = SceneFlow(tmp_path, split="train")
    assert ds.names == ["Driving/35mm_focallength/scene_forwards/fast/left/0001",
                        "Monkaa/a_rain_of_stones_x2/left/0000", "Monkaa/a_rain_of_stones_x2/left/0001"]
    np.testing.assert_array_equal(ds[0]["disparity"],
                                  driving.disparity["35mm_focallength/scene_forwards/fast/left/0001"])
    with pytest.raises(InputError, match="no val frames"):
        SceneFlow(tmp_path, split="val")


def test_sceneflow_big_endian_pfm_and_missing_disparity(tmp_path):
    make_sceneflow(tmp_path, layout="monkaa")
    pfm = tmp_path / "disparity" / "a_rain_of_stones_x2" / "left" / "0000.pfm"
    values = np.arange(32 * 24, dtype=np.float32).reshape(24, 32)
    write_pfm_bytes(pfm, values, little_endian=False)
    np.testing.assert_array_equal(SceneFlow(tmp_path, split="all")[0]["disparity"], values)
    pfm.unlink()
    with pytest.raises(InputError, match=r"missing file .*disparity/a_rain_of_stones_x2/left/0000\.pfm"):
        SceneFlow(tmp_path, split="all")


def test_sceneflow_errors(tmp_path):
    with pytest.raises(InputError, match="is not a SceneFlow tree: no frames_cleanpass folder"):
        SceneFlow(tmp_path)
    make_sceneflow(tmp_path, layout="driving", render_pass="finalpass")
    assert len(SceneFlow(tmp_path, split="all", render_pass="finalpass")) == 1
    with pytest.raises(InputError, match="unknown SceneFlow pass"):
        SceneFlow(tmp_path, render_pass="clean")


def test_middlebury_motorcycle():
    from skimage import data
    ds = MiddleburyMotorcycle()
    assert ds.names == ["motorcycle"] and ds.has_ground_truth
    sample = ds[0]
    raw = data.stereo_motorcycle()[2]
    assert sample["left"].shape == (500, 741, 3) and sample["left"].dtype == np.uint8
    assert sample["disparity"].dtype == np.float32 and sample["noc"] is None
    assert not np.isinf(sample["disparity"]).any()
    np.testing.assert_array_equal(np.isnan(sample["disparity"]), ~np.isfinite(raw))
    calibration = ds.calibration
    assert calibration.fx == 994.978 and calibration.cx_left == 311.193 and calibration.cy == 254.877
    assert calibration.doffs == pytest.approx(31.086, abs=1e-9)
    assert calibration.baseline_m == pytest.approx(0.193001, rel=1e-12)
    assert calibration.size == (741, 500)
    assert MiddleburyMotorcycle(split="train").names == ["motorcycle"]  # training on it: an over-fitting check
    with pytest.raises(InputError, match="one pair: use split val, all or train, not 'test'"):
        MiddleburyMotorcycle(split="test")


def test_stereo_folder(tmp_path):
    rng = np.random.default_rng(0)
    for side in ("l", "r"):
        (tmp_path / side).mkdir()
        for name in ("b.png", "a.png"):
            Image.fromarray(rng.integers(0, 256, (4, 6), dtype=np.uint8)).save(tmp_path / side / name)
    (tmp_path / "l" / "notes.txt").write_text("not an image")
    ds = StereoFolder(tmp_path / "l", tmp_path / "r")
    assert ds.names == ["a", "b"] and not ds.has_ground_truth
    sample = ds[0]
    assert sample["left"].shape == (4, 6, 3) and sample["disparity"] is None
    grey = np.array(Image.open(tmp_path / "l" / "a.png"))
    np.testing.assert_array_equal(sample["left"][..., 1], grey)
    (tmp_path / "r" / "b.png").rename(tmp_path / "r" / "c.png")
    with pytest.raises(InputError, match="do not pair up: b.png .* against c.png"):
        StereoFolder(tmp_path / "l", tmp_path / "r")
    (tmp_path / "r" / "c.png").unlink()
    with pytest.raises(InputError, match="mismatched frame counts: .* has 2 images, .* has 1"):
        StereoFolder(tmp_path / "l", tmp_path / "r")


def test_random_crop_is_aligned_and_reproducible():
    h, w = 10, 20
    ys, xs = np.mgrid[0:h, 0:w]
    left = np.stack([ys, xs, np.zeros_like(ys)], axis=2).astype(np.uint8)
    sample = {"name": "x", "left": left, "right": left + 1, "disparity": (ys * 100 + xs).astype(np.float32),
              "noc": None}
    crop = random_crop(sample, 4, 8, rng=np.random.default_rng(7))
    assert crop["left"].shape == (4, 8, 3) and crop["disparity"].shape == (4, 8) and crop["noc"] is None
    top, col = int(crop["left"][0, 0, 0]), int(crop["left"][0, 0, 1])
    np.testing.assert_array_equal(crop["left"], left[top:top + 4, col:col + 8])
    np.testing.assert_array_equal(crop["right"], left[top:top + 4, col:col + 8] + 1)
    assert crop["disparity"][0, 0] == top * 100 + col
    again = random_crop(sample, 4, 8, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(again["disparity"], crop["disparity"])
    corners = {tuple(random_crop(sample, 4, 8, rng=np.random.default_rng(s))["left"][0, 0, :2]) for s in range(40)}
    assert len(corners) > 1
    assert all(0 <= t <= h - 4 and 0 <= c <= w - 8 for t, c in corners)
    with pytest.raises(InputError, match="frame x is 20x10 px, smaller than the 32x4 crop"):
        random_crop(sample, 4, 32, rng=np.random.default_rng(0))


def test_open_dataset(tmp_path):
    assert isinstance(open_dataset("middlebury"), MiddleburyMotorcycle)
    make_kitti2015(tmp_path, names=("000000_10",))
    assert open_dataset("kitti2015", tmp_path, split="all").names == ["000000_10"]
    with pytest.raises(InputError, match="dataset kitti2012 needs a root folder"):
        open_dataset("kitti2012")
    with pytest.raises(InputError, match="unknown dataset 'eth3d'"):
        open_dataset("eth3d", tmp_path)
