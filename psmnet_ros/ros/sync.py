"""Time synchronizer for stereo inputs: a small, pure-Python stand-in for message_filters.

Policies
--------
exact (default): a set is one message per input, all with the same stamp.
approximate: a set is one message per input whose stamps lie within
``tolerance_s`` of each other (max - min <= tolerance). Among the sets
available when a message arrives, the one with the smallest spread is emitted
(oldest first on ties); frames further apart than the tolerance are never paired.
A set is emitted as soon as it exists (lowest latency), so keep the tolerance
below half the frame period or a late frame could pair with its neighbour's.

Bookkeeping: a message waits for its partners until ``queue_size`` newer messages
have arrived on its input, then it is dropped. So each input holds at most
``queue_size`` messages, and for stamps in arrival order the oldest stamp goes
first, as in message_filters. Unlike there, a message stamped in the future that
never finds partners (a camera whose clock is off) leaves after ``queue_size``
arrivals instead of keeping its place until time passes its stamp, so it cannot
starve the input. After a set is emitted, every queued message at or older than
that input's member of the set is discarded, and later arrivals that old are
discarded on arrival, unless they are more than ``JUMP_BACK_S`` older: then time
has jumped back (a bag played in a loop, a restarted clock), and synchronization
starts afresh. A second message with a stamp already queued on the same input
replaces the first (and counts as the newer arrival). Every message discarded
without being matched counts in ``dropped``.
"""
from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from collections import deque
from typing import Any, Callable

JUMP_BACK_S = 1.0
"""A stamp this much older than the last set on its input means time jumped back (seconds)."""


class StereoSynchronizer:
    """Collects messages from ``n_inputs`` inputs and calls ``callback(*msgs)`` per matched set.

    ``add`` is thread-safe. The callback runs inside ``add`` with the
    synchronizer locked, so sets are delivered in order; it must be quick
    (enqueue the work, do not process it there).
    """

    def __init__(self, callback: Callable[..., Any], queue_size: int = 10,
                 approximate: bool = False, tolerance_s: float = 0.0, n_inputs: int = 4):
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if n_inputs < 1:
            raise ValueError(f"n_inputs must be at least 1, got {n_inputs}")
        if not tolerance_s >= 0:
            raise ValueError(f"tolerance_s must be >= 0 seconds, got {tolerance_s}")
        self._callback = callback
        self._queue_size = int(queue_size)
        self._n_inputs = int(n_inputs)
        # The exact policy is the approximate search with zero tolerance.
        self._tolerance_ns = round(tolerance_s * 1e9) if approximate else 0
        self._stamps: list[list[int]] = [[] for _ in range(self._n_inputs)]  # sorted, per input
        self._arrived = [0] * self._n_inputs  # messages that arrived on each input so far
        self._arrival_no: list[dict[int, int]] = [{} for _ in range(self._n_inputs)]  # queued stamp -> arrival
        self._arrivals: list[deque[tuple[int, int]]] = [deque() for _ in range(self._n_inputs)]  # (arrival, stamp)
        self._messages: list[dict[int, Any]] = [{} for _ in range(self._n_inputs)]
        self._last_emitted: list[int | None] = [None] * self._n_inputs
        self._lock = threading.RLock()
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Messages queued and not yet matched or dropped."""
        with self._lock:
            return sum(len(stamps) for stamps in self._stamps)

    def add(self, index: int, stamp_ns: int, msg: Any) -> None:
        """Queue ``msg`` (stamped ``stamp_ns`` nanoseconds) on input ``index``; emit a set if one is complete."""
        if not 0 <= index < self._n_inputs:
            raise IndexError(f"input index {index} out of range 0..{self._n_inputs - 1}")
        stamp_ns = int(stamp_ns)
        with self._lock:
            last = self._last_emitted[index]
            if last is not None and stamp_ns < last - JUMP_BACK_S * 1e9:
                self._restart()
            elif last is not None and stamp_ns <= last:
                self.dropped += 1
                return
            stamps, messages = self._stamps[index], self._messages[index]
            if stamp_ns in messages:
                self.dropped += 1  # the replaced duplicate
            else:
                insort(stamps, stamp_ns)
            messages[stamp_ns] = msg
            self._arrived[index] += 1
            self._arrival_no[index][stamp_ns] = self._arrived[index]
            self._arrivals[index].append((self._arrived[index], stamp_ns))
            self._expire(index)
            members = self._best_set(stamp_ns)
            if members is not None:
                self._emit(members)

    def _expire(self, index: int) -> None:
        """Drop the messages of input ``index`` that ``queue_size`` newer messages have followed."""
        stamps, messages, arrival_no, arrivals = (self._stamps[index], self._messages[index],
                                                  self._arrival_no[index], self._arrivals[index])
        first_kept = self._arrived[index] - self._queue_size + 1
        while arrivals and arrivals[0][0] < first_kept:
            number, stamp = arrivals.popleft()
            if arrival_no.get(stamp) == number:  # else already matched, cut or replaced
                stamps.remove(stamp)
                del messages[stamp], arrival_no[stamp]
                self.dropped += 1

    def _restart(self) -> None:
        """Forget every queued message and emitted stamp (time jumped back)."""
        self.dropped += self.pending
        for queued in (*self._stamps, *self._messages, *self._arrival_no, *self._arrivals):
            queued.clear()
        self._last_emitted = [None] * self._n_inputs

    def _best_set(self, new_stamp: int) -> list[int] | None:
        """Stamps (one per input) of the tightest set within tolerance, or None.

        Sets are only looked for when a message arrives, so any set that exists
        now contains the new message: its smallest stamp (the pivot) lies in
        [new_stamp - tolerance, new_stamp]. For a pivot, the tightest choice on
        each other input is the first stamp not below it.
        """
        if any(not stamps for stamps in self._stamps):
            return None
        best, best_spread, best_pivot = None, None, None
        for pivot_input, pivot_stamps in enumerate(self._stamps):
            lo = bisect_left(pivot_stamps, new_stamp - self._tolerance_ns)
            hi = bisect_right(pivot_stamps, new_stamp)
            for pivot in pivot_stamps[lo:hi]:
                members = []
                for i, stamps in enumerate(self._stamps):
                    if i == pivot_input:
                        members.append(pivot)
                        continue
                    k = bisect_left(stamps, pivot)
                    if k == len(stamps):
                        break
                    members.append(stamps[k])
                else:
                    spread = max(members) - pivot
                    if spread <= self._tolerance_ns and (
                            best is None or (spread, pivot) < (best_spread, best_pivot)):
                        best, best_spread, best_pivot = members, spread, pivot
        return best

    def _emit(self, members: list[int]) -> None:
        """Remove the set and everything older per input, then call the callback."""
        msgs = []
        for i, stamp in enumerate(members):
            stamps, messages = self._stamps[i], self._messages[i]
            msgs.append(messages[stamp])
            cut = bisect_right(stamps, stamp)
            for old in stamps[:cut]:
                del messages[old], self._arrival_no[i][old]
            self.dropped += cut - 1
            del stamps[:cut]
            self._last_emitted[i] = stamp
        self._callback(*msgs)
