"""The weights shipped with the package: where they are, that they load exactly, what they cannot run."""
import ast
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import psmnet_ros
from psmnet_ros.core import (CheckpointError, StereoEstimator, build_model, load_checkpoint, pretrained_path,
                             save_checkpoint)
from psmnet_ros.core import pretrained as pretrained_module
from psmnet_ros.core.pretrained import describe_pretrained, pretrained_mismatch

REPO = Path(__file__).resolve().parents[1]
SHIPPED = Path(psmnet_ros.__file__).resolve().parent / "weights" / "psmnet_synthetic.tar"


def test_the_file_is_looked_up_inside_the_package():
    assert pretrained_path() == SHIPPED and SHIPPED.is_file()


def test_pretrained_holds_exactly_the_file_weights_widened_to_float32():
    saved = load_checkpoint(SHIPPED)
    assert saved.settings == {"variant": "stackhourglass", "maxdisp": 192, "align_corners": True}
    assert {v.dtype for v in saved.state_dict.values() if v.is_floating_point()} == {torch.float16}

    est = StereoEstimator.pretrained()
    assert (est.variant, est.maxdisp, est.align_corners) == ("stackhourglass", 192, True)
    assert est.weights == "pretrained (psmnet_ros/weights/psmnet_synthetic.tar)"
    held = est.model.state_dict()
    assert held.keys() == saved.state_dict.keys()
    for name, value in held.items():
        stored = saved.state_dict[name]
        if value.is_floating_point():
            assert value.dtype == torch.float32, name
            # float16 -> float32 is exact: the model holds the file's numbers, nothing rounded again
            assert torch.equal(value, stored.to(torch.float32)), name
        else:
            assert torch.equal(value, stored), name


def test_float16_weights_load_as_their_float16_roundings(tmp_path):
    """0.1 and 1/3 have no exact binary form. float16 keeps 10 fraction bits: 0.1 = 1.6 * 2**-4
    becomes round(1.6 * 1024) / 1024 * 2**-4 = 1638 / 16384, 1/3 = 1.333.. * 2**-2 becomes
    1365 / 4096; the float32 model must hold exactly those."""
    model = build_model("basic", 16, True)
    weight = model.state_dict()["classify.0.0.weight"]
    with torch.no_grad():
        weight.view(-1)[0] = 0.1
        weight.view(-1)[1] = 1.0 / 3.0
    save_checkpoint(tmp_path / "half.tar", model.half())
    loaded = StereoEstimator.from_checkpoint(tmp_path / "half.tar").model.state_dict()["classify.0.0.weight"]
    assert loaded.dtype == torch.float32
    assert loaded.view(-1)[0].item() == 1638 / 16384 == 0.0999755859375
    assert loaded.view(-1)[1].item() == 1365 / 4096 == 0.333251953125


def test_missing_file_is_a_checkpoint_error_naming_the_path(monkeypatch):
    monkeypatch.setattr(pretrained_module, "PRETRAINED_FILE", ("weights", "not_there.tar"))
    with pytest.raises(CheckpointError, match=r"pretrained weights are missing: .*psmnet_ros/weights/not_there\.tar"):
        StereoEstimator.pretrained()


def test_a_release_caveat_is_a_warning_when_the_weights_load(monkeypatch, tmp_path):
    from psmnet_ros.core import estimator as estimator_module
    from psmnet_ros.core.training import release_weights

    run = tmp_path / "last.tar"
    save_checkpoint(run, build_model("stackhourglass", 192, True), epoch=1, recipe={"dataset": "synthetic"})
    release_weights(run, tmp_path / "plain.tar")
    release_weights(run, tmp_path / "caveat.tar", caveat="one epoch of training, depth not usable yet")
    monkeypatch.setattr(estimator_module, "pretrained_path", lambda: tmp_path / "caveat.tar")
    with pytest.warns(UserWarning, match="the shipped weights: one epoch of training, depth not usable yet"):
        StereoEstimator.pretrained()
    monkeypatch.setattr(estimator_module, "pretrained_path", lambda: tmp_path / "plain.tar")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        StereoEstimator.pretrained()


def test_settings_the_shipped_model_cannot_run():
    assert pretrained_mismatch() == {}
    assert pretrained_mismatch("stackhourglass", 192, True) == {}
    assert pretrained_mismatch("basic", 96, False) == {"variant": "basic", "maxdisp": 96, "align_corners": False}
    assert describe_pretrained() == "stackhourglass, maxdisp 192, align_corners True"


def test_setup_installs_the_weights_as_package_data():
    """pip, editable and colcon ament_python installs copy package_data next to the code."""
    call = next(n for n in ast.walk(ast.parse((REPO / "setup.py").read_text()))
                if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "setup")
    options = {k.arg: k.value for k in call.keywords}
    patterns = [ast.literal_eval(e) for e in options["package_data"].values[0].elts]
    assert "weights/*.tar" in patterns and "weights/*.md" in patterns
    assert ast.literal_eval(options["zip_safe"]) is False


# --- what the shipped weights do (psmnet_ros/weights/MODEL_CARD.md) --------------------------------

RELEASED_MOTORCYCLE_EPE_PX = 15.055
"""Dense EPE of the shipped weights on scikit-image's Motorcycle pair when they were released
(``psmnet-eval --dataset middlebury``, CPU, fp32); update it with the weights and the card."""
EPE_MARGIN_PX = 0.1


def test_the_shipped_record_names_this_generator():
    from psmnet_ros.core.synthetic import GENERATOR_VERSION

    record = load_checkpoint(SHIPPED).extra
    assert record["generator_version"] == GENERATOR_VERSION
    assert record["recipe"]["dataset"] == "synthetic" and record["steps"] > 0 and record["devices"]
    assert "optimizer" not in record


def test_shipped_weights_on_the_motorcycle_pair_stay_under_their_released_epe():
    from psmnet_ros.core.datasets import MiddleburyMotorcycle

    sample = MiddleburyMotorcycle()[0]
    prediction = StereoEstimator.pretrained().predict(sample["left"], sample["right"])
    truth = sample["disparity"]
    known = np.isfinite(truth)
    epe = float(np.abs(prediction[known].astype(np.float64) - truth[known]).mean())
    assert epe <= RELEASED_MOTORCYCLE_EPE_PX + EPE_MARGIN_PX, epe
