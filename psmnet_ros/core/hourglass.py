"""Stacked-hourglass 3D aggregation block (PSMNet section 3.3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_bn_3d


def _up_bn_3d(in_ch: int, out_ch: int) -> nn.Sequential:
    """Transposed 3D convolution doubling D, H and W, + BatchNorm."""
    return nn.Sequential(
        nn.ConvTranspose3d(in_ch, out_ch, 3, padding=1, output_padding=1, stride=2, bias=False),
        nn.BatchNorm3d(out_ch))


class Hourglass(nn.Module):
    """Encoder-decoder over the cost volume: 1/4 -> 1/8 -> 1/16 -> 1/8 -> 1/4 resolution.

    ``forward(x, presqu, postsqu)`` returns ``(out, pre, post)``; ``pre`` and ``post`` are
    the 1/8-resolution tensors the next hourglasses take as shortcuts.
    """

    def __init__(self, channels: int):
        super().__init__()
        wide = channels * 2
        self.conv1 = nn.Sequential(conv_bn_3d(channels, wide, 3, 2, 1), nn.ReLU(inplace=True))
        self.conv2 = conv_bn_3d(wide, wide, 3, 1, 1)
        self.conv3 = nn.Sequential(conv_bn_3d(wide, wide, 3, 2, 1), nn.ReLU(inplace=True))
        self.conv4 = nn.Sequential(conv_bn_3d(wide, wide, 3, 1, 1), nn.ReLU(inplace=True))
        self.conv5 = _up_bn_3d(wide, wide)
        self.conv6 = _up_bn_3d(wide, channels)

    def forward(self, x: torch.Tensor, presqu: torch.Tensor | None, postsqu: torch.Tensor | None):
        pre = self.conv2(self.conv1(x))
        pre = F.relu(pre if postsqu is None else pre + postsqu)
        out = self.conv4(self.conv3(pre))
        post = F.relu(self.conv5(out) + (pre if presqu is None else presqu))
        return self.conv6(post), pre, post
