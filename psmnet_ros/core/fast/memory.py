"""Which exceptions mean the GPU ran out of memory.

PyTorch raises ``torch.cuda.OutOfMemoryError`` when its caching allocator cannot allocate,
but memory also runs out where the allocator is not asked: cuDNN and cuBLAS allocating their
own workspaces or handles ("CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED"), and
the CUDA runtime instantiating a CUDA graph or creating a context ("CUDA error: out of
memory", a ``torch.AcceleratorError``). Those arrive as plain ``RuntimeError`` subclasses,
sometimes as the cause or context of another error. All of them are out of memory: a
smaller batch, or memory released, can make the same work succeed.
"""
from __future__ import annotations

import torch

OUT_OF_MEMORY_MARKERS = ("CUDA out of memory", "CUDA error: out of memory", "cudaErrorMemoryAllocation",
                         "CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED")
"""Texts of PyTorch's, cuDNN's, cuBLAS's and the CUDA runtime's allocation failures."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True when ``exc`` or any exception in its cause / context chain is a GPU allocation failure."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, torch.cuda.OutOfMemoryError):
            return True
        if isinstance(current, RuntimeError) and any(marker in str(current) for marker in OUT_OF_MEMORY_MARKERS):
            return True
        pending += [current.__cause__, current.__context__]
    return False


def as_out_of_memory(exc: BaseException) -> torch.cuda.OutOfMemoryError:
    """``exc`` as a ``torch.cuda.OutOfMemoryError`` (itself if it is one), its first line kept;
    raise the result ``from exc`` so the original stays visible."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return exc
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return torch.cuda.OutOfMemoryError(f"GPU out of memory ({type(exc).__name__}: {first})")
