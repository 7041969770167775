"""Deterministic train/validation splits listed in text files.

The shipped files live in ``psmnet_ros/splits/<dataset>_<split>.txt``, one
frame name per line, ``#`` comments allowed. ``split`` is "train", "val",
"all" (every frame found on disk, sorted) or the path of a file of the same
format, for custom subsets.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import InputError

SPLITS = ("train", "val", "all")


def read_split_file(path) -> list[str]:
    """Frame names listed in a split file, in file order."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read split file {path}: {exc}") from None
    names = [line.split("#", 1)[0].strip() for line in lines]
    names = [n for n in names if n]
    if not names:
        raise InputError(f"split file {path} lists no frames")
    return names


def split_names(dataset: str, split: str, available: list[str]) -> list[str]:
    """Names of ``split`` for ``dataset`` (e.g. "kitti2015"); ``available`` is the
    sorted list of frames on disk, returned as is for "all"."""
    if split == "all":
        return list(available)
    if split in ("train", "val"):
        shipped = resources.files("psmnet_ros").joinpath("splits", f"{dataset}_{split}.txt")
        with resources.as_file(shipped) as path:
            return read_split_file(path)
    if Path(split).is_file():
        return read_split_file(split)
    raise InputError(f"unknown split {split!r}: use train, val, all or the path of a split file")
