"""Checkpoint formats and failures: every bad file gives one clear error naming it."""
import os
from pathlib import Path

import pytest
import torch

from psmnet_ros.core import CheckpointError, StereoEstimator, build_model, load_checkpoint, save_checkpoint
from psmnet_ros.core.checkpoint import apply_weights


def _weights_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_official_checkpoint_with_prefix_and_batch_counters(reference_dir):
    ckpt = load_checkpoint(reference_dir / "stackhourglass_ref.tar")
    assert not any(k.startswith("module.") for k in ckpt.state_dict)
    assert ckpt.guessed_variant() == "stackhourglass" and ckpt.extra.get("epoch") == 0
    est = StereoEstimator.from_checkpoint(reference_dir / "stackhourglass_ref.tar")
    assert (est.variant, est.maxdisp, est.align_corners) == ("stackhourglass", 192, True)
    raw = torch.load(reference_dir / "stackhourglass_ref.tar", weights_only=True)["state_dict"]
    key = "feature_extraction.lastconv.2.weight"
    assert torch.equal(est.model.state_dict()[key], raw["module." + key])


def test_official_checkpoint_without_batch_counters(reference_dir):
    raw = torch.load(reference_dir / "basic_ref.tar", weights_only=True)["state_dict"]
    assert not any(k.endswith("num_batches_tracked") for k in raw)
    est = StereoEstimator.from_checkpoint(reference_dir / "basic_ref.tar", variant="basic")
    assert torch.equal(est.model.state_dict()["dres0.0.1.running_var"], raw["module.dres0.0.1.running_var"])


def test_bare_state_dict_and_project_format_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model("basic", maxdisp=64, align_corners=False)
    torch.save(model.state_dict(), tmp_path / "bare.pth")
    bare = StereoEstimator.from_checkpoint(tmp_path / "bare.pth", maxdisp=64, align_corners=False)
    assert bare.variant == "basic" and _weights_equal(bare.model, model)

    save_checkpoint(tmp_path / "ours.tar", model, epoch=7)
    ckpt = load_checkpoint(tmp_path / "ours.tar")
    assert ckpt.settings == {"variant": "basic", "maxdisp": 64, "align_corners": False}
    assert ckpt.extra["epoch"] == 7
    ours = StereoEstimator.from_checkpoint(tmp_path / "ours.tar")  # settings travel with the weights
    assert (ours.variant, ours.maxdisp, ours.align_corners) == ("basic", 64, False)
    assert _weights_equal(ours.model, model)
    with pytest.raises(CheckpointError, match="maxdisp=64.*maxdisp=192"):
        StereoEstimator.from_checkpoint(tmp_path / "ours.tar", maxdisp=192)


def test_missing_file():
    with pytest.raises(CheckpointError, match="checkpoint not found: /no/such/file.tar"):
        load_checkpoint("/no/such/file.tar")


def test_not_a_checkpoint_and_truncated(tmp_path, reference_dir):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(CheckpointError, match=f"cannot read {text}"):
        load_checkpoint(text)
    truncated = tmp_path / "truncated.tar"
    data = (reference_dir / "basic_ref.tar").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{truncated}"):
        load_checkpoint(truncated)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "list.pt")


class _Payload:
    """Unpickling this would create a marker file: weights_only loading must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickled_code_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "evil": _Payload(str(marker))}, tmp_path / "evil.tar")
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(tmp_path / "evil.tar")
    assert not marker.exists()


def test_mismatched_keys_and_shapes_are_named(reference_dir, tmp_path):
    with pytest.raises(CheckpointError) as err:
        StereoEstimator.from_checkpoint(reference_dir / "basic_ref.tar", variant="stackhourglass")
    message = str(err.value)
    assert "basic_ref.tar" in message and "missing" in message and "unexpected" in message
    assert "dres2.conv1.0.0.weight" in message and "dres2.0.0.weight" in message and "basic model" in message

    model = build_model("basic", maxdisp=16)
    state = model.state_dict()
    state["classify.2.weight"] = torch.zeros(2, 32, 3, 3, 3)
    torch.save({"state_dict": state}, tmp_path / "shape.tar")
    with pytest.raises(CheckpointError, match=r"wrong shape.*classify\.2\.weight"):
        apply_weights(build_model("basic", maxdisp=16), load_checkpoint(tmp_path / "shape.tar"))


def test_save_is_atomic(tmp_path):
    save_checkpoint(tmp_path / "c.tar", build_model("basic", maxdisp=16))
    assert sorted(os.listdir(tmp_path)) == ["c.tar"]
