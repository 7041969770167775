"""Giving the memory glibc keeps after forward passes back to the system."""
from __future__ import annotations

import ctypes


def _libc_function(name: str):
    """A C library function by name, or None where there is none (malloc_trim is glibc's)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (AttributeError, OSError, TypeError):
        return None


_malloc_trim = _libc_function("malloc_trim")


def return_freed_memory() -> None:
    """Hand the memory glibc keeps after forward passes back to the system (no-op without glibc).

    A forward pass allocates and frees hundreds of MiB of activations. glibc keeps freed heap
    memory for reuse, which passes of one size reuse exactly; after a change of size it no
    longer fits and the heap grows (see the README, Behaviour).
    """
    if _malloc_trim is not None:
        _malloc_trim(0)
