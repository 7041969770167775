"""Builders of miniature KITTI / SceneFlow trees in temporary folders, in the real layouts.

Files are written with Pillow and plain byte packing, never with the package's
own writers, so readers are tested against independent encoders.

API (every builder takes the folder to build in, usually pytest's ``tmp_path``):

- ``make_raw_drive(base, n_frames=3, size=(24, 16), cameras=("00", "01", "02", "03"))
  -> RawDrive``: ``base/2011_09_26/2011_09_26_drive_0001_sync/image_0X/{data/0000000000.png...,
  timestamps.txt}`` plus ``base/2011_09_26/calib_cam_to_cam.txt`` (the real 2011_09_26
  calibration, S_rect set to ``size``). RawDrive: ``drive`` (the drive folder), ``calib``
  (file path), ``images`` (camera -> list of arrays as written: HxWx3 RGB for 02/03, HxW for
  00/01), ``timestamps`` (camera -> lines of timestamps.txt).
- ``make_kitti2015(base, names=("000000_10", "000001_10"), size=(32, 24), testing=False)
  -> KittiTree``: ``base/training/{image_2,image_3,disp_occ_0,disp_noc_0,calib_cam_to_cam}``
  (and ``base/testing/{image_2,image_3,calib_cam_to_cam}`` when ``testing``), one extra
  ``*_11.png`` flow frame per folder of images, as in the real archives.
- ``make_kitti2012(base, names=..., size=(32, 24))`` -> KittiTree:
  ``base/training/{colored_0,colored_1,image_0,image_1,disp_occ,disp_noc,calib}``, calib files in
  the 2012 ``P0: ... P3:`` format.
  KittiTree: ``root``, ``names``, ``left``/``right`` (name -> HxWx3 uint8 as written),
  ``disparity``/``noc`` (name -> HxW float32 ground truth, NaN where the PNG stores 0).
  Each frame k is a true stereo pair: right = left shifted by d = ``5 + k % 4`` px, ground
  truth d on every other row (LiDAR-like sparsity); noc lacks the left columns
  whose match leaves the right image.
- ``make_sceneflow(base, layout="flyingthings3d", size=(32, 24)) -> SceneFlowTree``:
  FlyingThings3D ``frames_cleanpass/{TRAIN,TEST}/A/0000/{left,right}/0006.png`` (+0007 in
  TRAIN) and ``disparity/.../left/0006.pfm``; "monkaa" ``frames_cleanpass/a_rain_of_stones_x2/
  left/0000.png``; "driving" ``frames_cleanpass/35mm_focallength/scene_forwards/fast/left/0001.png``.
  SceneFlowTree: ``root``, ``disparity`` (name relative to root -> HxW float32 written).
- ``write_pfm_bytes(path, array, little_endian=True)``: an independent PFM encoder.
- Constants: ``RAW_CALIB_TEXT`` (format string of the real calib_cam_to_cam.txt of
  2011_09_26, fields ``width``/``height``), ``KITTI2012_CALIB_TEXT`` (real 2012-format values),
  ``RAW_TIMESTAMPS`` (three real-format timestamp lines).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

# The real calib_cam_to_cam.txt of the 2011_09_26 raw recordings; only S_rect_xx is
# templated so that miniature images and calibration agree.
RAW_CALIB_TEXT = """calib_time: 09-Jan-2012 13:57:47
corner_dist: 9.950000e-02
S_00: 1.392000e+03 5.120000e+02
K_00: 9.842439e+02 0.000000e+00 6.900000e+02 0.000000e+00 9.808141e+02 2.331966e+02 0.000000e+00 0.000000e+00 1.000000e+00
D_00: -3.728755e-01 2.037299e-01 2.219027e-03 1.383707e-03 -7.233722e-02
R_00: 1.000000e+00 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00
T_00: 2.573699e-16 -1.059758e-16 1.614870e-16
S_rect_00: {width:e} {height:e}
R_rect_00: 9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 7.402527e-03 4.351614e-03 9.999631e-01
P_rect_00: 7.215377e+02 0.000000e+00 6.095593e+02 0.000000e+00 0.000000e+00 7.215377e+02 1.728540e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
S_01: 1.392000e+03 5.120000e+02
K_01: 9.895267e+02 0.000000e+00 7.020000e+02 0.000000e+00 9.878386e+02 2.455590e+02 0.000000e+00 0.000000e+00 1.000000e+00
D_01: -3.644661e-01 1.790019e-01 1.148107e-03 -6.298563e-04 -5.314062e-02
R_01: 9.993513e-01 1.860866e-02 -3.083487e-02 -1.887662e-02 9.997863e-01 -8.421873e-03 3.067156e-02 8.998467e-03 9.994890e-01
T_01: -5.370000e-01 4.822061e-03 -1.252488e-02
S_rect_01: {width:e} {height:e}
R_rect_01: 9.996878e-01 -8.976826e-03 2.331651e-02 8.876121e-03 9.999508e-01 4.418952e-03 -2.335503e-02 -4.210612e-03 9.997184e-01
P_rect_01: 7.215377e+02 0.000000e+00 6.095593e+02 -3.875744e+02 0.000000e+00 7.215377e+02 1.728540e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
S_02: 1.392000e+03 5.120000e+02
K_02: 9.597910e+02 0.000000e+00 6.960217e+02 0.000000e+00 9.569251e+02 2.241806e+02 0.000000e+00 0.000000e+00 1.000000e+00
D_02: -3.691481e-01 1.968681e-01 1.353473e-03 5.677587e-04 -6.770705e-02
R_02: 9.999758e-01 -5.267463e-03 -4.552439e-03 5.251945e-03 9.999804e-01 -3.413835e-03 4.570332e-03 3.389843e-03 9.999838e-01
T_02: 5.956621e-02 2.900141e-04 2.577209e-03
S_rect_02: {width:e} {height:e}
R_rect_02: 9.998817e-01 1.511453e-02 -2.841595e-03 -1.511724e-02 9.998853e-01 -9.338510e-04 2.827154e-03 9.766976e-04 9.999955e-01
P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03
S_03: 1.392000e+03 5.120000e+02
K_03: 9.037596e+02 0.000000e+00 6.957519e+02 0.000000e+00 9.019653e+02 2.242509e+02 0.000000e+00 0.000000e+00 1.000000e+00
D_03: -3.639558e-01 1.788651e-01 6.029694e-04 -3.922424e-04 -5.382460e-02
R_03: 9.995599e-01 1.699522e-02 -2.431313e-02 -1.704422e-02 9.998531e-01 -1.809756e-03 2.427880e-02 2.223358e-03 9.997028e-01
T_03: -4.731050e-01 5.551470e-03 -5.250882e-03
S_rect_03: {width:e} {height:e}
R_rect_03: 9.998321e-01 -7.193136e-03 1.685599e-02 7.232804e-03 9.999712e-01 -2.293585e-03 -1.683901e-02 2.415116e-03 9.998553e-01
P_rect_03: 7.215377e+02 0.000000e+00 6.095593e+02 -3.395242e+02 0.000000e+00 7.215377e+02 1.728540e+02 2.199936e+00 0.000000e+00 0.000000e+00 1.000000e+00 2.729905e-03
"""

# The P0..P3 lines of a real KITTI calib/000000.txt (2012 stereo and object benchmarks share this
# format: rectified projections with 12-digit mantissas, no image size).
KITTI2012_CALIB_TEXT = """P0: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 0.000000000000e+00 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P1: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 -3.797842000000e+02 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P2: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 4.575831000000e+01 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 -3.454157000000e-01 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 4.981016000000e-03
P3: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 -3.341081000000e+02 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 2.330660000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 3.201153000000e-03
"""

RAW_TIMESTAMPS = (
    "2011-09-26 13:02:25.964389445",
    "2011-09-26 13:02:26.068044525",
    "2011-09-26 13:02:26.171735365",
)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_pfm_bytes(path: Path, array: np.ndarray, little_endian: bool = True) -> None:
    """PFM with rows bottom-to-top; scale -1.0 (little endian) or 1.0 (big endian)."""
    array = np.asarray(array, dtype=np.float32)
    kind = b"PF" if array.ndim == 3 else b"Pf"
    header = kind + b"\n%d %d\n" % (array.shape[1], array.shape[0]) + (b"-1.0\n" if little_endian else b"1.0\n")
    body = np.flipud(array).astype("<f4" if little_endian else ">f4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body)


@dataclass
class RawDrive:
    drive: Path
    calib: Path
    images: dict = field(default_factory=dict)
    timestamps: dict = field(default_factory=dict)


def make_raw_drive(base, n_frames: int = 3, size: tuple[int, int] = (24, 16),
                   cameras: tuple[str, ...] = ("00", "01", "02", "03")) -> RawDrive:
    """A miniature synced raw drive of 2011_09_26 (see the module docstring)."""
    width, height = size
    date_dir = Path(base) / "2011_09_26"
    drive = date_dir / "2011_09_26_drive_0001_sync"
    calib = date_dir / "calib_cam_to_cam.txt"
    date_dir.mkdir(parents=True, exist_ok=True)
    calib.write_text(RAW_CALIB_TEXT.format(width=float(width), height=float(height)))
    result = RawDrive(drive=drive, calib=calib)
    rng = _rng(1)
    for cam in cameras:
        shape = (height, width, 3) if cam in ("02", "03") else (height, width)
        frames = [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(n_frames)]
        for i, frame in enumerate(frames):
            _save_png(drive / f"image_{cam}" / "data" / f"{i:010d}.png", frame)
        # Right cameras carry their own, slightly later, stamps (3 ns here).
        offset = 0 if cam in ("00", "02") else 3
        lines = [t[:-6] + f"{int(t[-6:]) + offset:06d}" for t in RAW_TIMESTAMPS[:n_frames]]
        (drive / f"image_{cam}" / "timestamps.txt").write_text("\n".join(lines) + "\n")
        result.images[cam] = frames
        result.timestamps[cam] = lines
    return result


@dataclass
class KittiTree:
    root: Path
    names: list
    left: dict = field(default_factory=dict)
    right: dict = field(default_factory=dict)
    disparity: dict = field(default_factory=dict)
    noc: dict = field(default_factory=dict)


def _stereo_frame(k: int, size: tuple[int, int], rng: np.random.Generator):
    """Left texture, right = left shifted by d = 5 + k % 4 px, sparse uint16 occ/noc ground truth."""
    width, height = size
    d = 5 + k % 4
    left = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    right = np.empty_like(left)
    right[:, : width - d] = left[:, d:]          # right(x) = left(x + d)
    right[:, width - d:] = rng.integers(0, 256, size=(height, d, 3), dtype=np.uint8)
    occ = np.zeros((height, width), dtype=np.uint16)
    occ[::2, :] = d * 256
    noc = occ.copy()
    noc[:, :d] = 0                               # their match x - d is outside the right image
    return left, right, occ, noc


def _as_disparity(raw: np.ndarray) -> np.ndarray:
    d = raw.astype(np.float32) / 256.0
    d[raw == 0] = np.nan
    return d


def _make_kitti(base, names, size, folders, calib_writer, testing) -> KittiTree:
    root = Path(base)
    left_dir, right_dir, occ_dir, noc_dir = folders
    tree = KittiTree(root=root, names=list(names))
    rng = _rng(2)
    for k, name in enumerate(names):
        left, right, occ, noc = _stereo_frame(k, size, rng)
        for part in ("training", "testing") if testing else ("training",):
            _save_png(root / part / left_dir / f"{name}.png", left)
            _save_png(root / part / right_dir / f"{name}.png", right)
            calib_writer(root / part, name[:6])
        _save_png(root / "training" / occ_dir / f"{name}.png", occ)
        _save_png(root / "training" / noc_dir / f"{name}.png", noc)
        tree.left[name], tree.right[name] = left, right
        tree.disparity[name], tree.noc[name] = _as_disparity(occ), _as_disparity(noc)
    flow_frame = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    _save_png(root / "training" / left_dir / f"{names[0][:6]}_11.png", flow_frame)
    _save_png(root / "training" / right_dir / f"{names[0][:6]}_11.png", flow_frame)
    return tree


def make_kitti2015(base, names=("000000_10", "000001_10"), size: tuple[int, int] = (32, 24),
                   testing: bool = False) -> KittiTree:
    """A miniature KITTI stereo 2015 tree (see the module docstring)."""
    def calib(part: Path, index: str) -> None:
        path = part / "calib_cam_to_cam" / f"{index}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(RAW_CALIB_TEXT.format(width=float(size[0]), height=float(size[1])))
    return _make_kitti(base, names, size, ("image_2", "image_3", "disp_occ_0", "disp_noc_0"), calib, testing)


def make_kitti2012(base, names=("000000_10", "000001_10"), size: tuple[int, int] = (32, 24)) -> KittiTree:
    """A miniature KITTI stereo 2012 tree, colour and grey images (see the module docstring)."""
    def calib(part: Path, index: str) -> None:
        path = part / "calib" / f"{index}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(KITTI2012_CALIB_TEXT)
    tree = _make_kitti(base, names, size, ("colored_0", "colored_1", "disp_occ", "disp_noc"), calib, False)
    for name in names:
        for cam, images in (("image_0", tree.left), ("image_1", tree.right)):
            grey = images[name].mean(axis=2).astype(np.uint8)
            _save_png(tree.root / "training" / cam / f"{name}.png", grey)
    return tree


@dataclass
class SceneFlowTree:
    root: Path
    disparity: dict = field(default_factory=dict)


SCENEFLOW_LAYOUTS = {
    "flyingthings3d": ("TRAIN/A/0000/{side}/0006", "TRAIN/A/0000/{side}/0007", "TEST/A/0000/{side}/0006"),
    "monkaa": ("a_rain_of_stones_x2/{side}/0000", "a_rain_of_stones_x2/{side}/0001"),
    "driving": ("35mm_focallength/scene_forwards/fast/{side}/0001",),
}


def make_sceneflow(base, layout: str = "flyingthings3d", size: tuple[int, int] = (32, 24),
                   render_pass: str = "cleanpass") -> SceneFlowTree:
    """A miniature SceneFlow tree of one layout at ``base`` (see the module docstring)."""
    root = Path(base)
    tree = SceneFlowTree(root=root)
    rng = _rng(3)
    for pattern in SCENEFLOW_LAYOUTS[layout]:
        for side in ("left", "right"):
            image = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            _save_png(root / f"frames_{render_pass}" / f"{pattern.format(side=side)}.png", image)
        disparity = rng.uniform(0.5, 40.0, size=(size[1], size[0])).astype(np.float32)
        write_pfm_bytes(root / "disparity" / f"{pattern.format(side='left')}.pfm", disparity)
        tree.disparity[pattern.format(side="left")] = disparity
    return tree
