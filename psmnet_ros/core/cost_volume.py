"""Concatenation cost volume built in one vectorized operation."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def concat_cost_volume(left: torch.Tensor, right: torch.Tensor, shifts: int) -> torch.Tensor:
    """Stack left features with right features shifted by 0..shifts-1 pixels.

    left, right: N x C x H x W features (1/4 resolution). Returns N x 2C x shifts x H x W where
    volume[:, :C, i, :, x] = left[..., x] and volume[:, C:, i, :, x] = right[..., x - i] for x >= i,
    and zeros for x < i, exactly the official loop's values.
    """
    n, c, h, w = left.shape
    # Window j of the left-padded right features starts at column j, i.e. holds the shift i = shifts-1-j.
    padded = F.pad(right, (shifts - 1, 0))
    shifted = padded.unfold(3, w, 1).flip(3).permute(0, 1, 3, 2, 4)  # N x C x shifts x H x W
    columns = torch.arange(w, device=left.device)
    disparities = torch.arange(shifts, device=left.device)
    visible = (columns[None, :] >= disparities[:, None])[None, None, :, None, :]  # 1 x 1 x shifts x 1 x W
    reference = torch.where(visible, left.unsqueeze(2), left.new_zeros(()))
    return torch.cat([reference, shifted], 1)
