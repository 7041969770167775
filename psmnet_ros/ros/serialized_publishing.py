"""Publishing a CDR message straight from a numpy buffer.

``rclpy.Publisher.publish(bytes)`` hands the bytes to ``rcl_publish_serialized_message`` after pybind11 has
copied them into a ``std::string``, holding the GIL throughout. Here the same rcl function is called through
ctypes on the buffer itself (the GIL released during the call): one copy of every output fewer, measured in
docs/node_overhead.md. rcl's ``rcl_serialized_message_t`` and this function have kept their layout and signature
since ROS 2 Dashing. Where librcl cannot be found (not loaded under that name), ``publish(bytes)`` is used.
"""
from __future__ import annotations

import ctypes

import numpy as np
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy


class _Uint8Array(ctypes.Structure):
    """rcutils_uint8_array_t (= rcl_serialized_message_t): buffer, length, capacity, then the allocator
    (5 pointers), which publishing does not use."""

    _fields_ = [("buffer", ctypes.c_void_p), ("buffer_length", ctypes.c_size_t),
                ("buffer_capacity", ctypes.c_size_t), ("allocator", ctypes.c_void_p * 5)]


class _ErrorString(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char * 1024)]  # rcutils_error_string_t


def _load_rcl():
    """rcl_publish_serialized_message and rcl's error functions from the librcl rclpy has loaded, or None."""
    try:
        rcl = ctypes.CDLL("librcl.so")
        publish = rcl.rcl_publish_serialized_message
        get_error, reset_error = rcl.rcutils_get_error_string, rcl.rcutils_reset_error
    except (OSError, AttributeError):
        return None
    publish.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Uint8Array), ctypes.c_void_p]
    publish.restype = ctypes.c_int
    get_error.restype = _ErrorString
    return publish, get_error, reset_error


RCL = _load_rcl()
"""(publish, get error string, reset error) from librcl, or None: then :func:`publish_serialized` copies."""


def publish_serialized(publisher, message: np.ndarray) -> None:
    """Publish ``message``, the C-contiguous uint8 CDR bytes of a message of the publisher's type; rclpy's
    RCLError if rcl refuses (e.g. after shutdown), as ``Publisher.publish`` raises."""
    if RCL is None:
        publisher.publish(message.tobytes())
        return
    publish, get_error, reset_error = RCL
    serialized = _Uint8Array(message.ctypes.data, message.nbytes, message.nbytes)
    with publisher.handle:  # keeps rclpy from destroying the publisher during the call
        status = publish(publisher.handle.pointer, ctypes.byref(serialized), None)
    if status != 0:
        reason = get_error().text.decode(errors="replace")
        reset_error()
        raise _rclpy.RCLError(f"Failed to publish: {reason}")
