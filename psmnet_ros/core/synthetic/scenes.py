"""Random layered stereo scenes: the parameters of each scene, drawn from a seed.

A scene is a slanted background plane covering the image plus foreground layers: planar
patches (in disparity space, d = a + bx (x - px) + by (y - py), pixels, with x the column of
the LEFT view) cut out by superellipses (ellipses, boxes, diamonds, thin bars), each wearing a
texture fixed to its surface. Nearer (larger disparity) surfaces hide farther ones. The
right view is rendered exactly from these parameters (see ``render``), so the left view's
disparity is exact. Photometric parameters (per view: gain, bias, gamma, a specular-like
highlight, sensor noise; shared blur) make the two views differ as real cameras do.

Everything here is numpy drawn from ``np.random.default_rng([GENERATOR_VERSION, seed,
stream, index])``: the same (seed, stream, index) gives the same scene on every machine.
"""
from __future__ import annotations

import numpy as np

from .textures import TILE, bank_size, noise_tile_indices

GENERATOR_VERSION = 1
"""Bump when a change alters the scenes a seed gives (recorded in trained checkpoints)."""
MAX_LAYERS = 12
"""Background plus up to 11 foreground layers."""
MAX_SLANT = 0.3
"""Largest |bx| (pixels of disparity per pixel): keeps x -> x - d(x) monotonic."""
SHAPE_EXPONENTS = np.array([2.0, 2.0, 1.0, 4.0, 12.0], dtype=np.float32)
"""Superellipse exponents: ellipse (twice as likely), diamond, rounded box, box."""


def scene_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The random generator of scene ``index`` of ``stream`` (training epoch >= 1; 0 = validation)."""
    return np.random.default_rng([GENERATOR_VERSION, seed, stream, index])


def _loguniform(rng, low, high, size=None):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _fit_plane(a: float, bx: float, by: float, extent_x: float, extent_y: float, low: float, high: float):
    """Scale the slants so that d stays in [low, high] over +-extent around the reference point."""
    spread = abs(bx) * extent_x + abs(by) * extent_y
    room = min(a - low, high - a)
    scale = 1.0 if spread <= room else max(room, 0.0) / spread
    return bx * scale, by * scale


def draw_scene(rng: np.random.Generator, height: int, width: int, max_disparity: float) -> dict[str, np.ndarray]:
    """Parameters of one scene for a height x width view pair, disparities in [0.5, max_disparity].

    Returns float32 arrays (long for tile indices), K = MAX_LAYERS:
    plane K x 5 (a, bx, by, px, py), shape K x 5 (centre x, centre y, half-axis a, half-axis b,
    angle), exponent K, active K (bool; layer 0 = background, always active), tile K,
    tex K x 4 (texels per pixel, angle, offset u, offset v), noise_tile K, noise K x 4, look K x 10
    (contrast, noise weight, colour rgb, tint rgb, shading x, shading y), and photometric
    parameters: gain 2 x 3, bias 2, gamma 2, highlight 2 x 4 (x, y, radius, amplitude), blur
    (Gaussian sigma, pixels), noise_sigma 2 (fractions of full scale).
    """
    k = MAX_LAYERS
    low, high = 0.5, float(max_disparity)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    plane = np.zeros((k, 5), np.float32)
    shape = np.zeros((k, 5), np.float32)
    background = rng.uniform(1.0, min(64.0, high / 2))
    bx = np.clip(rng.normal(0, 0.04), -MAX_SLANT, MAX_SLANT)
    by = rng.uniform(-0.05, 0.35) if rng.random() < 0.5 else rng.normal(0, 0.05)
    plane[0] = (background, *_fit_plane(background, bx, by, cx, cy, low, high), cx, cy)
    shape[0] = (cx, cy, 1.0, 1.0, 0.0)
    active = np.zeros(k, bool)
    active[: 1 + rng.integers(2, k)] = True
    for i in range(1, k):
        ux, uy = rng.uniform(-0.1, 1.1) * width, rng.uniform(-0.1, 1.1) * height
        if rng.random() < 0.15:  # thin structure: a bar a few pixels wide
            half_a, half_b = rng.uniform(30, 0.6 * width), rng.uniform(0.8, 3.0)
        else:
            half_a = _loguniform(rng, 6, 0.45 * width)
            half_b = half_a * _loguniform(rng, 0.3, 1.0)
        shape[i] = (ux, uy, half_a, half_b, rng.uniform(0, np.pi))
        a = rng.uniform(0.9 * background, min(high, background + rng.uniform(5, 130)))
        reach = max(half_a, half_b)
        bx, by = np.clip(rng.normal(0, 0.08, 2), -MAX_SLANT, MAX_SLANT)
        plane[i] = (a, *_fit_plane(a, bx, by, reach, reach, low, high), ux, uy)
    exponent = rng.choice(SHAPE_EXPONENTS, k).astype(np.float32)
    tile = rng.integers(0, bank_size(), k)
    tex = np.stack([_loguniform(rng, 0.35, 2.5, k), rng.uniform(0, 2 * np.pi, k),
                    rng.uniform(0, TILE, k), rng.uniform(0, TILE, k)], axis=1)
    noise_tile = rng.choice(np.array(noise_tile_indices()), k)
    noise = np.stack([_loguniform(rng, 0.5, 3.0, k), rng.uniform(0, 2 * np.pi, k),
                      rng.uniform(0, TILE, k), rng.uniform(0, TILE, k)], axis=1)
    textureless = rng.random(k) < 0.12
    contrast = np.where(textureless, rng.uniform(0, 0.05, k), rng.uniform(0.5, 1.2, k))
    noise_weight = np.where(textureless, rng.uniform(0, 0.02, k), rng.uniform(0, 0.25, k))
    look = np.concatenate([contrast[:, None], noise_weight[:, None], rng.uniform(0.15, 0.85, (k, 3)),
                           rng.uniform(0.6, 1.4, (k, 3)), rng.uniform(-0.5, 0.5, (k, 2))], axis=1)
    highlight = np.stack([rng.uniform(0, width, 2), rng.uniform(0, height, 2), _loguniform(rng, 10, 120, 2),
                          np.where(rng.random(2) < 0.3, rng.uniform(0.1, 0.5, 2), 0.0)], axis=1)
    return {
        "plane": plane, "shape": shape, "exponent": exponent, "active": active,
        "tile": tile.astype(np.int64), "tex": tex.astype(np.float32), "noise_tile": noise_tile.astype(np.int64),
        "noise": noise.astype(np.float32), "look": look.astype(np.float32),
        "gain": (np.exp(rng.normal(0, 0.1, (2, 1))) * np.exp(rng.normal(0, 0.06, (2, 3)))).astype(np.float32),
        "bias": rng.normal(0, 0.03, 2).astype(np.float32),
        "gamma": np.exp(rng.normal(0, 0.08, 2)).astype(np.float32),
        "highlight": highlight.astype(np.float32),
        "blur": np.float32(rng.uniform(0.3, 1.2) if rng.random() < 0.3 else 0.0),
        "noise_sigma": rng.uniform(0, 0.02, 2).astype(np.float32),
        "sensor_seed": np.int64(rng.integers(0, 2**62)),
    }
