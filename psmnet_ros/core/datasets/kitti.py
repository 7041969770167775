"""KITTI stereo 2015 and 2012 benchmark trees.

KITTI 2015 (data_scene_flow.zip): ``<root>/training/image_2/000000_10.png``
(left), ``image_3`` (right), ``disp_occ_0`` (all pixels) and ``disp_noc_0``
(non-occluded) uint16 PNG ground truth; ``<root>/testing`` has images only.
KITTI 2012 (data_stereo_flow.zip): ``colored_0``, ``colored_1``, ``disp_occ``,
``disp_noc``. Only the reference frames ``*_10`` are stereo frames (``*_11``
belong to the flow benchmarks). ``split``: "train"/"val" (files in
psmnet_ros/splits), "all", a split file path, or "test" (testing folder, no
ground truth).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..disparity_io import read_kitti_disparity
from ..errors import InputError
from .base import FileStereoDataset, FramePaths, require_file
from .splits import split_names


class KittiStereoDataset(FileStereoDataset):
    """Common reader of the KITTI stereo trees; subclasses name the folders."""

    key = ""
    title = ""
    left_dir = right_dir = occ_dir = noc_dir = ""

    def __init__(self, root, split: str = "val"):
        root = Path(root)
        part = root / ("testing" if split == "test" else "training")
        left_dir = part / self.left_dir
        if not left_dir.is_dir():
            raise InputError(f"{root} is not a {self.title} tree: folder {left_dir} is missing")
        available = sorted(p.stem for p in left_dir.glob("*_10.png"))
        if not available:
            raise InputError(f"no *_10.png frames in {left_dir}")
        names = available if split == "test" else split_names(self.key, split, available)
        with_gt = split != "test"
        frames = [FramePaths(
            name=name,
            left=require_file(left_dir / f"{name}.png"),
            right=require_file(part / self.right_dir / f"{name}.png"),
            disparity=require_file(part / self.occ_dir / f"{name}.png") if with_gt else None,
            noc=require_file(part / self.noc_dir / f"{name}.png") if with_gt else None,
        ) for name in names]
        super().__init__(frames)

    def read_disparity(self, path: Path) -> np.ndarray:
        return read_kitti_disparity(path)


class Kitti2015(KittiStereoDataset):
    """KITTI stereo 2015: 200 training frames; val = 000160_10..000199_10."""

    key = "kitti2015"
    title = "KITTI 2015 stereo"
    left_dir, right_dir, occ_dir, noc_dir = "image_2", "image_3", "disp_occ_0", "disp_noc_0"


class Kitti2012(KittiStereoDataset):
    """KITTI stereo 2012: 194 training frames; val = 000154_10..000193_10."""

    key = "kitti2012"
    title = "KITTI 2012 stereo"
    left_dir, right_dir, occ_dir, noc_dir = "colored_0", "colored_1", "disp_occ", "disp_noc"
