"""Write rectified stereo sequences as ROS 2 bags with rosbags (no ROS installation needed).

A bag holds, per camera namespace ``ns``: ``<ns>/image_rect`` (sensor_msgs/Image,
rgb8 or mono8) or, compressed, ``<ns>/image_rect/compressed`` (sensor_msgs/CompressedImage,
PNG or JPEG as image_transport's compressed plugin writes them) and ``<ns>/camera_info``
(sensor_msgs/CameraInfo), all stamped
with the frame's stamp, plus one ``/tf_static`` message (tf2_msgs/TFMessage)
at the first stamp, offered transient-local like a static broadcaster's.

CameraInfo: plumb_bob model with zero distortion, K = P[:, :3], R = identity
(the images are already rectified, so no further rotation applies) and P the
rectified projection matrix as given, e.g. KITTI's P_rect_02/P_rect_03 whose
Tx terms both carry the offset from camera 00: consumers must take the baseline
as (P_left[0,3] - P_right[0,3]) / fx.

/tf_static: ``body_frame`` -> left optical frame (rotation optical-from-body,
quaternion x=-0.5 y=0.5 z=-0.5 w=0.5: optical z = body x forward, optical x =
-body y, optical y = -body z; no translation, i.e. the body frame sits at the
left camera) and left -> right optical frame (translation +baseline along the
optical x axis).

Bags are rosbag2 format version 8 with message definitions of the ROS 2 Humble
type store, readable by ``ros2 bag play`` of Humble and later distributions
(version 9 stores QoS in a form Humble cannot read). ``TYPESTORE`` also holds
this package's own messages (bag_types.py), so bags can carry them.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores
from tqdm import tqdm

from ..core.calibration import StereoCalibration
from ..core.errors import InputError
from ..core.image_codec import CODECS, encode_image
from .bag_types import package_typestore

BAG_VERSION = 8
STORAGES = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}
ENCODINGS = {"rgb8": 3, "mono8": 1}
OPTICAL_FROM_BODY_XYZW = (-0.5, 0.5, -0.5, 0.5)

TYPESTORE = package_typestore(Stores.ROS2_HUMBLE)   # the standard types and psmnet_ros/msg/*
T = TYPESTORE.types
IMAGE, CAMERA_INFO, TF_MESSAGE = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "tf2_msgs/msg/TFMessage"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"


def _qos(depth: int, durability: QosDurability) -> Qos:
    default_time = QosTime(0, 0)   # "unspecified": the middleware default
    return Qos(QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE, durability, default_time, default_time,
               QosLiveliness.AUTOMATIC, default_time, False)


SENSOR_QOS = _qos(10, QosDurability.VOLATILE)
STATIC_TF_QOS = _qos(1, QosDurability.TRANSIENT_LOCAL)


def _header(stamp_ns: int, frame_id: str):
    stamp = T["builtin_interfaces/msg/Time"](sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
    return T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _image(image: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
    height, width = image.shape[:2]
    return T[IMAGE](header=_header(stamp_ns, frame_id), height=height, width=width, encoding=encoding,
                    is_bigendian=0, step=width * ENCODINGS[encoding],
                    data=np.ascontiguousarray(image, dtype=np.uint8).reshape(-1))


def _compressed_image(image: np.ndarray, codec: str, jpeg_quality: int, stamp_ns: int, frame_id: str):
    data, format_ = encode_image(image, codec, jpeg_quality)
    return T[COMPRESSED_IMAGE](header=_header(stamp_ns, frame_id), format=format_,
                               data=np.frombuffer(data, dtype=np.uint8))


def _camera_info(projection: np.ndarray, rotation: np.ndarray, shape: tuple[int, int], stamp_ns: int,
                 frame_id: str):
    height, width = shape
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return T[CAMERA_INFO](header=_header(stamp_ns, frame_id), height=height, width=width,
                          distortion_model="plumb_bob", d=np.zeros(5), k=projection[:, :3].reshape(-1).copy(),
                          r=rotation.reshape(-1).copy(), p=projection.reshape(-1).copy(), binning_x=0, binning_y=0,
                          roi=roi)


def _transform(stamp_ns: int, parent: str, child: str, xyz, xyzw):
    vector = T["geometry_msgs/msg/Vector3"](x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))
    rotation = T["geometry_msgs/msg/Quaternion"](x=xyzw[0], y=xyzw[1], z=xyzw[2], w=xyzw[3])
    return T["geometry_msgs/msg/TransformStamped"](
        header=_header(stamp_ns, parent), child_frame_id=child,
        transform=T["geometry_msgs/msg/Transform"](translation=vector, rotation=rotation))


def _check_frame(index: int, stamp_ns, left: np.ndarray, right: np.ndarray, encoding: str) -> None:
    if not isinstance(stamp_ns, (int, np.integer)) or stamp_ns < 0:
        raise InputError(f"frame {index}: stamp must be a non-negative integer of nanoseconds, got {stamp_ns!r}")
    ndim = 3 if ENCODINGS[encoding] == 3 else 2
    for side, image in (("left", left), ("right", right)):
        if image.dtype != np.uint8 or image.ndim != ndim or (ndim == 3 and image.shape[2] != 3):
            expected = "HxWx3" if ndim == 3 else "HxW"
            raise InputError(f"frame {index}: {side} image must be {expected} uint8 for {encoding}, "
                             f"got {image.dtype} with shape {image.shape}")
    if left.shape != right.shape:
        raise InputError(f"frame {index}: left image {left.shape} and right image {right.shape} differ in size")


def write_stereo_bag(out_dir, frames: Iterable, calibration: StereoCalibration | None, *,
                     storage: str = "sqlite3", encoding: str = "rgb8",
                     left_topic_ns: str = "/kitti/camera_color_left",
                     right_topic_ns: str = "/kitti/camera_color_right",
                     left_frame: str = "camera_color_left", right_frame: str = "camera_color_right",
                     body_frame: str = "base_link", body_to_left_xyz=(0.0, 0.0, 0.0),
                     compress: str | None = None, jpeg_quality: int = 95,
                     progress: bool = True, total: int | None = None) -> int:
    """Write a stereo bag to the new folder ``out_dir``; returns the number of frames written.

    frames: iterable of (stamp_ns, left, right) or (stamp_ns, left, right, calibration), the
    images HxWx3 (rgb8) or HxW (mono8) uint8, stamp_ns integer nanoseconds since the epoch.
    A per-frame calibration replaces ``calibration`` in that frame's CameraInfo (KITTI
    stereo benchmark frames come from different days); /tf_static uses the first frame's.
    CameraInfo R is the calibration's rectifying rotation (R_rect_xx for KITTI), P its
    projection matrix as given. /tf_static places the left optical frame at ``body_to_left_xyz``
    (metres) in ``body_frame`` and the right one ``baseline`` to its right.
    compress: None (raw images) or "png" / "jpeg" (``<ns>/image_rect/compressed``, JPEG at ``jpeg_quality``).
    storage: "sqlite3" or "mcap". ``total`` sizes the progress bar. On error the partly
    written folder is removed.
    """
    out_dir = Path(out_dir)
    if storage not in STORAGES:
        raise InputError(f"unknown bag storage {storage!r}; choose sqlite3 or mcap")
    if encoding not in ENCODINGS:
        raise InputError(f"unknown image encoding {encoding!r}; choose rgb8 or mono8")
    if compress is not None and compress not in CODECS:
        raise InputError(f"unknown image compression {compress!r}; choose {' or '.join(CODECS)}")
    if not 0 <= jpeg_quality <= 100:
        raise InputError(f"JPEG quality must be 0..100, got {jpeg_quality}")
    if out_dir.exists():
        raise InputError(f"output bag {out_dir} already exists")
    image_suffix, image_type = ("image_rect", IMAGE) if compress is None else ("image_rect/compressed",
                                                                               COMPRESSED_IMAGE)
    topics = {"left_image": f"{left_topic_ns}/{image_suffix}", "left_info": f"{left_topic_ns}/camera_info",
              "right_image": f"{right_topic_ns}/{image_suffix}", "right_info": f"{right_topic_ns}/camera_info"}

    def image_message(image, frame_id, stamp_ns):
        if compress is None:
            return _image(image, encoding, stamp_ns, frame_id)
        return _compressed_image(image, compress, jpeg_quality, stamp_ns, frame_id)
    count = 0
    try:
        with Writer(out_dir, version=BAG_VERSION, storage_plugin=STORAGES[storage]) as writer:
            conns = {key: writer.add_connection(topic, image_type if key.endswith("image") else CAMERA_INFO,
                                                typestore=TYPESTORE, offered_qos_profiles=[SENSOR_QOS])
                     for key, topic in topics.items()}
            tf_conn = writer.add_connection("/tf_static", TF_MESSAGE, typestore=TYPESTORE,
                                            offered_qos_profiles=[STATIC_TF_QOS])

            def write(conn, stamp_ns: int, message, msgtype: str) -> None:
                writer.write(conn, stamp_ns, TYPESTORE.serialize_cdr(message, msgtype))

            for frame in tqdm(frames, total=total, disable=not progress, unit="frame", desc=out_dir.name):
                stamp_ns, left, right = frame[:3]
                calib = frame[3] if len(frame) > 3 else calibration
                if calib is None:
                    raise InputError(f"frame {count}: no calibration given for it or for the bag")
                left, right = np.asarray(left), np.asarray(right)
                _check_frame(count, stamp_ns, left, right, encoding)
                stamp_ns = int(stamp_ns)
                if count == 0:
                    tf = T[TF_MESSAGE](transforms=[
                        _transform(stamp_ns, body_frame, left_frame, body_to_left_xyz, OPTICAL_FROM_BODY_XYZW),
                        _transform(stamp_ns, left_frame, right_frame, (calib.baseline_m, 0, 0), (0, 0, 0, 1))])
                    write(tf_conn, stamp_ns, tf, TF_MESSAGE)
                shape = left.shape[:2]
                write(conns["left_image"], stamp_ns, image_message(left, left_frame, stamp_ns), image_type)
                write(conns["left_info"], stamp_ns,
                      _camera_info(calib.P_left, calib.R_left, shape, stamp_ns, left_frame), CAMERA_INFO)
                write(conns["right_image"], stamp_ns, image_message(right, right_frame, stamp_ns), image_type)
                write(conns["right_info"], stamp_ns,
                      _camera_info(calib.P_right, calib.R_right, shape, stamp_ns, right_frame), CAMERA_INFO)
                count += 1
            if count == 0:
                raise InputError("no frames to write")
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return count
