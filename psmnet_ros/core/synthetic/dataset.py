"""Generated scenes as a dataset (validation, tests); training renders them on the device (``training.data``)."""
from __future__ import annotations

import numpy as np

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
VALIDATION_SCENES = 16
"""Held-out scenes psmnet-train validates on and psmnet-eval's synthetic dataset holds."""


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
