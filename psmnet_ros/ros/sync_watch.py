"""Explains stereo sets that do not complete: which inputs arrive, which do not, how far their stamps lie apart.

Pure Python (no rclpy): the node reports arrivals and matched sets and calls ``check`` from a timer; it logs
what ``check`` returns. Times are seconds on any monotonic clock; stamps are integer nanoseconds.
"""
from __future__ import annotations

import statistics
import threading
from collections import deque

PATIENCE_S = 3.0
"""Seconds without a complete set, while inputs arrive, before the first warning."""
REPEAT_S = 10.0
"""Seconds between repeated warnings while the problem lasts."""
HISTORY = 20
"""Stamps remembered per input to measure the offsets between inputs."""


class SyncWatch:
    """Watches ``names`` (the inputs' resolved topic names, in the synchronizer's order)."""

    def __init__(self, names: list[str], approximate: bool, tolerance_s: float,
                 patience_s: float = PATIENCE_S, repeat_s: float = REPEAT_S):
        self._names = list(names)
        self._approximate = approximate
        self._tolerance_s = tolerance_s
        self._patience_s = patience_s
        self._repeat_s = repeat_s
        self._lock = threading.Lock()
        self._last_arrival: list[float | None] = [None] * len(names)
        self._stamps: list[deque[int]] = [deque(maxlen=HISTORY) for _ in names]
        self._last_match: float | None = None
        self._since: float | None = None  # start of the current watch (first arrival, or last match)
        self._warned_at: float | None = None

    def arrived(self, index: int, stamp_ns: int, now_s: float) -> None:
        """Input ``index`` received a message stamped ``stamp_ns``."""
        with self._lock:
            self._last_arrival[index] = now_s
            self._stamps[index].append(stamp_ns)
            if self._since is None:
                self._since = now_s

    def matched(self, now_s: float) -> None:
        """A complete stereo set left the synchronizer."""
        with self._lock:
            self._last_match = now_s
            self._since = now_s

    def check(self, now_s: float) -> tuple[str, str] | None:
        """("warn", text) while sets fail to complete (throttled), ("info", text) once they flow again, or None."""
        with self._lock:
            if self._warned_at is not None and self._last_match is not None and self._last_match >= self._warned_at:
                self._warned_at = None
                return "info", "stereo sets are complete again; frames are being processed"
            if self._since is None or now_s - self._since < self._patience_s:
                return None
            recent = [t is not None and now_s - t < self._patience_s for t in self._last_arrival]
            if not any(recent):
                return None  # nothing arrives at all: idle, not a synchronization problem
            if self._warned_at is not None and now_s - self._warned_at < self._repeat_s:
                return None
            self._warned_at = now_s
            return "warn", self._explain(now_s, recent)

    def _explain(self, now_s: float, recent: list[bool]) -> str:
        waited = now_s - self._since
        head = f"no complete stereo set in {waited:.1f} s"
        if not all(recent):
            arriving = [n for n, r in zip(self._names, recent) if r]
            silent = [n for n, r in zip(self._names, recent) if not r]
            return (f"{head}: receiving {', '.join(arriving)}; nothing on {', '.join(silent)}. "
                    "Check the remaps (ros2 topic list) and that those publishers' QoS matches the "
                    "node's input QoS (ros2 topic info -v; parameter qos)")
        offsets_ms = [self._offset_ms(index) for index in range(1, len(self._names))]
        offsets = ", ".join(f"{name} {offset:+.1f} ms" for name, offset in zip(self._names[1:], offsets_ms))
        spread_s = (max(offsets_ms + [0.0]) - min(offsets_ms + [0.0])) / 1000.0
        if self._approximate:
            fix = (f"approximate_sync_tolerance_seconds is {self._tolerance_s:g} s; set it above the offset "
                   f"(e.g. {2 * spread_s:.3g}) or fix the publishers' stamps")
        else:
            fix = (f"exact sync needs equal stamps; use approximate_sync:=true with "
                   f"approximate_sync_tolerance_seconds above the offset (e.g. {2 * spread_s:.3g}) "
                   "or fix the publishers' stamps")
        return (f"{head}: all inputs arrive but their stamps do not match; stamps relative to "
                f"{self._names[0]}'s: {offsets}. {fix}")

    def _offset_ms(self, index: int) -> float:
        """Median over the reference input's recent stamps of the offset to input ``index``'s nearest stamp
        (milliseconds; a tie goes to the later stamp). Only reference stamps no newer than every input's newest are
        used: their partners have arrived even when one input's callbacks lag behind the others'."""
        newest_everywhere = min(stamps[-1] for stamps in self._stamps)
        references = [stamp for stamp in self._stamps[0] if stamp <= newest_everywhere] or list(self._stamps[0])
        candidates = list(self._stamps[index])
        nearest = [min(candidates, key=lambda stamp: (abs(stamp - ref), -stamp)) - ref for ref in references[-5:]]
        return statistics.median(nearest) / 1e6
