"""The demo's ROS stage: a stereo bag played into psmnet_node, its outputs recorded to a folder.

Three processes talk over DDS exactly as on a robot: ``psmnet-play`` publishes the bag,
``psmnet_node`` (started the way launch/stereo.launch.py starts it) computes, and an
:class:`OutputRecorder` in this process records what comes out.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from sensor_msgs.msg import CameraInfo, Image

from ..core.colorize import colorize, colorize_depth
from ..core.datasets.base import write_rgb
from ..core.disparity_io import write_kitti_disparity
from ..core.errors import PSMNetError
from ..core.ply import write_ply
from ..resources import share_file
from .bag_player import open_bag
from .conversions import float_image_to_array, image_to_rgb, pointcloud2_to_arrays
from .recorder import OutputRecorder
from .spinning import SpinThread

NAMESPACE = "/stereo"
LEFT_NS, RIGHT_NS = "/stereo/left", "/stereo/right"
NODE_READY_TIMEOUT_S = 180.0
"""Model loading on a slow CPU can take a while; the node's publishers appear when it is ready."""
PLAYER_DISCOVERY_TIMEOUT_S = 60.0
"""Deadline for DDS discovery between the player and its two subscribers (the node and the
recorder); the player starts as soon as both are matched on every topic, usually within a second."""


@dataclass
class PipelineResult:
    frames_in: int
    frames_out: int
    latency_ms: np.ndarray
    out_dir: Path
    node_log: Path
    stages_ms: dict[str, np.ndarray]   # per FrameStats field (latency_ms, queue_wait_ms, ...): one value a frame
    drops: dict[str, str]              # the node's last /diagnostics drop counts by reason

    @property
    def dropped(self) -> int:
        return self.frames_in - self.frames_out


def node_command(node_params: dict[str, object]) -> list[str]:
    """psmnet_node with the package's params file, overrides and the demo's remappings."""
    cmd = [sys.executable, "-m", "psmnet_ros.ros.node", "--ros-args",
           "--params-file", str(share_file("config", "psmnet.yaml"))]
    for name, value in node_params.items():
        cmd += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
    for side, ns in (("left", LEFT_NS), ("right", RIGHT_NS)):
        for topic in ("image_rect", "camera_info"):
            cmd += ["-r", f"{side}/{topic}:={ns}/{topic}"]
    return cmd + ["-r", f"__ns:={NAMESPACE}"]


def _stop(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(predicate, timeout_s: float, process: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if process is not None and process.poll() is not None:
            raise PSMNetError(f"{what} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise PSMNetError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


STAGES = {"latency_ms": "inputs -> out:", "queue_wait_ms": "queue wait:", "inference_ms": "forward pass:",
          "output_ms": "building outputs:", "publish_ms": "publishing:"}
"""FrameStats fields the summary breaks the node's latency into, and their labels."""


def run_pipeline(bag: Path, out_dir: Path, node_params: dict[str, object], rate: float,
                 frame_timeout_s: float) -> PipelineResult:
    """Play ``bag`` into a psmnet_node subprocess and write what it publishes under ``out_dir``.

    Once the player is done, waits until every output of every frame in the bag has arrived,
    or until frame_timeout_s pass without a new output (the node dropped frames).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    node_log = out_dir / "node.log"
    frames = _frames_in_bag(bag, f"{LEFT_NS}/image_rect")
    context = rclpy.Context()
    rclpy.init(context=context)
    recorder = OutputRecorder(NAMESPACE, f"{LEFT_NS}/image_rect",
                              [(f"{LEFT_NS}/camera_info", CameraInfo), (f"{RIGHT_NS}/image_rect", Image),
                               (f"{RIGHT_NS}/camera_info", CameraInfo)], context=context)
    spin = SpinThread(recorder)
    node = player = None
    try:
        with open(node_log, "w") as log:
            node = subprocess.Popen(node_command(node_params), stdout=log, stderr=subprocess.STDOUT)
        _wait(lambda: recorder.count_publishers(f"{NAMESPACE}/disparity") > 0, NODE_READY_TIMEOUT_S, node,
              f"psmnet_node (log: {node_log})")
        player = subprocess.Popen([sys.executable, "-m", "psmnet_ros.cli.play", str(bag), "--rate", str(rate),
                                   "--wait-for-subscribers", "2", "--start-delay", str(PLAYER_DISCOVERY_TIMEOUT_S)])
        _wait(lambda: player.poll() is not None, 3600.0, what="psmnet-play")
        if player.returncode != 0:
            raise PSMNetError(f"psmnet-play exited with code {player.returncode}")

        def missing() -> int:
            return sum(max(0, frames - recorder.count(topic)) for topic in recorder.output_topics)

        left, last_change = missing(), time.monotonic()
        while left and time.monotonic() - last_change < frame_timeout_s:
            if node.poll() is not None:
                raise PSMNetError(f"psmnet_node exited with code {node.returncode} (log: {node_log})")
            time.sleep(0.05)
            if missing() != left:
                left, last_change = missing(), time.monotonic()
    finally:
        for process in (player, node):
            if process is not None:
                _stop(process)
        spin.stop()
        recorder.destroy_node()
        rclpy.shutdown(context=context)
    write_results(recorder, out_dir)
    stats = [msg for _, (_, msg) in sorted(recorder.arrivals[f"{NAMESPACE}/frame_stats"].items())]
    return PipelineResult(frames_in=recorder.count(recorder.input_topic),
                          frames_out=recorder.count(f"{NAMESPACE}/disparity"),
                          latency_ms=recorder.latencies_ms(f"{NAMESPACE}/disparity"),
                          out_dir=out_dir, node_log=node_log,
                          stages_ms={field: np.array([getattr(m, field) for m in stats]) for field in STAGES},
                          drops={k: v for k, v in recorder.diagnostics.items() if k.startswith("dropped")})


def _frames_in_bag(bag: Path, left_topic: str) -> int:
    """How many left images the bag holds."""
    reader = open_bag(bag)
    try:
        return sum(c.msgcount for c in reader.connections if c.topic == left_topic)
    finally:
        reader.close()


def write_results(recorder: OutputRecorder, out_dir: Path) -> None:
    """Per frame: disparity (KITTI PNG + colour), depth (.npy + colour); the last frame's cloud as .ply."""
    arrivals = recorder.arrivals
    for stamp, (_, msg) in sorted(arrivals[f"{NAMESPACE}/disparity"].items()):
        disparity = float_image_to_array(msg.image)
        write_kitti_disparity(out_dir / f"{stamp}_disparity.png", disparity)
        color = arrivals[f"{NAMESPACE}/disparity/image_color"].get(stamp)
        rgb = image_to_rgb(color[1]) if color else colorize(disparity, msg.min_disparity, msg.max_disparity)
        write_rgb(out_dir / f"{stamp}_disparity_color.png", rgb)
    for stamp, (_, msg) in sorted(arrivals[f"{NAMESPACE}/depth"].items()):
        depth = float_image_to_array(msg)
        np.save(out_dir / f"{stamp}_depth.npy", depth)
        write_rgb(out_dir / f"{stamp}_depth_color.png", colorize_depth(depth))
    clouds = sorted(arrivals[f"{NAMESPACE}/points2"].items())
    if clouds:
        stamp, (_, msg) = clouds[-1]
        points, rgb = pointcloud2_to_arrays(msg)
        write_ply(out_dir / f"{stamp}_points.ply", points, rgb)


def summary(result: PipelineResult) -> str:
    """The one-screen summary of a pipeline run, with the node's own per-stage times from its FrameStats."""
    def p50_p95(values: np.ndarray, digits: int = 0) -> str:
        if not values.size:
            return "n/a"
        return f"{np.percentile(values, 50):.{digits}f} / {np.percentile(values, 95):.{digits}f} ms"

    stages = [f"  {label:<17} {p50_p95(result.stages_ms[field], 1)}" for field, label in STAGES.items()]
    return "\n".join([
        f"frames in:          {result.frames_in}",
        f"frames out:         {result.frames_out}",
        f"dropped:            {result.dropped}"
        + (f"  (the node's last /diagnostics: {', '.join(f'{k} {v}' for k, v in result.drops.items())})"
           if result.dropped and result.drops else ""),
        f"latency p50 / p95:  {p50_p95(result.latency_ms)}  (left image in -> disparity out, through DDS)",
        "in the node, p50 / p95 (frame_stats):",
        *stages,
        f"results:            {result.out_dir.resolve()}",
        f"node log:           {result.node_log.resolve()}"])
