"""Every dataset by name, for evaluation (``psmnet-eval``) and training (``psmnet-train``) alike.

Adding a dataset: a :class:`~psmnet_ros.core.datasets.StereoDataset` subclass, one
:class:`DatasetEntry` here, and its recipe in :data:`psmnet_ros.core.training.recipe.RECIPES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .datasets import Kitti2012, Kitti2015, MiddleburyMotorcycle, SceneFlow, StereoDataset
from .errors import InputError
from .synthetic import SyntheticStereo
from .synthetic.dataset import VALIDATION_SCENES


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset: how to open a split of it, and whether it reads a folder or generates its scenes.

    open: (root, split) -> dataset; root is None for a dataset with ``needs_root`` False.
    generated: True for scenes rendered from a seed (training renders them on its device).
    """

    name: str
    description: str
    open: Callable[[object, str], StereoDataset]
    needs_root: bool = True
    generated: bool = False


def _synthetic(root, split: str) -> SyntheticStereo:
    if split not in ("val", "all"):
        raise InputError(f"generated scenes have one evaluation split, the {VALIDATION_SCENES} held-out scenes "
                         f"psmnet-train validates on: use split val or all, not {split!r}")
    return SyntheticStereo(VALIDATION_SCENES)


DATASETS = {entry.name: entry for entry in (
    DatasetEntry("kitti2015", "KITTI 2015 stereo (folder holding training/)", Kitti2015),
    DatasetEntry("kitti2012", "KITTI 2012 stereo (folder holding training/)", Kitti2012),
    DatasetEntry("sceneflow", "SceneFlow FlyingThings3D, Monkaa, Driving", SceneFlow),
    DatasetEntry("middlebury", "scikit-image's Middlebury 2014 Motorcycle pair (one frame, no download)",
                 lambda root, split: MiddleburyMotorcycle(split), needs_root=False),
    DatasetEntry("synthetic", "generated scenes with exact ground truth (no download)", _synthetic,
                 needs_root=False, generated=True),
)}


def dataset_entry(name: str) -> DatasetEntry:
    """The entry of ``name``; InputError listing the names for an unknown one."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def open_dataset(name: str, root=None, split: str = "val") -> StereoDataset:
    """Split ``split`` of dataset ``name`` (one of :data:`DATASETS`) under folder ``root`` (ignored by a
    dataset that needs none). InputError for an unknown name or a missing root."""
    entry = dataset_entry(name)
    if entry.needs_root and root is None:
        raise InputError(f"dataset {name} needs a root folder")
    return entry.open(root if entry.needs_root else None, split)
