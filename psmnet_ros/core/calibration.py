"""The rectified stereo camera model (one for the node, the tools and the datasets), and KITTI
calibration text files.

:class:`StereoCalibration` is validated once, when it is made; everything that computes with it
(depth, points, the published DisparityImage's f and t, which are float32) may rely on it.

KITTI formats read (all ``key: v1 v2 ...`` lines):

- raw recordings ``<date>/calib_cam_to_cam.txt`` and KITTI 2015
  ``calib_cam_to_cam/000000.txt``: ``P_rect_xx`` (3x4), ``R_rect_xx`` (3x3),
  ``S_rect_xx`` (width height) for cameras 00/01 (grey) and 02/03 (colour);
- KITTI stereo 2012 ``calib/000000.txt`` (and the object benchmark files):
  ``P0``..``P3`` only, camera 0/1 grey and 2/3 colour, already rectified, no
  size: pass ``image_size``.

KITTI projection matrices are expressed relative to the rectified reference
camera 00, so P_rect_02 has a non-zero Tx of its own; the baseline of a pair is
therefore (P_left[0,3] - P_right[0,3]) / fx, never -P_right[0,3] / fx.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

FLOAT32_NORMAL = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))
"""Smallest and largest positive normal float32, about 1.2e-38 and 3.4e+38."""


def read_calib_file(path) -> dict[str, np.ndarray]:
    """Parse a KITTI ``key: v1 v2 ...`` text file into float64 arrays (flat).

    Lines whose values are not all numbers (``calib_time: 09-Jan-2012 ...``)
    and lines without a colon are skipped.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read calibration file {path}: {exc}") from None
    values: dict[str, np.ndarray] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep or not key.strip():
            continue
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue
    return values


@dataclass(frozen=True, eq=False)
class StereoCalibration:
    """A rectified stereo pair: P_left/P_right 3x4 (pixels), R_left/R_right 3x3
    rectifying rotations, size = (width, height) in pixels of the rectified images.

    InputError on construction, naming the value, unless every number is finite in float32, and fx,
    fy, the baseline (P_left[0,3] - P_right[0,3]) / fx and fx * baseline are positive normal float32
    numbers (FLOAT32_NORMAL): the precision they are published (DisparityImage f and t) and computed
    (depth, points) in, where 1e-300 would be 0 and 1e300 inf. A positive baseline means the right
    camera is on the right.
    """

    P_left: np.ndarray
    P_right: np.ndarray
    R_left: np.ndarray
    R_right: np.ndarray
    size: tuple[int, int]

    def __post_init__(self):
        for name, shape in (("P_left", (3, 4)), ("P_right", (3, 4)), ("R_left", (3, 3)), ("R_right", (3, 3))):
            value = np.array(getattr(self, name), dtype=np.float64)
            if value.size != shape[0] * shape[1]:
                raise InputError(f"{name} must have {shape[0] * shape[1]} values, got {value.size}")
            value = value.reshape(shape)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        width, height = (int(v) for v in self.size)
        if width <= 0 or height <= 0:
            raise InputError(f"image size must be positive, got {width}x{height}")
        object.__setattr__(self, "size", (width, height))
        for name in ("P_left", "P_right", "R_left", "R_right"):
            if not (np.abs(getattr(self, name)) <= FLOAT32_NORMAL[1]).all():
                raise InputError(f"{name} contains NaN, inf or a number beyond float32")
        for side, p in (("left", self.P_left), ("right", self.P_right)):
            if not (_positive_float32(p[0, 0]) and _positive_float32(p[1, 1])):
                raise InputError(f"{side} projection matrix has focal lengths fx={p[0, 0]}, fy={p[1, 1]}: they must be "
                                 "positive (and within float32): is the camera calibrated and rectified?")
        baseline = self.baseline_m
        if not (_positive_float32(baseline) and _positive_float32(self.fx * baseline)):
            raise InputError(f"stereo baseline (P_left[0,3] - P_right[0,3]) / fx = {baseline} m must be positive (and "
                             "within float32): the right camera's P[0,3] must be -fx * baseline relative to the left")

    @classmethod
    def from_pinhole(cls, focal_px: float, baseline_m: float, cx_left: float, cy: float,
                     size: tuple[int, int], doffs: float = 0.0) -> "StereoCalibration":
        """An ideal rectified pair: shared focal length and cy, right camera ``baseline_m`` to the
        right with its principal point ``doffs`` px right of the left one (P_right[0,3] = -f * B)."""
        f = focal_px
        p_left = [[f, 0, cx_left, 0], [0, f, cy, 0], [0, 0, 1, 0]]
        p_right = [[f, 0, cx_left + doffs, -f * baseline_m], [0, f, cy, 0], [0, 0, 1, 0]]
        return cls(P_left=p_left, P_right=p_right, R_left=np.eye(3), R_right=np.eye(3), size=size)

    @property
    def fx(self) -> float:
        """Rectified focal length along x, pixels."""
        return float(self.P_left[0, 0])

    @property
    def fy(self) -> float:
        """Rectified focal length along y, pixels."""
        return float(self.P_left[1, 1])

    @property
    def cx_left(self) -> float:
        """Principal point x of the left camera, pixels."""
        return float(self.P_left[0, 2])

    @property
    def cx_right(self) -> float:
        """Principal point x of the right camera, pixels."""
        return float(self.P_right[0, 2])

    @property
    def cy(self) -> float:
        """Principal point y (shared by both rectified cameras), pixels."""
        return float(self.P_left[1, 2])

    @property
    def camera_matrix(self) -> np.ndarray:
        """3x3 rectified camera matrix of the left camera (P_left[:, :3])."""
        return self.P_left[:, :3].copy()

    @property
    def baseline_m(self) -> float:
        """Stereo baseline in metres, (P_left[0,3] - P_right[0,3]) / fx.

        This holds both when the left camera's P has Tx = 0 (ROS convention) and when it carries
        its own offset from a reference camera (KITTI's P_rect_02 / P_rect_03).
        """
        return float((self.P_left[0, 3] - self.P_right[0, 3]) / self.P_left[0, 0])

    @property
    def doffs(self) -> float:
        """cx_right - cx_left in pixels (0 for KITTI, non-zero for Middlebury)."""
        return self.cx_right - self.cx_left


def _positive_float32(value: float) -> bool:
    """Within FLOAT32_NORMAL: a positive normal float32, neither 0, subnormal nor inf once rounded."""
    return bool(FLOAT32_NORMAL[0] <= value <= FLOAT32_NORMAL[1])


def _matrix(values: dict[str, np.ndarray], key: str, shape: tuple[int, int], path: Path) -> np.ndarray:
    value = values[key]
    if value.size != shape[0] * shape[1]:
        raise InputError(f"{path}: {key} has {value.size} values, expected {shape[0] * shape[1]}")
    return value.reshape(shape)


def kitti_stereo_calibration(path, cameras: tuple[str, str] = ("02", "03"),
                             image_size: tuple[int, int] | None = None) -> StereoCalibration:
    """StereoCalibration of a KITTI camera pair from a calibration text file.

    cameras: ("02", "03") colour pair or ("00", "01") grey pair.
    Raw / KITTI 2015 files give P_rect_xx, R_rect_xx and S_rect_xx; KITTI 2012
    files give P0..P3 only, then R is the identity (images are rectified) and
    the size comes from ``image_size`` = (width, height) px, which also
    overrides S_rect_xx when given. Raises InputError naming the file and the
    missing keys.
    """
    path = Path(path)
    left, right = cameras
    values = read_calib_file(path)
    raw_keys = [f"P_rect_{left}", f"P_rect_{right}", f"R_rect_{left}", f"R_rect_{right}"]
    if image_size is None:
        raw_keys.append(f"S_rect_{left}")
    short_keys = [f"P{int(left)}", f"P{int(right)}"]
    if all(k in values for k in raw_keys):
        p_left = _matrix(values, raw_keys[0], (3, 4), path)
        p_right = _matrix(values, raw_keys[1], (3, 4), path)
        r_left = _matrix(values, raw_keys[2], (3, 3), path)
        r_right = _matrix(values, raw_keys[3], (3, 3), path)
        if image_size is None:
            size = values[f"S_rect_{left}"]
            if size.size != 2:
                raise InputError(f"{path}: S_rect_{left} has {size.size} values, expected 2 (width height)")
            image_size = (int(round(size[0])), int(round(size[1])))
    elif all(k in values for k in short_keys) and not any(k.startswith("P_rect_") for k in values):
        if image_size is None:
            raise InputError(f"{path} has no image size (no S_rect_{left}): pass the size of the images")
        p_left = _matrix(values, short_keys[0], (3, 4), path)
        p_right = _matrix(values, short_keys[1], (3, 4), path)
        r_left = r_right = np.eye(3)
    else:
        has_short = any(k in values for k in ("P0", "P1", "P2", "P3"))
        wanted = short_keys if has_short else raw_keys
        missing = [k for k in wanted if k not in values]
        raise InputError(f"calibration file {path} lacks {', '.join(missing)}")
    return StereoCalibration(P_left=p_left, P_right=p_right, R_left=r_left, R_right=r_right,
                             size=image_size)


STEREO_YAML_SIDES = ("left", "right")
"""Top-level keys of a stereo calibration YAML file; each holds one camera in the camera_info_manager YAML form
(image_width, image_height, rectification_matrix, projection_matrix; other keys such as camera_matrix and
distortion_coefficients are read by ROS tools and ignored here: the images are rectified)."""


def write_calibration_yaml(path, calibration: StereoCalibration) -> None:
    """Write ``calibration`` as a stereo calibration YAML file (:data:`STEREO_YAML_SIDES`)."""
    import yaml

    width, height = calibration.size

    def matrix(value: np.ndarray) -> dict:
        return {"rows": value.shape[0], "cols": value.shape[1], "data": [float(v) for v in value.ravel()]}

    document = {side: {"image_width": width, "image_height": height,
                       "rectification_matrix": matrix(getattr(calibration, f"R_{side}")),
                       "projection_matrix": matrix(getattr(calibration, f"P_{side}"))}
                for side in STEREO_YAML_SIDES}
    Path(path).write_text(yaml.safe_dump(document, sort_keys=False))


def _yaml_camera(document, side: str, path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    camera = document.get(side) if isinstance(document, dict) else None
    if not isinstance(camera, dict):
        raise InputError(f"{path} has no '{side}' camera (a mapping with projection_matrix and rectification_matrix)")
    try:
        size = (int(camera["image_width"]), int(camera["image_height"]))
        p, r = (np.array(camera[key]["data"], dtype=np.float64)
                for key in ("projection_matrix", "rectification_matrix"))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: the {side} camera lacks or mangles {exc}: it needs image_width, image_height, "
                         "projection_matrix.data and rectification_matrix.data") from None
    return p, r, size


def read_calibration(path, image_size: tuple[int, int] | None = None) -> StereoCalibration:
    """The StereoCalibration in a file: a stereo calibration YAML file (``.yaml``/``.yml``, see
    :func:`write_calibration_yaml`) or a KITTI calibration text file (colour cameras 02/03;
    :func:`kitti_stereo_calibration`, which takes ``image_size``). InputError naming the file else."""
    import yaml

    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        return kitti_stereo_calibration(path, image_size=image_size)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read calibration file {path}: {exc}".splitlines()[0]) from None
    (p_left, r_left, size), (p_right, r_right, right_size) = (_yaml_camera(document, s, path)
                                                              for s in STEREO_YAML_SIDES)
    if size != right_size:
        raise InputError(f"{path}: the left camera is {size[0]}x{size[1]} px, the right {right_size[0]}x"
                         f"{right_size[1]} px")
    return StereoCalibration(P_left=p_left, P_right=p_right, R_left=r_left, R_right=r_right, size=size)
