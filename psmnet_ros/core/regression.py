"""Last stage: upsample matching scores to full resolution and take the soft argmin."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_argmin(cost: torch.Tensor, maxdisp: int, height: int, width: int, align_corners: bool) -> torch.Tensor:
    """Disparity in pixels, N x H x W, from N x 1 x maxdisp/4 x H/4 x W/4 matching scores.

    Trilinear upsampling to maxdisp x H x W, softmax over disparity (of the score, as the
    official code does: higher score = better match), expectation over 0..maxdisp-1.
    """
    full = F.interpolate(cost, (maxdisp, height, width), mode="trilinear", align_corners=align_corners)
    prob = F.softmax(full.squeeze(1).float(), dim=1)
    values = torch.arange(maxdisp, dtype=prob.dtype, device=prob.device).view(1, maxdisp, 1, 1)
    return torch.sum(prob * values, 1)
