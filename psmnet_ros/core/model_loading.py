"""From a weights value (a catalogue name, "random" or a checkpoint file) to a PSMNet model.

Every model that starts from saved weights is built here: the estimator, ``psmnet-train``'s
``--init`` and ``--resume``, the release of a run and the benchmark. Files are read with
``weights_only=True`` (:func:`~psmnet_ros.core.checkpoint.load_checkpoint`); catalogue
names are checked by size and sha256 (:func:`~psmnet_ros.core.weights.catalog_path`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .checkpoint import Checkpoint, apply_weights, load_checkpoint
from .errors import CheckpointError, InputError
from .psmnet import VARIANTS, build_model
from .weights import RANDOM_LABEL, catalog_path, parse_weights

DEFAULTS = {"variant": "stackhourglass", "maxdisp": 192, "align_corners": True}
"""The official architecture: what settings neither requested nor recorded in a checkpoint are."""


@dataclass
class LoadedModel:
    """A float32 CPU model in eval mode and what it came from.

    label: how logs and tables name the weights (catalogue label, file path or the random label);
    random: True for untrained weights.
    """

    model: torch.nn.Module
    label: str
    random: bool = False


def load_model(weights: str | os.PathLike = "", *, variant: str | None = None, maxdisp: int | None = None,
               align_corners: bool | None = None, seed: int = 0) -> LoadedModel:
    """The model a weights value stands for (:mod:`psmnet_ros.core.weights`; "" = the default).

    variant/maxdisp/align_corners: None = what the weights record, else the official defaults;
    a request that named weights or a project checkpoint contradicts is an error.
    ``seed`` seeds the official initialization of random weights (without moving the caller's RNG).
    """
    spec = parse_weights(weights, variant, maxdisp, align_corners)
    requested = {"variant": variant, "maxdisp": maxdisp, "align_corners": align_corners}
    if spec.kind == "random":
        return LoadedModel(random_model(**resolve_settings(None, **requested), seed=seed), RANDOM_LABEL, random=True)
    if spec.kind == "catalog":
        path, requested = catalog_path(spec.entry), spec.entry.architecture
    else:
        path = spec.path
    return LoadedModel(model_from_checkpoint(path, **requested)[0], spec.label)


def random_model(variant: str = DEFAULTS["variant"], maxdisp: int = DEFAULTS["maxdisp"],
                 align_corners: bool = DEFAULTS["align_corners"], seed: int = 0) -> torch.nn.Module:
    """Untrained weights (official initialization, seeded by ``seed``); the caller's RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(variant, maxdisp, align_corners)


def model_from_checkpoint(source: str | os.PathLike | Checkpoint,
                          **requested) -> tuple[torch.nn.Module, Checkpoint]:
    """The float32 model a checkpoint (a file, or one already read) describes, holding its weights
    (float16 files are widened exactly), and the checkpoint. ``requested``: variant / maxdisp /
    align_corners, as :func:`resolve_settings` takes them."""
    ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source)
    model = build_model(**resolve_settings(ckpt, **requested))
    apply_weights(model, ckpt)  # load_state_dict copies into the model's float32 tensors
    return model, ckpt


def resolve_settings(ckpt: Checkpoint | None, **requested) -> dict:
    """Architecture settings: explicit request (None = none), else the checkpoint's record, else the
    defaults (a variant guessed from the parameter names before the default one).

    An explicit request that contradicts what the checkpoint records is a CheckpointError.
    """
    stored = dict(ckpt.settings) if ckpt else {}
    guessed = ckpt.guessed_variant() if ckpt else None
    defaults = dict(DEFAULTS, variant=guessed or DEFAULTS["variant"])
    settings = {}
    for key, default in defaults.items():
        want = requested.get(key)
        if want is not None and key in stored and stored[key] != want:
            raise CheckpointError(f"{ckpt.path} holds a model with {key}={stored[key]!r}, "
                                  f"but {key}={want!r} was requested")
        settings[key] = want if want is not None else stored.get(key, default)
    if settings["variant"] not in VARIANTS:
        raise InputError(f"unknown variant {settings['variant']!r}; choose one of {', '.join(VARIANTS)}")
    return settings
