"""The reference for hand-written CDR: a message object built the long way, serialized by rclpy and by rosbags."""
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.typesys import Stores, get_typestore

STORE = get_typestore(Stores.ROS2_HUMBLE)


def rosbags_bytes(msg) -> bytes:
    """``msg`` serialized by rosbags' own CDR writer (through its ROS 1-free message classes)."""
    typename = type(msg).__module__.split(".")[0] + "/msg/" + type(msg).__name__
    return bytes(STORE.serialize_cdr(STORE.deserialize_cdr(serialize_message(msg), typename), typename))


def assert_wire_equal(ours: bytes, reference_msg) -> None:
    """``ours`` is byte for byte what rosbags writes for ``reference_msg`` (zero padding), and what rclpy's
    serialize_message writes on every byte except alignment padding (uninitialised in Fast CDR, zero in ours)."""
    assert ours == rosbags_bytes(reference_msg)
    theirs = serialize_message(reference_msg)
    assert len(ours) == len(theirs)
    a, b = np.frombuffer(ours, np.uint8), np.frombuffer(theirs, np.uint8)
    differ = np.flatnonzero(a != b)
    assert not a[differ].any(), "bytes may differ from rclpy's only in (zeroed) alignment padding"
    # (compared after a round trip: rclpy keeps float32 fields such as f and T as Python floats until sent)
    assert deserialize_message(ours, type(reference_msg)) == deserialize_message(theirs, type(reference_msg))
