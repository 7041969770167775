"""Fused last stage: upsampling, softmax over disparity and soft argmin without the full volume.

The official last stage upsamples N x 1 x D/4 x H/4 x W/4 scores trilinearly to
N x maxdisp x H x W, takes a softmax over disparity and the expectation of 0..maxdisp-1,
and holds about three maxdisp x H x W float32 volumes at once (about 1.1 GB for one
384 x 1248 frame at maxdisp 192). Trilinear interpolation is separable, so here the scores
are upsampled bilinearly in H and W on their D/4 planes (N x D/4 x H x W, a quarter of one
volume), and the disparity axis is interpolated by a (maxdisp x D/4) matrix product on a
band of rows at a time, followed by the softmax and the expectation of that band only (and,
when asked, the confidence of :mod:`psmnet_ros.core.confidence`, from the same band).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..confidence import confidence

DEFAULT_CHUNK_ELEMENTS = 1 << 24
"""Elements of one N x maxdisp x rows x W band (64 MiB in float32); two bands are alive at once."""


def linear_interpolation_matrix(out_size: int, in_size: int, align_corners: bool,
                                device: torch.device | str = "cpu") -> torch.Tensor:
    """out_size x in_size float32 weights of 1D linear resizing as ``F.interpolate`` does it with a size.

    Source coordinate of output index i: i * (in - 1) / (out - 1) with align_corners, else
    (i + 0.5) * in / out - 0.5 clamped at 0; each row mixes the two neighbouring inputs.
    Built with device operations only, so it can be recorded in a CUDA graph.
    """
    dst = torch.arange(out_size, device=device, dtype=torch.float32)
    if align_corners:
        scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = dst * scale
    else:
        src = ((dst + 0.5) * (in_size / out_size) - 0.5).clamp_(min=0)
    low = src.floor().long().clamp_(max=in_size - 1)
    high = (low + 1).clamp_(max=in_size - 1)
    frac = src - low
    columns = torch.arange(in_size, device=device)[None, :]
    return (1 - frac)[:, None] * (columns == low[:, None]) + frac[:, None] * (columns == high[:, None])


def fused_soft_argmin(cost: torch.Tensor, maxdisp: int, height: int, width: int, align_corners: bool,
                      chunk_elements: int = DEFAULT_CHUNK_ELEMENTS, with_confidence: bool = False) -> torch.Tensor:
    """Disparity in pixels, N x height x width float32, from N x 1 x D/4 x H/4 x W/4 scores.

    Same result as :func:`psmnet_ros.core.regression.soft_argmin` up to float32 rounding, also
    with ``with_confidence`` (N x 2 x height x width: disparity, then confidence in [0, 1]);
    computed in float32 whatever the dtype of ``cost``. Peak extra memory: the N x D/4 x H x W
    planes plus two bands of at most ``chunk_elements`` elements (at most three with the confidence).
    """
    n, _, planes_in, _, _ = cost.shape
    planes = F.interpolate(cost[:, 0].float(), (height, width), mode="bilinear", align_corners=align_corners)
    weights = linear_interpolation_matrix(maxdisp, planes_in, align_corners, cost.device)
    values = torch.arange(maxdisp, device=cost.device, dtype=torch.float32)[None, :]
    rows = max(1, chunk_elements // (n * maxdisp * width))
    out = planes.new_empty((n, 2, height, width) if with_confidence else (n, height, width))
    disparity = out[:, 0] if with_confidence else out
    for top in range(0, height, rows):
        band = planes[:, :, top:top + rows].reshape(n, planes_in, -1)   # N x D/4 x rows*W
        prob = torch.softmax(torch.matmul(weights, band), dim=1)         # N x maxdisp x rows*W
        estimate = torch.matmul(values, prob)                            # N x 1 x rows*W
        disparity[:, top:top + rows] = estimate.view(n, -1, width)
        if with_confidence:
            out[:, 1, top:top + rows] = confidence(prob, estimate[:, 0]).view(n, -1, width)
    return out
