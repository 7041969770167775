"""What psmnet_node does, apart from being a node: load the network, publish the outputs, subscribe to the inputs
(only while someone listens, by default), synchronize, infer on a worker thread, report diagnostics.

One object, driven in the order of a managed node's states, so that the plain node (:mod:`.node`, every step at
start-up) and the lifecycle node (:mod:`.lifecycle_node`, one step per transition) run the same code:
``configure`` (parameters checked, weights loaded and warmed up, publishers) -> ``activate`` (worker, timers,
inputs) -> ``deactivate`` (inputs dropped, worker stopped, model kept) -> ``cleanup`` (model freed).
"""
from __future__ import annotations

import gc
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
from psmnet_ros.ros.frame_worker import FrameWorker
from psmnet_ros.ros.input_qos import InputSubscriptions
from psmnet_ros.ros.memory import return_freed_memory
from psmnet_ros.ros.node_logging import ReasonLogger
from psmnet_ros.ros.outputs import FRAME_STATS, OUTPUTS
from psmnet_ros.ros.parameters import NodeSettings, ParameterError, updated
from psmnet_ros.ros.stereo_input import INPUTS, stamp_text, stereo_frame
from psmnet_ros.ros.sync import StereoSynchronizer
from psmnet_ros.ros.sync_watch import SyncWatch

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
        self._idle_logged = False
        self._worker = FrameWorker(lambda: self.settings, self.estimator, self._queue, self._stats, self._outputs,
                                   self._pub_frame_stats, self._reasons, self._logger)
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
        if self._worker is not None:
            self._worker.stop()
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
