"""The node's per-frame CPU work around the network, timed with the node's own calls and real rclpy publishing
(psmnet-bench --node-overhead), and the Motorcycle pair at a given size it is timed on."""
from __future__ import annotations

import select
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np

from ..core.calibration import StereoCalibration
from ..core.errors import InputError

KITTI_SIZE = (1242, 375)
"""Width and height (pixels) of the node-overhead measurement."""
KITTI_FX, KITTI_BASELINE_M = 721.5377, 0.5327
"""Focal length (pixels) and baseline (metres) of KITTI's colour cameras (drive 2011_09_26)."""


def kitti_like_camera(width: int, height: int) -> StereoCalibration:
    """A rectified pair with KITTI's focal length and baseline at ``width`` x ``height`` pixels, principal points
    at the image centre."""
    return StereoCalibration.from_pinhole(KITTI_FX, KITTI_BASELINE_M, (width - 1) / 2, (height - 1) / 2,
                                          (width, height))


def motorcycle_pair(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The Middlebury Motorcycle pair (RGB uint8) resized to ``width`` x ``height`` pixels."""
    from ..core.datasets.middlebury import MiddleburyMotorcycle

    frame = MiddleburyMotorcycle().load(0)
    return tuple(cv2.resize(frame[side], (width, height), interpolation=cv2.INTER_AREA) for side in ("left", "right"))


_LISTENER = """
import json, sys
import rclpy
from rclpy.context import Context
from rclpy.node import Node
from psmnet_ros.ros.outputs import OUTPUTS
from psmnet_ros.ros.spinning import SpinThread
context = Context()
rclpy.init(context=context)
node = Node("psmnet_bench_listener", context=context)
received = {}

def count(name):
    received[name] += 1
    if received[name] == 1 and min(received.values()) == 1:
        print("complete", flush=True)

for output in OUTPUTS:
    received[output.topic] = 0
    node.create_subscription(output.msg_type, "bench_subscribed/" + output.topic,
                             lambda msg, n=output.topic: count(n), 1)
spin = SpinThread(node)
sys.stdin.read()
spin.stop()
node.destroy_node()
context.try_shutdown()
print(json.dumps(received), flush=True)
"""
"""A subscriber process on the node's output topics (:data:`~psmnet_ros.ros.outputs.OUTPUTS`): prints
"complete" once each has delivered a message, and its message counts (JSON) when stdin closes."""


COPY_FLOOR = "copy floor: one copy of all output bytes"
RATIO = "total / copy floor (median of the frames' ratios)"
"""The last row: a ratio, not milliseconds."""


def node_overhead(repeats: int) -> list[tuple[str, float]]:
    """Median milliseconds of each per-frame CPU step of the node at KITTI size, rclpy publishing included.

    The steps are the node's own calls: :func:`~psmnet_ros.ros.conversions.image_to_rgb` on rgb8 Image
    messages of the Motorcycle pair resized to KITTI size, :func:`~psmnet_ros.ros.outputs.frame_messages`
    (stereo products and every output's message, in buffers reused from frame to frame as the node does) on a
    synthetic disparity and confidence ramp with a KITTI-like camera, and
    :func:`~psmnet_ros.ros.serialized_publishing.publish_serialized`. Publishing is timed on topics a subscriber in
    another process receives (ROS domain and discovery range from the environment) and on topics nobody subscribes
    to; there also as Python bytes through rclpy's ``Publisher.publish``, for comparison. The copy floor is one copy
    of every published message's bytes; the last row is the median over the frames of total / copy floor, both
    measured on the same frame.
    """
    import rclpy  # here, not at the top: psmnet-bench runs without ROS unless asked for this table
    from rclpy.context import Context
    from rclpy.node import Node
    from std_msgs.msg import Header

    from ..ros.conversions import image_to_rgb, rgb_image_msg
    from ..ros.outputs import OUTPUTS, FrameBuffers, OutputOptions, frame_messages
    from ..ros.serialized_publishing import publish_serialized

    width, height = KITTI_SIZE
    maxdisp = 192
    camera = kitti_like_camera(width, height)
    left, right = motorcycle_pair(width, height)
    disparity = np.broadcast_to(np.linspace(2.0, 120.0, height, dtype=np.float32)[:, None], (height, width)).copy()
    confidence = np.broadcast_to(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, width)).copy()
    count = len(OUTPUTS)
    header = Header(frame_id="camera")
    images = [rgb_image_msg(left, header), rgb_image_msg(right, header)]
    steps: dict[str, list[float]] = {}
    floor_buffer = None
    buffers = FrameBuffers()

    def timed(step, fn, *fn_args):
        start = time.perf_counter()
        result = fn(*fn_args)
        steps.setdefault(step, []).append((time.perf_counter() - start) * 1000.0)
        return result

    listener = subprocess.Popen([sys.executable, "-c", _LISTENER], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    context = Context()
    rclpy.init(context=context)
    node = Node("psmnet_bench", context=context)
    try:
        quiet = {o.topic: node.create_publisher(o.msg_type, f"bench_unsubscribed/{o.topic}", 1) for o in OUTPUTS}
        heard = {o.topic: node.create_publisher(o.msg_type, f"bench_subscribed/{o.topic}", 1) for o in OUTPUTS}
        deadline = time.monotonic() + 30.0
        while any(p.get_subscription_count() < 1 for p in heard.values()):
            if time.monotonic() > deadline or listener.poll() is not None:
                raise InputError("node overhead: the subscriber process was not discovered within 30 s")
            time.sleep(0.05)
        for _ in range(repeats):
            start = time.perf_counter()
            rgb = timed("Image -> RGB array (left + right)", lambda: [image_to_rgb(m) for m in images])[0]
            messages, _ = timed(f"frame messages (products + {count} messages)", frame_messages, disparity, rgb,
                                camera, header, float(maxdisp - 1), set(heard), 0.0, 0.0, confidence, 0.0,
                                OutputOptions(), buffers)
            timed(f"publish {count} messages, subscribed",
                  lambda: [publish_serialized(heard[n], m) for n, m in messages.items()])
            steps.setdefault("total, subscribed", []).append((time.perf_counter() - start) * 1000.0)
            timed(f"publish {count} messages, no subscriber",
                  lambda: [publish_serialized(quiet[n], m) for n, m in messages.items()])
            timed(f"publish {count} messages, no subscriber, as bytes through rclpy",
                  lambda: [quiet[n].publish(m.tobytes()) for n, m in messages.items()])
            if floor_buffer is None:
                floor_buffer = np.empty(sum(m.nbytes for m in messages.values()), dtype=np.uint8)
            timed(COPY_FLOOR, _copy_all, messages.values(), floor_buffer)
        delivered = _wait_for_line(listener, "complete", timeout_s=30.0, keep_publishing=lambda: [
            publish_serialized(heard[n], m) for n, m in messages.items()])
    finally:
        node.destroy_node()
        context.try_shutdown()
        try:
            counts, _ = listener.communicate("", timeout=30)
        except subprocess.TimeoutExpired:
            listener.kill()
            counts, _ = listener.communicate()
    if not delivered:
        raise InputError(f"node overhead: the subscriber process did not receive every topic within 30 s "
                         f"(counts {counts.strip() or 'unknown'})")
    medians = [(step, statistics.median(values)) for step, values in steps.items()]
    ratios = [total / floor for total, floor in zip(steps["total, subscribed"], steps[COPY_FLOOR])]
    return medians + [(RATIO, statistics.median(ratios))]


def _copy_all(messages, buffer: np.ndarray) -> None:
    """One copy of every message's bytes into ``buffer`` (the physical floor of building them)."""
    offset = 0
    for message in messages:
        buffer[offset:offset + message.nbytes] = message
        offset += message.nbytes


def _wait_for_line(process, line: str, timeout_s: float, keep_publishing) -> bool:
    """Whether ``process`` prints ``line`` within the timeout; ``keep_publishing()`` runs every second meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            text = process.stdout.readline()
            if text.strip() == line:
                return True
            if not text:
                return False
        else:
            keep_publishing()
    return False


def format_overhead(medians: list[tuple[str, float]]) -> str:
    lines = [f"| node step, {KITTI_SIZE[0]}x{KITTI_SIZE[1]} | median ms |", "|---|---|"]
    return "\n".join(lines + [f"| {step} | {value:.2f} |" for step, value in medians])
