"""A folder of left images and a folder of right images, without ground truth.

Files are paired by sorted name: both folders must hold the same image names
(png, jpg, jpeg, ppm, bmp). Frame names are the file names without suffix.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .base import IMAGE_SUFFIXES, FileStereoDataset, FramePaths


def _images(folder: Path, pattern: str) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"image folder {folder} does not exist")
    return sorted(p for p in folder.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def pair_images(left_dir, right_dir, pattern: str = "*") -> list[tuple[Path, Path]]:
    """(left, right) image paths matched by file name, sorted; InputError unless they pair up one to one."""
    left_dir, right_dir = Path(left_dir), Path(right_dir)
    lefts, rights = _images(left_dir, pattern), _images(right_dir, pattern)
    if not lefts:
        raise InputError(f"no {pattern} images in {left_dir}")
    if len(lefts) != len(rights):
        raise InputError(f"mismatched frame counts: {left_dir} has {len(lefts)} images, "
                         f"{right_dir} has {len(rights)}")
    for left, right in zip(lefts, rights):
        if left.name != right.name:
            raise InputError(f"left and right images do not pair up: {left.name} in {left_dir} "
                             f"against {right.name} in {right_dir}")
    return list(zip(lefts, rights))


class StereoFolder(FileStereoDataset):
    """Pairs ``left_dir/<name>`` with ``right_dir/<name>``; disparity and noc are None."""

    def __init__(self, left_dir, right_dir):
        super().__init__([FramePaths(name=left.stem, left=left, right=right)
                          for left, right in pair_images(left_dir, right_dir)])
