"""psmnet-play: replay a ROS 2 bag with rclpy where the ros2 CLI is not installed.

    psmnet-play BAG [--rate R] [--loop] [--topics T ...] [--start-delay S] [--clock]

Exit codes: 0 played (or stopped by Ctrl-C / SIGTERM), 2 bad arguments or
a bag that cannot be opened or has nothing playable.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

import rclpy
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.utilities import remove_ros_args

from psmnet_ros.ros.bag_player import BagError, BagPlayer, open_bag

PROG = "psmnet-play"
ACK_TIMEOUT_S = 2.0  # how long to wait at the end for subscribers to receive the last messages


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
        stop.wait(args.start_delay)
        stats = player.play(stop)
        for publisher in player.publishers.values():
            publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))
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
