"""KITTI raw drives and stereo benchmark folders -> ROS 2 stereo bags (the library behind psmnet-kitti2bag).

Sources:

- a synced raw drive ``<date>/<date>_drive_NNNN_sync`` with ``image_02``/``image_03``
  (colour) or ``image_00``/``image_01`` (grey), each ``data/0000000000.png...`` plus
  ``timestamps.txt``; calibration ``<date>/calib_cam_to_cam.txt`` one level up.
  Stamps are the left camera's timestamps (``2011-09-26 13:02:25.964389445``, UTC,
  full nanoseconds), used for both images of a pair (the cameras are triggered together);
- a KITTI stereo 2015 split folder (``training`` or ``testing``): ``image_2``/``image_3``,
  per-frame ``calib_cam_to_cam/000000.txt`` (from data_scene_flow_calib.zip);
- a KITTI stereo 2012 split folder: ``colored_0``/``colored_1`` or grey ``image_0``/``image_1``,
  per-frame ``calib/000000.txt`` (P0..P3).
  Benchmark frames (``*_10.png``) are unrelated scenes without timestamps: frame k of
  the sorted list is stamped 1 s + k * 0.1 s (10 Hz, as the recordings; not 0, which
  ROS tools read as "no time").
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..core.calibration import kitti_stereo_calibration
from ..core.datasets.folder import pair_images
from ..core.errors import InputError
from .bag_writer import write_stereo_bag

BENCHMARK_START_NS = 1_000_000_000
BENCHMARK_PERIOD_NS = 100_000_000

# (left folder, right folder, calibration camera ids) per layout and camera kind
RAW_CAMERAS = {"color": ("image_02", "image_03", ("02", "03")), "gray": ("image_00", "image_01", ("00", "01"))}
KITTI2015_CAMERAS = {"color": ("image_2", "image_3", ("02", "03")), "gray": ("image_0", "image_1", ("00", "01"))}
KITTI2012_CAMERAS = {"color": ("colored_0", "colored_1", ("02", "03")), "gray": ("image_0", "image_1", ("00", "01"))}


def parse_kitti_timestamp(text: str) -> int:
    """Nanoseconds since the epoch of a KITTI ``YYYY-MM-DD hh:mm:ss.fffffffff`` UTC timestamp.

    The fraction is read as an integer (up to 9 digits, right-padded), never
    through a float, so every nanosecond survives.
    """
    try:
        day, clock = text.strip().split(" ")
        year, month, date = (int(v) for v in day.split("-"))
        whole, _, fraction = clock.partition(".")
        hour, minute, second = (int(v) for v in whole.split(":"))
        if not (fraction.isdigit() or fraction == "") or len(fraction) > 9:
            raise ValueError
        seconds = calendar.timegm((year, month, date, hour, minute, second, 0, 0, 0))
    except ValueError:
        raise InputError(f"bad KITTI timestamp {text.strip()!r}; expected 'YYYY-MM-DD hh:mm:ss.fffffffff'") from None
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0"))


def read_timestamps(path: Path) -> list[int]:
    """Stamps (ns) of a KITTI ``timestamps.txt``, one per non-empty line."""
    if not path.is_file():
        raise InputError(f"timestamps file {path} is missing")
    stamps = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                stamps.append(parse_kitti_timestamp(line))
            except InputError as exc:
                raise InputError(f"{path}, line {number}: {exc}") from None
    return stamps


@dataclass
class KittiStereoSource:
    """Pairs of image files with their stamps and calibration files, ready for the bag writer."""

    layout: str
    left: list[Path]
    right: list[Path]
    stamps_ns: list[int]
    calib_files: list[Path]
    cameras: tuple[str, str]
    encoding: str

    def __len__(self) -> int:
        return len(self.left)

    def select(self, start: int = 0, count: int | None = None) -> "KittiStereoSource":
        """Frames start .. start + count - 1 (all remaining when count is None)."""
        if start < 0 or start >= len(self):
            raise InputError(f"--start {start} is outside the {len(self)} frames of the source (0..{len(self) - 1})")
        if count is not None and count < 1:
            raise InputError(f"--count must be at least 1, got {count}")
        end = len(self) if count is None else min(len(self), start + count)
        part = slice(start, end)
        return KittiStereoSource(self.layout, self.left[part], self.right[part], self.stamps_ns[part],
                                 self.calib_files[part], self.cameras, self.encoding)

    def read_image(self, path: Path) -> np.ndarray:
        """HxWx3 RGB (colour) or HxW (grey) uint8 pixels exactly as stored in the PNG."""
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(f"cannot read image {path}")
        expected_ndim = 3 if self.encoding == "rgb8" else 2
        if image.dtype != np.uint8 or image.ndim != expected_ndim or (expected_ndim == 3 and image.shape[2] != 3):
            raise InputError(f"{path} is not an 8-bit {'colour' if expected_ndim == 3 else 'grey'} image "
                             f"({image.dtype}, shape {image.shape})")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if expected_ndim == 3 else image

    def frames(self):
        """Yields (stamp_ns, left, right, StereoCalibration) lazily."""
        drive_calibration = None
        if self.layout == "raw":   # one calibration for the whole drive
            drive_calibration = kitti_stereo_calibration(self.calib_files[0], self.cameras)
        for stamp, left_path, right_path, calib_path in zip(self.stamps_ns, self.left, self.right, self.calib_files):
            left, right = self.read_image(left_path), self.read_image(right_path)
            height, width = left.shape[:2]
            yield stamp, left, right, drive_calibration or kitti_stereo_calibration(
                calib_path, self.cameras, image_size=(width, height))


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise InputError(f"{what}: folder {path} is missing")
    return path


def _raw_source(src: Path, kind: str) -> KittiStereoSource:
    left_name, right_name, cameras = RAW_CAMERAS[kind]
    what = "not a KITTI raw drive"
    left_dir = _require_dir(src / left_name / "data", what)
    right_dir = _require_dir(src / right_name / "data", what)
    left, right = zip(*pair_images(left_dir, right_dir, "*.png"))
    stamps = read_timestamps(src / left_name / "timestamps.txt")
    if len(stamps) != len(left):
        raise InputError(f"{src / left_name / 'timestamps.txt'} has {len(stamps)} stamps for {len(left)} images")
    calibration_file = src.parent / "calib_cam_to_cam.txt"
    if not calibration_file.is_file():
        raise InputError(f"calibration file {calibration_file} is missing (it sits beside the drive folder)")
    kitti_stereo_calibration(calibration_file, cameras)   # fail before writing anything
    return KittiStereoSource("raw", left, right, stamps, [calibration_file] * len(left), cameras,
                             "rgb8" if kind == "color" else "mono8")


def _benchmark_source(src: Path, kind: str) -> KittiStereoSource:
    is_2012 = (src / "colored_0").is_dir() or (src / "calib").is_dir()
    layout, table, calib_dir = (("kitti2012", KITTI2012_CAMERAS, "calib") if is_2012
                                else ("kitti2015", KITTI2015_CAMERAS, "calib_cam_to_cam"))
    left_name, right_name, cameras = table[kind]
    what = f"not a {'KITTI 2012' if is_2012 else 'KITTI 2015'} stereo folder with {kind} images"
    left, right = zip(*pair_images(_require_dir(src / left_name, what), _require_dir(src / right_name, what), "*_10.png"))
    calib_files = [src / calib_dir / f"{p.name[:6]}.txt" for p in left]
    for path in calib_files:
        if not path.is_file():
            raise InputError(f"calibration file {path} is missing")
    stamps = [BENCHMARK_START_NS + k * BENCHMARK_PERIOD_NS for k in range(len(left))]
    return KittiStereoSource(layout, left, right, stamps, calib_files, cameras,
                             "rgb8" if kind == "color" else "mono8")


def open_kitti_source(src, cameras: str = "color") -> KittiStereoSource:
    """Detect the layout of ``src`` (raw drive, stereo 2015 or 2012 split folder) and list its frames."""
    src = Path(src)
    if cameras not in RAW_CAMERAS:
        raise InputError(f"unknown cameras {cameras!r}; choose color or gray")
    if not src.is_dir():
        raise InputError(f"source folder {src} does not exist")
    if any((src / name).is_dir() for name in ("image_00", "image_01", "image_02", "image_03")):
        return _raw_source(src, cameras)
    if any((src / name).is_dir() for name in ("image_2", "colored_0", "image_0")):
        return _benchmark_source(src, cameras)
    if (src / "training").is_dir() or (src / "testing").is_dir():
        raise InputError(f"{src} holds KITTI benchmark splits: pass {src / 'training'} or {src / 'testing'}")
    raise InputError(f"{src} is not a KITTI raw drive (no image_02 or image_00 folder) nor a KITTI stereo "
                     "split folder (no image_2, colored_0 or image_0 folder)")


def topic_names(kind: str) -> dict[str, str]:
    """Bag writer keyword arguments naming topics and frames for colour or grey cameras."""
    return {"left_topic_ns": f"/kitti/camera_{kind}_left", "right_topic_ns": f"/kitti/camera_{kind}_right",
            "left_frame": f"camera_{kind}_left", "right_frame": f"camera_{kind}_right"}


KITTI_CAMERA_HEIGHT_M = 1.65
"""Height of KITTI's cameras above the ground (metres): base_link sits on the road."""


def kitti_to_bag(src, out, *, storage: str = "sqlite3", cameras: str = "color", start: int = 0,
                 count: int | None = None, compress: str | None = None, progress: bool = True) -> int:
    """Convert a KITTI source folder to the new bag folder ``out``; returns the frames written.

    compress: None (sensor_msgs/Image) or "png" / "jpeg" (sensor_msgs/CompressedImage on ``.../compressed``).
    """
    out = Path(out)
    if out.exists():
        raise InputError(f"output bag {out} already exists")
    source = open_kitti_source(src, cameras).select(start, count)
    return write_stereo_bag(out, source.frames(), None, storage=storage, encoding=source.encoding,
                            compress=compress, body_to_left_xyz=(0.0, 0.0, KITTI_CAMERA_HEIGHT_M), progress=progress,
                            total=len(source), **topic_names(cameras))
