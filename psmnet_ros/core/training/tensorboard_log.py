"""TensorBoard records of a training run: step losses, epoch metrics, a disparity image."""
from __future__ import annotations

import numpy as np
from torch.utils.tensorboard import SummaryWriter


class TrainingLog:
    """Writes to ``logdir`` with SummaryWriter; every method does nothing when logdir is None.

    Tags: train/loss (per step), train/epoch_loss and train/lr (per epoch), val/epe (pixels)
    and val/d1 (fraction) per epoch, val/disparity (ground truth above prediction, RGB).
    """

    def __init__(self, logdir: str | None):
        self.writer = SummaryWriter(logdir) if logdir else None

    def step(self, global_step: int, loss: float) -> None:
        if self.writer:
            self.writer.add_scalar("train/loss", loss, global_step)

    def epoch(self, epoch: int, train_loss: float, lr: float, metrics: dict | None,
              image: np.ndarray | None) -> None:
        if not self.writer:
            return
        self.writer.add_scalar("train/epoch_loss", train_loss, epoch)
        self.writer.add_scalar("train/lr", lr, epoch)
        if metrics:
            for key in ("epe", "d1"):
                self.writer.add_scalar(f"val/{key}", metrics[key], epoch)
        if image is not None:
            self.writer.add_image("val/disparity", image, epoch, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.writer:
            self.writer.close()
