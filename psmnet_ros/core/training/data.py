"""What a run trains on: seeded random crops of a dataset's samples, or scenes generated on the device.

Both sources give the trainer the same things: ``check(micro_batch)`` (InputError before training
starts), ``epoch(epoch, device)`` (the batches of 1-based ``epoch`` and their number) and
``record()`` (what a checkpoint adds about the data). Batches are (left, right, disparity):
N x H x W x 3 uint8 RGB twice, N x H x W float32 pixels (NaN unknown). An epoch's batches depend
only on (seed, epoch), so a resumed run sees the ones an uninterrupted run would.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..dataset_registry import dataset_entry
from ..datasets import random_crop
from ..errors import InputError
from ..preprocess import MIN_PADDED, MULTIPLE
from ..synthetic import GENERATOR_VERSION, SyntheticStereo, draw_scene, max_disparity_for, render, scene_rng
from .recipe import Recipe

def check_crop(height: int, width: int) -> None:
    """Crops must need no padding (multiples of 16) and feed the SPP (>= 256 px); InputError else."""
    if height % MULTIPLE or width % MULTIPLE or min(height, width) < MIN_PADDED:
        raise InputError(f"crop {height}x{width} is not usable: height and width must be multiples of "
                         f"{MULTIPLE} and at least {MIN_PADDED} px")


def spp_cells(crop: tuple[int, int]) -> int:
    """Output pixels per image of the SPP's largest (64 x 64 at 1/4 scale) pooling branch."""
    return (crop[0] // MIN_PADDED) * (crop[1] // MIN_PADDED)


def check_batch_split(crop: tuple[int, int], batch_size: int, micro_batch: int, frames: int) -> None:
    """The split of batches into micro-batches over ``frames`` frames; InputError else. A crop whose
    SPP branch has one pixel needs 2+ images in every forward pass (BatchNorm cannot train on one
    value per channel), so incomplete last batches are dropped then."""
    if not 1 <= micro_batch <= batch_size:
        raise InputError(f"--micro-batch must be between 1 and the batch size {batch_size}, got {micro_batch}")
    if spp_cells(crop) != 1:
        return
    if micro_batch < 2 or batch_size % micro_batch == 1:
        raise InputError(f"a {crop[0]}x{crop[1]} crop needs at least 2 images in every forward pass (the SPP's "
                         f"64x64 pooling leaves BatchNorm one value per image): use a larger crop or a micro-batch "
                         f">= 2 that leaves no single image of the batch of {batch_size}")
    if frames < batch_size:
        raise InputError(f"a {crop[0]}x{crop[1]} crop trains on complete batches only, and {frames} frames do not "
                         f"fill one batch of {batch_size}")


class _Crops(Dataset):
    """Item ``index`` of ``epoch``: a crop of sample ``index`` at a position drawn from (seed, epoch, index)."""

    def __init__(self, samples, crop: tuple[int, int], seed: int, epoch: int):
        self.samples, self.crop, self.seed, self.epoch = samples, crop, seed, epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        if sample["disparity"] is None:
            raise InputError(f"{sample['name']} has no ground-truth disparity to train on")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        crop = random_crop(sample, height=self.crop[0], width=self.crop[1], rng=rng)
        return crop["left"], crop["right"], crop["disparity"]


class DatasetCrops:
    """Random ``crop`` (H, W) windows of ``samples`` (a dataset of dicts with left/right HxWx3 uint8
    RGB, disparity HxW float32 pixels), shuffled per epoch, in batches of ``batch_size`` loaded by
    ``workers`` processes (CPU tensors; page-locked for a CUDA device, for asynchronous copies).
    The official scripts keep the last, smaller batch; a one-cell SPP crop drops it."""

    def __init__(self, samples, crop: tuple[int, int], seed: int, batch_size: int, workers: int = 0):
        self.samples, self.crop, self.seed, self.batch_size, self.workers = samples, crop, seed, batch_size, workers

    def check(self, micro_batch: int) -> None:
        """InputError for a bad crop, an empty set, a first frame smaller than the crop, or a bad batch split."""
        check_crop(*self.crop)
        if len(self.samples) == 0:
            raise InputError("the training set is empty")
        random_crop(self.samples[0], self.crop[0], self.crop[1], rng=np.random.default_rng(0))
        check_batch_split(self.crop, self.batch_size, micro_batch, len(self.samples))

    def epoch(self, epoch: int, device: torch.device) -> tuple[DataLoader, int]:
        """The batches of ``epoch`` in an order fixed by (seed, epoch), and their number."""
        order = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        loader = DataLoader(_Crops(self.samples, self.crop, self.seed, epoch), batch_size=self.batch_size,
                            shuffle=True, generator=order, num_workers=self.workers,
                            drop_last=spp_cells(self.crop) == 1, pin_memory=device.type == "cuda")
        return loader, len(loader)

    def record(self) -> dict:
        return {}


class GeneratedScenes:
    """Scenes of ``crop`` (H, W) from :mod:`psmnet_ros.core.synthetic`, rendered on the training device.

    Epoch e (>= 1) holds ``scenes_per_epoch`` scenes of stream e in index order, in batches of
    ``batch_size`` (the last may be smaller); the validation scenes are stream 0. Disparities stay
    below ``max_disparity`` pixels.
    """

    def __init__(self, seed: int, scenes_per_epoch: int, crop: tuple[int, int], batch_size: int,
                 max_disparity: float):
        self.seed, self.scenes_per_epoch, self.crop = seed, scenes_per_epoch, crop
        self.batch_size, self.max_disparity = batch_size, max_disparity

    def check(self, micro_batch: int) -> None:
        """InputError for a bad crop, no scenes, or a bad batch split."""
        check_crop(*self.crop)
        if self.scenes_per_epoch < 1:
            raise InputError(f"scenes per epoch must be at least 1, got {self.scenes_per_epoch}")
        check_batch_split(self.crop, self.batch_size, micro_batch, self.scenes_per_epoch)

    def epoch(self, epoch: int, device: torch.device):
        """The batches of ``epoch`` (a generator of tensors on ``device``) and their number."""
        return self._render(epoch, device), -(-self.scenes_per_epoch // self.batch_size)

    def _render(self, epoch: int, device: torch.device):
        h, w = self.crop
        for start in range(0, self.scenes_per_epoch, self.batch_size):
            indices = range(start, min(start + self.batch_size, self.scenes_per_epoch))
            scenes = [draw_scene(scene_rng(self.seed, epoch, i), h, w, self.max_disparity) for i in indices]
            out = render(scenes, h, w, device)
            yield out["left"], out["right"], out["disparity"]

    def record(self) -> dict:
        """The generator's version: the scenes a seed gives depend on it."""
        return {"generator_version": GENERATOR_VERSION}

    def validation(self, count: int) -> SyntheticStereo | None:
        """``count`` held-out scenes (stream 0) of the training crop size, rendered on the CPU; None for 0."""
        if count == 0:
            return None
        return SyntheticStereo(count, size=self.crop, seed=self.seed, max_disparity=self.max_disparity)


def training_source(recipe: Recipe, maxdisp: int, samples=None, workers: int = 0) -> DatasetCrops | GeneratedScenes:
    """The data ``recipe`` trains a network of ``maxdisp`` on: generated scenes for a generated
    dataset (synthetic), else crops of ``samples`` loaded by ``workers`` processes."""
    if dataset_entry(recipe.dataset).generated:
        return GeneratedScenes(recipe.seed, recipe.scenes_per_epoch, recipe.crop, recipe.batch_size,
                               max_disparity_for(maxdisp))
    return DatasetCrops(samples, recipe.crop, recipe.seed, recipe.batch_size, workers)
