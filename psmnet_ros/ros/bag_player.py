"""Replay a ROS 2 bag (sqlite3 or mcap) with rclpy, without the ros2 CLI.

Messages are read with ``rosbags`` and published as the recorded CDR bytes
(``Publisher.publish(bytes)``, no deserialization) at their recorded
receive-time offsets divided by the rate.

QoS: ``/tf_static`` is reliable + transient local, depth 100, so late joiners
still get the static transforms; every other topic is reliable, volatile,
keep-last 10. ``/clock`` (with ``clock=True``) is reliable, keep-last 1,
which matches both reliable and best-effort (rclpy / rclcpp ClockQoS)
subscribers.
"""
from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Reader, ReaderError
from rosgraph_msgs.msg import Clock

TF_STATIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
DEFAULT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
CLOCK_PERIOD_S = 0.025  # /clock at 40 Hz between messages, like `ros2 bag play --clock`


class BagError(Exception):
    """The bag cannot be opened or played; the message is one readable line."""


def open_bag(path: str | Path) -> Reader:
    """An opened rosbags Reader for the bag folder (holding metadata.yaml) at ``path``."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"bag '{path}' does not exist")
    try:
        reader = Reader(path)
        reader.open()
    except (OSError, ReaderError, ValueError, KeyError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BagError(f"cannot open bag '{path}': {detail}") from None
    return reader


def message_class(msgtype: str):
    """The rclpy message class for 'pkg/msg/Name' (or 'pkg/Name'), or None if not importable."""
    parts = msgtype.split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3:
        return None
    try:
        return getattr(importlib.import_module(f"{parts[0]}.{parts[1]}"), parts[2])
    except (ImportError, AttributeError):
        return None


def qos_for(topic: str) -> QoSProfile:
    """QoS a replayed topic is published with (see the module docstring)."""
    return TF_STATIC_QOS if topic == "/tf_static" else DEFAULT_QOS


@dataclass
class PlaybackStats:
    """What a playback did: messages published per topic, loops completed, topics skipped."""

    published: dict[str, int] = field(default_factory=dict)
    loops: int = 0
    skipped: list[str] = field(default_factory=list)


class BagPlayer:
    """Publishes a bag's messages on ``node`` at recorded timing scaled by 1/rate.

    topics: the topics to play (None = all). Topics whose type cannot be
    imported, or that are not CDR, are skipped with one warning line each.
    """

    def __init__(self, node, reader: Reader, rate: float = 1.0, loop: bool = False,
                 topics: list[str] | None = None, clock: bool = False):
        if not rate > 0:
            raise BagError(f"rate must be positive, got {rate}")
        self._node = node
        self._reader = reader
        self._rate = float(rate)
        self._loop = loop
        self.stats = PlaybackStats()
        logger = node.get_logger()
        wanted = None if topics is None else set(topics)
        if wanted is not None:
            for topic in sorted(wanted - {c.topic for c in reader.connections}):
                logger.warning(f"topic '{topic}' is not in the bag")
        self._publishers = {}
        types = {}
        self._connections = []
        for connection in reader.connections:
            topic = connection.topic
            if wanted is not None and topic not in wanted:
                continue
            why = self._unplayable(connection, types.get(topic), clock)
            if why:
                if topic not in self.stats.skipped:
                    logger.warning(f"skipping topic '{topic}': {why}")
                    self.stats.skipped.append(topic)
                continue
            if topic not in self._publishers:
                msg_class = message_class(connection.msgtype)
                self._publishers[topic] = node.create_publisher(msg_class, topic, qos_for(topic))
                types[topic] = connection.msgtype
                self.stats.published[topic] = 0
            self._connections.append(connection)
        if not self._connections:
            raise BagError("no playable topics in the bag"
                           + (" among those given with --topics" if wanted is not None else ""))
        self._clock = node.create_publisher(Clock, "/clock", CLOCK_QOS) if clock else None

    @staticmethod
    def _unplayable(connection, type_on_topic: str | None, clock: bool) -> str | None:
        """Why a bag connection cannot be replayed, or None."""
        serialization = getattr(connection.ext, "serialization_format", "cdr")
        if serialization != "cdr":
            return f"serialization '{serialization}' is not cdr"
        if message_class(connection.msgtype) is None:
            return f"type {connection.msgtype} cannot be imported"
        if type_on_topic is not None and type_on_topic != connection.msgtype:
            return f"recorded with two types, {type_on_topic} and {connection.msgtype}"
        if clock and connection.topic == "/clock":
            return "the bag's /clock is replaced by the one --clock publishes"
        return None

    @property
    def publishers(self) -> dict:
        """Topic -> rclpy Publisher of the topics being played."""
        return dict(self._publishers)

    @property
    def clock_publisher(self):
        """The /clock publisher (None without ``clock=True``)."""
        return self._clock

    def play(self, stop: threading.Event) -> PlaybackStats:
        """Play once (or until ``stop`` is set when looping); returns the stats."""
        while not stop.is_set():
            published = self._play_once(stop)
            if stop.is_set() or not self._loop or published == 0:
                break
            self.stats.loops += 1
        return self.stats

    def _play_once(self, stop: threading.Event) -> int:
        """One pass over the bag; returns how many messages it published."""
        published = 0
        wall_start = None
        bag_start = None
        for connection, timestamp, rawdata in self._reader.messages(connections=self._connections):
            if wall_start is None:
                wall_start, bag_start = time.monotonic(), timestamp
            due = wall_start + (timestamp - bag_start) * 1e-9 / self._rate
            if not self._wait_until(due, wall_start, bag_start, stop):
                break
            if self._clock is not None:
                self._publish_clock(timestamp)
            self._publishers[connection.topic].publish(
                rawdata if isinstance(rawdata, bytes) else bytes(rawdata))
            self.stats.published[connection.topic] += 1
            published += 1
        return published

    def _wait_until(self, due: float, wall_start: float, bag_start: int,
                    stop: threading.Event) -> bool:
        """Sleep until monotonic time ``due`` (publishing /clock meanwhile); False if stopped."""
        while True:
            remaining = due - time.monotonic()
            if remaining <= 0:
                return not stop.is_set()
            step = min(remaining, CLOCK_PERIOD_S) if self._clock is not None else remaining
            if stop.wait(step):
                return False
            if self._clock is not None and due - time.monotonic() > 0:
                elapsed_ns = (time.monotonic() - wall_start) * 1e9 * self._rate
                self._publish_clock(bag_start + int(elapsed_ns))

    def _publish_clock(self, stamp_ns: int) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        self._clock.publish(msg)
