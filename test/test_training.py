"""psmnet-train: loss, schedule, gradient accumulation, learning, resume, checkpoints, CLI errors.

Tiny and CPU-only: the basic variant with maxdisp 16 on 256x256 crops of a miniature
KITTI 2015 tree (test/kitti_fixtures.py) whose right images are the left ones shifted
by 5 + k px, with that disparity as ground truth on every other row.
"""
import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from kitti_fixtures import make_kitti2015, make_sceneflow
from psmnet_ros.cli.train import main
from psmnet_ros.core import CATALOG, StereoEstimator, build_model, load_checkpoint
from psmnet_ros.core.checkpoint import save_checkpoint
from psmnet_ros.core.datasets import Kitti2015
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.preprocess import to_network_input
from psmnet_ros.core.training import (RECIPES, RunState, Trainer, load_run, loss_sum, psmnet_loss, recipe_for,
                                      training_source)

NAMES = ("000000_10", "000001_10", "000002_10")
TINY = ["--variant", "basic", "--maxdisp", "16", "--crop", "256x256", "--batch-size", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def kitti(tmp_path_factory):
    """Miniature KITTI 2015 tree (256x256 frames) with split files: 2 training frames, 1 for validation."""
    base = tmp_path_factory.mktemp("kitti2015")
    tree = make_kitti2015(base / "data", names=NAMES, size=(256, 256))
    (base / "train.txt").write_text("000000_10\n000001_10\n")
    (base / "val.txt").write_text("000002_10\n")
    return {"root": str(tree.root), "train": str(base / "train.txt"), "val": str(base / "val.txt"), "tree": tree}


def _split_args(kitti):
    return ["--dataset", "kitti2015", "--root", kitti["root"], "--train-split", kitti["train"],
            "--val-split", kitti["val"]]


# --- loss -------------------------------------------------------------------------------------

def _smooth_l1(x):
    x = abs(x)
    return 0.5 * x * x if x < 1 else x - 0.5


def test_loss_weights_outputs_and_ignores_invalid_pixels():
    # maxdisp 10: valid ground truth is 2, 4 and 9.5; NaN, 0 and 10 (not < maxdisp) are ignored.
    target = torch.tensor([[[2.0, math.nan, 0.0], [4.0, 10.0, 9.5]]])
    out1 = torch.full((1, 2, 3), 2.5)                                 # errors 0.5, 1.5, 7
    out2 = target.nan_to_num(0.0).clone()                             # exact
    out3 = torch.tensor([[[3.0, 50.0, 50.0], [4.0, 50.0, 9.5]]])      # errors 1, 0, 0
    term1 = (_smooth_l1(0.5) + _smooth_l1(1.5) + _smooth_l1(7.0)) / 3  # (0.125 + 1.0 + 6.5) / 3
    term3 = _smooth_l1(1.0) / 3                                       # 0.5 / 3
    assert psmnet_loss((out1, out2, out3), target, 10).item() == pytest.approx(0.5 * term1 + 1.0 * term3)
    assert psmnet_loss((out1, out2, out3), target, 10).item() == pytest.approx(1.4375)
    assert psmnet_loss(out3, target, 10).item() == pytest.approx(0.5 / 3)   # basic: one output, weight 1


def test_loss_averages_over_the_valid_pixels_of_the_whole_batch():
    # Image 0 has one valid pixel (error 2 -> 1.5), image 1 three (error 0): mean 1.5 / 4, not (1.5 + 0) / 2.
    target = torch.tensor([[[4.0, math.nan], [math.nan, math.nan]], [[1.0, 1.0], [1.0, math.nan]]])
    prediction = torch.tensor([[[6.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]])
    assert psmnet_loss(prediction, target, 192).item() == pytest.approx(1.5 / 4)
    total, count = loss_sum(prediction, target, 192)
    assert (total.item(), count) == (pytest.approx(1.5), 4)


def test_batch_without_valid_pixel_gives_zero_loss_and_zero_gradient():
    outputs = tuple(torch.full((2, 4, 4), 3.0, requires_grad=True) for _ in range(3))
    target = torch.full((2, 4, 4), math.nan)
    target[0, 0, 0] = 0.0      # 0 = no value in KITTI
    target[1, 0, 0] = 200.0    # beyond maxdisp
    loss = psmnet_loss(outputs, target, 192)
    loss.backward()
    assert loss.item() == 0.0
    assert all(torch.equal(o.grad, torch.zeros_like(o)) for o in outputs)


# --- recipe -------------------------------------------------------------------------------------

def test_learning_rate_schedules_follow_the_official_scripts():
    kitti = RECIPES["kitti2015"]   # finetune.py: lr = 0.001 if epoch <= 200 else 0.0001
    assert [kitti.learning_rate(e) for e in (1, 200, 201, 300)] == [1e-3, 1e-3, 1e-4, 1e-4]
    assert RECIPES["kitti2012"].learning_rate(201) == 1e-4
    assert (kitti.epochs, kitti.batch_size, kitti.crop) == (300, 12, (256, 512))
    sceneflow = RECIPES["sceneflow"]   # main.py: 10 epochs at 0.001
    assert sceneflow.epochs == 10
    assert {sceneflow.learning_rate(e) for e in range(1, 11)} == {1e-3}
    custom = recipe_for("kitti2015", lr=2e-3, lr_drop_epoch=5, epochs=None)
    assert (custom.epochs, custom.learning_rate(5), custom.learning_rate(6)) == (300, 2e-3, pytest.approx(2e-4))


# --- gradient accumulation ----------------------------------------------------------------------

class PixelModel(nn.Module):
    """Disparity = a * mean normalized intensity + b: no BatchNorm, so batch splits change nothing."""

    variant, maxdisp, align_corners = "pixel", 16, True

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(2.0))
        self.b = nn.Parameter(torch.tensor(1.0))

    def forward(self, left, right):
        return self.a * left.mean(1) + self.b


def _random_batch(n, height, width, seed=0):
    rng = np.random.default_rng(seed)
    left = rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    right = rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    disparity = rng.uniform(0, 20, (n, height, width)).astype(np.float32)
    disparity[0, : height // 2] = np.nan    # unequal valid-pixel counts across images
    return left, right, disparity


def _pixel_trainer(tmp_path, **options):
    samples = [{"name": "f", "left": np.zeros((256, 512, 3), np.uint8), "right": np.zeros((256, 512, 3), np.uint8),
                "disparity": np.ones((256, 512), np.float32), "noc": None}]
    recipe = recipe_for("sceneflow", batch_size=3)
    return Trainer(PixelModel(), recipe, training_source(recipe, 16, samples), out_dir=str(tmp_path), progress=False,
                   **options)


def test_micro_batches_accumulate_the_full_batch_gradient(tmp_path):
    left, right, disparity = _random_batch(3, 16, 16)
    full = _pixel_trainer(tmp_path)
    split = _pixel_trainer(tmp_path, micro_batch=1)
    loss_full = full.train_step(left, right, disparity)
    loss_split = split.train_step(left, right, disparity)
    # Independent reference: autograd of the loss over the whole batch at once.
    reference = PixelModel()
    loss = psmnet_loss(reference(to_network_input(list(left), torch.device("cpu")), None),
                       torch.from_numpy(disparity), 16)
    loss.backward()
    # float32 sums of 768 terms in other groupings: relative differences of about 1e-7.
    assert loss_split == pytest.approx(loss_full, rel=1e-6) and loss_full == pytest.approx(loss.item(), rel=1e-6)
    for name in ("a", "b"):
        expected = getattr(reference, name).grad.item()
        assert getattr(full.model, name).grad.item() == pytest.approx(expected, rel=1e-5)
        assert getattr(split.model, name).grad.item() == pytest.approx(expected, rel=1e-5)


def test_amp_on_cpu_trains_in_bfloat16(tmp_path):
    left, right, disparity = _random_batch(2, 16, 16)
    exact = _pixel_trainer(tmp_path).train_step(left, right, disparity)
    mixed = _pixel_trainer(tmp_path, amp=True).train_step(left, right, disparity)
    assert mixed == pytest.approx(exact, rel=2e-2)   # bfloat16 keeps 8 bits of mantissa


# --- data sources -------------------------------------------------------------------------------

def _ramp_samples(count, height=256, width=576):
    """Frames whose left pixel (y, x) holds x % 256 in red, y in green and x // 256 in blue, so a crop
    shows where it was cut; frame i has disparity i everywhere."""
    y, x = np.mgrid[:height, :width]
    left = np.stack([x % 256, y, x // 256], axis=-1).astype(np.uint8)
    return [{"name": f"f{i}", "left": left, "right": left, "disparity": np.full((height, width), i, np.float32),
             "noc": None} for i in range(count)]


def _epoch_batches(data, epoch):
    batches, count = data.epoch(epoch, torch.device("cpu"))
    batches = [tuple(t.clone() for t in batch) for batch in batches]
    assert len(batches) == count
    return batches


def test_dataset_crops_depend_only_on_seed_and_epoch():
    recipe = recipe_for("kitti2015", batch_size=2, crop=(256, 512), seed=3)
    samples = _ramp_samples(5)
    data = training_source(recipe, 192, samples, workers=0)
    assert data.record() == {}
    first = _epoch_batches(data, 1)
    assert [len(b[0]) for b in first] == [2, 2, 1]     # the official scripts keep the last, smaller batch
    # A run resumed after epoch 1 builds a new source: its epoch 2 is the uninterrupted run's.
    second = _epoch_batches(data, 2)
    resumed = _epoch_batches(training_source(recipe, 192, samples), 2)
    assert all(torch.equal(a, b) for x, y in zip(second, resumed) for a, b in zip(x, y))
    # Every frame once an epoch, each as a 256x512 window of its own frame (x offset <= 64, no row offset).
    for batches in (first, second):
        frames = sorted(int(d[0, 0]) for _, _, batch in batches for d in batch)
        assert frames == [0, 1, 2, 3, 4]
        for left, _, _ in batches:
            x = left[:, 0, :, 2].int() * 256 + left[:, 0, :, 0].int()
            assert left.shape[1:] == (256, 512, 3) and (left[:, 0, 0, 1] == 0).all()
            assert ((x[:, 1:] - x[:, :-1]) == 1).all() and (x[:, 0] <= 64).all()
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, second))   # shuffled or cut anew
    # A 256x256 crop leaves the SPP one cell: incomplete batches are dropped.
    square = recipe_for("kitti2015", batch_size=2, crop=(256, 256))
    assert [len(b[0]) for b in _epoch_batches(training_source(square, 192, samples), 1)] == [2, 2]


def test_generated_scenes_train_validate_and_record_their_generator():
    from psmnet_ros.core.synthetic import GENERATOR_VERSION, SyntheticStereo, max_disparity_for
    recipe = recipe_for("synthetic", crop=(256, 256), scenes_per_epoch=3, batch_size=2, seed=5)
    data = training_source(recipe, 16)
    assert data.record() == {"generator_version": GENERATOR_VERSION} and GENERATOR_VERSION >= 1
    assert data.validation(0) is None
    validation = data.validation(2)
    assert len(validation) == 2 and validation[0]["left"].shape == (256, 256, 3)
    assert float(np.nanmax(validation[0]["disparity"])) < max_disparity_for(16) + 1e-4 < 16
    batches = _epoch_batches(data, 1)
    assert [len(b[0]) for b in batches] == [2, 1]
    # Epoch e renders stream e; validation is stream 0, so no validation scene is trained on.
    training = SyntheticStereo(3, size=(256, 256), seed=5, stream=1, max_disparity=max_disparity_for(16))
    np.testing.assert_array_equal(batches[1][0][0].numpy(), training[2]["left"])
    assert not np.array_equal(validation[0]["left"], training[0]["left"])


def test_sources_check_their_data():
    recipe = recipe_for("kitti2015", batch_size=2, crop=(256, 256))
    with pytest.raises(InputError, match="the training set is empty"):
        training_source(recipe, 16, []).check(2)
    with pytest.raises(InputError, match="smaller than the 512x256 crop"):
        training_source(recipe_for("kitti2015", crop=(256, 512)), 16, _ramp_samples(1, width=320)).check(12)
    with pytest.raises(InputError, match="at least 2 images in every forward pass"):
        training_source(recipe, 16, _ramp_samples(2)).check(1)
    with pytest.raises(InputError, match="1 frames do not fill one batch of 2"):
        training_source(recipe, 16, _ramp_samples(1)).check(2)
    with pytest.raises(InputError, match="--micro-batch must be between 1 and the batch size 8"):
        training_source(recipe_for("synthetic"), 192).check(9)
    with pytest.raises(InputError, match="multiples of 16"):
        training_source(recipe_for("synthetic", crop=(256, 250)), 192).check(8)


# --- run state ---------------------------------------------------------------------------------

def _basic_trainer(tmp_path, recipe):
    torch.manual_seed(0)
    return Trainer(build_model("basic", 16), recipe, training_source(recipe, 16, _ramp_samples(2)),
                   out_dir=str(tmp_path), progress=False)


def test_save_then_restore_gives_the_same_run_state(tmp_path):
    recipe = recipe_for("kitti2015", batch_size=2, crop=(256, 256))
    trainer = _basic_trainer(tmp_path, recipe)
    trainer.state = RunState(epoch=2, steps=7, train_seconds=12.5, devices=["CPU test, 1 threads"])
    trainer.save(3, 0.25, {"epe": 1.5, "d1": 0.125, "pixels": 10})
    # KITTI picks best.tar by D1; epoch 3 is the first with a metric.
    expected = RunState(3, 7, 12.5, ["CPU test, 1 threads"], {"metric": "d1", "value": 0.125, "epoch": 3})
    assert trainer.state == expected
    saved = load_checkpoint(tmp_path / "last.tar").extra
    # The entries the checkpoint format has always had, under the same names.
    assert set(saved) == {"version", "epoch", "steps", "train_seconds", "devices", "best", "optimizer", "scaler",
                          "recipe", "train_loss", "metrics"}
    model, stored, checkpoint = load_run(str(tmp_path / "last.tar"), "kitti2015")
    assert stored == recipe
    restored = _basic_trainer(tmp_path / "again", stored)
    restored.restore(checkpoint)
    assert restored.state == expected and restored.state is not trainer.state
    # A worse D1 keeps best (and best.tar, still epoch 3's); a NaN metric does too.
    trainer.save(4, 0.2, {"epe": 1.0, "d1": 0.25, "pixels": 10})
    trainer.save(5, 0.2, {"epe": math.nan, "d1": math.nan, "pixels": 0})
    assert trainer.state.epoch == 5 and trainer.state.best == expected.best
    assert load_checkpoint(tmp_path / "best.tar").extra["epoch"] == 3


def test_checkpoints_of_older_runs_resume_with_default_state(tmp_path, capsys):
    # The entries of a run written before steps, seconds and devices were recorded, released (no optimizer).
    recipe = recipe_for("kitti2015", batch_size=2, crop=(256, 256))
    save_checkpoint(tmp_path / "old.tar", build_model("basic", 16), epoch=4, recipe=recipe.to_dict(),
                    train_loss=0.5, metrics=None, best=None)
    model, stored, checkpoint = load_run(str(tmp_path / "old.tar"), "kitti2015", {"epochs": 6})
    trainer = _basic_trainer(tmp_path, stored)
    trainer.restore(checkpoint)
    assert trainer.state == RunState(epoch=4) and stored.epochs == 6
    assert "old.tar holds no optimizer state (a released checkpoint): Adam starts afresh" in capsys.readouterr().out


# --- training the network -----------------------------------------------------------------------

def test_train_resume_and_load_the_checkpoint(kitti, tmp_path, capsys):
    out = tmp_path / "run"
    args = _split_args(kitti) + TINY + ["--epochs", "1", "--workers", "1", "--out-dir", str(out)]
    assert main(args) == 0
    assert "epoch 1/1" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["best.tar", "checkpoint_epoch_001.tar", "last.tar",
                                                     "tensorboard"]
    saved = load_checkpoint(out / "last.tar")
    assert saved.extra["epoch"] == 1 and saved.settings == {"variant": "basic", "maxdisp": 16, "align_corners": True}

    # Resume for a second epoch: epoch counter, weights and Adam state come back exactly.
    samples = Kitti2015(kitti["root"], kitti["train"])
    model, recipe, saved_run = load_run(str(out / "last.tar"), "kitti2015", {"epochs": 2})
    trainer = Trainer(model, recipe, training_source(recipe, model.maxdisp, samples), out_dir=str(out),
                      progress=False)
    trainer.restore(saved_run)
    assert trainer.state.epoch == 1 and trainer.recipe.epochs == 2 and trainer.recipe.crop == (256, 256)
    restored = trainer.optimizer.state_dict()
    stored = saved.extra["optimizer"]
    assert restored["param_groups"] == stored["param_groups"]
    assert len(restored["state"]) == len(list(trainer.model.parameters()))
    for index, state in stored["state"].items():
        assert state["step"].item() == 1.0   # one batch of 2 frames in epoch 1
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(restored["state"][index][key], state[key])
    assert any(s["exp_avg"].abs().sum() > 0 for s in stored["state"].values())
    assert all(torch.equal(v, saved.state_dict[k]) for k, v in trainer.model.state_dict().items())
    trainer.fit()
    second = load_checkpoint(out / "checkpoint_epoch_002.tar")
    assert second.extra["epoch"] == 2
    # Learning: both epochs train on the same batch (a 256x256 crop of a 256x256 frame is the frame), so the
    # one Adam step of epoch 1, carried over the resume, must lower its loss (3.72 -> 0.63 here).
    assert second.extra["train_loss"] < 0.5 * saved.extra["train_loss"], (saved.extra, second.extra)
    assert {s["step"].item() for s in second.extra["optimizer"]["state"].values()} == {2.0}

    # What training wrote loads into the estimator with no explicit settings, and predicts.
    estimator = StereoEstimator.from_checkpoint(out / "last.tar")
    assert (estimator.variant, estimator.maxdisp) == ("basic", 16)
    tree = kitti["tree"]
    disparity = estimator.predict(tree.left["000002_10"], tree.right["000002_10"])
    assert disparity.shape == (256, 256) and disparity.dtype == np.float32 and np.isfinite(disparity).all()


def test_sceneflow_run_logs_loss_metrics_and_an_image_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    # FlyingThings3D layout: TRAIN 0006 and 0007 train, TEST 0006 validates.
    tree = make_sceneflow(tmp_path / "sceneflow", size=(256, 256))
    # --init with weights in the official release's format (DataParallel "module." prefix, no settings);
    # a negligible lr keeps the trained weights equal to them, up to Adam's first step of ~1e-12.
    torch.manual_seed(7)
    initial = build_model("basic", 16).state_dict()
    torch.save({"epoch": 10, "state_dict": {"module." + k: v for k, v in initial.items()}, "train_loss": 1.0},
               tmp_path / "official.tar")
    out = tmp_path / "run"
    args = ["--dataset", "sceneflow", "--root", str(tree.root), "--workers", "0", "--out-dir", str(out),
            "--init", str(tmp_path / "official.tar"), "--lr", "1e-12"]
    assert main(args + TINY + ["--epochs", "1"]) == 0
    trained = load_checkpoint(out / "last.tar").state_dict
    convs = [k for k, v in initial.items() if k.endswith(".weight") and v.dim() >= 4]
    assert all(torch.allclose(trained[k], initial[k], rtol=0, atol=1e-9) for k in convs)
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"train/loss", "train/lr", "val/epe", "val/d1"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == [1]
    assert events.Scalars("train/lr")[0].value == pytest.approx(1e-12)
    image = events.Images("val/disparity")[0]
    assert (image.width, image.height) == (256, 512)    # ground truth above prediction
    saved = load_checkpoint(out / "last.tar").extra
    assert events.Scalars("val/epe")[0].value == pytest.approx(saved["metrics"]["epe"], rel=1e-6)
    # Validation counts the test frame's pixels with 0 < gt < maxdisp (16), as the loss does.
    gt = tree.disparity["TEST/A/0000/left/0006"]
    assert saved["metrics"]["pixels"] == np.count_nonzero(gt < 16)
    assert saved["recipe"]["dataset"] == "sceneflow" and saved["best"]["metric"] == "epe"


# --- command-line errors ------------------------------------------------------------------------

def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("psmnet-train: error: "), err
    return err[0]


def test_cli_bad_input_is_one_line_and_exit_2(kitti, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["--dataset", "kitti2015", "--root", str(missing)]) == 2
    assert "nowhere is not a directory" in _error_line(capsys)

    empty = tmp_path / "empty"
    (empty / "training" / "image_2").mkdir(parents=True)
    assert main(["--dataset", "kitti2015", "--root", str(empty), "--out-dir", str(tmp_path / "o1")]) == 2
    assert "no *_10.png frames" in _error_line(capsys)

    common = _split_args(kitti) + ["--workers", "0", "--out-dir", str(tmp_path / "o2")]
    assert main(common + ["--crop", "256x512"]) == 2
    assert "smaller than the 512x256 crop" in _error_line(capsys)
    assert main(common + ["--crop", "256by512"]) == 2
    assert "--crop must look like HEIGHTxWIDTH" in _error_line(capsys)
    assert main(common + ["--crop", "250x256"]) == 2
    assert "multiples of 16" in _error_line(capsys)
    assert main(common + TINY[:-4] + ["--micro-batch", "1"]) == 2
    assert "at least 2 images in every forward pass" in _error_line(capsys)
    assert main(common + ["--epochs", "0"]) == 2
    assert "--epochs must be >= 1" in _error_line(capsys)

    (tmp_path / "o3").mkdir()
    (tmp_path / "o3" / "last.tar").write_bytes(b"an earlier run")
    assert main(_split_args(kitti) + ["--out-dir", str(tmp_path / "o3")]) == 2
    assert "already holds a run: continue it with --resume" in _error_line(capsys)

    official_like = tmp_path / "weights.tar"
    torch.save({"state_dict": {"module." + k: v for k, v in build_model("basic", 16).state_dict().items()}},
               official_like)
    assert main(common + ["--resume", str(official_like)]) == 2
    assert "not a psmnet-train checkpoint" in _error_line(capsys)


def test_cli_unknown_dataset_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", "kitti2016", "--root", "."])
    assert exit_info.value.code == 2
    assert "invalid choice: 'kitti2016'" in capsys.readouterr().err


# --- generated scenes ---------------------------------------------------------------------------

def test_synthetic_run_releases_float16_weights_and_continues_from_them(tmp_path, capsys):
    synthetic = RECIPES["synthetic"]
    assert (synthetic.batch_size, synthetic.crop, synthetic.scenes_per_epoch) == (8, (256, 512), 800)
    out, released = tmp_path / "run", tmp_path / "released.tar"
    args = ["--dataset", "synthetic", "--scenes-per-epoch", "2", "--val-limit", "1"] + TINY
    assert main(args + ["--epochs", "1", "--out-dir", str(out), "--release", str(released)]) == 0
    run = load_checkpoint(out / "last.tar")
    assert run.extra["steps"] == 1 and run.extra["train_seconds"] > 0 and run.extra["generator_version"] >= 1
    assert run.extra["devices"][0].startswith("CPU") and run.extra["recipe"]["scenes_per_epoch"] == 2
    assert math.isfinite(run.extra["metrics"]["epe"])
    release = load_checkpoint(released)
    assert "optimizer" not in release.extra and release.extra["steps"] == 1
    for key, value in run.state_dict.items():
        if value.is_floating_point():
            assert release.state_dict[key].dtype == torch.float16
            assert torch.equal(release.state_dict[key], value.half())
    assert released.stat().st_size < 0.6 * (out / "last.tar").stat().st_size
    capsys.readouterr()

    # A later slice continues the released run where it stopped, with a fresh Adam.
    assert main(["--dataset", "synthetic", "--resume", str(released), "--epochs", "2", "--val-limit", "0",
                 "--out-dir", str(tmp_path / "continued")]) == 0
    assert "Adam starts afresh" in capsys.readouterr().out
    continued = load_checkpoint(tmp_path / "continued" / "last.tar").extra
    assert (continued["epoch"], continued["steps"]) == (2, 2)
    assert continued["train_seconds"] > run.extra["train_seconds"]


def test_synthetic_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["--dataset", "synthetic", "--root", str(tmp_path)]) == 2
    assert "generates its scenes: leave out --root" in _error_line(capsys)
    assert main(["--dataset", "kitti2015"]) == 2
    assert "needs --root" in _error_line(capsys)
    assert main(["--dataset", "synthetic", "--scenes-per-epoch", "0"]) == 2
    assert "--scenes-per-epoch must be >= 1" in _error_line(capsys)
    assert main(["--dataset", "synthetic", "--limit", "5"]) == 2
    assert "use --scenes-per-epoch" in _error_line(capsys)


# --- --init: weights names and files ------------------------------------------------------------

def test_init_takes_weights_names_and_checks_them(tmp_path, capsys, monkeypatch):
    base = ["--dataset", "synthetic", "--scenes-per-epoch", "2", "--val-limit", "0", "--epochs", "1",
            "--out-dir", str(tmp_path / "run")]
    assert main(base + ["--init", "random"]) == 2
    assert "--init random is the official initialization: leave out --init" in _error_line(capsys)
    assert main(base + ["--init", "no-such-weights"]) == 2
    assert "unknown weights 'no-such-weights': not a file, and not one of the names kitti2015" in _error_line(capsys)
    # A name is the catalogue's weights: their architecture (stackhourglass, maxdisp 192) holds.
    assert main(base + ["--init", "kitti2015", "--maxdisp", "16"]) == 2
    assert "the kitti2015 (official PSMNet, KITTI 2015) weights are variant 'stackhourglass', maxdisp 192" \
        in _error_line(capsys)
    # ... and the file is checked against the catalogue's sha256 before it is read.
    entry = CATALOG["kitti2015"]
    monkeypatch.setitem(CATALOG, "kitti2015", dataclasses.replace(entry, sha256="0" * 64))
    assert main(base + ["--init", "kitti2015"]) == 2
    assert f"sha256 {entry.sha256} ({entry.size} bytes), but the kitti2015 checkpoint has sha256 {'0' * 64}" \
        in _error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_init_from_a_checkpoint_file_starts_from_its_weights(tmp_path, capsys):
    start = build_model("basic", 16)
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.25)
    save_checkpoint(tmp_path / "start.tar", start)
    out = tmp_path / "run"
    assert main(["--dataset", "synthetic", "--scenes-per-epoch", "2", "--val-limit", "0", "--epochs", "1",
                 "--lr", "1e-12", "--init", str(tmp_path / "start.tar"), "--out-dir", str(out),
                 "--crop", "256x256", "--batch-size", "2", "--device", "cpu"]) == 0
    trained = load_checkpoint(out / "last.tar")  # the architecture comes from the file: no --variant/--maxdisp
    assert trained.settings == {"variant": "basic", "maxdisp": 16, "align_corners": True}
    # One Adam step of lr 1e-12 moves no weight by more than ~1e-12: the run started from the file's weights.
    for key, value in start.state_dict().items():
        if value.is_floating_point() and "running" not in key:
            assert torch.allclose(trained.state_dict[key], value, atol=1e-9), key
