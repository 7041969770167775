"""Inference precision policy.

- ``fp32``: strict float32; on CUDA, cuDNN convolutions and matmuls in IEEE fp32 (no TF32).
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


def native_bf16(capabilities: dict) -> bool | None:
    """Whether a CPU with ``capabilities`` (``torch.cpu.get_capabilities()``) computes bfloat16 natively: on
    x86, AVX512_BF16 or AMX-BF16 (an AVX-512 CPU without them only converts, and PSMNet's 3-D convolutions
    then run far slower than in fp32); None for other architectures (not decided by these flags)."""
    if capabilities.get("architecture") not in ("x86_64", "x86", "i386", "i686", "AMD64"):
        return None
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has native bfloat16 kernels: x86 by :func:`native_bf16`, ARM by oneDNN (BF16).

    Without them PyTorch runs bfloat16 convolutions in its reference code or through conversions: a 3-D
    convolution of PSMNet's cost volume (1x32x12x64x64, 3x3x3) took 8.9 s in bf16 against 0.03 s in fp32 on a
    2-core AVX2 EPYC, and the whole bf16 row 8,345 ms against 1,769 ms in fp32 on an AVX-512 CPU without
    AVX512_BF16 (issue 22).
    """
    native = native_bf16(torch.cpu.get_capabilities())
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) if native is None else native


@contextmanager
def precision_flags(precision: str, device: torch.device, benchmark: bool | None = None) -> Iterator[None]:
    """On CUDA: cuDNN convolutions in TF32 only for "tf32" (else IEEE fp32), matmuls in IEEE fp32, and
    ``cudnn.benchmark`` set to ``benchmark`` (None: left as the process has it); all restored after.

    Uses PyTorch's per-operation ``fp32_precision`` switches with explicit values: the legacy
    ``allow_tf32`` flags store "none" for off, which inherits a process-wide "tf32"
    (``torch.backends.fp32_precision``), and reading them raises once anything in the process
    uses the new switches. Restoring writes back the values read on entry (a switch that
    inherited its value keeps that value explicitly). Process-wide: callers serialize their
    forward passes (the estimator holds a lock). Nothing changes on the CPU.
    """
    if device.type != "cuda":
        yield
        return
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.conv.fp32_precision, matmul.fp32_precision, cudnn.benchmark)
    cudnn.conv.fp32_precision = "tf32" if precision == "tf32" else "ieee"
    matmul.fp32_precision = "ieee"
    if benchmark is not None:
        cudnn.benchmark = benchmark
    try:
        yield
    finally:
        cudnn.conv.fp32_precision, matmul.fp32_precision, cudnn.benchmark = saved
