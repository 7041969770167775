"""Exceptions raised by the core: one readable message each, no traceback needed; and how a program's
``main`` turns them into one line on stderr."""
import functools
import sys


class PSMNetError(Exception):
    """Base class of the errors this package raises on purpose."""


class CheckpointError(PSMNetError):
    """A checkpoint file is missing, unreadable, or does not fit the model."""


class InputError(PSMNetError, ValueError):
    """An image pair, calibration or argument the estimator cannot use."""


def one_line_errors(prog: str):
    """Decorate ``main``: a PSMNetError or OSError becomes ``prog: error: ...`` on stderr and exit code 2."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            try:
                return main(argv)
            except (PSMNetError, OSError) as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
        return run
    return wrap
