"""The node's output messages as CDR bytes laid out in reusable buffers, their data fields written in place.

Building an rclpy message object and letting rclpy serialize it copies a large ``data`` field twice or more
(into the Python object, then into the CDR buffer); here the small fields are written around a hole left for the
data field, and the caller computes its arrays straight into that hole (:attr:`MessageBuffer.data`). The layout is
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
DATA_ALIGNMENT = 64
"""Memory alignment of a message's data field (bytes): whole cache lines and SIMD registers for the writers."""


class MessageBuffer:
    """One topic's message in a buffer reused from frame to frame while its size stays the same: the fields
    before the data field, the data field (:attr:`data`, uint8, 64-byte aligned in memory), the fields after."""

    def __init__(self):
        self.message: np.ndarray | None = None  # uint8, the whole CDR message
        self.data: np.ndarray | None = None
        self._prefix_bytes = -1

    def lay_out(self, prefix: bytes, data_bytes: int, suffix: bytes) -> np.ndarray:
        """Write ``prefix`` and ``suffix`` around a hole of ``data_bytes``; returns the hole (:attr:`data`).
        A buffer of the same sizes is reused, the hole's previous contents left as they were."""
        total = len(prefix) + data_bytes + len(suffix)
        if self.message is None or self.message.nbytes != total or self._prefix_bytes != len(prefix):
            raw = np.empty(total + DATA_ALIGNMENT, dtype=np.uint8)
            start = -(raw.ctypes.data + len(prefix)) % DATA_ALIGNMENT
            self.message = raw[start:start + total]
            self._prefix_bytes = len(prefix)
        self.message[:len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
        self.message[len(prefix) + data_bytes:] = np.frombuffer(suffix, dtype=np.uint8)
        self.data = self.message[len(prefix):len(prefix) + data_bytes]
        return self.data


class CdrWriter:
    """Appends CDR primitives around at most one byte-sequence hole, then lays them out in a MessageBuffer."""

    def __init__(self):
        self._parts: list[bytes] = [ENCAPSULATION]
        self._pos = 0  # bytes written after the encapsulation
        self._hole: tuple[int, int] | None = None  # (index in _parts where the hole is, its bytes)

    def _align(self, size: int) -> None:
        gap = -self._pos % size
        if gap:
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

    def byte_sequence_hole(self, nbytes: int) -> None:
        """A ``uint8[]`` field of ``nbytes``: its length now, its bytes left for the caller to write."""
        self.u32(nbytes)
        self._hole = (len(self._parts), nbytes)
        self._pos += nbytes

    def header(self, header) -> None:
        """std_msgs/Header: stamp (int32 sec, uint32 nanosec), frame_id."""
        self.i32(header.stamp.sec)
        self.u32(header.stamp.nanosec)
        self.string(header.frame_id)

    def lay_out(self, buffer: MessageBuffer) -> np.ndarray:
        """The message in ``buffer``; returns the hole (uint8) to write the byte sequence into."""
        index, nbytes = self._hole
        return buffer.lay_out(b"".join(self._parts[:index]), nbytes, b"".join(self._parts[index:]))


def _image_fields(writer: CdrWriter, header, height: int, width: int, encoding: str, pixel_bytes: int) -> None:
    """sensor_msgs/Image fields, rows unpadded (step = width x pixel_bytes), little endian; data left as a hole."""
    writer.header(header)
    writer.u32(height)
    writer.u32(width)
    writer.string(encoding)
    writer.u8(0)  # is_bigendian
    writer.u32(width * pixel_bytes)
    writer.byte_sequence_hole(height * width * pixel_bytes)


def image_message(buffer: MessageBuffer, header, height: int, width: int, encoding: str, pixel_bytes: int
                  ) -> np.ndarray:
    """Lay out a sensor_msgs/Image in ``buffer``; returns its data (uint8, height x width x pixel_bytes bytes) to
    fill with the little-endian pixels (``32FC1`` 4 bytes, ``16UC1`` 2, ``rgb8`` 3)."""
    writer = CdrWriter()
    _image_fields(writer, header, height, width, encoding, pixel_bytes)
    return writer.lay_out(buffer)


def disparity_message(buffer: MessageBuffer, header, height: int, width: int, focal_px: float, baseline_m: float,
                      min_disparity: float, max_disparity: float, delta_d: float,
                      valid_window: tuple[int, int, int, int]) -> np.ndarray:
    """Lay out a stereo_msgs/DisparityImage in ``buffer``: a 32FC1 image, f (pixels), T (metres), valid_window
    (x_offset, y_offset, width, height in pixels), the disparity range and step; returns the image data (uint8) to
    fill with the float32 disparities (pixels)."""
    x_offset, y_offset, window_width, window_height = (int(v) for v in valid_window)
    writer = CdrWriter()
    writer.header(header)
    _image_fields(writer, header, height, width, "32FC1", 4)
    writer.f32(focal_px)
    writer.f32(baseline_m)
    for value in (x_offset, y_offset, window_height, window_width):  # RegionOfInterest field order
        writer.u32(value)
    writer.u8(0)  # do_rectify
    writer.f32(min_disparity)
    writer.f32(max_disparity)
    writer.f32(delta_d)
    return writer.lay_out(buffer)


def pointcloud2_message(buffer: MessageBuffer, header, height: int, width: int, fields, point_step: int,
                        is_dense: bool) -> np.ndarray:
    """Lay out a sensor_msgs/PointCloud2 in ``buffer``: ``fields`` (name, byte offset) pairs, each FLOAT32 with
    count 1; row_step = width x point_step; returns its data (uint8, height x width x point_step bytes) to fill
    with the little-endian points."""
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
    writer.byte_sequence_hole(height * width * point_step)
    writer.u8(1 if is_dense else 0)
    return writer.lay_out(buffer)
