"""Fast inference path: the plain PSMNet's result, computed with less time and memory.

- :mod:`.fold_bn`: BatchNorm folded into the convolutions (on a copy).
- :mod:`.last_stage`: upsampling + softmax + soft argmin without the full probability volume.
- :mod:`.cost_volume`: the cost volume written straight into its memory format.
- :mod:`.precision`: fp32 / tf32 / fp16 / bf16 / auto policy and the CUDA TF32 switches.
- :mod:`.model`: :class:`FastPSMNet` (device-side input handling) and :class:`FastConfig`.
- :mod:`.cuda_graph`: one CUDA graph per input shape; :mod:`.engine`: pinned host buffers.

ROS-free like the rest of :mod:`psmnet_ros.core`.
"""
from .cuda_graph import CudaGraphRunner
from .engine import FastEngine
from .fold_bn import fold_batchnorm, fold_batchnorm_, folded_conv
from .last_stage import fused_soft_argmin, linear_interpolation_matrix
from .model import FastConfig, FastPSMNet
from .precision import DTYPES, PRECISIONS, cpu_has_native_bf16, precision_flags, resolve_precision

__all__ = ["CudaGraphRunner", "DTYPES", "FastConfig", "FastEngine", "FastPSMNet", "PRECISIONS",
           "cpu_has_native_bf16", "fold_batchnorm", "fold_batchnorm_", "folded_conv", "fused_soft_argmin",
           "linear_interpolation_matrix", "precision_flags", "resolve_precision"]
