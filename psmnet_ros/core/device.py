"""The device and precision inference runs on: the one rule for a device name (what the node's ``device``
parameter, the estimator and the tools accept) and the fallbacks (no GPU, no native bfloat16)."""
from __future__ import annotations

import re
import warnings

import torch

from .errors import InputError
from .fast.precision import cpu_has_native_bf16, resolve_precision

DEVICE_PATTERN = r"cpu|cuda(:\d+)?"
"""Device names accepted everywhere: cpu, cuda (the current GPU) or cuda:N."""
NO_NATIVE_BF16 = ("it has no native bfloat16 kernels (AVX512_BF16 or AMX-BF16 on x86, BF16 on ARM), and without "
                  "them PyTorch runs PSMNet's 3-D convolutions several to hundreds of times slower than in fp32")


def parse_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device; InputError unless it is cpu, cuda or cuda:N. Says nothing about whether that
    GPU exists (callers decide: fall back to the CPU, or refuse)."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not re.fullmatch(DEVICE_PATTERN, device):
        raise InputError(f"unknown device {device!r}: must be cpu, cuda or cuda:N")
    return torch.device(device)


def resolve_device(device: str | torch.device, notices: list[str] | None = None) -> torch.device:
    """torch.device for ``device``; "cuda" without a GPU falls back to the CPU.

    The fallback is appended to ``notices``, or warned (RuntimeWarning) when ``notices`` is None.
    InputError for a string torch does not understand or a GPU index that does not exist.
    """
    dev = parse_device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        _notice(notices, f"device '{device}' requested but no GPU is available: running on the cpu")
        return torch.device("cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(f"device {device!r} does not exist: {torch.cuda.device_count()} GPU(s) visible")
    return dev


def resolve_runtime(device: str | torch.device, precision: str,
                    notices: list[str] | None = None) -> tuple[torch.device, str]:
    """The device and concrete precision to run on, with the fallbacks applied.

    "cuda" without a GPU runs on the CPU; "fp16" on the CPU runs in fp32 (CPU float16
    autocast is very slow and overflows), and so does "bf16" on a CPU without native bfloat16
    kernels (:func:`cpu_has_native_bf16`). Each fallback is appended to ``notices``, or
    warned when ``notices`` is None.
    """
    dev = resolve_device(device, notices)
    resolved = resolve_precision(precision, dev)
    if dev.type == "cpu" and resolved == "fp16":
        _notice(notices, "precision 'fp16' is not usable on the cpu (autocast there is very slow and overflows): "
                         "running in fp32")
        resolved = "fp32"
    if dev.type == "cpu" and resolved == "bf16" and not cpu_has_native_bf16():
        _notice(notices, f"precision 'bf16' is not usable on this cpu: {NO_NATIVE_BF16}: running in fp32")
        resolved = "fp32"
    return dev, resolved


def _notice(notices: list[str] | None, text: str) -> None:
    if notices is None:
        warnings.warn(text, RuntimeWarning, stacklevel=4)
    else:
        notices.append(text)
