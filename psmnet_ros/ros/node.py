"""psmnet_node: PSMNet disparity, depth and an organized point cloud from a rectified stereo pair.

Topics follow stereo_image_proc: subscribes left/image_rect, left/camera_info,
right/image_rect, right/camera_info; publishes the outputs of :mod:`psmnet_ros.ros.outputs`
(disparity, depth, points2, disparity/image_color, confidence, frame_stats), each with the left
image's header, and /diagnostics. The sync callback only validates, converts and enqueues
(:mod:`.stereo_input`); a worker thread owns the model and runs batched inference.
"""
from __future__ import annotations

import os
import sys

from psmnet_ros.ros import stop_signals

if __name__ == "__main__" or os.path.basename(sys.argv[0]) == "psmnet_node":
    # Run as the node program: stop signals are handled before the slow imports below (torch
    # takes seconds), so the imports come after this statement.
    stop_signals.install(stop_signals.Phase.IMPORTING)

import threading
import time
from typing import NoReturn

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from psmnet_ros.core.errors import InputError, PSMNetError
from psmnet_ros.core.estimator import StereoEstimator, load_estimator
from psmnet_ros.core.frame_queue import FrameQueue
from psmnet_ros.ros.conversions import stamp_ns
from psmnet_ros.ros.outputs import FRAME_STATS, OUTPUTS, TOPICS, frame_messages
from psmnet_ros.ros.diagnostics import InferenceStats, diagnostic_array
from psmnet_ros.ros.frame_stats import FrameTiming, frame_stats_msg
from psmnet_ros.ros.input_qos import InputSubscriptions
from psmnet_ros.ros.memory import return_freed_memory
from psmnet_ros.ros.node_logging import LOG_THROTTLE_S, ReasonLogger, log_python_warnings
from psmnet_ros.ros.parameters import NodeSettings, ParameterError, declare_parameters, updated
from psmnet_ros.ros.stereo_input import Frame, stereo_frame
from psmnet_ros.ros.sync import StereoSynchronizer

NODE_NAME = "psmnet_node"
INPUT_TOPICS = (("left/image_rect", Image), ("left/camera_info", CameraInfo),
                ("right/image_rect", Image), ("right/camera_info", CameraInfo))
"""In StereoSynchronizer input order: 0 left image, 1 left info, 2 right image, 3 right info."""
WORKER_JOIN_S = 0.5
"""How long stopping waits for the worker thread to end (seconds): long enough to finish a
publication, not a forward pass (seconds on a CPU, and it cannot be interrupted)."""
SPIN_PERIOD_S = 0.1
"""The main loop's longest wait for ROS events: how soon it notices a stop signal (seconds)."""


class PSMNetNode(Node):
    """The ROS 2 node; see the module docstring and README for topics and parameters."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self._stopping = threading.Event()
        self._worker = None
        self._reasons = ReasonLogger(self.get_logger().name)
        log_python_warnings(self.get_logger())
        try:
            self._settings: NodeSettings = declare_parameters(self)
            with stop_signals.interruptible():
                self._estimator = self._load_estimator()
            self._setup_io()
        except BaseException:
            self.destroy_node()
            raise

    # ---------------------------------------------------------------- start-up
    def _load_estimator(self) -> StereoEstimator:
        s = self._settings
        estimator, notices = load_estimator(s.weights, variant=s.variant, maxdisp=s.maxdisp,
                                            align_corners=s.align_corners, device=s.device,
                                            precision=s.precision, input_scale=s.input_scale)
        for text in notices:
            self.get_logger().warning(text)
        return estimator

    def _setup_io(self) -> None:
        s = self._settings
        self._stats = InferenceStats()
        self._queue = FrameQueue(capacity=s.frame_queue_capacity, batch_size=s.batch_size,
                                 max_delay_s=s.max_batch_delay_ms / 1000.0)
        self._sync = StereoSynchronizer(self._on_stereo_set, queue_size=s.queue_size,
                                        approximate=s.approximate_sync,
                                        tolerance_s=s.approximate_sync_tolerance_seconds)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        out_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._outputs = {o.topic: self.create_publisher(o.msg_type, o.topic, out_qos) for o in OUTPUTS}
        self._pub_frame_stats = self.create_publisher(FRAME_STATS.msg_type, FRAME_STATS.topic, out_qos)
        self._dropped_before = 0  # frames dropped up to the previous published frame (FrameStats)
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        inputs = [(topic, msg_type, self._input_callback(i)) for i, (topic, msg_type) in enumerate(INPUT_TOPICS)]
        self._inputs = InputSubscriptions(self, inputs, s.qos, s.queue_size)
        # Steady clock: diagnostics keep flowing when use_sim_time is set and no /clock is published.
        self.create_timer(s.diagnostics_period, self._publish_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._worker = threading.Thread(target=self._work, name="psmnet_worker", daemon=True)
        self._worker.start()
        est = self._estimator
        min_h, min_w = est.min_input_size
        self.get_logger().info(
            f"ready: {est.variant} maxdisp={est.maxdisp} on {est.device} ({est.precision}), "
            f"input_scale={est.input_scale}, batch_size={s.batch_size}, "
            f"{'approximate' if s.approximate_sync else 'exact'} sync, qos={s.qos}, "
            f"images from {min_w}x{min_h} px, weights: {est.weights}")

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        ours = [p for p in parameters if p.name in NodeSettings.__dataclass_fields__]
        try:
            new = updated(self._settings, ours)
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self._settings = new
        self._queue.max_delay_s = new.max_batch_delay_ms / 1000.0
        return SetParametersResult(successful=True)

    # ------------------------------------------------------- input (executor)
    def _input_callback(self, index: int):
        def callback(msg):
            self._sync.add(index, stamp_ns(msg.header), msg)
        return callback

    def _on_stereo_set(self, left_image: Image, left_info: CameraInfo,
                       right_image: Image, right_info: CameraInfo) -> None:
        """Sync callback: validate and convert (cheap), then enqueue; never runs inference."""
        synchronized = time.monotonic()
        self._stats.frame_in()
        try:
            frame = stereo_frame(left_image, left_info, right_image, right_info, synchronized,
                                 self._estimator.min_input_size, self._estimator.input_scale)
        except InputError as exc:
            self._stats.bad_input()
            self._reasons.warn(str(exc), f"dropping stereo frame {_stamp_text(left_image.header)}")
            return
        self._queue.put(frame, key=frame.left.shape[:2])

    # ---------------------------------------------------------- worker thread
    def _work(self) -> None:
        last_size = None
        while not self._stopping.is_set():
            batch = self._queue.get_batch(timeout_s=0.5)
            if not batch:
                continue
            try:
                self._process(batch)
                if batch[0].left.shape != last_size:  # a new size: what the old one's passes kept no longer fits
                    last_size = batch[0].left.shape
                    return_freed_memory()
            except Exception as exc:  # keep serving: one broken batch must not end the worker
                if self._stopping.is_set():
                    return
                self._stats.inference_failed(len(batch))
                self.get_logger().error(f"dropping {len(batch)} frame(s): {type(exc).__name__}: {exc}",
                                        throttle_duration_sec=LOG_THROTTLE_S)

    def _process(self, batch: list[Frame]) -> None:
        def on_failure(index, exc):
            frame = batch[index]
            if isinstance(exc, InputError):
                self._stats.bad_input()
                reason = str(exc)
            else:
                self._stats.inference_failed()
                reason = f"CUDA out of memory even for a single {frame.left.shape[1]}x{frame.left.shape[0]} pair"
            self._reasons.warn(reason, f"dropping stereo frame {_stamp_text(frame.header)}")

        def on_retry(exc):
            self._reasons.warn(f"{type(exc).__name__}: {exc}", f"batch of {len(batch)} failed, retrying one pair at a time")

        passes = []  # (pairs, seconds) of each successful forward pass, in order

        def on_batch(size, seconds):
            self._stats.batch_done(size, seconds)
            passes.append((size, seconds))

        # The confidence costs a little; it is computed only when something uses it.
        with_confidence = self._settings.confidence_threshold > 0 or \
            self._outputs["confidence"].get_subscription_count() > 0
        started = time.monotonic()
        results = self._estimator.predict_batch_with_fallback([(f.left, f.right) for f in batch], on_failure,
                                                              on_batch, on_retry, with_confidence)
        done = [(frame, result if with_confidence else (result, None))
                for frame, result in zip(batch, results) if result is not None]
        # One pass for the whole batch, or (after a retry) one pass per pair that succeeded, in order.
        shares = [passes[0][1] / len(batch)] * len(done) if len(passes) == 1 and passes[0][0] == len(batch) \
            else [seconds for _, seconds in passes]
        for (frame, (disparity, confidence)), inference_s in zip(done, shares):
            if self._stopping.is_set():
                return
            self._publish(frame, disparity, confidence, started, inference_s, passes[0][0] if len(passes) == 1 else 1)

    def _publish(self, frame: Frame, network_disparity: np.ndarray, confidence: np.ndarray | None,
                 batch_started: float, inference_s: float, batch_size: int) -> None:
        """Publish every output of one frame that has a subscriber, then its FrameStats if subscribed;
        nothing is built for an output without subscribers."""
        s, est = self._settings, self._estimator
        building = time.monotonic()
        wanted = {topic for topic, publisher in self._outputs.items()
                  if not TOPICS[topic].on_demand or publisher.get_subscription_count()}
        stats_wanted = self._pub_frame_stats.get_subscription_count() > 0
        messages, products = frame_messages(network_disparity, frame.left, frame.camera, frame.header,
                                            est.max_disparity(network_disparity.shape[1]), wanted,
                                            s.min_depth, s.max_depth, confidence, s.confidence_threshold)
        publishing = time.monotonic()
        for topic, msg in messages.items():
            self._outputs[topic].publish(msg)
        published = time.monotonic()
        self._stats.frame_out()
        dropped = self._queue.dropped + self._stats.frames_lost()
        if stats_wanted:
            timing = FrameTiming(frame.synchronized, batch_started, published, inference_s, publishing - building,
                                 published - publishing, batch_size)
            self._pub_frame_stats.publish(frame_stats_msg(
                frame.header, timing, products.disparity, est.network_size(*network_disparity.shape), est.weights,
                str(est.device), est.precision, dropped - self._dropped_before, confidence))
        self._dropped_before = dropped

    # ------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        report = self._stats.report(queue_dropped=self._queue.dropped, sync_dropped=self._sync.dropped)
        est = self._estimator
        extra = {"device": str(est.device), "precision": est.precision,
                 "weights": est.weights,
                 "variant": est.variant, "maxdisp": str(est.maxdisp), "input scale": str(est.input_scale),
                 "queued frames": str(len(self._queue))}
        self._pub_diagnostics.publish(
            diagnostic_array(report, self.get_clock().now().to_msg(), f"{self.get_fully_qualified_name()}: "
                             "stereo inference", str(est.device), extra))

    # --------------------------------------------------------------- shutdown
    def destroy_node(self):
        """Stop the worker (waiting up to WORKER_JOIN_S for it to end), then the node.

        The worker publishes nothing once stopping is set; a forward pass it is in keeps
        running in the daemon thread, and its result is dropped.
        """
        self._stopping.set()
        queue = getattr(self, "_queue", None)
        if queue is not None:
            queue.close()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(WORKER_JOIN_S)
        return super().destroy_node()


def _stamp_text(header: Header) -> str:
    return f"{header.stamp.sec}.{header.stamp.nanosec:09d} ('{header.frame_id}')"


def main(args=None) -> NoReturn:
    """Run psmnet_node until SIGINT / SIGTERM, then end the process with status 0 within about a
    second; with status 1 when the node cannot start.

    The signals are handled by :mod:`psmnet_ros.ros.stop_signals`, not by rclpy: the main loop
    notices a stop within SPIN_PERIOD_S, then stops the worker, destroys the node and shuts rclpy
    down, in that order, from this thread; the process then ends at once. A forward pass the
    worker is in (it cannot be interrupted) ends with it.
    """
    stop_signals.install(stop_signals.Phase.STARTING)
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except _rclpy.RCLError as exc:  # e.g. a malformed --ros-args rule; rcl has logged the details
        print(f"{NODE_NAME}: cannot start: {str(exc).splitlines()[0]}", file=sys.stderr)
        stop_signals.exit_now(1)
    node = executor = None
    status = 0
    try:
        if not stop_signals.requested.is_set():  # else a signal came during rclpy.init
            node = PSMNetNode()
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            stop_signals.set_phase(stop_signals.Phase.RUNNING)
            while not stop_signals.requested.is_set():
                executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except (stop_signals.StopRequested, ExternalShutdownException):
        pass
    except PSMNetError as exc:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {exc}")
        status = 1
    finally:
        stop_signals.set_phase(stop_signals.Phase.STOPPING)
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    # Not the interpreter's clean-up: it would tear torch down under a forward pass the worker may still be
    # in, and it restores the default signal actions, so that a second signal meanwhile (ros2 launch's
    # SIGTERM) would end the process with status -15.
    stop_signals.exit_now(status)


if __name__ == "__main__":
    sys.exit(main())
