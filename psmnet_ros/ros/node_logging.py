"""How the node logs: one throttle per distinct bad-input reason, and Python warnings routed to its logger."""
from __future__ import annotations

import threading
import warnings

import rclpy

LOG_THROTTLE_S = 5.0
"""At most one log line per distinct reason in this many seconds."""
MAX_REASON_LOGGERS = 256
"""Distinct reasons remembered for throttling before the memory is reset."""


class ReasonLogger:
    """Logs "context: reason" as a warning at most once per LOG_THROTTLE_S for each distinct reason.

    rclpy throttles per call site and logger object, so each reason gets its own logger object (same name):
    a recurring problem cannot hide a different one. Thread-safe.
    """

    def __init__(self, name: str):
        self._name = name
        self._loggers = {}
        self._lock = threading.Lock()

    def warn(self, reason: str, context: str) -> None:
        with self._lock:
            if reason not in self._loggers:
                if len(self._loggers) >= MAX_REASON_LOGGERS:
                    self._loggers.clear()
                self._loggers[reason] = rclpy.logging.get_logger(self._name)
            logger = self._loggers[reason]
        logger.warning(f"{context}: {reason}", throttle_duration_sec=LOG_THROTTLE_S)


def log_python_warnings(logger) -> None:
    """Route Python warnings (the core's, e.g. a CUDA graph that could not be recorded) to ``logger``, so that
    they reach /rosout like the node's own messages instead of bare stderr."""
    def show(message, category, filename, lineno, file=None, line=None):
        logger.warning(f"{category.__name__}: {message}")
    warnings.showwarning = show
