"""Generated scenes as a dataset (validation, tests) and as training batches rendered on the device."""
from __future__ import annotations

import numpy as np
import torch

from ..datasets.base import StereoDataset
from ..errors import InputError
from .render import render
from .scenes import draw_scene, scene_rng

DEFAULT_MAX_DISPARITY = 160.0
"""Largest generated disparity (pixels); below the network's 192 so every pixel supervises."""
GENERATED_FRACTION = 0.85
"""Generated disparities stay below this fraction of a smaller network's maxdisp."""
VALIDATION_STREAM = 0
"""Stream of the validation scenes; training epoch e draws its scenes from stream e."""


def max_disparity_for(maxdisp: int) -> float:
    """Largest disparity (pixels) to generate for a network of ``maxdisp``."""
    return min(DEFAULT_MAX_DISPARITY, GENERATED_FRACTION * maxdisp)


def _check_size(height: int, width: int, max_disparity: float) -> None:
    if height < 1 or width < 1:
        raise InputError(f"scene size must be positive, got {width}x{height}")
    if not 1 <= max_disparity:
        raise InputError(f"max_disparity must be at least 1 px, got {max_disparity}")


class SyntheticStereo(StereoDataset):
    """``count`` generated scenes of ``size`` (H, W) from ``seed`` and ``stream``, rendered on the CPU.

    Samples as every dataset's; ``noc`` is the disparity where the left pixel is visible in
    the right view, NaN elsewhere.
    """

    has_ground_truth = True

    def __init__(self, count: int, size: tuple[int, int] = (256, 512), seed: int = 1,
                 stream: int = VALIDATION_STREAM, max_disparity: float = DEFAULT_MAX_DISPARITY):
        _check_size(*size, max_disparity)
        self.size, self.seed, self.stream, self.max_disparity = size, seed, stream, max_disparity
        self.names = [f"synthetic_s{seed}_{stream}_{i:05d}" for i in range(count)]

    def load(self, index: int) -> dict:
        h, w = self.size
        out = render([draw_scene(scene_rng(self.seed, self.stream, index), h, w, self.max_disparity)], h, w)
        disparity = out["disparity"][0].numpy()
        return {"name": self.names[index], "left": out["left"][0].numpy(), "right": out["right"][0].numpy(),
                "disparity": disparity, "noc": np.where(out["noc"][0].numpy(), disparity, np.nan)}


class SyntheticBatches:
    """Training batches of generated scenes, rendered on the training device.

    Epoch e (>= 1) holds ``scenes_per_epoch`` scenes of stream e, in index order, so a run
    resumed after epoch e sees exactly the scenes an uninterrupted one would.
    """

    def __init__(self, seed: int, scenes_per_epoch: int, size: tuple[int, int],
                 max_disparity: float = DEFAULT_MAX_DISPARITY):
        _check_size(*size, max_disparity)
        if scenes_per_epoch < 1:
            raise InputError(f"scenes per epoch must be at least 1, got {scenes_per_epoch}")
        self.seed, self.scenes_per_epoch, self.size, self.max_disparity = seed, scenes_per_epoch, size, max_disparity

    def steps(self, batch_size: int) -> int:
        """Optimizer steps an epoch takes (the last batch may be smaller)."""
        return -(-self.scenes_per_epoch // batch_size)

    def epoch(self, epoch: int, batch_size: int, device: torch.device):
        """Yield (left, right, disparity) batches of ``epoch`` on ``device``: N x H x W x 3 uint8
        RGB twice, N x H x W float32 pixels."""
        h, w = self.size
        for start in range(0, self.scenes_per_epoch, batch_size):
            indices = range(start, min(start + batch_size, self.scenes_per_epoch))
            scenes = [draw_scene(scene_rng(self.seed, epoch, i), h, w, self.max_disparity) for i in indices]
            out = render(scenes, h, w, device)
            yield out["left"], out["right"], out["disparity"]
