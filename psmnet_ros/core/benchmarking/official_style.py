"""The official code's cost volume construction, kept as a benchmark baseline only.

The official PSMNet allocates a zeroed float32 volume in host memory for every frame,
copies it to the device, and fills it with a Python loop over the disparity shifts.
:class:`OfficialStyleStackHourglass` / :class:`OfficialStyleBasic` are the plain models with
that construction, so ``psmnet-bench`` can time it beside the vectorized one.
"""
from __future__ import annotations

import torch
from torch import nn

from ..psmnet import PSMNetBasic, PSMNetStackHourglass


def official_cost_volume(left: torch.Tensor, right: torch.Tensor, shifts: int) -> torch.Tensor:
    """N x 2C x shifts x H x W volume built the official way: host zeros, copy, per-shift loop."""
    n, c, h, w = left.shape
    volume = torch.zeros(n, 2 * c, shifts, h, w, dtype=left.dtype).to(left.device)
    for i in range(shifts):
        volume[:, :c, i, :, i:] = left[:, :, :, i:]
        volume[:, c:, i, :, i:] = right[:, :, :, :w - i]
    return volume


class _OfficialStyleVolume:
    def cost_volume(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return official_cost_volume(self.feature_extraction(left), self.feature_extraction(right),
                                    self.maxdisp // 4)


class OfficialStyleStackHourglass(_OfficialStyleVolume, PSMNetStackHourglass):
    """Stacked-hourglass PSMNet with the official per-frame host cost volume."""


class OfficialStyleBasic(_OfficialStyleVolume, PSMNetBasic):
    """Basic PSMNet with the official per-frame host cost volume."""


def official_style_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy of a plain PSMNet that builds its cost volume the official way."""
    classes = {"stackhourglass": OfficialStyleStackHourglass, "basic": OfficialStyleBasic}
    with torch.random.fork_rng(devices=[]):  # the throw-away initialization must not move the caller's RNG
        copy = classes[model.variant](model.maxdisp, model.align_corners)
    copy.load_state_dict(model.state_dict())
    return copy.to(next(model.parameters()).device).eval()
