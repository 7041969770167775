"""StereoEstimator: numpy stereo pairs in, disparity maps (pixels) out."""
from __future__ import annotations

import math
import os
import threading
import warnings

import cv2
import numpy as np
import torch

from .checkpoint import Checkpoint, apply_weights, load_checkpoint
from .errors import CheckpointError, InputError
from .fast import FastConfig, FastEngine, precision_flags, resolve_precision
from .fast import PRECISIONS  # noqa: F401  re-exported: the command-line tools take their choices from here
from .preprocess import MIN_SIZE, check_pair, crop_output, to_network_input
from .pretrained import PRETRAINED_LABEL, PRETRAINED_SETTINGS, pretrained_path
from .psmnet import VARIANTS, build_model

DEFAULTS = {"variant": "stackhourglass", "maxdisp": 192, "align_corners": True}
_AUTOCAST = {"fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str | torch.device) -> torch.device:
    """torch.device for ``device``; "cuda" without a GPU falls back to the CPU with a warning.

    InputError for a string torch does not understand or a GPU index that does not exist.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"unknown device {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        warnings.warn("CUDA requested but no GPU is available: running on the CPU", RuntimeWarning, stacklevel=3)
        return torch.device("cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(f"device {device!r} does not exist: {torch.cuda.device_count()} GPU(s) visible")
    return dev


class StereoEstimator:
    """PSMNet inference on rectified RGB pairs; owns normalization, padding and cropping.

    Build with :meth:`pretrained` (the weights shipped with the package), :meth:`from_checkpoint`
    or :meth:`random`. ``input_scale`` in (0, 1] runs the network on images resized by that
    factor and returns full-resolution disparities. ``weights`` names the weights: the
    checkpoint path, ``PRETRAINED_LABEL`` for the shipped ones, None for random weights.

    precision: "fp32" (strict: no TF32 on CUDA), "tf32", "fp16", "bf16" or "auto" (see
    :mod:`psmnet_ros.core.fast.precision`); ``self.precision`` holds the resolved name.
    fast: True runs :mod:`psmnet_ros.core.fast` (folded BatchNorm, fused last stage, and on
    CUDA channels-last layouts and CUDA graphs) on a copy of the weights made here, so later
    changes to ``model`` do not reach it; False runs ``model`` as it is, with autocast for
    fp16/bf16; None (auto) means True on CUDA, False on the CPU; a
    :class:`~psmnet_ros.core.fast.FastConfig` picks the fast stages one by one.
    Calls may come from any thread; they are serialized.
    """

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", precision: str = "fp32",
                 input_scale: float = 1.0, weights: str | None = None, fast: bool | FastConfig | None = None):
        if not (isinstance(input_scale, (int, float)) and 0 < input_scale <= 1):
            raise InputError(f"input_scale must be in (0, 1], got {input_scale}")
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
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
        model, _ = _model_from_checkpoint(path, variant=variant, maxdisp=maxdisp, align_corners=align_corners)
        return cls(model, device, precision, input_scale, weights=os.fspath(path), fast=fast)

    @classmethod
    def pretrained(cls, device: str = "cpu", precision: str = "fp32", input_scale: float = 1.0,
                   fast: bool | FastConfig | None = None) -> "StereoEstimator":
        """The weights shipped with the package (``psmnet_ros/weights/psmnet_synthetic.tar``).

        A stackhourglass model, maxdisp 192, align_corners True, trained by this project on
        generated scenes (see ``psmnet_ros/weights/MODEL_CARD.md``). Its float16 weights are
        widened to float32 on loading; ``precision`` chooses how the network computes.
        CheckpointError naming the path if the file is missing or is not that model; a UserWarning
        with the release's caveat when it has one (an unfinished training run).
        """
        model, ckpt = _model_from_checkpoint(pretrained_path(), **PRETRAINED_SETTINGS)
        if ckpt.extra.get("caveat"):
            warnings.warn(f"the shipped weights: {ckpt.extra['caveat']}", UserWarning, stacklevel=2)
        return cls(model, device, precision, input_scale, weights=PRETRAINED_LABEL, fast=fast)

    @classmethod
    def random(cls, variant: str = "stackhourglass", maxdisp: int = 192, align_corners: bool = True,
               device: str = "cpu", precision: str = "fp32", input_scale: float = 1.0,
               seed: int = 0, fast: bool | FastConfig | None = None) -> "StereoEstimator":
        """Untrained weights (official initialization, seeded): outputs are meaningless."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(variant, maxdisp, align_corners)
        return cls(model, device, precision, input_scale, weights=None, fast=fast)

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
    def min_input_size(self) -> tuple[int, int]:
        """Smallest (height, width) in pixels of the original images at this input scale."""
        side = math.ceil((MIN_SIZE - 0.5) / self.input_scale)
        while round(side * self.input_scale) < MIN_SIZE:
            side += 1
        return side, side

    def predict(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Disparity (pixels, HxW float32) of one HxWx3 uint8 RGB rectified pair."""
        return self.predict_batch([(left, right)])[0]

    def predict_batch(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Disparities of same-size pairs, computed in one forward pass."""
        if not pairs:
            return []
        sizes = {check_pair(l, r) for l, r in pairs}
        if len(sizes) > 1:
            raise InputError(f"pairs in one batch must share a size, got {sorted(sizes)}")
        h, w = sizes.pop()
        small_h, small_w = (round(h * self.input_scale), round(w * self.input_scale))
        if (small_h, small_w) != (h, w):
            if min(small_h, small_w) < MIN_SIZE:
                raise InputError(f"image {w}x{h} is too small for input_scale {self.input_scale}: at least "
                                 f"{self.min_input_size[1]}x{self.min_input_size[0]} px needed")
            pairs = [tuple(cv2.resize(img, (small_w, small_h), interpolation=cv2.INTER_AREA) for img in p)
                     for p in pairs]
        disparities = self._forward([p[0] for p in pairs], [p[1] for p in pairs], small_h, small_w)
        if (small_h, small_w) == (h, w):
            return list(disparities)
        factor = np.float32(w / small_w)
        return [cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR) * factor for d in disparities]

    def _forward(self, lefts: list[np.ndarray], rights: list[np.ndarray], h: int, w: int) -> np.ndarray:
        with self._lock:
            if self._engine:
                return self._engine(lefts, rights)
            return self._plain_forward(lefts, rights, h, w)

    @torch.inference_mode()
    def _plain_forward(self, lefts: list[np.ndarray], rights: list[np.ndarray], h: int, w: int) -> np.ndarray:
        left = to_network_input(lefts, self.device)
        right = to_network_input(rights, self.device)
        dtype = _AUTOCAST.get(self.precision)
        with precision_flags(self.precision, self.device), \
                torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            disparity = self.model(left, right)
        return crop_output(disparity.float(), h, w).cpu().numpy()


def _model_from_checkpoint(path: str | os.PathLike, **requested) -> tuple[torch.nn.Module, Checkpoint]:
    """The float32 model a checkpoint describes, holding its weights (float16 files are widened
    exactly), and the checkpoint."""
    ckpt = load_checkpoint(path)
    model = build_model(**_resolve_settings(ckpt, **requested))
    apply_weights(model, ckpt)  # load_state_dict copies into the model's float32 tensors
    return model, ckpt


def _resolve_settings(ckpt: Checkpoint, **requested) -> dict:
    """Architecture settings: explicit request, else the checkpoint's record, else the defaults.

    An explicit request that contradicts what the checkpoint records is an error.
    """
    stored = dict(ckpt.settings)
    defaults = dict(DEFAULTS, variant=ckpt.guessed_variant() or DEFAULTS["variant"])
    settings = {}
    for key, default in defaults.items():
        want = requested.get(key)
        if want is not None and key in stored and stored[key] != want:
            raise CheckpointError(f"{ckpt.path} holds a model with {key}={stored[key]!r}, "
                                  f"but {key}={want!r} was requested")
        settings[key] = want if want is not None else stored.get(key, default)
    if settings["variant"] not in VARIANTS:
        raise InputError(f"unknown variant {settings['variant']!r}; choose one of {', '.join(VARIANTS)}")
    return settings
