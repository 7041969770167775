"""CUDA-graph replay of a tensor function, one recording per input shape."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass
class _Recording:
    graph: torch.cuda.CUDAGraph
    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor


class CudaGraphRunner:
    """Calls ``fn(*inputs)`` (CUDA tensors in, one CUDA tensor out) through CUDA graphs.

    The first call with a new set of input shapes and dtypes warms ``fn`` up on a side stream
    (``warmup`` calls, which also lets cudnn.benchmark choose its algorithms), records it, and
    replays the recording from then on; at most ``max_graphs`` recordings are kept (least
    recently used dropped), all in one memory pool, which is safe because replays are
    serialized and each output is consumed before the next replay. If recording fails, that
    shape runs eagerly from then on, with one warning.

    The returned tensor is the recording's static output: it is overwritten by the next
    replay, so copy it before calling again. Not thread-safe: the caller serializes calls.
    """

    def __init__(self, fn: Callable[..., torch.Tensor], warmup: int = 3, max_graphs: int = 8):
        self.fn, self.warmup, self.max_graphs = fn, warmup, max_graphs
        self._recordings: OrderedDict[tuple, _Recording] = OrderedDict()
        self._eager: set[tuple] = set()
        self._pool = None

    @property
    def recorded_shapes(self) -> list[tuple]:
        """Keys (shape, dtype per input) that currently have a recording, oldest first."""
        return list(self._recordings)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        key = tuple((tuple(x.shape), x.dtype) for x in inputs)
        if key in self._eager:
            return self.fn(*inputs)
        recording = self._recordings.get(key)
        if recording is None:
            try:
                recording = self._record(inputs)
            except torch.cuda.OutOfMemoryError:
                raise  # transient: the caller frees memory and retries; later calls try recording again
            except RuntimeError as exc:
                warnings.warn(f"CUDA graph recording failed for input shapes {[k[0] for k in key]}, running "
                              f"eagerly instead: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                              RuntimeWarning, stacklevel=2)
                self._eager.add(key)
                return self.fn(*inputs)
            self._recordings[key] = recording
            while len(self._recordings) > self.max_graphs:
                self._recordings.popitem(last=False)
        self._recordings.move_to_end(key)
        for static, x in zip(recording.inputs, inputs):
            static.copy_(x, non_blocking=True)
        recording.graph.replay()
        return recording.output

    def _record(self, inputs: tuple[torch.Tensor, ...]) -> _Recording:
        static = tuple(x.clone() for x in inputs)
        side = torch.cuda.Stream(device=static[0].device)
        side.wait_stream(torch.cuda.current_stream(static[0].device))
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                self.fn(*static)
        torch.cuda.current_stream(static[0].device).wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            output = self.fn(*static)
        return _Recording(graph, static, output)
