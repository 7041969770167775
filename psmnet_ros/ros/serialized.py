"""The node's output messages as CDR bytes written straight from numpy arrays, for ``Publisher.publish(bytes)``.

Building an rclpy message object and letting rclpy serialize it copies a large ``data`` field twice or more
(into the Python object, then into the CDR buffer); here each message's bytes are joined once. The layout is
what ``rclpy.serialization.serialize_message`` writes with Fast DDS (plain CDR, little endian, encapsulation
``00 01 00 00``, each primitive aligned to its size counted from the end of the encapsulation), except the
alignment padding: Fast CDR leaves those bytes uninitialised, this writer zeroes them. Readers ignore them.
"""
from __future__ import annotations

import struct

import numpy as np

ENCAPSULATION = b"\x00\x01\x00\x00"
"""CDR little endian, no options."""
FLOAT32 = 7
"""sensor_msgs/PointField.FLOAT32."""


class CdrWriter:
    """Appends CDR primitives; ``padding`` lists the (offset, length) of every alignment gap it zeroed,
    offsets counted from the start of the returned bytes."""

    def __init__(self):
        self._parts: list = [ENCAPSULATION]
        self._pos = 0  # bytes written after the encapsulation
        self.padding: list[tuple[int, int]] = []

    def _align(self, size: int) -> None:
        gap = -self._pos % size
        if gap:
            self.padding.append((len(ENCAPSULATION) + self._pos, gap))
            self._parts.append(b"\x00" * gap)
            self._pos += gap

    def _put(self, fmt: str, value) -> None:
        size = struct.calcsize(fmt)
        self._align(size)
        self._parts.append(struct.pack("<" + fmt, value))
        self._pos += size

    def u8(self, value: int) -> None:
        self._put("B", value)

    def u32(self, value: int) -> None:
        self._put("I", value)

    def i32(self, value: int) -> None:
        self._put("i", value)

    def f32(self, value: float) -> None:
        self._put("f", value)

    def string(self, text: str) -> None:
        encoded = text.encode() + b"\x00"
        self.u32(len(encoded))
        self._parts.append(encoded)
        self._pos += len(encoded)

    def byte_sequence(self, data) -> None:
        """A ``uint8[]`` field: its length, then the bytes of ``data`` (any C-contiguous buffer), not copied yet."""
        view = memoryview(data).cast("B")
        self.u32(view.nbytes)
        self._parts.append(view)
        self._pos += view.nbytes

    def header(self, header) -> None:
        """std_msgs/Header: stamp (int32 sec, uint32 nanosec), frame_id."""
        self.i32(header.stamp.sec)
        self.u32(header.stamp.nanosec)
        self.string(header.frame_id)

    def tobytes(self) -> bytes:
        """The message: one copy of everything appended."""
        return b"".join(self._parts)


def _image_fields(writer: CdrWriter, header, values: np.ndarray, encoding: str) -> None:
    """sensor_msgs/Image of an HxW or HxWxC C-contiguous little-endian array, rows unpadded."""
    height, width = values.shape[:2]
    writer.header(header)
    writer.u32(height)
    writer.u32(width)
    writer.string(encoding)
    writer.u8(0)  # is_bigendian
    writer.u32(values.nbytes // height if height else 0)
    writer.byte_sequence(values)


def image_cdr(values: np.ndarray, encoding: str, header) -> bytes:
    """sensor_msgs/Image bytes: ``values`` HxW (``32FC1`` float32, ``16UC1`` uint16, ``mono8``) or HxWx3
    uint8 (``rgb8``), little endian; step = width x bytes per pixel."""
    writer = CdrWriter()
    _image_fields(writer, header, _contiguous_le(values), encoding)
    return writer.tobytes()


def disparity_cdr(disparity: np.ndarray, header, focal_px: float, baseline_m: float, min_disparity: float,
                  max_disparity: float, delta_d: float, valid_window: tuple[int, int, int, int]) -> bytes:
    """stereo_msgs/DisparityImage bytes: HxW float32 disparity (pixels) as a 32FC1 image, f (pixels),
    T (metres), valid_window (x_offset, y_offset, width, height in pixels), the disparity range and step."""
    x_offset, y_offset, width, height = (int(v) for v in valid_window)
    writer = CdrWriter()
    writer.header(header)
    _image_fields(writer, header, _contiguous_le(disparity.astype(np.float32, copy=False)), "32FC1")
    writer.f32(focal_px)
    writer.f32(baseline_m)
    for value in (x_offset, y_offset, height, width):  # RegionOfInterest field order
        writer.u32(value)
    writer.u8(0)  # do_rectify
    writer.f32(min_disparity)
    writer.f32(max_disparity)
    writer.f32(delta_d)
    return writer.tobytes()


def pointcloud2_cdr(data: np.ndarray, height: int, width: int, fields: list[tuple[str, int]], point_step: int,
                    is_dense: bool, header) -> bytes:
    """sensor_msgs/PointCloud2 bytes: ``data`` the little-endian points (height x width x point_step bytes),
    ``fields`` (name, byte offset) pairs, each FLOAT32 with count 1; row_step = width x point_step."""
    writer = CdrWriter()
    writer.header(header)
    writer.u32(height)
    writer.u32(width)
    writer.u32(len(fields))
    for name, offset in fields:
        writer.string(name)
        writer.u32(offset)
        writer.u8(FLOAT32)
        writer.u32(1)
    writer.u8(0)  # is_bigendian
    writer.u32(point_step)
    writer.u32(point_step * width)
    writer.byte_sequence(np.ascontiguousarray(data))
    writer.u8(1 if is_dense else 0)
    return writer.tobytes()


def _contiguous_le(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    if values.dtype.byteorder == ">":
        values = values.astype(values.dtype.newbyteorder("<"))
    return values
