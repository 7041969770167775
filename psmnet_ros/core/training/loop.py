"""The training loop: Adam steps with gradient accumulation, validation, checkpoints, resume."""
from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import time
from dataclasses import replace

import numpy as np
import torch
from tqdm import tqdm

from ..checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ..colorize import colorize
from ..errors import CheckpointError
from ..device import resolve_device
from ..estimator import StereoEstimator
from ..evaluation import evaluate
from ..model_loading import model_from_checkpoint
from ..preprocess import normalize_batch
from .data import DatasetCrops, GeneratedScenes
from .loss import loss_sum, valid_mask
from .recipe import ADAM_BETAS, Recipe, recipe_for, set_learning_rate
from .run_state import RunState
from .tensorboard_log import TrainingLog

TRAINING_KEYS = ("epoch", "recipe")
"""Entries a checkpoint needs, besides the weights, to resume training (the optimizer state
too, except in a released checkpoint, where Adam starts afresh)."""


class Trainer:
    """Trains ``model`` with ``recipe`` on ``data`` (a source from
    :func:`~psmnet_ros.core.training.data.training_source`, checked here); validates on
    ``val_samples`` (a dataset of dicts: left/right HxWx3 uint8 RGB, disparity HxW float32
    pixels, NaN unknown, name; None = no validation).
    ``micro_batch``: images per forward pass; gradients of the micro-batches
    add up to those of the full batch of ``recipe.batch_size``. ``amp``: float16 autocast with a
    GradScaler on CUDA, bfloat16 autocast on the CPU. ``state`` says where the run stands
    (:class:`~psmnet_ros.core.training.run_state.RunState`). On CUDA, training sets the
    process's ``torch.backends.cudnn.benchmark`` (the crops have one size), loads dataset
    batches through pinned memory, and reads each step's loss back once.
    """

    def __init__(self, model: torch.nn.Module, recipe: Recipe, data: DatasetCrops | GeneratedScenes,
                 val_samples=None, *, out_dir: str, device: str | torch.device = "cpu", amp: bool = False,
                 micro_batch: int | None = None, logdir: str | None = None, save_every: int = 1,
                 progress: bool = True):
        self.micro_batch = micro_batch or recipe.batch_size
        data.check(self.micro_batch)
        self.recipe = recipe
        self.data = data
        self.val_samples = val_samples
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.out_dir = os.fspath(out_dir)
        self.amp = amp
        self.save_every = save_every
        self.progress = progress
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=recipe.lr, betas=ADAM_BETAS)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp and self.device.type == "cuda")
        self.log = TrainingLog(logdir)
        self.state = RunState()

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
        self.state.steps += 1
        return total.item()

    def train_epoch(self, epoch: int) -> float:
        """Train 1-based ``epoch`` at its scheduled lr; mean batch loss (NaN if no step was taken)."""
        set_learning_rate(self.optimizer, self.recipe.learning_rate(epoch))
        batches, steps = self.data.epoch(epoch, self.device)
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

    def _best(self, epoch: int, metrics: dict | None) -> dict | None:
        """The best validation after ``epoch`` with ``metrics``."""
        key, best = self.recipe.best_metric, self.state.best
        if not metrics or math.isnan(metrics[key]) or (best is not None and metrics[key] >= best["value"]):
            return best
        return {"metric": key, "value": float(metrics[key]), "epoch": epoch}

    def save(self, epoch: int, train_loss: float, metrics: dict | None) -> str:
        """Write ``last.tar`` (and ``checkpoint_epoch_NNN.tar`` every ``save_every`` epochs and
        at the end, ``best.tar`` when the validation metric improved) and mark ``epoch`` done in
        ``state``; returns last.tar's path."""
        os.makedirs(self.out_dir, exist_ok=True)
        state = replace(self.state, epoch=epoch, best=self._best(epoch, metrics))
        last = os.path.join(self.out_dir, "last.tar")
        try:
            save_checkpoint(last, self.model, optimizer=self.optimizer.state_dict(),
                            scaler=self.scaler.state_dict(), recipe=self.recipe.to_dict(), train_loss=train_loss,
                            metrics=metrics, **state.record(), **self.data.record())
        finally:
            _remove_if_present(f"{last}.tmp")
        if epoch % self.save_every == 0 or epoch == self.recipe.epochs:
            _atomic_copy(last, os.path.join(self.out_dir, f"checkpoint_epoch_{epoch:03d}.tar"))
        if state.best is not self.state.best:
            _atomic_copy(last, os.path.join(self.out_dir, "best.tar"))
        self.state = state
        return last

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue the run of ``checkpoint`` (from :func:`load_run`): its state, optimizer and AMP
        scaler state (a released checkpoint has no optimizer state: Adam starts afresh)."""
        if "optimizer" in checkpoint.extra:
            self.optimizer.load_state_dict(checkpoint.extra["optimizer"])
        else:
            print(f"{checkpoint.path} holds no optimizer state (a released checkpoint): Adam starts afresh",
                  flush=True)
        if checkpoint.extra.get("scaler"):
            self.scaler.load_state_dict(checkpoint.extra["scaler"])
        self.state = RunState.from_record(checkpoint.extra)

    def fit(self) -> None:
        """Train from the epoch after ``state.epoch`` through ``recipe.epochs``, validating and
        saving after each epoch."""
        try:
            for epoch in range(self.state.epoch + 1, self.recipe.epochs + 1):
                lr = self.recipe.learning_rate(epoch)
                if _device_name(self.device) not in self.state.devices:
                    self.state.devices.append(_device_name(self.device))
                started = time.monotonic()
                train_loss = self.train_epoch(epoch)
                self.state.train_seconds += time.monotonic() - started
                metrics, image = self.validate() if self.val_samples else (None, None)
                last = self.save(epoch, train_loss, metrics)
                self.log.epoch(epoch, train_loss, lr, metrics, image)
                summary = f"epoch {epoch}/{self.recipe.epochs}: lr {lr:g}, train loss {train_loss:.4f}"
                if metrics:
                    summary += f", val EPE {metrics['epe']:.3f} px, D1 {100 * metrics['d1']:.2f} %"
                print(f"{summary}; saved {last}", flush=True)
        finally:
            self.log.close()


def load_run(path: str, dataset: str, overrides: dict | None = None) -> tuple[torch.nn.Module, Recipe, Checkpoint]:
    """The model (weights and architecture), recipe and checkpoint of the ``dataset`` run saved in
    ``path`` (a psmnet-train checkpoint), for :meth:`Trainer.restore`. ``overrides`` (recipe fields,
    None = keep) change the stored recipe, e.g. more epochs."""
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
    model, _ = model_from_checkpoint(ckpt)
    return model, recipe_for(dataset, base=stored, **(overrides or {})), ckpt


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
