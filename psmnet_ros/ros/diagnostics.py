"""Counters and timings of the node, summarised as a diagnostic_msgs/DiagnosticArray."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

WINDOW = 100
"""Batches the latency and batch-size statistics are taken over."""


@dataclass(frozen=True)
class Report:
    """What happened since the previous report (rates in Hz, latencies in ms) and totals.

    Drops count frames (stereo sets), except dropped_sync, which counts input messages the
    synchronizer discarded unmatched.
    """

    period_s: float
    input_rate_hz: float
    output_rate_hz: float
    latency_mean_ms: float
    latency_p95_ms: float
    last_batch_size: int
    mean_batch_size: float
    dropped_queue: int
    dropped_sync: int
    dropped_bad_input: int
    dropped_inference: int
    dropped_in_period: int

    @property
    def dropped_total(self) -> int:
        return self.dropped_queue + self.dropped_sync + self.dropped_bad_input + self.dropped_inference


class InferenceStats:
    """Thread-safe event counts of the sync callback and the worker; :meth:`report` sums them up."""

    def __init__(self):
        self._lock = threading.Lock()
        self._inputs = self._outputs = 0
        self._bad_input = self._failed = 0
        self._latencies_ms: deque[float] = deque(maxlen=WINDOW)
        self._batch_sizes: deque[int] = deque(maxlen=WINDOW)
        self._last = (time.monotonic(), 0, 0, 0)  # time, inputs, outputs, drops at the last report

    def frame_in(self) -> None:
        """A synchronized stereo set arrived."""
        with self._lock:
            self._inputs += 1

    def frame_out(self) -> None:
        """A result was published."""
        with self._lock:
            self._outputs += 1

    def bad_input(self) -> None:
        """A set was rejected before inference (encoding, size, calibration...)."""
        with self._lock:
            self._bad_input += 1

    def inference_failed(self, frames: int = 1) -> None:
        """Frames lost to an inference error (e.g. CUDA out of memory even one at a time)."""
        with self._lock:
            self._failed += frames

    def frames_lost(self) -> int:
        """Frames dropped so far for bad input or inference errors (the queue counts its own drops)."""
        with self._lock:
            return self._bad_input + self._failed

    def batch_done(self, size: int, seconds: float) -> None:
        """One forward pass over ``size`` pairs took ``seconds``."""
        with self._lock:
            self._batch_sizes.append(size)
            self._latencies_ms.append(seconds * 1000.0)

    def report(self, queue_dropped: int, sync_dropped: int) -> Report:
        """Rates since the previous call; drop totals include the queue's and the synchronizer's."""
        now = time.monotonic()
        with self._lock:
            then, inputs, outputs, drops = self._last
            dropped = queue_dropped + sync_dropped + self._bad_input + self._failed
            period = max(now - then, 1e-9)
            latencies = np.array(self._latencies_ms, dtype=np.float64)
            sizes = list(self._batch_sizes)
            report = Report(
                period_s=period,
                input_rate_hz=(self._inputs - inputs) / period,
                output_rate_hz=(self._outputs - outputs) / period,
                latency_mean_ms=float(latencies.mean()) if latencies.size else float("nan"),
                latency_p95_ms=float(np.percentile(latencies, 95)) if latencies.size else float("nan"),
                last_batch_size=sizes[-1] if sizes else 0,
                mean_batch_size=float(np.mean(sizes)) if sizes else 0.0,
                dropped_queue=queue_dropped, dropped_sync=sync_dropped,
                dropped_bad_input=self._bad_input, dropped_inference=self._failed,
                dropped_in_period=dropped - drops)
            self._last = (now, self._inputs, self._outputs, dropped)
        return report


def diagnostic_array(report: Report, stamp, name: str, hardware_id: str,
                     extra: dict[str, str], idle: str | None = None) -> DiagnosticArray:
    """One DiagnosticStatus called ``name``: WARN while frames are being dropped, else OK.

    stamp: builtin_interfaces/Time of the report; hardware_id: the torch device;
    extra: further key/value pairs (checkpoint, precision...); idle: the message while the node is idle
    (lazy, nobody subscribed), level OK.
    """
    if idle is not None and not report.dropped_in_period:
        level, message = DiagnosticStatus.OK, idle
    elif report.dropped_in_period:
        level = DiagnosticStatus.WARN
        message = f"dropped {report.dropped_in_period} frame(s) in the last {report.period_s:.1f} s"
    elif report.input_rate_hz == 0.0:
        level, message = DiagnosticStatus.OK, "waiting for synchronized stereo input"
    else:
        level, message = DiagnosticStatus.OK, "running"
    values = {
        "input rate (Hz)": f"{report.input_rate_hz:.2f}",
        "output rate (Hz)": f"{report.output_rate_hz:.2f}",
        "inference latency mean (ms)": f"{report.latency_mean_ms:.1f}",
        "inference latency p95 (ms)": f"{report.latency_p95_ms:.1f}",
        "last batch size": str(report.last_batch_size),
        "mean batch size": f"{report.mean_batch_size:.2f}",
        "dropped total": str(report.dropped_total),
        "dropped frames: queue full": str(report.dropped_queue),
        "dropped messages: not synchronized": str(report.dropped_sync),
        "dropped frames: bad input": str(report.dropped_bad_input),
        "dropped frames: inference error": str(report.dropped_inference),
        **extra,
    }
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=v) for k, v in values.items()])
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
