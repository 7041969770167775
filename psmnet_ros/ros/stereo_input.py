"""The node's four inputs, and one synchronized stereo set of them checked and converted for the network, or
InputError saying what is wrong."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.errors import InputError
from psmnet_ros.core.image_codec import decode_image
from psmnet_ros.ros.conversions import SUPPORTED_ENCODINGS, image_to_rgb, stereo_camera


INPUTS = ("left/image_rect", "left/camera_info", "right/image_rect", "right/camera_info")
"""The input topics (relative names), in StereoSynchronizer input order."""


class Frame(NamedTuple):
    """One synchronized, validated stereo set waiting for inference."""

    header: Header          # the left image's header: stamp + frame_id of every output
    left: np.ndarray        # HxWx3 uint8 RGB
    right: np.ndarray       # HxWx3 uint8 RGB
    camera: StereoCalibration
    synchronized: float     # time.monotonic() when the set was complete (its last message arrived)


def stereo_frame(left_image: Image | CompressedImage, left_info: CameraInfo, right_image: Image | CompressedImage,
                 right_info: CameraInfo, synchronized: float, min_size: tuple[int, int], input_scale: float,
                 image_topics: tuple[str, str] = ("left", "right")) -> Frame:
    """The checked and converted set; InputError naming the problem otherwise. min_size: the smallest
    (height, width) in pixels the network takes at ``input_scale``; image_topics: the left and right image
    topics, named in the message about a compressed image that cannot be decoded."""
    images = {}
    for side, msg, topic in (("left", left_image, image_topics[0]), ("right", right_image, image_topics[1])):
        if isinstance(msg, CompressedImage):
            try:
                images[side] = decode_image(msg.data, msg.format)
            except InputError as exc:
                raise InputError(f"{side} image on {topic}: {exc}") from None
            continue
        if msg.encoding not in SUPPORTED_ENCODINGS:
            raise InputError(f"{side} image encoding '{msg.encoding}' is not supported "
                             f"(supported: {', '.join(SUPPORTED_ENCODINGS)})")
        try:
            images[side] = image_to_rgb(msg)
        except InputError as exc:
            raise InputError(f"{side} image: {exc}") from None
    try:
        camera = stereo_camera(left_info, right_info)
    except InputError as exc:
        raise InputError(f"camera_info: {exc}") from None
    (lh, lw), (rh, rw) = images["left"].shape[:2], images["right"].shape[:2]
    if (lh, lw) != (rh, rw):
        raise InputError(f"left image is {lw}x{lh} px but right image is {rw}x{rh} px")
    if (lw, lh) != camera.size:
        raise InputError(f"images are {lw}x{lh} px but camera_info says {camera.size[0]}x{camera.size[1]} px")
    min_h, min_w = min_size
    if lh < min_h or lw < min_w:
        raise InputError(f"image {lw}x{lh} px is too small for the network at input_scale "
                         f"{input_scale}: at least {min_w}x{min_h} px needed")
    return Frame(left_image.header, images["left"], images["right"], camera, synchronized)


def stamp_text(header: Header) -> str:
    """A header's stamp and frame, as the node's log lines name a stereo set."""
    return f"{header.stamp.sec}.{header.stamp.nanosec:09d} ('{header.frame_id}')"
