"""Inference-only PSMNet built from a plain one: folded BatchNorm, fused last stage, device-side input.

:class:`FastPSMNet` copies the weights of a plain :mod:`psmnet_ros.core.psmnet` model (which
stays untouched, e.g. for training), folds every BatchNorm into its convolution, and runs the
same forward graph with three differences that do not change the result beyond float rounding:
one feature-extraction pass over left and right together, the cost volume written straight
into its memory format, and (optionally) the fused last stage of :mod:`.last_stage`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..preprocess import IMAGENET_MEAN, IMAGENET_STD, crop_output, padding_for
from ..psmnet import PSMNetBasic, PSMNetStackHourglass
from .cost_volume import concat_cost_volume_into
from .fold_bn import fold_batchnorm_
from .last_stage import DEFAULT_CHUNK_ELEMENTS, fused_soft_argmin


@dataclass(frozen=True)
class FastConfig:
    """Switches of the fast path (BatchNorm is always folded).

    fused_last_stage: upsampling + softmax + soft argmin by row bands (:mod:`.last_stage`).
    channels_last: 2D features in ``channels_last``, 3D volumes in ``channels_last_3d``.
    cuda_graph: record CUDA graphs and replay them (CUDA only; :class:`.CudaGraphRunner`).
    chunk_elements: band size of the fused last stage (elements).
    cudnn_benchmark: ``torch.backends.cudnn.benchmark`` during the forward passes (CUDA only);
    None leaves the process's setting.
    """

    fused_last_stage: bool = True
    channels_last: bool = False
    cuda_graph: bool = False
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS
    cudnn_benchmark: bool | None = None

    @classmethod
    def for_device(cls, device: torch.device) -> "FastConfig":
        """Everything on for CUDA (cudnn.benchmark too); on the CPU the fused last stage only (the memory
        formats do not help there)."""
        cuda = device.type == "cuda"
        return cls(fused_last_stage=True, channels_last=cuda, cuda_graph=cuda, cudnn_benchmark=True if cuda else None)


class _FastStages:
    """Overrides of the plain model's cost volume and last stage (mixed into its classes)."""

    volume_format = torch.contiguous_format
    fused_last_stage = True
    chunk_elements = DEFAULT_CHUNK_ELEMENTS

    def cost_volume(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        features = self.feature_extraction(torch.cat([left, right]))
        reference, target = features.chunk(2)
        return concat_cost_volume_into(reference, target, self.maxdisp // 4, self.volume_format)

    def regress(self, cost: torch.Tensor, height: int, width: int, with_confidence: bool = False) -> torch.Tensor:
        if self.fused_last_stage:
            return fused_soft_argmin(cost, self.maxdisp, height, width, self.align_corners, self.chunk_elements,
                                     with_confidence)
        return super().regress(cost.float(), height, width, with_confidence)


class _FastStackHourglass(_FastStages, PSMNetStackHourglass):
    pass


class _FastBasic(_FastStages, PSMNetBasic):
    pass


_FAST_CLASSES = {"stackhourglass": _FastStackHourglass, "basic": _FastBasic}


class FastPSMNet(nn.Module):
    """uint8 N x H x W x 3 RGB left and right images (on the device) -> N x H x W float32 disparity (pixels),
    or with ``with_confidence`` N x 2 x H x W: the disparity and its confidence in [0, 1].

    Normalization, padding to a multiple of 16 and cropping as in :mod:`psmnet_ros.core.preprocess`,
    all on the device with constant tensors made at construction, so a forward pass can be
    recorded in a CUDA graph. Convolutions run in ``dtype``; the output is float32.
    """

    def __init__(self, model: nn.Module, config: FastConfig = FastConfig(), dtype: torch.dtype = torch.float32):
        super().__init__()
        device = next(model.parameters()).device
        with torch.random.fork_rng(devices=[]):  # the throw-away initialization must not move the caller's RNG
            net = _FAST_CLASSES[model.variant](model.maxdisp, model.align_corners)
        net.load_state_dict(model.state_dict())
        net.eval()
        fold_batchnorm_(net)
        net.fused_last_stage, net.chunk_elements = config.fused_last_stage, config.chunk_elements
        net.to(device=device, dtype=dtype)
        self.image_format = torch.contiguous_format
        if config.channels_last:
            self.image_format, net.volume_format = torch.channels_last, torch.channels_last_3d
            for name, child in net.named_children():
                child.to(memory_format=torch.channels_last if name == "feature_extraction" else torch.channels_last_3d)
        for p in net.parameters():
            p.requires_grad_(False)
        self.net, self.dtype = net, dtype
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1), persistent=False)

    def forward(self, left: torch.Tensor, right: torch.Tensor, with_confidence: bool = False) -> torch.Tensor:
        height, width = left.shape[1:3]
        left, right = self._network_input(left), self._network_input(right)
        return crop_output(self.net(left, right, with_confidence), height, width)

    def _network_input(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float().div_(255).sub_(self.mean).div_(self.std)
        top, right = padding_for(*x.shape[-2:])
        x = F.pad(x, (0, right, top, 0))
        return x.to(dtype=self.dtype, memory_format=self.image_format)
