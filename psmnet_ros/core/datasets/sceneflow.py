"""The SceneFlow synthetic datasets (FlyingThings3D, Monkaa, Driving; Mayer et al. 2016).

Each archive unpacks to ``frames_cleanpass`` (or ``frames_finalpass``) and
``disparity`` folders with the same relative paths, PNG frames and PFM left
disparities (positive, dense):

- FlyingThings3D: ``frames_cleanpass/TRAIN|TEST/A|B|C/0000/left/0006.png``,
  ``disparity/TRAIN/A/0000/left/0006.pfm``;
- Monkaa: ``frames_cleanpass/<scene>/left/0000.png``;
- Driving: ``frames_cleanpass/35mm_focallength/scene_forwards/fast/left/0001.png``.

``root`` is one such tree or a folder holding several (e.g. ``FlyingThings3D/``,
``Monkaa/``, ``Driving/``). Split "val" is the FlyingThings3D TEST part, the
usual SceneFlow evaluation set; "train" is everything else, "all" both.
Names are the frame paths relative to ``root`` without the pass folder and
suffix, e.g. ``FlyingThings3D/TRAIN/A/0000/left/0006``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..pfm import read_pfm
from .base import FileStereoDataset, FramePaths, require_file

PASSES = ("cleanpass", "finalpass")


def _trees(root: Path, frames_dir: str) -> list[Path]:
    if (root / frames_dir).is_dir():
        return [root]
    trees = sorted(d for d in root.iterdir() if (d / frames_dir).is_dir()) if root.is_dir() else []
    if not trees:
        raise InputError(f"{root} is not a SceneFlow tree: no {frames_dir} folder in it or in its subfolders")
    return trees


class SceneFlow(FileStereoDataset):
    """SceneFlow frames of ``split`` ("train", "val", "all"), render pass "cleanpass" or "finalpass"."""

    def __init__(self, root, split: str = "val", render_pass: str = "cleanpass"):
        if render_pass not in PASSES:
            raise InputError(f"unknown SceneFlow pass {render_pass!r}; choose cleanpass or finalpass")
        if split not in ("train", "val", "all"):
            raise InputError(f"unknown SceneFlow split {split!r}; choose train, val or all")
        root = Path(root)
        frames_dir = f"frames_{render_pass}"
        frames = []
        for tree in _trees(root, frames_dir):
            images = tree / frames_dir
            disparities = tree / "disparity"
            if not disparities.is_dir():
                raise InputError(f"SceneFlow tree {tree} has {frames_dir} but no disparity folder")
            for left in sorted(p for p in images.rglob("*.png") if p.parent.name == "left"):
                rel = left.relative_to(images)
                is_test = rel.parts[0] == "TEST"
                if (split == "val" and not is_test) or (split == "train" and is_test):
                    continue
                name = (tree.relative_to(root) / rel.with_suffix("")).as_posix()
                frames.append(FramePaths(
                    name=name, left=left,
                    right=require_file(left.parent.parent / "right" / left.name),
                    disparity=require_file(disparities / rel.with_suffix(".pfm"))))
        if not frames:
            raise InputError(f"no {split} frames (left/*.png) under {root}")
        super().__init__(frames)

    def read_disparity(self, path: Path) -> np.ndarray:
        disparity, _ = read_pfm(path)
        if disparity.ndim != 2:
            raise InputError(f"{path} holds a 3-channel PFM; a disparity map has one channel")
        disparity[~np.isfinite(disparity)] = np.nan
        return disparity
