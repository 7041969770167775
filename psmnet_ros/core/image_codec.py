"""Compressed camera images as image_transport's ``compressed`` plugin sends them: PNG or JPEG bytes.

A ``sensor_msgs/CompressedImage`` carries the file bytes and a ``format`` string; the plugin writes
``"<raw encoding>; <png|jpeg> compressed <bgr8|mono8>"`` (older publishers just ``"jpeg"`` or ``"png"``).
Decoding looks at the bytes themselves (OpenCV), so either form works; 16-bit images are refused
(PSMNet takes 8-bit colour or grey).
"""
from __future__ import annotations

import cv2
import numpy as np

from psmnet_ros.core.errors import InputError

CODECS = ("png", "jpeg")


def encode_image(rgb: np.ndarray, codec: str, jpeg_quality: int = 95) -> tuple[bytes, str]:
    """HxWx3 RGB or HxW grey uint8 -> (file bytes, image_transport format string).

    Colour is stored as bgr8 (OpenCV's order, as the plugin does), grey as mono8.
    """
    if codec not in CODECS:
        raise InputError(f"unknown image codec '{codec}'; choose one of {', '.join(CODECS)}")
    image = np.asarray(rgb)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InputError(f"encode_image takes HxWx3 or HxW uint8, got {image.dtype} {image.shape}")
    grey = image.ndim == 2
    pixels = image if grey else image[..., ::-1]
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if codec == "jpeg" else []
    ok, buffer = cv2.imencode(".png" if codec == "png" else ".jpg", np.ascontiguousarray(pixels), params)
    if not ok:
        raise InputError(f"OpenCV could not encode a {image.shape} image as {codec}")
    raw = "mono8" if grey else "rgb8"
    stored = "mono8" if grey else "bgr8"
    return buffer.tobytes(), f"{raw}; {codec} compressed {stored}"


def decode_image(data, format_: str = "") -> np.ndarray:
    """PNG/JPEG bytes -> HxWx3 uint8 RGB, C-contiguous (grey is replicated to three channels).

    ``format_`` is only used in messages; bytes that are not an 8-bit PNG or JPEG raise InputError.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size == 0:
        raise InputError(f"compressed image is empty (format '{format_}')")
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"compressed image ({buffer.size} bytes, format '{format_}') "
                         "is not a readable PNG or JPEG")
    if image.dtype != np.uint8:
        raise InputError(f"compressed image has {image.dtype} pixels (format '{format_}'); "
                         "only 8-bit images are supported")
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
