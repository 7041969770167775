"""BatchNorm folding for inference: a convolution followed by BatchNorm becomes one convolution with bias.

In eval mode BatchNorm is the per-channel affine map y = s * (x - mean) + beta with
s = gamma / sqrt(var + eps), so conv -> BN equals a convolution with weight W * s (per output
channel) and bias (b - mean) * s + beta. Output channels are dim 0 of a Conv weight
(out x in x k...) and dim 1 of a ConvTranspose weight (in x out x k...).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import InputError

_CONVS = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORMS = (nn.BatchNorm2d, nn.BatchNorm3d)


def folded_conv(conv: nn.Module, bn: nn.Module) -> nn.Module:
    """A new convolution equal to ``bn(conv(x))`` with ``bn`` in eval mode; inputs are not changed.

    The arithmetic is done in float64, then stored in the convolution's dtype.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise InputError("cannot fold a BatchNorm without running statistics (track_running_stats=False)")
    transposed = isinstance(conv, (nn.ConvTranspose2d, nn.ConvTranspose3d))
    if transposed and conv.groups != 1:
        raise InputError("folding BatchNorm into a grouped transposed convolution is not supported")
    weight = conv.weight.detach().double()
    channels = weight.shape[1 if transposed else 0]
    if bn.num_features != channels:
        raise InputError(f"BatchNorm over {bn.num_features} channels follows a convolution with {channels} outputs")
    scale = 1.0 / torch.sqrt(bn.running_var.double() + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(scale)
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(scale)
    shape = [1] * weight.dim()
    shape[1 if transposed else 0] = channels
    fused = copy.deepcopy(conv)
    fused.weight = nn.Parameter((weight * scale.view(shape)).to(conv.weight.dtype), requires_grad=False)
    fused.bias = nn.Parameter(((bias - bn.running_mean.double()) * scale + beta).to(conv.weight.dtype),
                              requires_grad=False)
    return fused


def fold_batchnorm_(model: nn.Module) -> int:
    """Fold, in place, every BatchNorm that directly follows a convolution inside an ``nn.Sequential``.

    The BatchNorm is replaced by ``nn.Identity`` so module indices (and the forward graph)
    stay as they are. Returns the number of folded pairs. Only valid for inference.
    """
    folded = 0
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], _CONVS) and isinstance(seq[i + 1], _NORMS):
                seq[i] = folded_conv(seq[i], seq[i + 1])
                seq[i + 1] = nn.Identity()
                folded += 1
    return folded


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with its conv -> BatchNorm pairs folded; ``model`` is untouched."""
    inference = copy.deepcopy(model).eval()
    fold_batchnorm_(inference)
    for p in inference.parameters():
        p.requires_grad_(False)
    return inference
