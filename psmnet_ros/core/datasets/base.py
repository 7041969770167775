"""Base class of the stereo datasets: frames on disk, read on demand.

Every dataset indexes like a torch Dataset: ``len(ds)`` and ``ds[i]`` giving a
dict with ``left``/``right`` (HxWx3 uint8 RGB), ``disparity`` (HxW float32
pixels, NaN where unknown; None without ground truth), ``noc`` (HxW float32
non-occluded ground truth, or None) and ``name`` (str).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp")


def read_rgb(path) -> np.ndarray:
    """HxWx3 uint8 RGB from an 8-bit image file (grey is repeated, alpha dropped)."""
    path = Path(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"cannot read image {path}" + ("" if path.is_file() else ": no such file"))
    if image.dtype != np.uint8:
        raise InputError(f"{path} has {image.dtype} pixels; 8-bit images are expected")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)


def write_rgb(path, rgb: np.ndarray) -> None:
    """Write an HxWx3 uint8 RGB image to ``path`` (format from the suffix); InputError if it cannot."""
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise InputError(f"cannot write {path}")


def require_file(path: Path) -> Path:
    """``path`` if it is a file, else InputError naming it."""
    if not path.is_file():
        raise InputError(f"missing file {path}")
    return path


@dataclass(frozen=True)
class FramePaths:
    """Files of one frame; disparity/noc are None where the dataset has no such map."""

    name: str
    left: Path
    right: Path
    disparity: Path | None = None
    noc: Path | None = None


class StereoDataset:
    """Indexable frames: subclasses give ``names`` and :meth:`load`."""

    names: list[str]
    has_ground_truth: bool

    def __len__(self) -> int:
        return len(self.names)

    def load(self, index: int) -> dict:
        """The sample dict of frame ``index`` (0 <= index < len)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame index {index} out of range for {len(self)} frames")
        sample = self.load(index % len(self))
        check_sample(sample)
        return sample


class FileStereoDataset(StereoDataset):
    """Frames stored as files (:class:`FramePaths`); subclasses define :meth:`read_disparity`."""

    def __init__(self, frames: list[FramePaths]):
        self.frames = list(frames)
        self.names = [f.name for f in self.frames]
        self.has_ground_truth = bool(self.frames) and self.frames[0].disparity is not None

    def read_disparity(self, path: Path) -> np.ndarray:
        """HxW float32 disparity (pixels, NaN unknown) from one ground-truth file."""
        raise NotImplementedError

    def load(self, index: int) -> dict:
        frame = self.frames[index]
        return {"name": frame.name, "left": read_rgb(frame.left), "right": read_rgb(frame.right),
                "disparity": None if frame.disparity is None else self.read_disparity(frame.disparity),
                "noc": None if frame.noc is None else self.read_disparity(frame.noc)}


def check_sample(sample: dict) -> None:
    """InputError naming the frame when its images and maps differ in size."""
    size = sample["left"].shape[:2]
    for key in ("right", "disparity", "noc"):
        value = sample[key]
        if value is not None and value.shape[:2] != size:
            raise InputError(f"frame {sample['name']}: {key} is {value.shape[1]}x{value.shape[0]} px "
                             f"but left is {size[1]}x{size[0]} px")
