"""Last stage: upsample matching scores to full resolution and take the soft argmin."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .confidence import confidence


def disparity_distribution(cost: torch.Tensor, maxdisp: int, height: int, width: int,
                           align_corners: bool) -> torch.Tensor:
    """N x maxdisp x H x W float32 probabilities of the disparities 0..maxdisp-1 (pixels) from
    N x 1 x maxdisp/4 x H/4 x W/4 matching scores.

    Trilinear upsampling to maxdisp x H x W, then softmax over disparity (of the score, as the
    official code does: higher score = better match).
    """
    full = F.interpolate(cost, (maxdisp, height, width), mode="trilinear", align_corners=align_corners)
    return F.softmax(full.squeeze(1).float(), dim=1)


def expected_disparity(prob: torch.Tensor) -> torch.Tensor:
    """N x H x W soft argmin (pixels): the expectation of 0..maxdisp-1 under N x maxdisp x H x W ``prob``."""
    values = torch.arange(prob.shape[1], dtype=prob.dtype, device=prob.device).view(1, -1, 1, 1)
    return torch.sum(prob * values, 1)


def soft_argmin(cost: torch.Tensor, maxdisp: int, height: int, width: int, align_corners: bool,
                with_confidence: bool = False) -> torch.Tensor:
    """Disparity in pixels, N x H x W, from N x 1 x maxdisp/4 x H/4 x W/4 matching scores.

    The expectation of :func:`disparity_distribution`. With ``with_confidence``: N x 2 x H x W,
    the disparity and its confidence in [0, 1] (:func:`psmnet_ros.core.confidence.confidence`).
    """
    prob = disparity_distribution(cost, maxdisp, height, width, align_corners)
    disparity = expected_disparity(prob)
    if not with_confidence:
        return disparity
    return torch.stack([disparity, confidence(prob, disparity)], 1)
