"""What psmnet_node does, apart from being a node: load the network, publish the outputs, subscribe to the inputs
(only while someone listens, by default), synchronize, infer on a worker thread, report diagnostics.

One object, driven in the order of a managed node's states, so that the plain node (:mod:`.node`, every step at
start-up) and the lifecycle node (:mod:`.lifecycle_node`, one step per transition) run the same code:
``configure`` (parameters checked, weights loaded and warmed up, publishers) -> ``activate`` (worker, timers,
inputs) -> ``deactivate`` (inputs dropped, worker stopped, model kept) -> ``cleanup`` (model freed).
"""
from __future__ import annotations

import gc
import threading
import time

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.estimator import StereoEstimator, load_estimator
from psmnet_ros.core.frame_queue import FrameQueue
from psmnet_ros.ros.conversions import stamp_ns
from psmnet_ros.ros.diagnostics import InferenceStats, diagnostic_array
from psmnet_ros.ros.frame_stats import FrameTiming, frame_stats_msg
from psmnet_ros.ros.input_qos import InputSubscriptions
from psmnet_ros.ros.memory import return_freed_memory
from psmnet_ros.ros.node_logging import LOG_THROTTLE_S, ReasonLogger
from psmnet_ros.ros.outputs import FRAME_STATS, OUTPUTS, TOPICS, OutputOptions, frame_messages
from psmnet_ros.ros.parameters import NodeSettings, ParameterError, updated
from psmnet_ros.ros.stereo_input import INPUTS, Frame, stamp_text, stereo_frame
from psmnet_ros.ros.sync import StereoSynchronizer
from psmnet_ros.ros.sync_watch import SyncWatch

WORKER_JOIN_S = 0.5
"""How long stopping waits for the worker thread to end (seconds): long enough to finish a
publication, not a forward pass (seconds on a CPU, and it cannot be interrupted)."""
LISTENER_CHECK_S = 0.2
"""How often the node looks for subscribers of its outputs (seconds): lazy subscription's reaction time."""
SYNC_CHECK_S = 1.0
"""How often the node looks at the synchronizer's progress (seconds)."""
IDLE = "idle: no subscriber on any output, inputs not subscribed"


class StereoPipeline:
    """The node's behaviour on ``node`` (an rclpy Node or LifecycleNode); see the module docstring."""

    def __init__(self, node):
        self._node = node
        self._logger = node.get_logger()
        self._reasons = ReasonLogger(self._logger.name)
        self.settings: NodeSettings | None = None
        self.estimator: StereoEstimator | None = None
        self._outputs: dict = {}
        self._pub_frame_stats = self._pub_diagnostics = None
        self._inputs: InputSubscriptions | None = None
        self._timers: list = []
        self._worker = None
        self._stopping = threading.Event()
        self._active = False
        self._idle_logged = False
        self._parameters_callback = None

    # ------------------------------------------------------------ transitions
    def configure(self, settings: NodeSettings) -> None:
        """Load and warm up the weights, create the publishers. PSMNetError (e.g. a missing weights file) leaves
        nothing behind."""
        estimator, notices = load_estimator(settings.weights, variant=settings.variant, maxdisp=settings.maxdisp,
                                            align_corners=settings.align_corners, device=settings.device,
                                            precision=settings.precision, input_scale=settings.input_scale)
        for text in notices:
            self._logger.warning(text)
        side = max(estimator.min_input_size)
        warm = np.zeros((side, side, 3), dtype=np.uint8)
        estimator.predict(warm, warm)  # the first pass allocates and selects kernels: not on a real frame
        self.settings, self.estimator = settings, estimator
        self._stats = InferenceStats()
        self._dropped_before = 0  # frames dropped up to the previous published frame (FrameStats)
        self._frames_published = 0
        node = self._node
        # Reliable, depth 5 unless the parameters say otherwise: qos_overrides.<topic>.publisher.<policy>
        # (reliability, durability, history, depth) in a params file or on the command line, the ROS 2 way.
        out_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE)
        overrides = QoSOverridingOptions.with_default_policies()
        self._outputs = {o.topic: node.create_publisher(o.msg_type, o.topic, out_qos,
                                                        qos_overriding_options=overrides) for o in OUTPUTS}
        self._pub_frame_stats = node.create_publisher(FRAME_STATS.msg_type, FRAME_STATS.topic, out_qos,
                                                      qos_overriding_options=overrides)
        self._pub_diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self._parameters_callback is None:
            self._parameters_callback = node.add_on_set_parameters_callback(self._on_set_parameters)

    def activate(self) -> None:
        """Start the worker and the timers; subscribe to the inputs now, or (lazy) once an output has a subscriber."""
        s = self.settings
        self._queue = FrameQueue(capacity=s.frame_queue_capacity, batch_size=s.batch_size,
                                 max_delay_s=s.max_batch_delay_ms / 1000.0)
        self._sync = StereoSynchronizer(self._on_stereo_set, queue_size=s.queue_size,
                                        approximate=s.approximate_sync,
                                        tolerance_s=s.approximate_sync_tolerance_seconds)
        self._topics = self._input_topics()
        self._watch = SyncWatch([self._topics[name][0] for name in INPUTS], s.approximate_sync,
                                s.approximate_sync_tolerance_seconds)
        self._stopping = threading.Event()
        self._idle_logged = False
        self._worker = threading.Thread(target=self._work, args=(self._queue, self._stopping), name="psmnet_worker",
                                        daemon=True)
        self._worker.start()
        # Steady clock: the timers keep running when use_sim_time is set and no /clock is published.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        node = self._node
        self._timers = [node.create_timer(s.diagnostics_period, self._publish_diagnostics, clock=steady),
                        node.create_timer(SYNC_CHECK_S, self._check_sync, clock=steady)]
        if s.lazy:
            self._timers.append(node.create_timer(LISTENER_CHECK_S, self._follow_listeners, clock=steady))
        self._active = True
        self._follow_listeners()
        est = self.estimator
        min_h, min_w = est.min_input_size
        self._logger.info(
            f"ready: {est.variant} maxdisp={est.maxdisp} on {est.device} ({est.precision}), "
            f"input_scale={est.input_scale}, batch_size={s.batch_size}, "
            f"{'approximate' if s.approximate_sync else 'exact'} sync, qos={s.qos}, "
            f"{s.image_transport} images, inputs {'while an output has a subscriber' if s.lazy else 'always'}, "
            f"images from {min_w}x{min_h} px, weights: {est.weights}")

    def deactivate(self) -> None:
        """Drop the inputs and the timers and stop the worker; the model stays loaded. A forward pass the worker
        is in finishes in its daemon thread and publishes nothing."""
        self._active = False
        for timer in self._timers:
            self._node.destroy_timer(timer)
        self._timers = []
        self._unsubscribe()
        self._stopping.set()
        if self._worker is not None:
            self._queue.close()
            if self._worker is not threading.current_thread():
                self._worker.join(WORKER_JOIN_S)
            self._worker = None

    def cleanup(self) -> None:
        """Destroy the publishers and free the model and the memory its passes kept."""
        for publisher in (*self._outputs.values(), self._pub_frame_stats, self._pub_diagnostics):
            if publisher is not None:
                self._node.destroy_publisher(publisher)
        self._outputs, self._pub_frame_stats, self._pub_diagnostics = {}, None, None
        device = self.estimator.device if self.estimator is not None else None
        self.estimator = None
        gc.collect()
        if device is not None and device.type == "cuda":
            torch.cuda.empty_cache()
        return_freed_memory()

    # ----------------------------------------------------------------- inputs
    def _input_topics(self) -> dict[str, tuple[str, type]]:
        """Input name -> (topic to subscribe to, message type). Compressed images come from
        ``<image topic>/compressed`` as image_transport names them: the image topic after remapping + suffix."""
        topics = {}
        for name in INPUTS:
            if not name.endswith("image_rect"):
                topics[name] = (self._resolve(name), CameraInfo)
            elif self.settings.image_transport == "compressed":
                topics[name] = (self._resolve(name) + "/compressed", CompressedImage)
            else:
                topics[name] = (self._resolve(name), Image)
        return topics

    def _resolve(self, topic: str) -> str:
        resolve = getattr(self._node, "resolve_topic_name", None)  # rclpy Iron and later
        return resolve(topic) if resolve is not None else topic

    def _follow_listeners(self) -> None:
        """Subscribe to the inputs while an output has a subscriber (always, without ``lazy``), else drop them."""
        if not self._active:
            return
        listeners = [topic for topic, publisher in self._all_outputs() if publisher.get_subscription_count()]
        wanted = bool(listeners) or not self.settings.lazy
        if wanted and not self._inputs:
            inputs = [(*self._topics[name], self._input_callback(index)) for index, name in enumerate(INPUTS)]
            self._inputs = InputSubscriptions(self._node, inputs, self.settings.qos, self.settings.queue_size)
            self._idle_logged = False
            if self.settings.lazy:
                self._logger.info(f"subscriber on {', '.join(listeners)}: subscribing to the inputs "
                                  f"({', '.join(topic for topic, _ in self._topics.values())})")
        elif not wanted and (self._inputs or not self._idle_logged):
            self._unsubscribe()
            self._logger.info(IDLE)
            self._idle_logged = True

    def _all_outputs(self):
        yield from self._outputs.items()
        yield FRAME_STATS.topic, self._pub_frame_stats

    def _unsubscribe(self) -> None:
        if self._inputs is not None:
            self._inputs.destroy()
        self._inputs = None

    @property
    def idle(self) -> bool:
        """Active but not subscribed to the inputs (lazy, nobody listening)."""
        return self._active and not self._inputs

    def _input_callback(self, index: int):
        def callback(msg):
            stamp = stamp_ns(msg.header)
            self._watch.arrived(index, stamp, time.monotonic())
            self._sync.add(index, stamp, msg)
        return callback

    def _on_stereo_set(self, left_image, left_info: CameraInfo, right_image, right_info: CameraInfo) -> None:
        """Sync callback: validate and convert (cheap), then enqueue; never runs inference."""
        synchronized = time.monotonic()
        self._watch.matched(synchronized)
        self._stats.frame_in()
        try:
            frame = stereo_frame(left_image, left_info, right_image, right_info, synchronized,
                                 self.estimator.min_input_size, self.estimator.input_scale,
                                 (self._topics["left/image_rect"][0], self._topics["right/image_rect"][0]))
        except InputError as exc:
            self._stats.bad_input()
            self._reasons.warn(str(exc), f"dropping stereo frame {stamp_text(left_image.header)}")
            return
        self._queue.put(frame, key=frame.left.shape[:2])

    def _check_sync(self) -> None:
        verdict = self._watch.check(time.monotonic())
        if verdict is None:
            return
        level, text = verdict
        if level == "warn":  # one call site per severity: rclpy refuses a severity change at a call site
            self._logger.warning(text)
        else:
            self._logger.info(text)

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        ours = [p for p in parameters if p.name in NodeSettings.__dataclass_fields__]
        if not ours or self.settings is None:
            return SetParametersResult(successful=True)
        try:
            new = updated(self.settings, ours)
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.settings = new
        if self._active:
            self._queue.max_delay_s = new.max_batch_delay_ms / 1000.0
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------- worker thread
    def _work(self, queue: FrameQueue, stopping: threading.Event) -> None:
        last_size = None
        while not stopping.is_set():
            batch = queue.get_batch(timeout_s=0.5)
            if not batch:
                continue
            try:
                self._process(batch, stopping)
                if batch[0].left.shape != last_size:  # a new size: what the old one's passes kept no longer fits
                    last_size = batch[0].left.shape
                    return_freed_memory()
            except Exception as exc:  # keep serving: one broken batch must not end the worker
                if stopping.is_set():
                    return
                self._stats.inference_failed(len(batch))
                self._logger.error(f"dropping {len(batch)} frame(s): {type(exc).__name__}: {exc}",
                                   throttle_duration_sec=LOG_THROTTLE_S)

    def _process(self, batch: list[Frame], stopping: threading.Event) -> None:
        estimator = self.estimator

        def on_failure(index, exc):
            frame = batch[index]
            if isinstance(exc, InputError):
                self._stats.bad_input()
                reason = str(exc)
            else:
                self._stats.inference_failed()
                reason = f"CUDA out of memory even for a single {frame.left.shape[1]}x{frame.left.shape[0]} pair"
            self._reasons.warn(reason, f"dropping stereo frame {stamp_text(frame.header)}")

        def on_retry(exc):
            self._reasons.warn(f"{type(exc).__name__}: {exc}",
                               f"batch of {len(batch)} failed, retrying one pair at a time")

        passes = []  # (pairs, seconds) of each successful forward pass, in order

        def on_batch(size, seconds):
            self._stats.batch_done(size, seconds)
            passes.append((size, seconds))

        # The confidence costs a little; it is computed only when something uses it.
        with_confidence = self.settings.confidence_threshold > 0 or \
            self._outputs["confidence"].get_subscription_count() > 0
        started = time.monotonic()
        results = estimator.predict_batch_with_fallback([(f.left, f.right) for f in batch], on_failure,
                                                        on_batch, on_retry, with_confidence)
        done = [(frame, result if with_confidence else (result, None))
                for frame, result in zip(batch, results) if result is not None]
        # One pass for the whole batch, or (after a retry) one pass per pair that succeeded, in order.
        shares = [passes[0][1] / len(batch)] * len(done) if len(passes) == 1 and passes[0][0] == len(batch) \
            else [seconds for _, seconds in passes]
        for (frame, (disparity, confidence)), inference_s in zip(done, shares):
            if stopping.is_set():
                return
            self._publish(estimator, frame, disparity, confidence, started, inference_s,
                          passes[0][0] if len(passes) == 1 else 1)

    def _publish(self, est: StereoEstimator, frame: Frame, network_disparity: np.ndarray,
                 confidence: np.ndarray | None, batch_started: float, inference_s: float, batch_size: int) -> None:
        """Publish every output of one frame that has a subscriber, then its FrameStats if subscribed;
        nothing is built for an output without subscribers."""
        s = self.settings
        building = time.monotonic()
        wanted = {topic for topic, publisher in self._outputs.items()
                  if not TOPICS[topic].on_demand or publisher.get_subscription_count()}
        if self._frames_published % s.points_every:
            wanted.discard("points2")  # points2 for one frame in points_every
        stats_wanted = self._pub_frame_stats.get_subscription_count() > 0
        options = OutputOptions(s.points_decimation, s.points_organized, s.points_fields, s.depth_encoding)
        messages, products = frame_messages(network_disparity, frame.left, frame.camera, frame.header,
                                            est.max_disparity(network_disparity.shape[1]), wanted,
                                            s.min_depth, s.max_depth, confidence, s.confidence_threshold, options)
        publishing = time.monotonic()
        for topic, msg in messages.items():
            self._outputs[topic].publish(msg)
        published = time.monotonic()
        self._frames_published += 1
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
        est = self.estimator
        extra = {"device": str(est.device), "precision": est.precision, "weights": est.weights,
                 "variant": est.variant, "maxdisp": str(est.maxdisp), "input scale": str(est.input_scale),
                 "queued frames": str(len(self._queue)), "inputs subscribed": str(bool(self._inputs)).lower()}
        self._pub_diagnostics.publish(
            diagnostic_array(report, self._node.get_clock().now().to_msg(),
                             f"{self._node.get_fully_qualified_name()}: stereo inference", str(est.device), extra,
                             idle=IDLE if self.idle else None))
