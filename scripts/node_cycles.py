"""Start and stop psmnet_node again and again; each stop is a signal at a random moment.

    python scripts/node_cycles.py [--cycles M] [--max-delay S] [--exit-limit S] [--seed N] [--log-dir DIR]

Each cycle starts the node as stereo.launch.py does (``--params-file config/psmnet.yaml``,
reliable inputs), feeds it a 256x256 stereo set every 0.3 s (faster than the CPU infers, so
its queue stays full) while this process subscribes to every output (so results are built and
published), and after a delay drawn uniformly from [0, --max-delay] s stops it one of three
ways: SIGTERM; SIGINT; or SIGINT and then SIGTERM 0-2 s later if it still runs (ros2 launch's
sequence, compressed). Depending on the delay the signal lands during the imports (torch),
model loading, idle waiting, inference or publication. The delay counts from the moment the
process catches SIGTERM, on the first line of the node's module (about 50 ms after exec here):
before that the interpreter itself is starting, and no program can catch a signal.

A cycle passes when the node exits with status 0 within --exit-limit seconds of the first
signal and its output holds no traceback or crash report. One line per cycle, then a summary
(failures, exit codes, slowest exit); exit status 1 if any cycle failed. Logs of failed cycles
stay in --log-dir.
"""
from __future__ import annotations

import argparse
import collections
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from psmnet_ros.ros.outputs import OUTPUTS
from psmnet_ros.ros.spinning import SpinThread

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))
from ros_helpers import NodeProcess, reserve_domain_id, ros_context, stereo_messages  # noqa: E402

CRASH_MARKERS = ("Traceback", "Exception in thread", "Fatal Python error", "Segmentation fault",
                 "terminate called", "Aborted", "core dumped")
"""Text in the node's output that means it did not stop cleanly."""
STOPS = ("SIGTERM", "SIGINT", "SIGINT+SIGTERM")
FEED_PERIOD_S = 0.3
HANDLERS_DEADLINE_S = 10.0
"""Longest wait for the node to catch SIGTERM after exec (about 50 ms here)."""
KILL_AFTER_S = 15.0
"""A node still running this long after the first signal is killed (and the cycle fails)."""


class Feeder:
    """Publishes stereo sets to the node's inputs and counts its outputs, from a spinning thread."""

    def __init__(self, node: Node):
        reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._publishers = [node.create_publisher(msg_type, topic, reliable) for topic, msg_type in (
            ("left/image_rect", Image), ("left/camera_info", CameraInfo),
            ("right/image_rect", Image), ("right/camera_info", CameraInfo))]
        self.outputs = 0
        for output in OUTPUTS:
            node.create_subscription(output.msg_type, output.topic, self._count, reliable)
        rng = np.random.default_rng(0)
        self._left = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        self._right = np.roll(self._left, -4, axis=1)
        self._stamp_ns = 1_700_000_000 * 10**9
        node.create_timer(FEED_PERIOD_S, self._publish)

    def _count(self, _msg) -> None:
        self.outputs += 1

    def _publish(self) -> None:
        self._stamp_ns += 100_000_000
        for publisher, msg in zip(self._publishers, stereo_messages(self._left, self._right, self._stamp_ns)):
            publisher.publish(msg)


def run_cycle(index: int, domain_id: int, feeder: Feeder, rng: random.Random, args, log_dir: Path) -> dict:
    """One start, wait, signal, exit; returns what happened."""
    delay, stop = rng.uniform(0.0, args.max_delay), rng.choice(STOPS)
    log_path = log_dir / f"cycle_{index:03d}.log"
    outputs_before = feeder.outputs
    node = NodeProcess(log_path, domain_id, "-p", "qos:=reliable")
    problems = []
    try:
        node.wait_catching_sigterm(HANDLERS_DEADLINE_S)
    except AssertionError as exc:
        problems.append(str(exc).splitlines()[0])
    started = time.monotonic()
    try:
        node.proc.wait(timeout=delay)
        problems.append(f"exited by itself {time.monotonic() - started:.1f} s after start")
    except subprocess.TimeoutExpired:
        pass
    phase = "serving" if feeder.outputs > outputs_before else "ready" if "ready:" in node.log() else "starting"
    rc, exit_s = node.stop(signal.SIGINT if stop.startswith("SIGINT") else signal.SIGTERM, timeout_s=KILL_AFTER_S,
                           then=signal.SIGTERM if stop == "SIGINT+SIGTERM" else None,
                           then_after_s=rng.uniform(0.0, 2.0))
    output = node.log()
    problems += [marker for marker in CRASH_MARKERS if marker in output]
    if rc != 0:
        problems.append(f"exit status {rc}" if rc is not None else f"killed after {KILL_AFTER_S:g} s")
    if exit_s > args.exit_limit:
        problems.append(f"took {exit_s:.2f} s to exit")
    if not problems:
        log_path.unlink()
    return dict(index=index, stop=stop, delay=delay, phase=phase, rc=rc, exit_s=exit_s, problems=problems,
                log=log_path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50, help="start/stop cycles (default: %(default)s)")
    parser.add_argument("--max-delay", type=float, default=20.0,
                        help="latest signal after start, seconds (default: %(default)s)")
    parser.add_argument("--exit-limit", type=float, default=3.0,
                        help="longest allowed time from the signal to the exit, seconds (default: %(default)s)")
    parser.add_argument("--seed", type=int, help="random seed (default: the time)")
    parser.add_argument("--log-dir", help="where node logs go (default: a new temporary folder)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    rng = random.Random(seed)
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="psmnet_node_cycles_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    domain_id = reserve_domain_id()
    print(f"node cycles: {args.cycles}, signal 0-{args.max_delay:g} s after start, exit limit "
          f"{args.exit_limit:g} s, seed {seed}, ROS domain {domain_id}, logs in {log_dir}", flush=True)
    results = []
    with ros_context(domain_id) as context:
        node = Node("psmnet_node_cycles", context=context)
        feeder = Feeder(node)
        spin = SpinThread(node)
        try:
            for index in range(args.cycles):
                result = run_cycle(index, domain_id, feeder, rng, args, log_dir)
                results.append(result)
                verdict = "ok" if not result["problems"] else "FAIL: " + "; ".join(result["problems"])
                print(f"cycle {index + 1:3d}/{args.cycles}  {result['stop']:<14} at {result['delay']:5.2f} s "
                      f"({result['phase']:<8})  exit {str(result['rc']):>4} after {result['exit_s']:.2f} s  {verdict}"
                      + (f"  (log: {result['log']})" if result["problems"] else ""), flush=True)
        finally:
            spin.stop()
            node.destroy_node()
    failures = [r for r in results if r["problems"]]
    codes = collections.Counter(r["rc"] for r in results)
    phases = collections.Counter(r["phase"] for r in results)
    print(f"node cycles: {len(results)} run, {len(failures)} failed; exit codes "
          + ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))
          + "; signal while " + ", ".join(f"{phase}: {n}" for phase, n in sorted(phases.items()))
          + f"; slowest exit {max(r['exit_s'] for r in results):.2f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
