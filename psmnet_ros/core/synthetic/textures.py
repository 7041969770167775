"""Texture bank of the scene generator: photographs shipped by scikit-image and procedural tiles.

A bank is a T x 3 x TILE x TILE float32 tensor with values in [0, 1]; every tile is sampled
periodically (wrap-around), so a texture covers any surface. The photographs are the ones
scikit-image installs with itself (no download); none is an evaluation image (the Middlebury
Motorcycle pair is never used). The bank is fixed: it is part of GENERATOR_VERSION.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
import torch

from ..errors import InputError

TILE = 256
"""Side of every texture tile (texels)."""
PHOTOGRAPHS = ("astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass",
               "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "retina",
               "rocket", "text")
"""scikit-image sample images used as textures; each gives a whole-image tile and a full-resolution crop."""
NOISE_BANDS = ((1, 4), (4, 16), (16, 64), (2, 48))
"""Band-limited noise tiles: (lowest, highest) spatial frequency in cycles per tile."""
STRIPE_PERIODS = (4, 8, 16, 32)
"""Periodic stripe and checkerboard tiles (texels a period): repetitive patterns."""
BANK_SEED = 20261123


def _photograph_tiles(name: str) -> list[np.ndarray]:
    """Two TILE x TILE x 3 uint8 tiles of one scikit-image photograph: resized whole, and a crop."""
    try:
        from skimage import data
    except ImportError:
        raise InputError("the scene generator takes its textures from scikit-image: pip install scikit-image") \
            from None
    image = np.asarray(getattr(data, name)())
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:  # the logo: composite on white
        alpha = image[:, :, 3:].astype(np.float32) / 255
        image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    image = image.astype(np.uint8)
    whole = cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_AREA)
    h, w = image.shape[:2]
    side = min(h, w, TILE)
    top, left = (h - side) // 2, (w - side) // 2
    crop = cv2.resize(image[top:top + side, left:left + side], (TILE, TILE), interpolation=cv2.INTER_LINEAR)
    return [whole, crop]


def _noise_tile(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """TILE x TILE x 3 periodic colour noise with frequencies in [low, high] cycles per tile, in [0, 1]."""
    freq = np.fft.fftfreq(TILE) * TILE
    radius = np.hypot(freq[:, None], freq[None, :])
    band = ((radius >= low) & (radius <= high)).astype(np.float64)
    channels = []
    for _ in range(3):
        field = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((TILE, TILE))) * band))
        channels.append(0.5 + 0.18 * field / (field.std() + 1e-12))
    return np.clip(np.stack(channels, axis=2), 0, 1)


def _pattern_tiles(period: int) -> list[np.ndarray]:
    """Stripes and a checkerboard of ``period`` texels (divides TILE, so they stay periodic), in [0, 1]."""
    t = np.arange(TILE)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * t / period)
    stripe_tile = np.repeat(np.broadcast_to(stripes[None, :], (TILE, TILE))[:, :, None], 3, axis=2)
    cells = ((t[:, None] // (period // 2 or 1)) + (t[None, :] // (period // 2 or 1))) % 2
    checker_tile = np.repeat(cells[:, :, None].astype(np.float64), 3, axis=2)
    return [stripe_tile, checker_tile]


@functools.lru_cache(maxsize=1)
def _bank_array() -> np.ndarray:
    tiles = [tile.astype(np.float32) / 255 for name in PHOTOGRAPHS for tile in _photograph_tiles(name)]
    rng = np.random.default_rng(BANK_SEED)
    tiles += [_noise_tile(rng, low, high).astype(np.float32) for low, high in NOISE_BANDS for _ in range(2)]
    tiles += [tile.astype(np.float32) for period in STRIPE_PERIODS for tile in _pattern_tiles(period)]
    return np.ascontiguousarray(np.stack(tiles).transpose(0, 3, 1, 2))


def noise_tile_indices() -> range:
    """Indices of the band-limited noise tiles in the bank (used as a second, fine texture)."""
    start = 2 * len(PHOTOGRAPHS)
    return range(start, start + 2 * len(NOISE_BANDS))


def bank_size() -> int:
    """Number of tiles T in the bank."""
    return 2 * len(PHOTOGRAPHS) + 2 * len(NOISE_BANDS) + 2 * len(STRIPE_PERIODS)


@functools.lru_cache(maxsize=4)
def texture_bank(device: torch.device) -> torch.Tensor:
    """The bank on ``device``, laid out for lookups: 3 x (T * TILE * TILE) float32 in [0, 1],
    tile-major then row-major (built once per device)."""
    bank = torch.from_numpy(_bank_array())
    return bank.permute(1, 0, 2, 3).reshape(3, -1).contiguous().to(device)


def sample_bank(bank: torch.Tensor, tile: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Bilinear, periodic lookup in ``texture_bank``'s layout: 3 x N values of tiles ``tile``
    (N, long) at texel coordinates ``u`` (column) and ``v`` (row), N float32 each. A continuous
    function of (u, v)."""
    u0, v0 = torch.floor(u), torch.floor(v)
    fu, fv = (u - u0)[None], (v - v0)[None]
    u0, v0 = u0.long() % TILE, v0.long() % TILE
    u1, v1 = (u0 + 1) % TILE, (v0 + 1) % TILE
    base = tile * TILE * TILE

    def at(row, col):
        return bank[:, base + row * TILE + col]

    top = at(v0, u0) * (1 - fu) + at(v0, u1) * fu
    bottom = at(v1, u0) * (1 - fu) + at(v1, u1) * fu
    return top * (1 - fv) + bottom * fv
