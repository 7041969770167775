"""Stereo datasets with ground truth (KITTI 2015/2012, SceneFlow, Middlebury) and image folders.

Each dataset is indexable like a torch Dataset; a sample is a dict with
``left``/``right`` HxWx3 uint8 RGB, ``disparity`` HxW float32 pixels (NaN
unknown, None without ground truth), ``noc`` (non-occluded map or None) and
``name``. ROS-free.
"""
from __future__ import annotations

from ..errors import InputError
from .base import FileStereoDataset, FramePaths, StereoDataset, read_rgb
from .folder import StereoFolder
from .kitti import Kitti2012, Kitti2015
from .middlebury import MiddleburyMotorcycle, motorcycle_calibration
from .sceneflow import SceneFlow
from .splits import read_split_file
from .transforms import random_crop

DATASETS = ("kitti2015", "kitti2012", "sceneflow", "middlebury")


def open_dataset(name: str, root=None, split: str = "val") -> StereoDataset:
    """A dataset with ground truth by name (one of DATASETS); middlebury needs no root."""
    if name == "middlebury":
        return MiddleburyMotorcycle(split)
    classes = {"kitti2015": Kitti2015, "kitti2012": Kitti2012, "sceneflow": SceneFlow}
    if name not in classes:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if root is None:
        raise InputError(f"dataset {name} needs a root folder")
    return classes[name](root, split)


__all__ = ["DATASETS", "FileStereoDataset", "FramePaths", "Kitti2012", "Kitti2015", "MiddleburyMotorcycle",
           "SceneFlow", "StereoDataset", "StereoFolder", "motorcycle_calibration", "open_dataset",
           "random_crop", "read_rgb", "read_split_file"]
