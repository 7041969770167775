"""Concatenation cost volume written straight into its final memory layout."""
from __future__ import annotations

import torch


def concat_cost_volume_into(left: torch.Tensor, right: torch.Tensor, shifts: int,
                            memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """N x 2C x shifts x H x W volume with the values of :func:`psmnet_ros.core.cost_volume.concat_cost_volume`.

    left, right: N x C x H x W features (1/4 resolution). The volume is allocated once in
    ``memory_format`` (e.g. ``torch.channels_last_3d``) and written in place: the left features
    broadcast over the shifts, the right features one slice copy per shift, then the columns
    x < shift zeroed. No other volume-sized tensor is made (the vectorized core version holds
    two); the per-shift copies are cheap kernel launches, free inside a CUDA graph.
    """
    n, c, h, w = left.shape
    volume = torch.empty((n, 2 * c, shifts, h, w), dtype=left.dtype, device=left.device,
                         memory_format=memory_format)
    volume[:, :c] = left.unsqueeze(2)
    for i in range(shifts):
        volume[:, c:, i, :, i:] = right[:, :, :, :w - i]
    columns = torch.arange(w, device=left.device)
    hidden = columns[None, :] < torch.arange(shifts, device=left.device)[:, None]   # shifts x W: x < shift
    return volume.masked_fill_(hidden[None, None, :, None, :], 0)
