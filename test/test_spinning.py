"""SpinThread: callbacks run in the background, and stopping it never races rclpy's executor shutdown.

The race (issue 23's exit traceback) lives in a few bytecodes of rclpy's executor; the test widens it by making
every guard-condition handle access in the spinning thread take 2 ms, and keeps that thread busy with a 0.5 ms
timer. Calling ``Executor.shutdown()`` while ``spin()`` runs in another thread then fails in that thread in
nearly every cycle (19 of 20 when this test was written); SpinThread must fail in none."""
import threading
import time

import pytest
from rclpy.guard_condition import GuardCondition
from rclpy.node import Node
from std_msgs.msg import String

from psmnet_ros.ros.spinning import SpinThread
from ros_helpers import reserve_domain_id, ros_context


@pytest.fixture
def context():
    with ros_context(reserve_domain_id()) as ctx:
        yield ctx


@pytest.fixture
def thread_errors(monkeypatch):
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(repr(args.exc_value)))
    return errors


def test_callbacks_run_in_the_background_and_stop_ends_the_thread(context, thread_errors):
    node = Node("spin_thread_test", context=context)
    received = []
    node.create_subscription(String, "chatter", received.append, 10)
    publisher = node.create_publisher(String, "chatter", 10)
    spin = SpinThread(node, name="spin_thread_test")
    try:
        deadline = time.monotonic() + 5.0
        while not received and time.monotonic() < deadline:
            publisher.publish(String(data="hello"))
            time.sleep(0.05)
        assert received and received[0].data == "hello"
    finally:
        spin.stop()
        node.destroy_node()
    assert not any(t.name == "spin_thread_test" for t in threading.enumerate())
    assert not thread_errors


def test_stop_while_busy_never_breaks_the_spinning_thread(context, thread_errors, monkeypatch):
    handle = GuardCondition.handle

    def slow_in_spinner(self):
        if threading.current_thread().name == "busy_spinner":
            time.sleep(0.002)
        return handle.fget(self)

    monkeypatch.setattr(GuardCondition, "handle", property(slow_in_spinner))
    for cycle in range(20):
        node = Node(f"busy_{cycle}", context=context)
        node.create_timer(0.0005, lambda: None)
        spin = SpinThread(node, name="busy_spinner")
        time.sleep(0.01)
        spin.stop()
        node.destroy_node()
    assert not thread_errors, thread_errors[:3]
