"""Convolution + BatchNorm building blocks with the official PSMNet parameter layout.

Each block is an ``nn.Sequential`` whose indices reproduce the official
checkpoint keys (``...0.weight`` for the convolution, ``...1.*`` for the
BatchNorm), so the published weights load by name.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int, pad: int, dilation: int) -> nn.Sequential:
    """2D convolution without bias + BatchNorm. A dilation > 1 sets the padding to the dilation."""
    padding = dilation if dilation > 1 else pad
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_ch))


def conv_bn_3d(in_ch: int, out_ch: int, kernel: int, stride: int, pad: int) -> nn.Sequential:
    """3D convolution without bias + BatchNorm."""
    return nn.Sequential(
        nn.Conv3d(in_ch, out_ch, kernel, stride=stride, padding=pad, bias=False),
        nn.BatchNorm3d(out_ch))


def conv_bn_relu_3d(in_ch: int, out_ch: int) -> list[nn.Module]:
    """3x3x3 stride-1 conv + BatchNorm, then ReLU: two entries for an ``nn.Sequential``."""
    return [conv_bn_3d(in_ch, out_ch, 3, 1, 1), nn.ReLU(inplace=True)]


def classifier_3d(channels: int = 32) -> nn.Sequential:
    """Cost head: conv-bn-relu, then a 3D convolution to one channel (matching score)."""
    return nn.Sequential(*conv_bn_relu_3d(channels, channels),
                         nn.Conv3d(channels, 1, 3, padding=1, stride=1, bias=False))


class ResidualBlock(nn.Module):
    """ResNet basic block as PSMNet uses it: conv-bn-relu, conv-bn, plus the shortcut, no final ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, downsample: nn.Module | None,
                 pad: int, dilation: int):
        super().__init__()
        self.conv1 = nn.Sequential(conv_bn(in_ch, out_ch, 3, stride, pad, dilation), nn.ReLU(inplace=True))
        self.conv2 = conv_bn(out_ch, out_ch, 3, 1, pad, dilation)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        shortcut = x if self.downsample is None else self.downsample(x)
        return out + shortcut
