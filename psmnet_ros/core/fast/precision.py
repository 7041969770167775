"""Inference precision policy.

- ``fp32``: strict float32; on CUDA, TF32 is switched off for cuDNN convolutions and matmuls.
- ``tf32``: float32 tensors, TF32 tensor-core convolutions on CUDA (Ampere and later); the
  same as fp32 on the CPU.
- ``fp16`` / ``bf16``: convolutions in half / bfloat16. The last stage (upsampling, softmax,
  soft argmin) always runs in float32, with TF32 off.
- ``auto``: the CPU gets fp32; a CUDA device of compute capability 7.0 or newer (tensor
  cores: Volta, Turing, Ampere, Hopper, ...) gets fp16, older GPUs fp32. fp16 is preferred
  to bf16 for its 10-bit mantissa (PSMNet's activations stay far from fp16's range limit).

Reduced precision changes the output: judge it against ground truth with trained weights.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from ..errors import InputError

PRECISIONS = ("auto", "fp32", "tf32", "fp16", "bf16")
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
"""Tensor dtype of the convolutions per resolved precision."""


def resolve_precision(precision: str, device: torch.device) -> str:
    """The concrete precision ("fp32", "tf32", "fp16" or "bf16") that ``precision`` means on ``device``."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.get_device_capability(device) >= (7, 0):
        return "fp16"
    return "fp32"


@contextmanager
def precision_flags(precision: str, device: torch.device, benchmark: bool = False) -> Iterator[None]:
    """On CUDA, set cuDNN TF32 (on only for "tf32"), matmul TF32 (off) and cudnn.benchmark; restore after.

    These are process-wide switches: callers serialize their forward passes (the estimator holds a lock).
    Nothing changes on the CPU.
    """
    if device.type != "cuda":
        yield
        return
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.allow_tf32, matmul.allow_tf32, cudnn.benchmark)
    cudnn.allow_tf32, matmul.allow_tf32, cudnn.benchmark = precision == "tf32", False, benchmark
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32, cudnn.benchmark = saved
