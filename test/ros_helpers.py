"""Shared helpers for tests that talk over real rclpy + DDS (no mocks).

Stable API (other test files import it; do not change signatures):

- ``reserve_domain_id() -> int``: a ROS domain ID that no other process on this machine
  has reserved (an exclusive lock on a file in the temporary folder, held until this
  process exits). Tests take their domains from it, never a fixed number: two test runs
  on one machine (two clones, CI jobs, a developer's run beside an agent's) would
  otherwise discover each other and exchange messages.
- ``ros_env(domain_id) -> dict``: a copy of ``os.environ`` with
  ``ROS_DOMAIN_ID=domain_id`` and ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``;
  pass it as ``env=`` to subprocesses that must join the test's ROS graph.
- ``ros_context(domain_id)``: context manager; sets the two variables above in
  ``os.environ``, yields an initialised ``rclpy.context.Context`` of its own
  (create nodes with ``Node(name, context=ctx)``), shuts it down and restores
  the environment on exit.
- ``spin_until(node, predicate, timeout_s=5.0) -> bool``: spins ``node`` until
  ``predicate()`` is true (returns True) or the timeout passes (returns False).
- ``wait_for_subscribers(node, publishers, timeout_s=5.0) -> bool``: spins until
  every publisher has at least one matched subscription (DDS discovery).
- ``wait_for_publishers(node, subscriptions, timeout_s=5.0) -> bool``: likewise
  for subscriptions.
- ``make_header(stamp_ns, frame_id="camera") -> std_msgs/Header``.
- ``image_msg(array, encoding, header, row_padding=0) -> sensor_msgs/Image``:
  HxW (mono8, 32FC1) or HxWxC uint8 array as-is into an Image of that
  encoding; ``row_padding`` extra bytes per row (step = width*bpp + padding).
- ``camera_info_msg(header, width, height, fx, fy=None, cx=None, cy=None,
  tx=0.0) -> sensor_msgs/CameraInfo``: rectified pinhole camera, no
  distortion, R = I, K = [fx 0 cx; 0 fy cy; 0 0 1], P = [K | (tx, 0, 0)]
  (ROS convention: tx = -fx * baseline for the right camera, 0 for the left).
  cx, cy default to the image centre ((w-1)/2, (h-1)/2); fy to fx.
- ``stereo_messages(left_rgb, right_rgb, stamp_ns, fx=100.0, baseline_m=0.1,
  frame_id="camera") -> (left_image, left_info, right_image, right_info)``:
  the four messages a stereo node subscribes to, rgb8 images, same stamp.
- ``KittiLikeStereo``: numbers of a KITTI-like rig (fx, baseline_m) for tests.
- ``NodeProcess(log_path, domain_id, *ros_args, module=...)``: psmnet_node (or another node module, e.g.
  psmnet_ros.ros.lifecycle_node) in a subprocess, started as stereo.launch.py starts it; waits for its log lines and signal handlers, stops it with
  signals and reports exit status and time. A context manager: leaving it stops the node.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

_ENV_KEYS = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")
REPO = Path(__file__).resolve().parents[1]
TEST_DOMAIN_IDS = range(30, 102)
"""Domains tests may take: above the 0 most ROS graphs run on, at most 101 (the largest ID whose
Fast DDS ports stay below Linux's ephemeral port range)."""
_held_domain_locks = []  # open lock files: the reservations last as long as the process

_BYTES_PER_ELEMENT = {"mono8": (1, 1), "rgb8": (3, 1), "bgr8": (3, 1), "rgba8": (4, 1),
                      "bgra8": (4, 1), "32FC1": (1, 4)}


class KittiLikeStereo:
    """Focal length (pixels) and baseline (metres) close to KITTI's colour pair."""

    fx = 721.5377
    baseline_m = 0.5327


def reserve_domain_id() -> int:
    """A domain ID from TEST_DOMAIN_IDS that no other process has reserved; held until this process exits."""
    folder = os.path.join(tempfile.gettempdir(), "psmnet_ros_test_domains")
    os.makedirs(folder, exist_ok=True)
    for domain_id in TEST_DOMAIN_IDS:
        lock = open(os.path.join(folder, f"{domain_id}.lock"), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _held_domain_locks.append(lock)
        return domain_id
    raise RuntimeError(f"every ROS domain in {TEST_DOMAIN_IDS} is reserved by another process ({folder})")


def ros_env(domain_id: int) -> dict:
    """os.environ copy for a subprocess on ROS domain ``domain_id``, localhost-only discovery."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(int(domain_id))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    return env


@contextmanager
def ros_context(domain_id: int) -> Iterator[Context]:
    """An initialised rclpy Context on ``domain_id`` (localhost discovery), shut down on exit."""
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    os.environ["ROS_DOMAIN_ID"] = str(int(domain_id))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    context = Context()
    try:
        rclpy.init(context=context, domain_id=int(domain_id))
        yield context
    finally:
        context.try_shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def spin_until(node, predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Spin ``node`` until ``predicate()`` holds (True) or ``timeout_s`` passes (False)."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                return False
            executor.spin_once(timeout_sec=0.02)
        return True
    finally:
        executor.remove_node(node)
        executor.shutdown()


def wait_for_subscribers(node, publishers: Iterable, timeout_s: float = 5.0) -> bool:
    """Spin until every publisher is matched by at least one subscription."""
    publishers = list(publishers)
    return spin_until(node, lambda: all(p.get_subscription_count() > 0 for p in publishers),
                      timeout_s)


def wait_for_publishers(node, subscriptions: Iterable, timeout_s: float = 5.0) -> bool:
    """Spin until every subscription is matched by at least one publisher."""
    subscriptions = list(subscriptions)
    return spin_until(node, lambda: all(s.get_publisher_count() > 0 for s in subscriptions),
                      timeout_s)


def make_header(stamp_ns: int, frame_id: str = "camera") -> Header:
    """std_msgs/Header with the stamp given in integer nanoseconds."""
    stamp = Time(sec=int(stamp_ns) // 1_000_000_000, nanosec=int(stamp_ns) % 1_000_000_000)
    return Header(stamp=stamp, frame_id=frame_id)


def image_msg(array: np.ndarray, encoding: str, header: Header, row_padding: int = 0) -> Image:
    """sensor_msgs/Image holding ``array`` unchanged, with ``row_padding`` junk bytes per row."""
    channels, elem_bytes = _BYTES_PER_ELEMENT[encoding]
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    row_bytes = width * channels * elem_bytes
    rows = array.reshape(height, -1).view(np.uint8).reshape(height, row_bytes)
    padded = np.full((height, row_bytes + row_padding), 0xAB, dtype=np.uint8)
    padded[:, :row_bytes] = rows
    msg = Image(header=header, height=height, width=width, encoding=encoding,
                is_bigendian=0, step=row_bytes + row_padding)
    msg.data = padded.tobytes()
    return msg


def camera_info_msg(header: Header, width: int, height: int, fx: float, fy: float | None = None,
                    cx: float | None = None, cy: float | None = None,
                    tx: float = 0.0) -> CameraInfo:
    """Rectified, distortion-free CameraInfo: K from fx, fy, cx, cy; P = [K | (tx, 0, 0)]."""
    fy = fx if fy is None else fy
    cx = (width - 1) / 2.0 if cx is None else cx
    cy = (height - 1) / 2.0 if cy is None else cy
    msg = CameraInfo(header=header, width=width, height=height, distortion_model="plumb_bob")
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, tx, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def stereo_messages(left_rgb: np.ndarray, right_rgb: np.ndarray, stamp_ns: int,
                    fx: float = 100.0, baseline_m: float = 0.1, frame_id: str = "camera"):
    """(left_image, left_info, right_image, right_info) for an rgb8 stereo pair at one stamp."""
    height, width = left_rgb.shape[:2]
    header = make_header(stamp_ns, frame_id)
    left_info = camera_info_msg(header, width, height, fx)
    right_info = camera_info_msg(header, width, height, fx, tx=-fx * baseline_m)
    return (image_msg(left_rgb, "rgb8", header), left_info,
            image_msg(right_rgb, "rgb8", header), right_info)


class NodeProcess:
    """psmnet_node in a subprocess on ``domain_id``: ``--params-file config/psmnet.yaml`` plus ``ros_args``,
    as the launch file starts it, with ``env_extra`` added to its environment; stdout and stderr go to
    ``log_path``."""

    def __init__(self, log_path: Path, domain_id: int, *ros_args: str, env_extra: dict | None = None,
                 module: str = "psmnet_ros.ros.node"):
        self.log_path = Path(log_path)
        self._log = open(log_path, "w")
        env = {**ros_env(domain_id), **(env_extra or {})}
        env["PYTHONPATH"] = f"{REPO}:{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(REPO)
        env["PYTHONUNBUFFERED"] = "1"
        env["RCUTILS_LOGGING_BUFFERED_STREAM"] = "0"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--ros-args", "--params-file", "config/psmnet.yaml",
             *ros_args], cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> "NodeProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, text: str, timeout_s: float = 60.0) -> None:
        """Wait until ``text`` appears in the node's output (AssertionError with the log if it exits first)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            assert self.proc.poll() is None, f"node exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"'{text}' not logged within {timeout_s} s:\n{self.log()}"
            time.sleep(0.05)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        self.wait_for_log("ready:", timeout_s)

    def wait_catching_sigterm(self, timeout_s: float = 30.0) -> None:
        """Wait until the process has a SIGTERM handler (bit 15 of SigCgt in /proc/PID/status): the node
        installs its handlers on its first line, before its imports."""
        deadline = time.monotonic() + timeout_s
        while not self._status("SigCgt") & (1 << (signal.SIGTERM - 1)):
            assert self.proc.poll() is None, f"node exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"no SIGTERM handler within {timeout_s} s"
            time.sleep(0.001)

    def rss_mb(self) -> float:
        return self._status("VmRSS") / 1024.0

    def _status(self, key: str) -> int:
        """A number from /proc/PID/status (SigCgt in hexadecimal, the others in decimal)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1], 16 if key.startswith("Sig") else 10)
        raise AssertionError(f"no {key} in /proc/{self.proc.pid}/status")

    def stop(self, sig=signal.SIGINT, timeout_s: float = 10.0, then=None,
             then_after_s: float = 0.0) -> tuple[int | None, float]:
        """Send ``sig`` and, if it still runs ``then_after_s`` later, ``then`` (ros2 launch: SIGINT, then
        SIGTERM); kill it after ``timeout_s``. Returns (exit status, or None if killed; seconds from ``sig``)."""
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if then is not None:
                try:
                    self.proc.wait(then_after_s)
                except subprocess.TimeoutExpired:
                    self.proc.send_signal(then)
        try:
            rc = self.proc.wait(max(0.0, timeout_s - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self._log.close()
        return rc, time.monotonic() - start
