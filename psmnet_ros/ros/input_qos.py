"""The node's input subscriptions and their QoS (parameter ``qos``; why the default is ``auto``: docs/qos.md).

- ``reliable``: reliable subscriptions. A reliable writer (``psmnet-play``, ``ros2 bag play``) resends lost
  fragments, so every image it sends once arrives; best-effort publishers (most camera drivers) do not match.
- ``sensor_data``: best-effort subscriptions. They match every publisher, but a large image (hundreds of UDP
  fragments) that loses one fragment is lost, and nobody resends it.
- ``auto`` (default): like ``ros2 bag record``, each input adopts the reliability its discovered publishers
  offer: reliable when all offer reliable, best effort when any offers best effort. With none discovered yet
  it subscribes reliably and checks again every RECHECK_PERIOD_S, switching when the publishers change.
"""
from __future__ import annotations

from typing import Callable, Iterable

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

AUTO, SENSOR_DATA, RELIABLE = "auto", "sensor_data", "reliable"
QOS_CHOICES = (AUTO, SENSOR_DATA, RELIABLE)
RECHECK_PERIOD_S = 0.5
"""``auto``: how often the publishers on the inputs are looked at again (seconds, steady clock)."""

_NAMES = {ReliabilityPolicy.RELIABLE: "reliable", ReliabilityPolicy.BEST_EFFORT: "best effort"}


def offered_reliability(publishers: Iterable) -> ReliabilityPolicy | None:
    """The reliability that matches every publisher (``TopicEndpointInfo`` items) and loses least:
    BEST_EFFORT if any offers best effort, RELIABLE if all offer reliable, None if there are none."""
    offered = [info.qos_profile.reliability for info in publishers]
    if not offered:
        return None
    return ReliabilityPolicy.RELIABLE if all(r == ReliabilityPolicy.RELIABLE for r in offered) \
        else ReliabilityPolicy.BEST_EFFORT


def input_profile(reliability: ReliabilityPolicy, depth: int) -> QoSProfile:
    """Keep-last ``depth``, volatile, with the given reliability."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


class InputSubscriptions:
    """One subscription per input topic with the QoS the ``qos`` parameter selects (module docstring).

    ``inputs``: (topic, message type, callback) each; ``depth``: the history depth (``queue_size``).
    Every choice and switch is logged with its reason.
    """

    def __init__(self, node: Node, inputs: Iterable[tuple[str, type, Callable]], mode: str, depth: int):
        if mode not in QOS_CHOICES:
            raise ValueError(f"qos must be one of {', '.join(QOS_CHOICES)}, got '{mode}'")
        self._node, self._mode, self._depth = node, mode, depth
        self._inputs = list(inputs)
        self._subscriptions = {}
        self._reliability = {}
        self._timer = None
        if mode == AUTO:
            chosen = {}
            for topic, _, _ in self._inputs:
                offered = offered_reliability(node.get_publishers_info_by_topic(node.resolve_topic_name(topic)))
                chosen[topic] = ReliabilityPolicy.RELIABLE if offered is None else offered
                self._subscribe(topic, chosen[topic])
            self._log_auto_start(chosen)
            self._timer = node.create_timer(RECHECK_PERIOD_S, self._recheck,
                                            clock=Clock(clock_type=ClockType.STEADY_TIME))
        else:
            reliability = ReliabilityPolicy.RELIABLE if mode == RELIABLE else ReliabilityPolicy.BEST_EFFORT
            for topic, _, _ in self._inputs:
                self._subscribe(topic, reliability)
            why = ("best-effort publishers do not match" if mode == RELIABLE else
                   "large images a reliable writer sends once can be lost: see docs/qos.md")
            node.get_logger().info(f"input QoS: {_NAMES[reliability]} on every input (qos={mode}; {why})")

    def destroy(self) -> None:
        """Destroy the subscriptions and the re-check timer."""
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None
        for subscription in self._subscriptions.values():
            self._node.destroy_subscription(subscription)
        self._subscriptions = {}

    def reliability(self, topic: str) -> ReliabilityPolicy:
        """The reliability of the subscription on ``topic`` (as given in ``inputs``) now."""
        return self._reliability[topic]

    def _subscribe(self, topic: str, reliability: ReliabilityPolicy) -> None:
        _, msg_type, callback = next(entry for entry in self._inputs if entry[0] == topic)
        old = self._subscriptions.pop(topic, None)
        if old is not None:
            self._node.destroy_subscription(old)
        self._subscriptions[topic] = self._node.create_subscription(
            msg_type, topic, callback, input_profile(reliability, self._depth))
        self._reliability[topic] = reliability

    def _log_auto_start(self, chosen: dict) -> None:
        by_choice = {}
        for topic, reliability in chosen.items():
            by_choice.setdefault(_NAMES[reliability], []).append(self._subscriptions[topic].topic_name)
        parts = "; ".join(f"{name} on {', '.join(topics)}" for name, topics in by_choice.items())
        self._node.get_logger().info(
            f"input QoS (qos=auto): {parts} (the publishers discovered so far; reliable where none yet, "
            f"switching to best effort when a best-effort publisher appears)")

    def _recheck(self) -> None:
        """Resubscribe each input whose publishers now offer another reliability (none: keep it)."""
        for topic, _, _ in self._inputs:
            name = self._subscriptions[topic].topic_name
            offered = offered_reliability(self._node.get_publishers_info_by_topic(name))
            if offered is None or offered == self._reliability[topic]:
                continue
            self._subscribe(topic, offered)
            why = ("a publisher offers best effort, which a reliable subscription does not match"
                   if offered == ReliabilityPolicy.BEST_EFFORT else "every publisher now offers reliable")
            self._node.get_logger().info(f"input QoS (qos=auto): {name} now {_NAMES[offered]} ({why})")
