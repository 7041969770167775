"""Temporary arrays kept from frame to frame.

A new multi-megabyte numpy array is often fresh memory from the kernel (glibc gives freed blocks this large back),
and writing it first costs a page fault per 4 KiB page: measured on the 2-core development VM, packing one
1242x375 point cloud took 8.6 ms with fresh temporaries against 0.6 ms with reused ones
(docs/node_overhead.md). Per-frame code takes a :class:`Scratch` to keep its temporaries in.
"""
from __future__ import annotations

import numpy as np


class Scratch:
    """Named arrays, each reused while its shape and dtype stay the same; their contents are left over from
    the previous use. ``Scratch()`` per call gives fresh arrays (nothing kept)."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape != tuple(shape) or array.dtype != np.dtype(dtype):
            array = self._arrays[name] = np.empty(shape, dtype=dtype)
        return array


def opencv_into(out: np.ndarray, result: np.ndarray) -> np.ndarray:
    """``out`` holding ``result`` of an OpenCV call given ``dst=out``: OpenCV writes in place when ``out`` fits
    and else returns a new array, which is then copied."""
    if result.ctypes.data != out.ctypes.data:
        np.copyto(out, result.reshape(out.shape))
    return out
