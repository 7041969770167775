"""Training batches from a stereo dataset: seeded random crops, shuffled per epoch."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..datasets import random_crop
from ..errors import InputError
from ..preprocess import MIN_PADDED, MULTIPLE


def check_crop(height: int, width: int) -> None:
    """Crops must need no padding (multiples of 16) and feed the SPP (>= 256 px); InputError else."""
    if height % MULTIPLE or width % MULTIPLE or min(height, width) < MIN_PADDED:
        raise InputError(f"crop {height}x{width} is not usable: height and width must be multiples of "
                         f"{MULTIPLE} and at least {MIN_PADDED} px")


def check_crop_fits(samples, crop: tuple[int, int]) -> None:
    """InputError when ``samples`` is empty or its first frame is smaller than the (H, W) crop."""
    if len(samples) == 0:
        raise InputError("the training set is empty")
    random_crop(samples[0], crop[0], crop[1], rng=np.random.default_rng(0))


def spp_cells(crop: tuple[int, int]) -> int:
    """Output pixels per image of the SPP's largest (64 x 64 at 1/4 scale) pooling branch."""
    return (crop[0] // MIN_PADDED) * (crop[1] // MIN_PADDED)


def check_batchnorm_batches(crop: tuple[int, int], batch_size: int, micro_batch: int, frames: int) -> None:
    """InputError when a forward pass could hold one image whose SPP branch has one pixel:
    BatchNorm cannot train on one value per channel. (Incomplete last batches are dropped then.)"""
    if spp_cells(crop) != 1:
        return
    if micro_batch < 2 or batch_size % micro_batch == 1:
        raise InputError(f"a {crop[0]}x{crop[1]} crop needs at least 2 images in every forward pass (the SPP's "
                         f"64x64 pooling leaves BatchNorm one value per image): use a larger crop or a micro-batch "
                         f">= 2 that leaves no single image of the batch of {batch_size}")
    if frames < batch_size:
        raise InputError(f"a {crop[0]}x{crop[1]} crop trains on complete batches only, and {frames} frames do not "
                         f"fill one batch of {batch_size}")


def check_batch_split(crop: tuple[int, int], batch_size: int, micro_batch: int, frames: int) -> None:
    """The split of batches into micro-batches over ``frames`` frames; InputError else."""
    if not 1 <= micro_batch <= batch_size:
        raise InputError(f"--micro-batch must be between 1 and the batch size {batch_size}, got {micro_batch}")
    check_batchnorm_batches(crop, batch_size, micro_batch, frames)


def check_training_data(samples, crop: tuple[int, int], batch_size: int, micro_batch: int) -> None:
    """Every check a run needs before training starts: crop, frames, batch split; InputError else."""
    check_crop(*crop)
    check_crop_fits(samples, crop)
    check_batch_split(crop, batch_size, micro_batch, len(samples))


class CropDataset(Dataset):
    """(left, right, disparity) random crops of a dataset's samples.

    Items: crop_h x crop_w x 3 uint8 RGB left and right, crop_h x crop_w float32 disparity
    (pixels, NaN unknown). The crop position depends only on (seed, epoch, index), so a
    resumed run sees the crops an uninterrupted one would; set ``epoch`` before each epoch.
    """

    def __init__(self, samples, crop: tuple[int, int], seed: int):
        self.samples = samples
        self.crop = crop
        self.seed = seed
        self.epoch = 1

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        if sample["disparity"] is None:
            raise InputError(f"{sample['name']} has no ground-truth disparity to train on")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        crop = random_crop(sample, height=self.crop[0], width=self.crop[1], rng=rng)
        return crop["left"], crop["right"], crop["disparity"]


def epoch_loader(dataset: CropDataset, epoch: int, batch_size: int, workers: int,
                 drop_last: bool = False, pin_memory: bool = False) -> DataLoader:
    """Batches of ``dataset`` for 1-based ``epoch`` in an order fixed by (seed, epoch).

    The official scripts keep the last, smaller batch (drop_last False). ``pin_memory``: batches
    in page-locked memory, for asynchronous copies to a GPU.
    """
    dataset.epoch = epoch
    order = torch.Generator().manual_seed(dataset.seed * 100_003 + epoch)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=order, num_workers=workers,
                      drop_last=drop_last, pin_memory=pin_memory)

