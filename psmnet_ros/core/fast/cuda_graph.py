"""CUDA-graph replay of a batched tensor function: recordings by input shape, smaller batches padded."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch

from .memory import is_out_of_memory

EMPTY_GRAPH_WARNING = "The CUDA Graph is empty"
"""Start of PyTorch's warning for a capture that recorded nothing (work ran on another device or stream)."""

Key = tuple[tuple[tuple[int, ...], torch.dtype], ...]
"""(shape, dtype) of every input."""


@dataclass
class _Recording:
    graph: torch.cuda.CUDAGraph
    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor


def input_key(inputs: tuple[torch.Tensor, ...]) -> Key:
    return tuple((tuple(x.shape), x.dtype) for x in inputs)


def fitting_key(recorded: list[Key], wanted: Key) -> Key | None:
    """The recorded key that serves a call with the ``wanted`` shapes: the same shapes and dtypes
    after dimension 0 (the batch), a batch at least as large, the smallest such; None if none."""
    rows = wanted[0][0][0]
    per_row = tuple((shape[1:], dtype) for shape, dtype in wanted)
    fits = [k for k in recorded if tuple((s[1:], d) for s, d in k) == per_row and k[0][0][0] >= rows]
    return min(fits, key=lambda k: k[0][0][0], default=None)


def error_chain(exc: BaseException) -> str:
    """"Type: first line" of ``exc`` and of every exception it was raised from or during, outermost first."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).strip().splitlines()
        parts.append(f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(parts)


class CudaGraphRunner:
    """Calls ``fn(*inputs)`` (CUDA tensors in, one CUDA tensor out) through CUDA graphs.

    Dimension 0 of every input and of the output is the batch, and rows must not influence
    each other (inference with folded BatchNorm). A call replays the smallest recording with
    the same shapes past the batch and at least as many rows: its first rows take the inputs,
    the others keep earlier values, and the first rows of the output are returned. So only a
    batch larger than every recording of its image size is recorded: a node whose batches vary
    under load records a few sizes once, then pads. Recording: ``warmup`` calls on the
    runner's side stream (which also lets cudnn.benchmark choose its algorithms), then the
    capture on that same stream, on the inputs' device; at most ``max_graphs`` recordings
    are kept (least recently used dropped), all in one memory pool, which is safe because
    replays are serialized and each output is consumed before the next replay.

    Failures: running out of memory while recording is raised (the caller frees memory, e.g.
    with :meth:`release`, and may retry); any other failure, or a capture that recorded
    nothing, is warned once with its whole cause chain and switches this runner to eager
    calls for good (:attr:`fallback_reason` says why).

    The returned tensor is a view of the recording's static output: it is overwritten by the
    next replay, so copy it before calling again. Not thread-safe: the caller serializes calls.
    """

    def __init__(self, fn: Callable[..., torch.Tensor], warmup: int = 3, max_graphs: int = 8):
        self.fn, self.warmup, self.max_graphs = fn, warmup, max_graphs
        self._recordings: OrderedDict[Key, _Recording] = OrderedDict()
        self._pool = None
        self._stream: torch.cuda.Stream | None = None
        self.fallback_reason: str | None = None
        self.replays = 0

    @property
    def recorded_shapes(self) -> list[Key]:
        """Keys (shape, dtype per input) that currently have a recording, least recently used first."""
        return list(self._recordings)

    @property
    def fell_back(self) -> bool:
        """Whether recording failed and every call now runs eagerly."""
        return self.fallback_reason is not None

    def release(self) -> None:
        """Drop every recording; their memory pool goes back to PyTorch's cache (``torch.cuda.empty_cache``
        then returns it to the device). Later calls record again."""
        self._recordings.clear()
        self._pool = None

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.fell_back:
            return self.fn(*inputs)
        key = fitting_key(list(self._recordings), input_key(inputs))
        if key is None:
            key = input_key(inputs)
            try:
                recording = self._record(inputs)
            except Exception as exc:  # noqa: BLE001  any failure: fall back (out of memory: re-raised)
                if is_out_of_memory(exc):
                    raise
                self._fall_back(key, exc)
                return self.fn(*inputs)
            self._recordings[key] = recording
            while len(self._recordings) > self.max_graphs:
                self._recordings.popitem(last=False)
        recording = self._recordings[key]
        self._recordings.move_to_end(key)
        rows = inputs[0].shape[0]
        for static, x in zip(recording.inputs, inputs):
            static[:rows].copy_(x, non_blocking=True)
        recording.graph.replay()
        self.replays += 1
        return recording.output[:rows]

    def _fall_back(self, key: Key, exc: BaseException) -> None:
        self.fallback_reason = error_chain(exc)
        self.release()
        warnings.warn(f"CUDA graph recording failed for input shapes {[k[0] for k in key]}; running eagerly "
                      f"from now on: {self.fallback_reason}", RuntimeWarning, stacklevel=3)

    def _record(self, inputs: tuple[torch.Tensor, ...]) -> _Recording:
        device = inputs[0].device
        if self._stream is None:
            self._stream = torch.cuda.Stream(device=device)
        side, current = self._stream, torch.cuda.current_stream(device)
        static = tuple(x.clone() for x in inputs)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                self.fn(*static)
        current.wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # The side stream is the capture stream: it lives on the inputs' device, whatever the
            # calling thread's current device is (the default capture stream would not).
            with torch.cuda.graph(graph, pool=self._pool, stream=side, capture_error_mode="thread_local"):
                output = self.fn(*static)
        for w in caught:
            if str(w.message).startswith(EMPTY_GRAPH_WARNING):
                raise RuntimeError(f"the capture recorded no work on {device} ({w.message})")
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return _Recording(graph, static, output)
