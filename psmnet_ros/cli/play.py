"""psmnet-play: replay a ROS 2 bag with rclpy where the ros2 CLI is not installed.

    psmnet-play BAG [--rate R] [--loop] [--topics T ...] [--start-delay S] [--wait-for-subscribers N] [--clock]

Exit codes: 0 played (or stopped by Ctrl-C / SIGTERM), 2 bad arguments or
a bag that cannot be opened or has nothing playable.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import rclpy
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.utilities import remove_ros_args

from psmnet_ros.ros.bag_player import BagError, BagPlayer, open_bag

PROG = "psmnet-play"
ACK_TIMEOUT_S = 10.0
"""Deadline at the end for every subscriber to acknowledge the last messages (seconds). Reached
only when a subscriber stops reading; until then the player returns as soon as all are acked
(a player that exits first takes its unacknowledged messages with it)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Replay a ROS 2 bag (sqlite3 or mcap folder) with rclpy.")
    parser.add_argument("bag", help="bag folder (the one holding metadata.yaml)")
    parser.add_argument("--rate", type=float, default=1.0,
                        help="playback speed factor (default 1.0; 0.5 = half speed)")
    parser.add_argument("--loop", action="store_true", help="replay until interrupted")
    parser.add_argument("--topics", nargs="+", metavar="T", help="play only these topics")
    parser.add_argument("--start-delay", type=float, default=1.0, metavar="S",
                        help="seconds to wait for subscribers to be discovered before the first message "
                             "(default 1.0; DDS discovery can take a few seconds on a loaded machine)")
    parser.add_argument("--wait-for-subscribers", type=int, default=0, metavar="N",
                        help="start as soon as every played topic (and /clock with --clock) has N matched "
                             "subscriptions, waiting at most --start-delay seconds (default 0: wait --start-delay "
                             "seconds)")
    parser.add_argument("--clock", action="store_true",
                        help="publish /clock (rosgraph_msgs/Clock) from the bag's timestamps")
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _install_stop_handlers(stop: threading.Event) -> dict:
    """Ctrl-C and SIGTERM set ``stop``; returns the previous handlers (empty off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    return previous


def _wait_for_subscribers(node: Node, publishers: dict, count: int, timeout_s: float,
                          stop: threading.Event) -> None:
    """Wait until every publisher has ``count`` matched subscriptions (count 0: wait ``timeout_s``);
    after ``timeout_s`` play anyway, with a warning naming the topics still short of subscribers."""
    if count == 0:
        stop.wait(timeout_s)
        return

    def short() -> list[str]:
        return [topic for topic, pub in publishers.items() if pub.get_subscription_count() < count]

    deadline = time.monotonic() + timeout_s
    while short() and not stop.is_set() and time.monotonic() < deadline:
        stop.wait(0.01)
    if short() and not stop.is_set():
        node.get_logger().warning(f"playing although {', '.join(short())} had fewer than {count} "
                                  f"subscriber(s) after {timeout_s:g} s")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(remove_ros_args(argv))
    except SystemExit as exc:  # argparse already printed usage and one error line
        return int(exc.code or 0)
    if not args.rate > 0:
        return _fail(f"--rate must be positive, got {args.rate}")
    if not args.start_delay >= 0:
        return _fail(f"--start-delay must be >= 0 seconds, got {args.start_delay}")
    if args.wait_for_subscribers < 0:
        return _fail(f"--wait-for-subscribers must be >= 0, got {args.wait_for_subscribers}")
    try:
        reader = open_bag(args.bag)
    except BagError as exc:
        return _fail(str(exc))

    stop = threading.Event()
    previous_handlers = _install_stop_handlers(stop)
    context = Context()
    rclpy.init(args=[PROG, *argv], context=context,
               signal_handler_options=SignalHandlerOptions.NO)
    node = Node("psmnet_play", context=context)
    try:
        try:
            player = BagPlayer(node, reader, rate=args.rate, loop=args.loop,
                               topics=args.topics, clock=args.clock)
        except BagError as exc:
            return _fail(str(exc))
        publishers = player.publishers
        if player.clock_publisher is not None:
            publishers["/clock"] = player.clock_publisher
        _wait_for_subscribers(node, publishers, args.wait_for_subscribers, args.start_delay, stop)
        stats = player.play(stop)
        for topic, publisher in publishers.items():
            if not publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S)):
                node.get_logger().warning(f"'{topic}': not every subscriber acknowledged the last messages "
                                          f"within {ACK_TIMEOUT_S:g} s")
        total = sum(stats.published.values())
        node.get_logger().info(f"published {total} messages on {len(stats.published)} topics"
                               + (" (interrupted)" if stop.is_set() else ""))
        return 0
    finally:
        node.destroy_node()
        context.try_shutdown()
        reader.close()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
