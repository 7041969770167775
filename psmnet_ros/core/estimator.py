"""StereoEstimator: numpy stereo pairs in, disparity maps (pixels) out."""
from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import warnings
from typing import Callable

import cv2
import numpy as np
import torch

from .device import resolve_runtime
from .errors import InputError
from .fast import CudaGraphRunner, FastConfig, FastEngine, precision_flags
from .fast import PRECISIONS  # noqa: F401  re-exported: the command-line tools take their choices from here
from .fast.memory import as_out_of_memory, is_out_of_memory
from .model_loading import load_model, model_from_checkpoint, random_model
from .preprocess import check_pair, crop_output, min_size_at_scale, padding_for, to_network_input
from .weights import RANDOM_LABEL

MAX_INPUT_SCALE = 4.0
"""Largest ``input_scale``: the network then sees 16 times the pixels."""
RANDOM_WEIGHTS_NOTICE = ("weights 'random': PSMNet runs with RANDOM UNTRAINED weights, and its disparity, depth "
                         "and points are MEANINGLESS; leave the weights empty for the default trained ones")
_AUTOCAST = {"fp16": torch.float16, "bf16": torch.bfloat16}


class StereoEstimator:
    """PSMNet inference on rectified RGB pairs; owns normalization, padding and cropping.

    Build with :meth:`pretrained` (named weights, a checkpoint file or ``"random"``; by default
    the official KITTI 2015 weights), :meth:`from_checkpoint` or :meth:`random`, or with
    :func:`load_estimator`, which also returns its notices instead of warning.
    ``input_scale`` in (0, 4] runs the network on the pair resized by that factor (area
    averaging down, bicubic up) and returns disparities in the pixels of the given images.
    ``weights`` names the weights: a catalogue label, the checkpoint path, or
    ``RANDOM_LABEL``.

    precision: "fp32" (strict: no TF32 on CUDA), "tf32", "fp16", "bf16" or "auto" (see
    :mod:`psmnet_ros.core.fast.precision`); ``self.precision`` holds the resolved name
    (fp16 on the CPU runs in fp32, with a warning: :func:`resolve_runtime`).
    fast: True runs :mod:`psmnet_ros.core.fast` (folded BatchNorm, fused last stage, and on
    CUDA channels-last layouts and CUDA graphs) on a copy of the weights made here, so later
    changes to ``model`` do not reach it; False runs ``model`` as it is, with autocast for
    fp16/bf16; None (auto) means True on CUDA, False on the CPU; a
    :class:`~psmnet_ros.core.fast.FastConfig` picks the fast stages one by one.
    Calls may come from any thread; they are serialized, and each runs with ``self.device``
    (on CUDA always ``cuda:N``) as the calling thread's current CUDA device. Running out of GPU
    memory in any form (:func:`~psmnet_ros.core.fast.memory.is_out_of_memory`) drops the fast
    path's CUDA graphs, empties PyTorch's cache and raises ``torch.cuda.OutOfMemoryError``, so
    the caller may retry with fewer pairs.
    """

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", precision: str = "fp32",
                 input_scale: float = 1.0, weights: str = RANDOM_LABEL, fast: bool | FastConfig | None = None):
        if not (isinstance(input_scale, (int, float)) and 0 < input_scale <= MAX_INPUT_SCALE):
            raise InputError(f"input_scale must be in (0, {MAX_INPUT_SCALE:g}], got {input_scale}")
        self.device, self.precision = resolve_runtime(device, precision)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.input_scale = float(input_scale)
        self.weights = weights
        self.model = model.to(self.device).eval()
        if not isinstance(fast, (bool, FastConfig, type(None))):
            raise InputError(f"fast must be True, False, None (auto) or a FastConfig, got {fast!r}")
        if fast is None:
            fast = self.device.type == "cuda"
        if fast is True:
            fast = FastConfig.for_device(self.device)
        self._engine = FastEngine(self.model, self.device, self.precision, fast) if fast else None
        self._lock = threading.Lock()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, variant: str | None = None, maxdisp: int | None = None,
                        align_corners: bool | None = None, device: str = "cpu", precision: str = "fp32",
                        input_scale: float = 1.0, fast: bool | FastConfig | None = None) -> "StereoEstimator":
        """Load a checkpoint. Settings left as None come from the file, else the official defaults."""
        model, _ = model_from_checkpoint(path, variant=variant, maxdisp=maxdisp, align_corners=align_corners)
        return cls(model, device, precision, input_scale, weights=os.fspath(path), fast=fast)

    @classmethod
    def pretrained(cls, weights: str | os.PathLike = "", device: str = "cpu", precision: str = "fp32",
                   input_scale: float = 1.0, fast: bool | FastConfig | None = None) -> "StereoEstimator":
        """Weights by name or path (see :mod:`psmnet_ros.core.weights`); "" = the official KITTI 2015 ones.

        :func:`load_estimator` with the architecture the weights record; its notices (random
        weights, device or precision fallbacks) become warnings.
        """
        estimator, notices = load_estimator(weights, device=device, precision=precision,
                                            input_scale=input_scale, fast=fast)
        for text in notices:
            warnings.warn(text, UserWarning, stacklevel=2)
        return estimator

    @classmethod
    def random(cls, variant: str = "stackhourglass", maxdisp: int = 192, align_corners: bool = True,
               device: str = "cpu", precision: str = "fp32", input_scale: float = 1.0,
               seed: int = 0, fast: bool | FastConfig | None = None) -> "StereoEstimator":
        """Untrained weights (official initialization, seeded): outputs are meaningless."""
        return cls(random_model(variant, maxdisp, align_corners, seed), device, precision, input_scale,
                   weights=RANDOM_LABEL, fast=fast)

    @property
    def variant(self) -> str:
        return self.model.variant

    @property
    def maxdisp(self) -> int:
        return self.model.maxdisp

    @property
    def align_corners(self) -> bool:
        return self.model.align_corners

    @property
    def fast(self) -> FastConfig | None:
        """The fast-path configuration in use, None on the plain path."""
        return self._engine.config if self._engine else None

    @property
    def graphs(self) -> CudaGraphRunner | None:
        """The fast path's CUDA-graph runner (its recordings, replays and fallback); None without one."""
        return self._engine.graphs if self._engine else None

    @property
    def min_input_size(self) -> tuple[int, int]:
        """Smallest (height, width) in pixels of the given images at this input scale."""
        side = min_size_at_scale(self.input_scale)
        return side, side

    def max_disparity(self, width: int) -> float:
        """Largest disparity in pixels of a ``width``-pixel image the network can output: its soft argmin
        lies in [0, maxdisp - 1] network pixels, which the input scale's resizing stretches."""
        return (self.maxdisp - 1) * width / round(width * self.input_scale)

    def network_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) in pixels of the network's input for an image of this size: resized by the
        input scale, then padded to a multiple of 16."""
        net_h, net_w = round(height * self.input_scale), round(width * self.input_scale)
        top, right = padding_for(net_h, net_w)
        return net_h + top, net_w + right

    def predict(self, left: np.ndarray, right: np.ndarray, with_confidence: bool = False):
        """Disparity (pixels, HxW float32) of one HxWx3 uint8 RGB rectified pair.

        With ``with_confidence``: (disparity, confidence), the confidence HxW float32 in [0, 1]
        (higher = more likely right; :mod:`psmnet_ros.core.confidence`).
        """
        return self.predict_batch([(left, right)], with_confidence)[0]

    def predict_batch(self, pairs: list[tuple[np.ndarray, np.ndarray]], with_confidence: bool = False) -> list:
        """Disparities of same-size pairs, computed in one forward pass (with ``with_confidence``:
        a (disparity, confidence) tuple per pair, as :meth:`predict`).

        At ``input_scale`` != 1 the network's maps are resized to the images' size (area averaging
        down, bilinear up); disparities are also multiplied by the width ratio, confidences are not.
        """
        if not pairs:
            return []
        sizes = {check_pair(l, r, self.input_scale) for l, r in pairs}
        if len(sizes) > 1:
            raise InputError(f"pairs in one batch must share a size, got {sorted(sizes)}")
        h, w = sizes.pop()
        net_h, net_w = (round(h * self.input_scale), round(w * self.input_scale))
        resized = (net_h, net_w) != (h, w)
        if resized:
            mode = cv2.INTER_AREA if net_w < w else cv2.INTER_CUBIC
            pairs = [tuple(cv2.resize(img, (net_w, net_h), interpolation=mode) for img in p) for p in pairs]
        output = self._forward([p[0] for p in pairs], [p[1] for p in pairs], net_h, net_w, with_confidence)
        disparities, confidences = (output[:, 0], output[:, 1]) if with_confidence else (output, None)
        if resized:
            mode = cv2.INTER_AREA if net_w > w else cv2.INTER_LINEAR
            factor = np.float32(w / net_w)
            disparities = [cv2.resize(d, (w, h), interpolation=mode) * factor for d in disparities]
            if with_confidence:
                confidences = [np.clip(cv2.resize(c, (w, h), interpolation=mode), 0, 1) for c in confidences]
        return list(zip(disparities, confidences)) if with_confidence else list(disparities)

    def predict_batch_with_fallback(self, pairs: list[tuple[np.ndarray, np.ndarray]],
                                    on_failure: Callable[[int, Exception], None],
                                    on_batch: Callable[[int, float], None] = lambda size, seconds: None,
                                    on_retry: Callable[[Exception], None] = lambda exc: None,
                                    with_confidence: bool = False) -> list:
        """Disparities of same-size ``pairs`` (HxW float32 pixels; (disparity, confidence) with
        ``with_confidence``), or None where a pair failed; never raises for out-of-memory or rejected input.

        One forward pass first. If it runs out of device memory (the forward pass has then released what
        it could, see the class docstring) or rejects
        the input, and the batch holds several pairs, ``on_retry(exc)`` is called and each pair is tried
        alone. ``on_failure(index, exc)`` reports every pair that still fails; ``on_batch(size, seconds)``
        every successful forward pass.
        """
        def timed(batch):
            start = time.perf_counter()
            result = self.predict_batch(batch, with_confidence)
            on_batch(len(batch), time.perf_counter() - start)
            return result

        try:
            return timed(pairs)
        except (torch.cuda.OutOfMemoryError, InputError) as exc:
            if len(pairs) == 1:
                on_failure(0, exc)
                return [None]
            on_retry(exc)
        results = []
        for index, pair in enumerate(pairs):
            try:
                results.append(timed([pair])[0])
            except (torch.cuda.OutOfMemoryError, InputError) as exc:
                on_failure(index, exc)
                results.append(None)
        return results

    def _forward(self, lefts: list[np.ndarray], rights: list[np.ndarray], h: int, w: int,
                 with_confidence: bool) -> np.ndarray:
        """N x H x W disparities, or N x 2 x H x W disparities and confidences (float32)."""
        cuda = self.device.type == "cuda"
        with self._lock, torch.cuda.device(self.device) if cuda else contextlib.nullcontext():
            try:
                if self._engine:
                    return self._engine(lefts, rights, with_confidence)
                return self._plain_forward(lefts, rights, h, w, with_confidence)
            except Exception as exc:
                if not (cuda and is_out_of_memory(exc)):
                    raise
                self._release_memory()
                if isinstance(exc, torch.cuda.OutOfMemoryError):
                    raise
                raise as_out_of_memory(exc) from exc

    def _release_memory(self) -> None:
        """Give what the device holds for this estimator beyond its weights back to the device."""
        if self._engine:
            self._engine.release_memory()
        gc.collect()
        torch.cuda.empty_cache()

    @torch.inference_mode()
    def _plain_forward(self, lefts: list[np.ndarray], rights: list[np.ndarray], h: int, w: int,
                       with_confidence: bool) -> np.ndarray:
        left = to_network_input(lefts, self.device)
        right = to_network_input(rights, self.device)
        dtype = _AUTOCAST.get(self.precision)
        with precision_flags(self.precision, self.device), \
                torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            output = self.model(left, right, with_confidence=with_confidence)
        return crop_output(output.float(), h, w).cpu().numpy()


def load_estimator(weights: str | os.PathLike = "", *, variant: str | None = None, maxdisp: int | None = None,
                   align_corners: bool | None = None, device: str = "cpu", precision: str = "fp32",
                   input_scale: float = 1.0, fast: bool | FastConfig | None = None,
                   ) -> tuple[StereoEstimator, list[str]]:
    """The estimator a weights value, device, precision and input scale describe, and its notices.

    weights: a catalogue name, "random", a checkpoint path, or "" for the default
    (:mod:`psmnet_ros.core.weights`). variant/maxdisp/align_corners: None = what the weights
    record (else the official defaults); a request that named weights cannot run is an
    InputError. Notices are what the user should be told (random weights, the device or
    precision fallbacks of :func:`resolve_runtime`): the node logs them, the tools print them.
    """
    notices: list[str] = []
    dev, resolved = resolve_runtime(device, precision, notices)
    loaded = load_model(weights, variant=variant, maxdisp=maxdisp, align_corners=align_corners)
    if loaded.random:
        notices.append(RANDOM_WEIGHTS_NOTICE)
    return StereoEstimator(loaded.model, dev, resolved, input_scale, weights=loaded.label, fast=fast), notices
