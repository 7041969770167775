"""SIGINT and SIGTERM for psmnet_node: a clean stop with exit status 0, whatever the process is doing.

rclpy's own handlers are not used: they shut the context down from another thread while the
executor and the worker still use it (tracebacks out of spin_once), and before rclpy.init a
signal kills the process (SIGTERM) or raises KeyboardInterrupt in the middle of an import.
What a signal does depends on the phase the node is in:

- IMPORTING (from the first line of node.py, before torch and rclpy are imported, to main):
  nothing needs cleaning up yet, so the process ends at once with status 0.
- STARTING: the request is recorded; main checks it before and after building the node.
- LOADING (inside :func:`interruptible`: the model being read and built, seconds on a CPU):
  :class:`StopRequested` is raised in the main thread, which unwinds the construction.
- RUNNING: the request is recorded; main's spin loop sees it within its spin period.
- STOPPING: a second signal while the node stops ends the process at once with status 0.

A signal can only be caught once the interpreter runs the first line of node.py (a few tens of
milliseconds after exec); before that the default action applies (SIGTERM ends the process
with status -15).
"""
from __future__ import annotations

import ctypes
import enum
import os
import signal
import sys
import threading
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Phase(enum.Enum):
    IMPORTING = "importing"
    STARTING = "starting"
    LOADING = "loading"
    RUNNING = "running"
    STOPPING = "stopping"


class StopRequested(BaseException):
    """Raised in the main thread by a stop signal while the model loads (a BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` on the way swallows it)."""


requested = threading.Event()
"""Set by the first stop signal."""
_phase = Phase.IMPORTING


def install(phase: Phase) -> None:
    """Handle SIGINT and SIGTERM from now on (main thread only), starting in ``phase``."""
    set_phase(phase)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)


def set_phase(phase: Phase) -> None:
    global _phase
    _phase = phase


@contextmanager
def interruptible():
    """Within this block a stop signal raises StopRequested (also one that came just before)."""
    if requested.is_set():
        raise StopRequested()
    previous = _phase
    set_phase(Phase.LOADING)
    try:
        yield
    finally:
        set_phase(previous)


def exit_now(status: int = 0) -> None:
    """End the process with ``status`` without the interpreter's clean-up; buffered output is written first."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # best effort: a closed stream, or a write this signal interrupted
            pass
    try:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers too (rcutils logging)
    except (AttributeError, OSError, TypeError):
        pass
    os._exit(status)


def _on_signal(signum, frame) -> None:
    if _phase in (Phase.IMPORTING, Phase.STOPPING):
        exit_now()
    first = not requested.is_set()
    requested.set()
    if first and _phase is Phase.LOADING:
        raise StopRequested()
