"""Training-time transforms on dataset samples."""
from __future__ import annotations

import numpy as np

from ..errors import InputError

CROPPED_KEYS = ("left", "right", "disparity", "noc")


def random_crop(sample: dict, height: int = 256, width: int = 512, *, rng: np.random.Generator) -> dict:
    """The same random height x width window (pixels) cut from left, right, disparity and noc.

    One window for all maps keeps the pair rectified and the disparities valid
    (both images lose the same columns). The window is drawn uniformly with
    ``rng`` (a numpy Generator, for reproducible runs); PSMNet trains on
    256x512 crops. Maps that are None stay None; the name is kept. Raises
    InputError when the frame is smaller than the crop.
    """
    h, w = sample["left"].shape[:2]
    if h < height or w < width:
        raise InputError(f"frame {sample.get('name')} is {w}x{h} px, smaller than the {width}x{height} crop")
    top = int(rng.integers(0, h - height + 1))
    left = int(rng.integers(0, w - width + 1))
    window = (slice(top, top + height), slice(left, left + width))
    cropped = dict(sample)
    for key in CROPPED_KEYS:
        if sample.get(key) is not None:
            cropped[key] = np.ascontiguousarray(sample[key][window])
    return cropped
