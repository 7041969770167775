"""PSMNet, the Pyramid Stereo Matching Network of Chang & Chen (CVPR 2018).

Both variants of the paper with the official parameter names, so the published
checkpoints load by key, and the official forward pass, quirks included (the third
hourglass takes the first hourglass's ``pre`` tensor).
Input: N x 3 x H x W normalized left and right images, H and W multiples of 16
(>= 256). Output: N x H x W disparity in pixels (training: three outputs); in evaluation,
``with_confidence=True`` gives N x 2 x H x W, the disparity and its confidence in [0, 1]
(:mod:`.confidence`).
"""
from __future__ import annotations

import torch
from torch import nn

from .cost_volume import concat_cost_volume
from .errors import InputError
from .features import FeatureExtraction
from .hourglass import Hourglass
from .layers import classifier_3d, conv_bn_3d, conv_bn_relu_3d
from .regression import soft_argmin

VARIANTS = ("stackhourglass", "basic")
MAXDISP_MULTIPLE = {"stackhourglass": 16, "basic": 4}
"""maxdisp must be a positive multiple of this: the cost volume has maxdisp/4 disparity planes, and the
stackhourglass variant's hourglasses halve them twice."""


def check_maxdisp(variant: str | None, maxdisp: int) -> None:
    """InputError unless ``maxdisp`` (pixels) is a positive multiple of the ``variant``'s MAXDISP_MULTIPLE
    (variant None, not known yet: of 4, which every variant needs)."""
    multiple = MAXDISP_MULTIPLE.get(variant, 4)
    if maxdisp <= 0 or maxdisp % multiple:
        why = "its hourglasses halve the maxdisp/4 disparity planes twice" if multiple == 16 \
            else "the cost volume has maxdisp/4 disparity planes"
        which = f"the {variant} variant" if variant else "any variant"
        raise InputError(f"maxdisp must be a positive multiple of {multiple} for {which} ({why}), got {maxdisp}")


def _residual_3d() -> nn.Sequential:
    return nn.Sequential(*conv_bn_relu_3d(32, 32), conv_bn_3d(32, 32, 3, 1, 1))


class _PSMNetBase(nn.Module):
    variant = ""

    def __init__(self, maxdisp: int = 192, align_corners: bool = True):
        super().__init__()
        check_maxdisp(self.variant, maxdisp)
        self.maxdisp = maxdisp
        self.align_corners = align_corners
        self.feature_extraction = FeatureExtraction(align_corners)
        self.dres0 = nn.Sequential(*conv_bn_relu_3d(64, 32), *conv_bn_relu_3d(32, 32))
        self.dres1 = _residual_3d()

    def cost_volume(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """N x 64 x maxdisp/4 x H/4 x W/4 concatenation volume of both images' features."""
        return concat_cost_volume(self.feature_extraction(left), self.feature_extraction(right), self.maxdisp // 4)

    def regress(self, cost: torch.Tensor, height: int, width: int, with_confidence: bool = False) -> torch.Tensor:
        return soft_argmin(cost, self.maxdisp, height, width, self.align_corners, with_confidence)


class PSMNetStackHourglass(_PSMNetBase):
    """PSMNet with three stacked hourglasses and intermediate supervision."""

    variant = "stackhourglass"

    def __init__(self, maxdisp: int = 192, align_corners: bool = True):
        super().__init__(maxdisp, align_corners)
        self.dres2, self.dres3, self.dres4 = Hourglass(32), Hourglass(32), Hourglass(32)
        self.classif1, self.classif2, self.classif3 = classifier_3d(), classifier_3d(), classifier_3d()
        _init_weights(self)

    def scores(self, left: torch.Tensor, right: torch.Tensor) -> list[torch.Tensor]:
        """The three N x 1 x maxdisp/4 x H/4 x W/4 matching-score volumes, each adding the previous."""
        cost0 = self.dres0(self.cost_volume(left, right))
        cost0 = self.dres1(cost0) + cost0
        out1, pre1, post1 = self.dres2(cost0, None, None)
        out1 = out1 + cost0
        out2, _, post2 = self.dres3(out1, pre1, post1)
        out2 = out2 + cost0
        out3, _, _ = self.dres4(out2, pre1, post2)  # pre1, not pre2: as in the official code
        out3 = out3 + cost0
        cost1 = self.classif1(out1)
        cost2 = self.classif2(out2) + cost1
        cost3 = self.classif3(out3) + cost2
        return [cost1, cost2, cost3]

    def forward(self, left: torch.Tensor, right: torch.Tensor, with_confidence: bool = False):
        if self.training and with_confidence:
            raise InputError("the confidence is an evaluation output: call model.eval() first")
        h, w = left.shape[-2:]
        scores = self.scores(left, right)
        if self.training:
            return tuple(self.regress(s, h, w) for s in scores)
        return self.regress(scores[-1], h, w, with_confidence)


class PSMNetBasic(_PSMNetBase):
    """PSMNet with the basic 3D CNN: residual blocks, one output."""

    variant = "basic"

    def __init__(self, maxdisp: int = 192, align_corners: bool = True):
        super().__init__(maxdisp, align_corners)
        self.dres2, self.dres3, self.dres4 = _residual_3d(), _residual_3d(), _residual_3d()
        self.classify = classifier_3d()
        _init_weights(self)

    def scores(self, left: torch.Tensor, right: torch.Tensor) -> list[torch.Tensor]:
        """The N x 1 x maxdisp/4 x H/4 x W/4 matching-score volume, as a one-element list."""
        cost0 = self.dres0(self.cost_volume(left, right))
        for block in (self.dres1, self.dres2, self.dres3, self.dres4):
            cost0 = block(cost0) + cost0
        return [self.classify(cost0)]

    def forward(self, left: torch.Tensor, right: torch.Tensor, with_confidence: bool = False):
        h, w = left.shape[-2:]
        return self.regress(self.scores(left, right)[0], h, w, with_confidence)


def build_model(variant: str = "stackhourglass", maxdisp: int = 192, align_corners: bool = True) -> _PSMNetBase:
    """A PSMNet of the given variant ("stackhourglass" or "basic"), official initialization."""
    classes = {"stackhourglass": PSMNetStackHourglass, "basic": PSMNetBasic}
    if variant not in classes:
        raise InputError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return classes[variant](maxdisp, align_corners)


def _init_weights(model: nn.Module) -> None:
    """The official initialization: He-normal convolutions (fan-out), BatchNorm 1/0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(0, (2.0 / n) ** 0.5)
        elif isinstance(m, nn.Conv3d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.kernel_size[2] * m.out_channels
            m.weight.data.normal_(0, (2.0 / n) ** 0.5)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            m.weight.data.fill_(1)
            m.bias.data.zero_()
