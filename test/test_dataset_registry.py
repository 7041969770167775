"""One dataset registry: every name opens for psmnet-eval and trains with psmnet-train."""
import math

import numpy as np
import pytest
import torch

from kitti_fixtures import make_kitti2012, make_kitti2015, make_sceneflow
from psmnet_ros.cli.eval import main as eval_main
from psmnet_ros.cli.train import main as train_main
from psmnet_ros.core import load_checkpoint
from psmnet_ros.core.dataset_registry import DATASETS, open_dataset
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.training import RECIPES, recipe_for, training_source

CROP = (256, 512)
TINY = ["--variant", "basic", "--maxdisp", "16", "--device", "cpu"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """A folder for each dataset that reads one: miniature trees with 512x256 frames, all frames in split "all"."""
    base = tmp_path_factory.mktemp("datasets")
    size = (CROP[1], CROP[0])
    return {"kitti2015": make_kitti2015(base / "k15", names=("000000_10",), size=size).root,
            "kitti2012": make_kitti2012(base / "k12", names=("000000_10",), size=size).root,
            "sceneflow": make_sceneflow(base / "sf", size=size).root}


def _split(name):
    return "val" if name == "synthetic" else "all"


def test_every_dataset_has_a_training_recipe():
    assert set(RECIPES) == set(DATASETS)
    assert all(RECIPES[name].dataset == name for name in DATASETS)


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_opens_for_evaluation_and_gives_training_batches(name, roots):
    entry = DATASETS[name]
    assert entry.needs_root == (name in roots)
    dataset = open_dataset(name, roots.get(name), _split(name))
    sample = dataset[0]
    h, w = sample["left"].shape[:2]
    assert dataset.has_ground_truth and sample["right"].shape == (h, w, 3) and sample["left"].dtype == np.uint8
    assert sample["disparity"].shape == (h, w) and np.isfinite(sample["disparity"]).any()

    recipe = recipe_for(name, crop=CROP, batch_size=1, scenes_per_epoch=1)
    source = training_source(recipe, 16, None if entry.generated else dataset)
    source.check(1)
    batches, count = source.epoch(1, torch.device("cpu"))
    left, right, disparity = next(iter(batches))
    assert count == (1 if entry.generated else len(dataset))
    assert left.shape == right.shape == (1, *CROP, 3) and disparity.shape == (1, *CROP)


def test_unknown_or_rootless_dataset_is_refused():
    with pytest.raises(InputError, match="unknown dataset 'eth3d'; choose one of kitti2015, kitti2012, sceneflow, "
                                         "middlebury, synthetic"):
        open_dataset("eth3d")
    with pytest.raises(InputError, match="dataset sceneflow needs a root folder"):
        open_dataset("sceneflow")
    with pytest.raises(InputError, match="use split val or all, not 'train'"):
        open_dataset("synthetic", split="train")


def test_eval_runs_on_generated_scenes(tmp_path, capsys):
    out = tmp_path / "eval"
    assert eval_main(["--dataset", "synthetic", "--limit", "1", "--worst", "0", "--out-dir", str(out),
                      "--checkpoint", "random"] + TINY) == 0
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[1].startswith("synthetic_s1_0_00000,") and len(rows) == 2
    assert "synthetic split val, 1 frames" in capsys.readouterr().out


def test_train_runs_on_the_middlebury_pair(tmp_path, capsys):
    out = tmp_path / "run"
    assert train_main(["--dataset", "middlebury", "--epochs", "1", "--workers", "0", "--out-dir", str(out)]
                      + TINY) == 0
    saved = load_checkpoint(out / "last.tar").extra
    assert saved["recipe"]["dataset"] == "middlebury" and saved["steps"] == 1 and math.isfinite(saved["metrics"]["epe"])
    assert "epoch 1/1" in capsys.readouterr().out
    assert train_main(["--dataset", "middlebury", "--root", str(tmp_path)]) == 2
    assert "--dataset middlebury needs no folder: leave out --root" in capsys.readouterr().err
