"""Portable Float Map (PFM) files, the disparity format of SceneFlow and Middlebury.

Layout: ``PF`` (3 channels) or ``Pf`` (1 channel) line, ``width height`` line,
scale line whose sign gives the byte order (negative = little endian) and whose
magnitude is a scale factor, then float32 rows stored bottom-to-top.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError


def _header_line(data: bytes, start: int, path: Path) -> tuple[str, int]:
    end = data.find(b"\n", start)
    if end < 0:
        raise InputError(f"{path} is not a PFM file: header is cut short")
    try:
        return data[start:end].decode("ascii").strip(), end + 1
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a PFM file: header is not ASCII text") from None


def read_pfm(path) -> tuple[np.ndarray, float]:
    """Read a PFM file -> (HxW or HxWx3 float32 array, top row first; scale > 0)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read PFM file {path}: {exc.strerror}") from None
    kind, pos = _header_line(data, 0, path)
    if kind not in ("PF", "Pf"):
        raise InputError(f"{path} is not a PFM file: header starts with {kind[:8]!r}, expected 'PF' or 'Pf'")
    dims, pos = _header_line(data, pos, path)
    scale_text, pos = _header_line(data, pos, path)
    try:
        width, height = (int(v) for v in dims.split())
        scale = float(scale_text)
    except ValueError:
        raise InputError(f"{path} is not a PFM file: bad size {dims!r} or scale {scale_text!r}") from None
    if width <= 0 or height <= 0 or scale == 0 or not np.isfinite(scale):
        raise InputError(f"{path}: invalid PFM size {width}x{height} or scale {scale}")
    channels = 3 if kind == "PF" else 1
    count = width * height * channels
    if len(data) - pos < 4 * count:
        raise InputError(f"{path}: PFM data is cut short ({len(data) - pos} bytes, need {4 * count})")
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    values = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.flipud(values.reshape(shape)).astype(np.float32), abs(scale)


def write_pfm(path, array: np.ndarray, scale: float = 1.0) -> None:
    """Write an HxW or HxWx3 array as little-endian float32 PFM (rows bottom-to-top)."""
    image = np.asarray(array)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3) or image.size == 0:
        raise InputError(f"PFM holds HxW or HxWx3 arrays, got shape {image.shape}")
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"PFM scale must be positive, got {scale}")
    kind = "PF" if image.ndim == 3 else "Pf"
    height, width = image.shape[:2]
    header = f"{kind}\n{width} {height}\n{-float(scale)}\n".encode("ascii")
    body = np.ascontiguousarray(np.flipud(image), dtype="<f4").tobytes()
    Path(path).write_bytes(header + body)
