"""Records what psmnet_node publishes, with arrival times, for the demo and for checks by hand."""
from __future__ import annotations

import threading
import time
from typing import Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from .conversions import stamp_ns
from .outputs import TOPICS


class OutputRecorder(Node):
    """Subscribes to every output of the node (:data:`~psmnet_ros.ros.outputs.TOPICS`) under ``namespace``, to its left input image
    ``input_topic`` and to ``other_inputs`` ((topic, message class) pairs: the node's other
    inputs, so that a player waiting for subscribers counts this recorder on each of them).

    ``arrivals[topic][stamp_ns] = (monotonic seconds, message)`` (message None for inputs); the
    input's arrival time per stamp gives each output's end-to-end latency through the node.
    ``keep_messages`` False stores None instead of the messages (timing only, bounded memory).
    """

    def __init__(self, namespace: str, input_topic: str, other_inputs: Sequence[tuple[str, type]] = (),
                 keep_messages: bool = True, **kwargs):
        super().__init__("psmnet_recorder", **kwargs)
        self.keep_messages = keep_messages
        self._lock = threading.Lock()
        self.arrivals: dict[str, dict[int, tuple[float, object]]] = {}
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.output_topics = [f"{namespace.rstrip('/')}/{name}" for name in TOPICS]
        topics = [*zip(self.output_topics, (o.msg_type for o in TOPICS.values())), (input_topic, Image),
                  *other_inputs]
        self.topics = [t for t, _ in topics]
        self.input_topic = input_topic
        for topic, cls in topics:
            self.arrivals[topic] = {}
            self.create_subscription(cls, topic, self._callback(topic), qos)
        self.diagnostics: dict[str, str] = {}  # the node's latest /diagnostics values (drop counts by reason)
        self._status_name = f"{namespace.rstrip('/')}/psmnet_node: stereo inference"
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == self._status_name:
                with self._lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}

    def _callback(self, topic: str):
        def record(msg):
            keep = msg if topic in self.output_topics and self.keep_messages else None
            with self._lock:
                self.arrivals[topic][stamp_ns(msg.header)] = (time.monotonic(), keep)
        return record

    def count(self, topic: str) -> int:
        with self._lock:
            return len(self.arrivals[topic])

    def arrival_times(self, topic: str) -> dict[int, float]:
        """Monotonic arrival time (seconds) of every stamp seen on ``topic`` so far (a copy)."""
        with self._lock:
            return {stamp: t for stamp, (t, _) in self.arrivals[topic].items()}

    def latencies_ms(self, topic: str) -> np.ndarray:
        """Output arrival minus input arrival (ms) for every stamp seen on both topics."""
        with self._lock:
            inputs = dict(self.arrivals[self.input_topic])
            outputs = dict(self.arrivals[topic])
        return np.array([(t - inputs[s][0]) * 1000.0 for s, (t, _) in outputs.items() if s in inputs])
