"""Released weights: a psmnet-train checkpoint cut down to float16 weights and the run's record."""
from __future__ import annotations

import os

from ..checkpoint import load_checkpoint, save_checkpoint
from ..errors import CheckpointError
from ..model_loading import model_from_checkpoint
from .run_state import RUN_STATE_KEYS

RECORD_KEYS = ("recipe", *RUN_STATE_KEYS, "generator_version", "train_loss", "metrics")
"""What a release keeps of a training checkpoint (the optimizer state is left out)."""


def release_weights(run_checkpoint: str | os.PathLike, destination: str | os.PathLike) -> dict:
    """Write ``destination``: the weights of ``run_checkpoint`` (a psmnet-train checkpoint) in
    float16 with the run's record, about a third of the size. ``psmnet-train --resume`` continues
    from it (Adam restarts). Returns the record."""
    ckpt = load_checkpoint(run_checkpoint)
    if not ckpt.settings or "recipe" not in ckpt.extra:
        raise CheckpointError(f"{run_checkpoint} is not a psmnet-train checkpoint: nothing to release")
    model, _ = model_from_checkpoint(ckpt)
    record = {k: ckpt.extra[k] for k in RECORD_KEYS if k in ckpt.extra}
    save_checkpoint(destination, model.half(), weights_dtype="float16", **record)
    return record
