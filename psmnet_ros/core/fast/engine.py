"""Host side of the fast path: numpy batches in, numpy disparities out."""
from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torch import nn

from .cuda_graph import CudaGraphRunner
from .model import FastConfig, FastPSMNet
from .precision import DTYPES, precision_flags


class FastEngine:
    """Runs a :class:`FastPSMNet` built from ``model`` on HxWx3 uint8 RGB numpy images.

    On CUDA the images are stacked into pinned host buffers and copied without blocking, the
    network runs with ``config.cudnn_benchmark`` (through a :class:`CudaGraphRunner` when
    ``config.cuda_graph``), and the result comes back through a pinned buffer. ``device``
    must name its GPU (``cuda:N``): the caller makes it the current device for each call.
    Requests with the confidence run their own network call (their own CUDA-graph recordings and
    output buffer).
    ``precision`` is a resolved name ("fp32", "tf32", "fp16", "bf16"). Not thread-safe: the
    caller serializes calls (:class:`~psmnet_ros.core.estimator.StereoEstimator` holds a lock).
    """

    def __init__(self, model: nn.Module, device: torch.device, precision: str, config: FastConfig):
        self.device, self.precision, self.config = device, precision, config
        self.network = FastPSMNet(model.to(device), config, DTYPES[precision]).eval()
        cuda = device.type == "cuda"
        self._graphs = CudaGraphRunner(self.network) if cuda and config.cuda_graph else None
        self._confidence_graphs = (CudaGraphRunner(partial(self.network, with_confidence=True))
                                   if cuda and config.cuda_graph else None)
        self._pinned: dict[str, torch.Tensor] = {}

    def __call__(self, lefts: list[np.ndarray], rights: list[np.ndarray], with_confidence: bool = False) -> np.ndarray:
        """N x H x W float32 disparities (pixels) of same-size HxWx3 uint8 RGB images; with
        ``with_confidence`` N x 2 x H x W, the disparities and their confidences in [0, 1]."""
        cuda = self.device.type == "cuda"
        graphs = self._confidence_graphs if with_confidence else self._graphs
        with torch.inference_mode(), precision_flags(self.precision, self.device, self.config.cudnn_benchmark):
            left, right = self._to_device("left", lefts), self._to_device("right", rights)
            disparity = (graphs or partial(self.network, with_confidence=with_confidence))(left, right)
            if not cuda:
                return np.ascontiguousarray(disparity.numpy())
            host = self._pinned_buffer("out_confidence" if with_confidence else "out", disparity.shape, torch.float32)
            host.copy_(disparity, non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()
            return host.numpy().copy()

    @property
    def graphs(self) -> CudaGraphRunner | None:
        """The CUDA-graph runner (None without ``config.cuda_graph`` or off CUDA): its recordings and fallback."""
        return self._graphs

    def release_memory(self) -> None:
        """Drop the CUDA-graph recordings, so that ``torch.cuda.empty_cache`` can return their memory."""
        for runner in (self._graphs, self._confidence_graphs):
            if runner is not None:
                runner.release()

    def _to_device(self, name: str, images: list[np.ndarray]) -> torch.Tensor:
        if self.device.type != "cuda":
            return torch.from_numpy(np.stack(images))
        host = self._pinned_buffer(name, (len(images), *images[0].shape), torch.uint8)
        np.stack(images, out=host.numpy())
        return host.to(self.device, non_blocking=True)

    def _pinned_buffer(self, name: str, shape, dtype: torch.dtype) -> torch.Tensor:
        """Page-locked host tensor for ``name``, reused while the shape stays the same.

        Reuse is safe because every call waits for its device work before returning.
        """
        buffer = self._pinned.get(name)
        if buffer is None or tuple(buffer.shape) != tuple(shape):
            buffer = self._pinned[name] = torch.empty(tuple(shape), dtype=dtype, pin_memory=True)
        return buffer
