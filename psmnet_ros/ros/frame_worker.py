"""The node's worker thread: batches of synchronized frames from the queue, a forward pass each, and every
output of each frame that someone takes, published with its FrameStats."""
from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.estimator import StereoEstimator
from psmnet_ros.core.frame_queue import FrameQueue
from psmnet_ros.ros.diagnostics import InferenceStats
from psmnet_ros.ros.frame_stats import FrameTiming, frame_stats_msg
from psmnet_ros.ros.memory import return_freed_memory
from psmnet_ros.ros.node_logging import LOG_THROTTLE_S, ReasonLogger
from psmnet_ros.ros.outputs import TOPICS, FrameBuffers, OutputOptions, frame_messages
from psmnet_ros.ros.parameters import NodeSettings
from psmnet_ros.ros.serialized_publishing import publish_serialized
from psmnet_ros.ros.stereo_input import Frame, stamp_text

WORKER_JOIN_S = 0.5
"""How long stopping waits for the worker thread to end (seconds): long enough to finish a
publication, not a forward pass (seconds on a CPU, and it cannot be interrupted)."""


class FrameWorker:
    """A daemon thread owning the forward passes of one activation. ``settings()`` gives the current parameter
    values (run-time changes apply to the next frame); ``outputs`` maps each output topic to its publisher."""

    def __init__(self, settings: Callable[[], NodeSettings], estimator: StereoEstimator, queue: FrameQueue,
                 stats: InferenceStats, outputs: dict, frame_stats_publisher, reasons: ReasonLogger, logger):
        self._settings, self._estimator, self._queue, self._stats = settings, estimator, queue, stats
        self._outputs, self._pub_frame_stats = outputs, frame_stats_publisher
        self._reasons, self._logger = reasons, logger
        self._stopping = threading.Event()
        self._frames_published = 0
        self._dropped_before = 0  # frames dropped up to the previous published frame (FrameStats)
        self._buffers = FrameBuffers()  # the messages of the frame being published, reused by the next
        self._thread = threading.Thread(target=self._run, name="psmnet_worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Publish nothing more; wait up to WORKER_JOIN_S for the thread (a forward pass it is in finishes in the
        daemon thread, its result dropped)."""
        self._stopping.set()
        self._queue.close()
        if self._thread is not threading.current_thread():
            self._thread.join(WORKER_JOIN_S)

    def _run(self) -> None:
        queue, stopping = self._queue, self._stopping
        last_size = None
        while not stopping.is_set():
            batch = queue.get_batch(timeout_s=0.5)
            if not batch:
                continue
            try:
                self._process(batch)
                if batch[0].left.shape != last_size:  # a new size: what the old one's passes kept no longer fits
                    last_size = batch[0].left.shape
                    return_freed_memory()
            except Exception as exc:  # keep serving: one broken batch must not end the worker
                if stopping.is_set():
                    return
                self._stats.inference_failed(len(batch))
                self._logger.error(f"dropping {len(batch)} frame(s): {type(exc).__name__}: {exc}",
                                   throttle_duration_sec=LOG_THROTTLE_S)

    def _process(self, batch: list[Frame]) -> None:
        estimator, stopping = self._estimator, self._stopping

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
        with_confidence = self._settings().confidence_threshold > 0 or \
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
        s = self._settings()
        building = time.monotonic()
        wanted = {topic for topic, publisher in self._outputs.items()
                  if not TOPICS[topic].on_demand or publisher.get_subscription_count()}
        if self._frames_published % s.points_every:
            wanted.discard("points2")  # points2 for one frame in points_every
        stats_wanted = self._pub_frame_stats.get_subscription_count() > 0
        options = OutputOptions(s.points_decimation, s.points_organized, s.points_fields, s.depth_encoding)
        messages, products = frame_messages(network_disparity, frame.left, frame.camera, frame.header,
                                            est.max_disparity(network_disparity.shape[1]), wanted,
                                            s.min_depth, s.max_depth, confidence, s.confidence_threshold, options,
                                            self._buffers)
        publishing = time.monotonic()
        for topic, msg in messages.items():
            publish_serialized(self._outputs[topic], msg)
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

