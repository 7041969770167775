"""The PSMNet training loss: weighted smooth L1 over pixels with usable ground truth.

As in the official main.py / finetune.py: ``0.5, 0.7, 1.0`` x smooth L1 (beta 1 px) of
the stacked-hourglass model's three outputs, ``1.0`` x smooth L1 of the basic model's
single output, each averaged over the valid pixels (``size_average``). Valid pixels
have finite ground truth with ``0 < gt < maxdisp`` (NaN = unknown).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

OUTPUT_WEIGHTS = {3: (0.5, 0.7, 1.0), 1: (1.0,)}
"""Loss weight of each network output, keyed by the number of outputs."""


def valid_mask(target: torch.Tensor, maxdisp: int) -> torch.Tensor:
    """Boolean N x H x W: ground truth finite and strictly between 0 and maxdisp (pixels)."""
    return torch.isfinite(target) & (target > 0) & (target < maxdisp)


def loss_sum(outputs, target: torch.Tensor, maxdisp: int) -> tuple[torch.Tensor, int]:
    """(weighted sum of per-pixel smooth L1 over valid pixels, number of valid pixels).

    outputs: an N x H x W disparity tensor (pixels) or a tuple of 1 or 3 of them;
    target: N x H x W ground-truth disparity (pixels), NaN where unknown.
    Dividing the sum by the valid-pixel count of a whole batch gives that batch's loss,
    which is how gradient accumulation over micro-batches keeps full-batch gradients.
    """
    outputs = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
    if len(outputs) not in OUTPUT_WEIGHTS:
        raise ValueError(f"expected 1 or 3 network outputs, got {len(outputs)}")
    mask = valid_mask(target, maxdisp)
    gt = target[mask]
    total = sum(w * F.smooth_l1_loss(out.float()[mask], gt, reduction="sum")
                for w, out in zip(OUTPUT_WEIGHTS[len(outputs)], outputs))
    return total, int(mask.sum())


def psmnet_loss(outputs, target: torch.Tensor, maxdisp: int) -> torch.Tensor:
    """Scalar loss of one batch; 0 (still differentiable) when no pixel is valid."""
    total, count = loss_sum(outputs, target, maxdisp)
    return total / max(count, 1)
