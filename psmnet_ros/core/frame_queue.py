"""Bounded drop-oldest queue that hands a single consumer batches of same-size frames.

Producers (the sync callback) call :meth:`FrameQueue.put`; when the queue is full the
OLDEST waiting frame is dropped, so memory stays bounded and the newest frame is
never lost. The consumer (the inference worker) calls :meth:`FrameQueue.get_batch`.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Hashable, NamedTuple

from .errors import InputError


class _Entry(NamedTuple):
    key: Hashable
    item: Any
    arrived: float  # time.monotonic() seconds


class FrameQueue:
    """Thread-safe FIFO of at most ``capacity`` items, each tagged with a batching key.

    capacity: items kept at most (>= batch_size). batch_size: most items per batch (>= 1).
    max_delay_s: how long after the oldest waiting item arrived a batch may wait to fill
    (seconds, >= 0; changeable while running through :attr:`max_delay_s`).
    """

    def __init__(self, capacity: int, batch_size: int, max_delay_s: float = 0.0):
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        if capacity < batch_size:
            raise InputError(f"capacity ({capacity}) must be at least batch_size ({batch_size})")
        self.capacity = capacity
        self.batch_size = batch_size
        self._cond = threading.Condition()
        self._entries: deque[_Entry] = deque()
        self._closed = False
        self.dropped = 0
        self.max_delay_s = max_delay_s

    @property
    def max_delay_s(self) -> float:
        return self._max_delay_s

    @max_delay_s.setter
    def max_delay_s(self, seconds: float) -> None:
        if not seconds >= 0:
            raise InputError(f"max batch delay must be >= 0 s, got {seconds}")
        with self._cond:
            self._max_delay_s = float(seconds)
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def put(self, item: Any, key: Hashable = None) -> int:
        """Append ``item``; returns how many old items were dropped to make room (0 or 1)."""
        with self._cond:
            dropped = 0
            if len(self._entries) >= self.capacity:
                self._entries.popleft()
                dropped = 1
                self.dropped += 1
            self._entries.append(_Entry(key, item, time.monotonic()))
            self._cond.notify_all()
            return dropped

    def get_batch(self, timeout_s: float | None = None) -> list:
        """Take the oldest item and the consecutive items after it that share its key.

        Waits up to ``timeout_s`` (None: forever) for a first item, then until the batch
        holds ``batch_size`` items, an item with another key queues behind it, or
        ``max_delay_s`` has passed since the oldest item arrived. Returns the items in
        arrival order; [] on timeout or once :meth:`close` was called.
        """
        give_up = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while not self._closed:
                if not self._entries:
                    remaining = None if give_up is None else give_up - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return []
                    self._cond.wait(remaining)
                    continue
                n = self._same_key_run()
                full = n >= self.batch_size or n < len(self._entries)
                remaining = self._entries[0].arrived + self._max_delay_s - time.monotonic()
                if full or remaining <= 0:
                    return [self._entries.popleft().item for _ in range(n)]
                self._cond.wait(remaining)
            return []

    def close(self) -> None:
        """Wake the consumer; from now on get_batch returns [] at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _same_key_run(self) -> int:
        """Length of the run of entries from the front sharing the first key, capped at batch_size."""
        first = self._entries[0].key
        n = 0
        for entry in self._entries:
            if entry.key != first or n == self.batch_size:
                break
            n += 1
        return n
