"""The training loop: Adam steps with gradient accumulation, validation, checkpoints, resume."""
from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import time

import numpy as np
import torch
from tqdm import tqdm

from ..checkpoint import apply_weights, load_checkpoint, save_checkpoint
from ..colorize import colorize
from ..errors import CheckpointError
from ..estimator import StereoEstimator, resolve_device
from ..evaluation import evaluate
from ..preprocess import normalize_batch
from ..psmnet import build_model
from ..synthetic import GENERATOR_VERSION, SyntheticBatches, max_disparity_for
from .data import CropDataset, check_batch_split, check_crop, check_training_data, epoch_loader, spp_cells
from .loss import loss_sum, valid_mask
from .recipe import ADAM_BETAS, Recipe, recipe_for, set_learning_rate
from .tensorboard_log import TrainingLog

TRAINING_KEYS = ("epoch", "recipe")
"""Entries a checkpoint needs, besides the weights, to resume training (the optimizer state
too, except in a released checkpoint, where Adam starts afresh)."""


class Trainer:
    """Trains ``model`` on ``train_samples`` with ``recipe``; validates on ``val_samples``.

    Samples are datasets of dicts (left/right HxWx3 uint8 RGB, disparity HxW float32 pixels,
    NaN unknown, name); for the "synthetic" recipe ``train_samples`` is None and scenes are
    generated and rendered on ``device`` (:class:`~psmnet_ros.core.synthetic.SyntheticBatches`).
    ``micro_batch``: images per forward pass; gradients of the micro-batches
    add up to those of the full batch of ``recipe.batch_size``. ``amp``: float16 autocast with a
    GradScaler on CUDA, bfloat16 autocast on the CPU. ``epoch`` is the last completed epoch;
    ``steps`` and ``train_seconds`` (wall clock of the training epochs) add up over resumed
    runs, ``devices`` names every device the run trained on. On CUDA, training sets the
    process's ``torch.backends.cudnn.benchmark`` (the crops have one size), loads dataset
    batches through pinned memory, and reads each step's loss back once.
    """

    def __init__(self, model: torch.nn.Module, recipe: Recipe, train_samples, val_samples=None, *,
                 out_dir: str, device: str | torch.device = "cpu", amp: bool = False,
                 micro_batch: int | None = None, workers: int = 0, logdir: str | None = None,
                 save_every: int = 1, progress: bool = True):
        self.recipe = recipe
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        if recipe.dataset == "synthetic":
            check_crop(*recipe.crop)
            check_batch_split(recipe.crop, recipe.batch_size, micro_batch or recipe.batch_size,
                              recipe.scenes_per_epoch)
            self.train_set = SyntheticBatches(recipe.seed, recipe.scenes_per_epoch, recipe.crop,
                                              max_disparity_for(self.model.maxdisp))
        else:
            check_training_data(train_samples, recipe.crop, recipe.batch_size, micro_batch or recipe.batch_size)
            self.train_set = CropDataset(train_samples, recipe.crop, recipe.seed)
        self.val_samples = val_samples
        self.out_dir = os.fspath(out_dir)
        self.amp = amp
        self.micro_batch = micro_batch or recipe.batch_size
        self.workers = workers
        self.save_every = save_every
        self.progress = progress
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=recipe.lr, betas=ADAM_BETAS)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp and self.device.type == "cuda")
        self.log = TrainingLog(logdir)
        self.epoch = 0
        self.best: dict | None = None
        self.steps = 0
        self.train_seconds = 0.0
        self.devices: list[str] = []

    def _autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def train_step(self, left, right, disparity) -> float | None:
        """One optimizer step on a batch; returns its loss, or None (no step) without valid pixels.

        left, right: N x H x W x 3 uint8 RGB; disparity: N x H x W float32 pixels, NaN unknown
        (numpy arrays, or tensors on any device).
        Each micro-batch's loss is its summed smooth L1 divided by the valid pixels of the
        whole batch, so the accumulated gradient is the full batch's.
        """
        self.model.train()
        left, right = torch.as_tensor(left), torch.as_tensor(right)
        target = torch.as_tensor(disparity).to(self.device, non_blocking=True)
        count = int(valid_mask(target, self.model.maxdisp).sum())
        if count == 0:
            return None
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for start in range(0, len(left), self.micro_batch):
            part = slice(start, start + self.micro_batch)
            x_left = normalize_batch(left[part], self.device)
            x_right = normalize_batch(right[part], self.device)
            with self._autocast():
                outputs = self.model(x_left, x_right)
            loss = loss_sum(outputs, target[part], self.model.maxdisp)[0] / count
            self.scaler.scale(loss).backward()
            total += loss.detach().float()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.steps += 1
        return total.item()

    def _batches(self, epoch: int):
        """(batches of ``epoch``, their number)."""
        if isinstance(self.train_set, SyntheticBatches):
            return (self.train_set.epoch(epoch, self.recipe.batch_size, self.device),
                    self.train_set.steps(self.recipe.batch_size))
        loader = epoch_loader(self.train_set, epoch, self.recipe.batch_size, self.workers,
                              drop_last=spp_cells(self.recipe.crop) == 1, pin_memory=self.device.type == "cuda")
        return loader, len(loader)

    def train_epoch(self, epoch: int) -> float:
        """Train 1-based ``epoch`` at its scheduled lr; mean batch loss (NaN if no step was taken)."""
        set_learning_rate(self.optimizer, self.recipe.learning_rate(epoch))
        batches, steps = self._batches(epoch)
        losses = []
        bar = tqdm(batches, total=steps, desc=f"epoch {epoch}/{self.recipe.epochs}", unit="batch",
                   disable=not self.progress)
        for index, (left, right, disparity) in enumerate(bar):
            loss = self.train_step(left, right, disparity)
            if loss is None:
                continue
            losses.append(loss)
            self.log.step((epoch - 1) * steps + index + 1, loss)
            bar.set_postfix(loss=f"{loss:.3f}")
        return float(np.mean(losses)) if losses else math.nan

    def validate(self) -> tuple[dict, np.ndarray | None]:
        """Pooled EPE (pixels) and D1 (fraction) over the validation samples, on pixels with
        0 < gt < maxdisp, through the estimator's plain path (full images, padded as at inference;
        autocast as in training with ``amp``) and :func:`~psmnet_ros.core.evaluation.evaluate`, as
        psmnet-eval scores; plus an RGB image of the first sample (ground truth above prediction)."""
        maxdisp = self.model.maxdisp
        precision = ("fp16" if self.device.type == "cuda" else "bf16") if self.amp else "fp32"
        estimator = StereoEstimator(self.model, self.device, precision, fast=False, weights="training")
        first = []

        def keep_first(_, sample, prediction, confidence):
            if not first:
                truth = np.where(sample["disparity"] < maxdisp, sample["disparity"], np.nan)
                first.append(np.concatenate([colorize(truth, 0, maxdisp), colorize(prediction, 0, maxdisp)]))

        frames = tqdm(range(len(self.val_samples)), desc="validation", unit="image", disable=not self.progress)
        total = evaluate({"model": estimator.predict}, self.val_samples, frames, max_disparity=maxdisp,
                         on_prediction=keep_first)["model"].pooled
        return {"epe": total.epe, "d1": total.d1, "pixels": total.count}, (first[0] if first else None)

    def _improves(self, metrics: dict | None) -> bool:
        if not metrics or math.isnan(metrics[self.recipe.best_metric]):
            return False
        return self.best is None or metrics[self.recipe.best_metric] < self.best["value"]

    def save(self, epoch: int, train_loss: float, metrics: dict | None) -> str:
        """Write ``last.tar`` (and ``checkpoint_epoch_NNN.tar`` every ``save_every`` epochs and
        at the end, ``best.tar`` when the validation metric improved); returns last.tar's path."""
        os.makedirs(self.out_dir, exist_ok=True)
        improved = self._improves(metrics)
        if improved:
            key = self.recipe.best_metric
            self.best = {"metric": key, "value": float(metrics[key]), "epoch": epoch}
        last = os.path.join(self.out_dir, "last.tar")
        try:
            save_checkpoint(last, self.model, epoch=epoch, optimizer=self.optimizer.state_dict(),
                            scaler=self.scaler.state_dict(), recipe=self.recipe.to_dict(),
                            train_loss=train_loss, metrics=metrics, best=self.best, **self.progress_record())
        finally:
            _remove_if_present(f"{last}.tmp")
        if epoch % self.save_every == 0 or epoch == self.recipe.epochs:
            _atomic_copy(last, os.path.join(self.out_dir, f"checkpoint_epoch_{epoch:03d}.tar"))
        if improved:
            _atomic_copy(last, os.path.join(self.out_dir, "best.tar"))
        return last

    def progress_record(self) -> dict:
        """What a checkpoint says of the run so far: steps, seconds, devices, generator version."""
        record = {"steps": self.steps, "train_seconds": self.train_seconds, "devices": self.devices}
        if self.recipe.dataset == "synthetic":
            record["generator_version"] = GENERATOR_VERSION
        return record

    def fit(self) -> None:
        """Train from the epoch after ``self.epoch`` through ``recipe.epochs``, validating and
        saving after each epoch."""
        try:
            for epoch in range(self.epoch + 1, self.recipe.epochs + 1):
                lr = self.recipe.learning_rate(epoch)
                if _device_name(self.device) not in self.devices:
                    self.devices.append(_device_name(self.device))
                started = time.monotonic()
                train_loss = self.train_epoch(epoch)
                self.train_seconds += time.monotonic() - started
                metrics, image = self.validate() if self.val_samples else (None, None)
                last = self.save(epoch, train_loss, metrics)
                self.epoch = epoch
                self.log.epoch(epoch, train_loss, lr, metrics, image)
                summary = f"epoch {epoch}/{self.recipe.epochs}: lr {lr:g}, train loss {train_loss:.4f}"
                if metrics:
                    summary += f", val EPE {metrics['epe']:.3f} px, D1 {100 * metrics['d1']:.2f} %"
                print(f"{summary}; saved {last}", flush=True)
        finally:
            self.log.close()


def resume(path: str, dataset: str, train_samples, val_samples=None, overrides: dict | None = None,
           **trainer_options) -> Trainer:
    """A Trainer continuing the run saved in ``path`` (a psmnet-train checkpoint) after its epoch.

    Weights, architecture, optimizer and AMP scaler state, best metric and recipe come from the
    file; ``overrides`` (recipe fields, None = keep) change the recipe, e.g. more epochs.
    """
    ckpt = load_checkpoint(path)
    missing = [k for k in TRAINING_KEYS if k not in ckpt.extra]
    if missing or not ckpt.settings:
        raise CheckpointError(f"{path} is not a psmnet-train checkpoint (it has no "
                              f"{', '.join(missing) or 'architecture settings'}): start a new run from "
                              f"its weights with --init")
    stored = ckpt.extra["recipe"]
    if stored.get("dataset") != dataset:
        raise CheckpointError(f"{path} continues a {stored.get('dataset')} run, not {dataset}: start a new run "
                              f"from its weights with --init")
    model = build_model(**ckpt.settings)
    apply_weights(model, ckpt)
    trainer = Trainer(model, recipe_for(dataset, base=stored, **(overrides or {})), train_samples, val_samples,
                      **trainer_options)
    if "optimizer" in ckpt.extra:
        trainer.optimizer.load_state_dict(ckpt.extra["optimizer"])
    else:
        print(f"{path} holds no optimizer state (a released checkpoint): Adam starts afresh", flush=True)
    if ckpt.extra.get("scaler"):
        trainer.scaler.load_state_dict(ckpt.extra["scaler"])
    trainer.epoch = int(ckpt.extra["epoch"])
    trainer.best = ckpt.extra.get("best")
    trainer.steps = int(ckpt.extra.get("steps", 0))
    trainer.train_seconds = float(ckpt.extra.get("train_seconds", 0.0))
    trainer.devices = list(ckpt.extra.get("devices", []))
    return trainer


def _device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _atomic_copy(source: str, destination: str) -> None:
    """Copy through a temporary file and a rename: ``destination`` is never half-written."""
    tmp = f"{destination}.tmp"
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, destination)
    finally:
        _remove_if_present(tmp)


def _remove_if_present(path: str) -> None:
    """Delete what an interrupted write left behind."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
