"""publish_serialized: what a subscriber receives over DDS is exactly the buffer's bytes, through rcl directly or
through rclpy's publish(bytes) where librcl is not found; misuse is refused as rclpy refuses it."""
import threading
import time

import numpy as np
import pytest
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from psmnet_ros.ros import serialized_publishing
from psmnet_ros.ros.serialized import MessageBuffer, image_message
from psmnet_ros.ros.serialized_publishing import publish_serialized
from psmnet_ros.ros.spinning import SpinThread
from ros_helpers import reserve_domain_id, ros_context, wait_for_subscribers


@pytest.fixture
def talk():
    """(publisher, received raw messages) on one topic between two nodes of one domain."""
    with ros_context(reserve_domain_id()) as context:
        talker, listener = Node("serialized_talker", context=context), Node("serialized_listener", context=context)
        received, arrived = [], threading.Event()

        def on_message(data):
            received.append(data)
            arrived.set()

        listener.create_subscription(Image, "image", on_message, 10, raw=True)
        publisher = talker.create_publisher(Image, "image", 10)
        assert wait_for_subscribers(talker, [publisher], timeout_s=10.0)
        with SpinThread(listener):
            yield publisher, received, arrived
        talker.destroy_node()
        listener.destroy_node()


def _image(height=375, width=1242):
    buffer = MessageBuffer()
    header = Header(frame_id="camera")
    header.stamp.sec = 42
    image_message(buffer, header, height, width, "rgb8", 3)[:] = \
        np.random.default_rng(height).integers(0, 256, height * width * 3, dtype=np.uint8)
    return buffer.message


def _publish_until_received(publisher, message, received, arrived):
    deadline = time.monotonic() + 10.0
    while not arrived.wait(0.2):
        assert time.monotonic() < deadline, "nothing received within 10 s"
        publish_serialized(publisher, message)
    return received[0]


def test_the_subscriber_receives_exactly_the_buffer(talk):
    publisher, received, arrived = talk
    assert serialized_publishing.RCL is not None  # librcl is found here: the direct path is the one tested
    message = _image()
    assert _publish_until_received(publisher, message, received, arrived) == message.tobytes()


def test_without_librcl_the_bytes_go_through_rclpy(talk, monkeypatch):
    publisher, received, arrived = talk
    monkeypatch.setattr(serialized_publishing, "RCL", None)
    message = _image(4, 5)
    assert _publish_until_received(publisher, message, received, arrived) == message.tobytes()


def test_a_destroyed_publisher_is_refused_not_used(talk):
    publisher, _, _ = talk
    publisher.destroy()
    with pytest.raises(_rclpy.InvalidHandle):
        publish_serialized(publisher, _image(2, 2))
