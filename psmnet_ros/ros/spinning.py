"""An rclpy executor spun in a background thread, stopped without racing rclpy's shutdown.

rclpy's ``Executor.shutdown()`` destroys the executor's guard condition (and sets it to None) without waiting for a
``spin()`` running in another thread: if that thread is between two waits (building its wait set, or triggering
the guard), it fails with ``InvalidHandle: cannot use Destroyable because destruction was requested`` or an
AttributeError on None, printed as a thread traceback while the process still exits 0. Here the spinning thread
is ended first, and the executor shut down after it has returned.
"""
from __future__ import annotations

import threading

from rclpy.executors import Executor, ExternalShutdownException, ShutdownException, SingleThreadedExecutor

SPIN_PERIOD_S = 0.05
"""Longest wait of one spin_once (seconds): how long stop() may wait for the thread to notice."""


class SpinThread:
    """Spins ``nodes`` (with ``executor``, by default a new SingleThreadedExecutor on the first node's context) in
    a daemon thread until :meth:`stop`; usable as a context manager."""

    def __init__(self, *nodes, executor: Executor | None = None, name: str = "ros_spin"):
        self.executor = executor or SingleThreadedExecutor(context=nodes[0].context)
        for node in nodes:
            self.executor.add_node(node)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        context = self.executor.context
        try:
            while not self._stopping.is_set() and context.ok():
                self.executor.spin_once(timeout_sec=SPIN_PERIOD_S)
        except (ExternalShutdownException, ShutdownException):
            pass  # the context was shut down under us: nothing more to spin

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the spinning thread (waiting up to ``timeout_s``), then shut the executor down."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self.executor.shutdown()

    def __enter__(self) -> SpinThread:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
