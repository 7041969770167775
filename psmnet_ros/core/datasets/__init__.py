"""Stereo datasets with ground truth (KITTI 2015/2012, SceneFlow, Middlebury) and image folders.

By name: :mod:`psmnet_ros.core.dataset_registry`.

Each dataset is indexable like a torch Dataset; a sample is a dict with
``left``/``right`` HxWx3 uint8 RGB, ``disparity`` HxW float32 pixels (NaN
unknown, None without ground truth), ``noc`` (non-occluded map or None) and
``name``. ROS-free.
"""
from __future__ import annotations

from .base import FileStereoDataset, FramePaths, StereoDataset, read_rgb
from .folder import StereoFolder
from .kitti import Kitti2012, Kitti2015
from .middlebury import MiddleburyMotorcycle, motorcycle_calibration
from .sceneflow import SceneFlow
from .splits import read_split_file
from .transforms import random_crop

__all__ = ["FileStereoDataset", "FramePaths", "Kitti2012", "Kitti2015", "MiddleburyMotorcycle",
           "SceneFlow", "StereoDataset", "StereoFolder", "motorcycle_calibration", "random_crop", "read_rgb", "read_split_file"]
