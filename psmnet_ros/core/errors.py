"""Exceptions raised by the core: one readable message each, no traceback needed."""


class PSMNetError(Exception):
    """Base class of the errors this package raises on purpose."""


class CheckpointError(PSMNetError):
    """A checkpoint file is missing, unreadable, or does not fit the model."""


class InputError(PSMNetError, ValueError):
    """An image pair, calibration or argument the estimator cannot use."""
