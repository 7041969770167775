"""The network's input contract: ImageNet normalization, padding to a multiple of 16."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MULTIPLE = 16
"""Padded height and width are multiples of this (pixels)."""
MIN_PADDED = 256
"""Smallest padded height/width: the SPP's 64x64 pool at 1/4 resolution (pixels)."""
MIN_SIZE = MIN_PADDED - MULTIPLE + 1
"""Smallest input height/width the network accepts before padding (pixels)."""


def padding_for(height: int, width: int) -> tuple[int, int]:
    """(top, right) zero padding in pixels that brings H and W up to multiples of 16."""
    return (-height) % MULTIPLE, (-width) % MULTIPLE


def min_size_at_scale(input_scale: float = 1.0) -> int:
    """Smallest image height/width in pixels that is at least MIN_SIZE once resized by ``input_scale``
    (rounded to whole pixels, as the estimator resizes)."""
    side = math.ceil((MIN_SIZE - 0.5) / input_scale)
    while round(side * input_scale) < MIN_SIZE:
        side += 1
    return side


def check_pair(left, right, input_scale: float = 1.0) -> tuple[int, int]:
    """Validate one stereo pair of HxWx3 uint8 RGB arrays that the network sees resized by
    ``input_scale``; returns (H, W)."""
    for name, img in (("left", left), ("right", right)):
        if not isinstance(img, np.ndarray):
            raise InputError(f"{name} image must be a numpy array, got {type(img).__name__}")
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise InputError(f"{name} image must be HxWx3 uint8 RGB, got shape {img.shape} dtype {img.dtype}")
    if left.shape != right.shape:
        raise InputError(f"left and right images differ in size: {left.shape[:2]} vs {right.shape[:2]}")
    h, w = left.shape[:2]
    side = min_size_at_scale(input_scale)
    if h < side or w < side:
        scaled = "" if input_scale == 1 else f" at input_scale {input_scale:g}"
        raise InputError(f"image {w}x{h} is too small for PSMNet{scaled}: width and height must be at least {side} px "
                         f"(the network needs {MIN_SIZE} px, padded to {MIN_PADDED}: the SPP's largest pooling window "
                         "at 1/4 scale)")
    return h, w


def to_network_input(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Stack N HxWx3 uint8 RGB images into a normalized, padded N x 3 x H' x W' float32 tensor.

    Normalization: /255, minus ImageNet mean, divided by std. Zero padding of the
    normalized image at the top and on the right, as the official test script does.
    """
    return normalize_batch(torch.from_numpy(np.stack(images)), device)


def normalize_batch(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``to_network_input`` for an N x H x W x 3 uint8 RGB tensor (on any device)."""
    x = batch.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    x = x.sub(mean).div(std)
    top, right = padding_for(*x.shape[-2:])
    return F.pad(x, (0, right, top, 0)) if top or right else x


def crop_output(disparity: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Undo ``to_network_input``'s padding: keep the bottom-left H x W of N x H' x W' (or N x C x H' x W')."""
    return disparity[..., disparity.shape[-2] - height:, :width]
