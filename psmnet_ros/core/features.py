"""Shared 2D feature extractor with spatial pyramid pooling (PSMNet section 3.2).

Input N x 3 x H x W normalized images (H, W multiples of 16, at least 256);
output N x 32 x H/4 x W/4 features.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResidualBlock, conv_bn

SPP_POOLS = (64, 32, 16, 8)
"""Average-pool window sizes of the four SPP branches, at 1/4 resolution (pixels)."""


def _residual_stage(in_ch: int, out_ch: int, blocks: int, stride: int, dilation: int) -> nn.Sequential:
    downsample = None
    if stride != 1 or in_ch != out_ch:
        downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))
    layers = [ResidualBlock(in_ch, out_ch, stride, downsample, 1, dilation)]
    layers += [ResidualBlock(out_ch, out_ch, 1, None, 1, dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def _spp_branch(pool: int) -> nn.Sequential:
    return nn.Sequential(nn.AvgPool2d(pool, stride=pool), conv_bn(128, 32, 1, 1, 0, 1), nn.ReLU(inplace=True))


class FeatureExtraction(nn.Module):
    """CNN + SPP module; attribute names follow the official ``feature_extraction``."""

    def __init__(self, align_corners: bool = True):
        super().__init__()
        self.align_corners = align_corners
        self.firstconv = nn.Sequential(conv_bn(3, 32, 3, 2, 1, 1), nn.ReLU(inplace=True),
                                       conv_bn(32, 32, 3, 1, 1, 1), nn.ReLU(inplace=True),
                                       conv_bn(32, 32, 3, 1, 1, 1), nn.ReLU(inplace=True))
        self.layer1 = _residual_stage(32, 32, 3, 1, 1)
        self.layer2 = _residual_stage(32, 64, 16, 2, 1)
        self.layer3 = _residual_stage(64, 128, 3, 1, 1)
        self.layer4 = _residual_stage(128, 128, 3, 1, 2)
        self.branch1, self.branch2, self.branch3, self.branch4 = (_spp_branch(p) for p in SPP_POOLS)
        self.lastconv = nn.Sequential(conv_bn(320, 128, 3, 1, 1, 1), nn.ReLU(inplace=True),
                                      nn.Conv2d(128, 32, 1, padding=0, stride=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.layer2(self.layer1(self.firstconv(x)))
        skip = self.layer4(self.layer3(raw))
        size = skip.shape[-2:]
        pooled = [F.interpolate(branch(skip), size, mode="bilinear", align_corners=self.align_corners)
                  for branch in (self.branch4, self.branch3, self.branch2, self.branch1)]
        return self.lastconv(torch.cat([raw, skip, *pooled], 1))
