"""The Middlebury 2014 Motorcycle pair shipped with scikit-image.

``skimage.data.stereo_motorcycle()``: 741x500 px, a quarter of the benchmark
resolution, with dense ground truth (NaN / inf = unknown). Its calibration, from
the scikit-image docstring: focal 994.978 px, principal point (311.193, 254.877)
px, right principal point 31.086 px further right (doffs), baseline 193.001 mm.
"""
from __future__ import annotations

import numpy as np

from ..calibration import StereoCalibration
from ..errors import InputError
from .base import StereoDataset

MOTORCYCLE_FOCAL_PX = 994.978
MOTORCYCLE_BASELINE_M = 0.193001
MOTORCYCLE_CX_LEFT_PX = 311.193
MOTORCYCLE_CY_PX = 254.877
MOTORCYCLE_DOFFS_PX = 31.086
MOTORCYCLE_SIZE = (741, 500)


def motorcycle_calibration() -> StereoCalibration:
    """Rectified calibration of the Motorcycle pair (P_right[0,3] = -f * B)."""
    return StereoCalibration.from_pinhole(MOTORCYCLE_FOCAL_PX, MOTORCYCLE_BASELINE_M, MOTORCYCLE_CX_LEFT_PX,
                                          MOTORCYCLE_CY_PX, MOTORCYCLE_SIZE, doffs=MOTORCYCLE_DOFFS_PX)


class MiddleburyMotorcycle(StereoDataset):
    """One frame, "motorcycle"; ``split`` may be "val", "all" or "train": every split is that one pair
    (training on it is an over-fitting check, not a way to better weights)."""

    has_ground_truth = True

    def __init__(self, split: str = "val"):
        if split not in ("val", "all", "train"):
            raise InputError("the Middlebury Motorcycle set is one pair: "
                             f"use split val, all or train, not {split!r}")
        self.names = ["motorcycle"]
        self.calibration = motorcycle_calibration()

    def load(self, index: int) -> dict:
        from skimage import data

        left, right, disparity = data.stereo_motorcycle()
        disparity = np.asarray(disparity, dtype=np.float32).copy()
        disparity[~np.isfinite(disparity)] = np.nan
        return {"name": self.names[index], "left": np.ascontiguousarray(left),
                "right": np.ascontiguousarray(right), "disparity": disparity, "noc": None}
