"""Reading and writing PSMNet checkpoints, treated as untrusted files.

Accepted: the official release (``{'epoch', 'state_dict', 'train_loss'}`` with the
``module.`` prefix of nn.DataParallel, with or without ``num_batches_tracked``),
a bare state_dict, and this project's format, which also records the
architecture settings (variant, maxdisp, align_corners). Everything is read with
``torch.load(..., weights_only=True)``: no pickled code is ever run.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import CheckpointError

PROJECT_FORMAT = "psmnet_ros"
SETTING_KEYS = ("variant", "maxdisp", "align_corners")


@dataclass
class Checkpoint:
    """Weights (prefix stripped) and whatever else the file recorded.

    settings: the architecture settings stored in the file (project format), else empty.
    extra: other top-level entries (epoch, optimizer state, ...).
    """

    path: str
    state_dict: dict[str, torch.Tensor]
    settings: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def guessed_variant(self) -> str | None:
        """"stackhourglass" or "basic" from the parameter names, None if neither fits."""
        if any(k.startswith("classif3.") for k in self.state_dict):
            return "stackhourglass"
        if any(k.startswith("classify.") for k in self.state_dict):
            return "basic"
        return None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint file safely; CheckpointError naming the file if it is not one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if not _looks_like_torch_file(path):
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: not a zip archive or pickle "
                              "(wrong file, or truncated)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL \S+|Unsupported operand \S+", str(exc))
        raise CheckpointError(f"refusing to load {path}: it holds objects that safe (weights_only) loading does "
                              f"not allow ({found.group(0) if found else 'not plain tensors'})") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint (truncated or corrupt): "
                              f"{type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a checkpoint: it holds a {type(obj).__name__}, not a dict")
    if "state_dict" in obj:
        state, settings = obj["state_dict"], obj.get("model", {}) if obj.get("format") == PROJECT_FORMAT else {}
        extra = {k: v for k, v in obj.items() if k not in ("state_dict", "model", "format")}
    else:
        state, settings, extra = obj, {}, {}
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{path} holds no state_dict of named tensors")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    return Checkpoint(path, state, dict(settings), extra)


def _looks_like_torch_file(path: str) -> bool:
    """True for a zip archive (torch.save since 1.6) or a legacy pickle (protocol 2+ magic byte)."""
    if zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def apply_weights(model: nn.Module, checkpoint: Checkpoint) -> None:
    """Copy the checkpoint's weights into ``model`` with strict key and shape matching.

    ``num_batches_tracked`` buffers, which old PyTorch did not save, may be absent.
    """
    expected = model.state_dict()
    given = checkpoint.state_dict
    missing = [k for k in expected if k not in given and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in given if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:4])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:4])})")
        variant = getattr(model, "variant", "")
        guessed = checkpoint.guessed_variant()
        hint = f" (its keys are those of a {guessed} model)" if guessed and guessed != variant else ""
        raise CheckpointError(f"{checkpoint.path} does not fit the {variant} model: "
                              f"{'; '.join(parts)} keys{hint}")
    wrong = [f"{k} {tuple(given[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in given and given[k].shape != v.shape]
    if wrong:
        raise CheckpointError(f"{checkpoint.path} has {len(wrong)} tensors of the wrong shape "
                              f"(e.g. {'; '.join(wrong[:3])})")
    merged = {k: given.get(k, v) for k, v in expected.items()}
    model.load_state_dict(merged, strict=True)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra) -> None:
    """Write the project format: weights, architecture settings, and ``extra`` (epoch, optimizer, ...)."""
    settings = {k: getattr(model, k) for k in SETTING_KEYS}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": PROJECT_FORMAT, "version": 1, "model": settings, "state_dict": state, **extra}
    tmp = f"{os.fspath(path)}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)
