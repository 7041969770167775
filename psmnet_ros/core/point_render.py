"""A coloured point cloud drawn into an image from a turned viewpoint, with numpy only (no display needed)."""
from __future__ import annotations

import math

import numpy as np

from .errors import InputError


def orbit_rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """3x3 rotation of a camera orbiting its look-at point: yaw about the optical frame's y axis (down),
    positive moving the camera to its left, then pitch about x, positive raising the camera."""
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    about_y = np.array([[math.cos(yaw), 0.0, math.sin(yaw)], [0.0, 1.0, 0.0], [-math.sin(yaw), 0.0, math.cos(yaw)]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(pitch), math.sin(pitch)], [0.0, -math.sin(pitch),
                                                                                     math.cos(pitch)]])
    return about_y @ about_x


def render_points(points: np.ndarray, colors: np.ndarray, camera_matrix: np.ndarray, size: tuple[int, int],
                  yaw_deg: float = 0.0, pitch_deg: float = 0.0, point_px: int = 2,
                  background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """H x W x 3 uint8 RGB view of N x 3 points (metres, optical frame: x right, y down, z forward) coloured by
    N x 3 uint8 RGB, seen by a pinhole ``camera_matrix`` (3x3, pixels) of image ``size`` = (W, H).

    The viewpoint orbits the cloud's median point by ``yaw_deg`` / ``pitch_deg`` (:func:`orbit_rotation`),
    starting from the cloud's own camera at the origin; yaw = pitch = 0 is that camera. Each point paints
    a ``point_px`` square; the nearest point wins where squares overlap (a depth buffer).
    """
    xyz = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    rgb = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    if xyz.shape[0] != rgb.shape[0]:
        raise InputError(f"{xyz.shape[0]} points but {rgb.shape[0]} colours")
    width, height = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = background
    keep = np.isfinite(xyz).all(axis=1)
    xyz, rgb = xyz[keep], rgb[keep]
    if not xyz.size:
        return image
    pivot = np.median(xyz, axis=0)
    rotation = orbit_rotation(yaw_deg, pitch_deg)
    centre = pivot - rotation @ pivot                  # the origin camera carried round the pivot
    cam = (xyz - centre) @ rotation                    # = rotation.T @ (p - centre), per row
    front = cam[:, 2] > 1e-6
    cam, rgb = cam[front], rgb[front]
    k = np.asarray(camera_matrix, dtype=np.float64)
    u = np.floor(k[0, 0] * cam[:, 0] / cam[:, 2] + k[0, 2] + 0.5).astype(np.int64)
    v = np.floor(k[1, 1] * cam[:, 1] / cam[:, 2] + k[1, 2] + 0.5).astype(np.int64)
    offsets = np.arange(point_px) - (point_px - 1) // 2
    du, dv = (a.ravel() for a in np.meshgrid(offsets, offsets))
    u = (u[:, None] + du[None, :]).ravel()
    v = (v[:, None] + dv[None, :]).ravel()
    z = np.repeat(cam[:, 2], du.size)
    rgb = np.repeat(rgb, du.size, axis=0)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    index, z, rgb = v[inside] * width + u[inside], z[inside], rgb[inside]
    nearest = np.full(width * height, np.inf)
    np.minimum.at(nearest, index, z)
    winner = z == nearest[index]
    image.reshape(-1, 3)[index[winner]] = rgb[winner]
    return image
