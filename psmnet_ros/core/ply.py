"""Binary PLY writer for coloured point clouds (opens in MeshLab, CloudCompare, Open3D)."""
from __future__ import annotations

import os

import numpy as np

from .errors import InputError


def write_ply(path: str | os.PathLike, points: np.ndarray, colors: np.ndarray) -> int:
    """Write the finite points of an (..., 3) float array with (..., 3) uint8 RGB colours.

    Points are in metres; rows with any NaN/inf coordinate are skipped.
    Returns the number of points written.
    """
    xyz = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    rgb = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    if xyz.shape[0] != rgb.shape[0]:
        raise ValueError(f"{xyz.shape[0]} points but {rgb.shape[0]} colours")
    keep = np.isfinite(xyz).all(axis=1)
    vertex = np.empty(int(keep.sum()), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                               ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    for i, axis in enumerate("xyz"):
        vertex[axis] = xyz[keep, i]
    for i, channel in enumerate(("red", "green", "blue")):
        vertex[channel] = rgb[keep, i]
    header = ("ply\nformat binary_little_endian 1.0\ncomment psmnet_ros point cloud, metres\n"
              f"element vertex {vertex.shape[0]}\n"
              "property float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(vertex.tobytes())
    return vertex.shape[0]


def read_ply(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(N x 3 float32 points, N x 3 uint8 RGB) of a binary little-endian PLY as :func:`write_ply` writes it.

    InputError naming the file for any other layout.
    """
    data = open(path, "rb").read()
    header, found, body = data.partition(b"end_header\n")
    lines = header.decode("ascii", errors="replace").splitlines()
    properties = [tuple(line.split()[1:]) for line in lines if line.startswith("property")]
    expected = [("float", a) for a in "xyz"] + [("uchar", c) for c in ("red", "green", "blue")]
    counts = [int(line.split()[2]) for line in lines if line.startswith("element vertex")]
    if (not found or lines[:2] != ["ply", "format binary_little_endian 1.0"] or properties != expected
            or len(counts) != 1 or len(body) < 15 * counts[0]):
        raise InputError(f"{path} is not a binary little-endian x y z red green blue PLY")
    vertex = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                        ("red", "u1"), ("green", "u1"), ("blue", "u1")], count=counts[0])
    points = np.stack([vertex[a] for a in "xyz"], axis=-1)
    colors = np.stack([vertex[c] for c in ("red", "green", "blue")], axis=-1)
    return points, colors
