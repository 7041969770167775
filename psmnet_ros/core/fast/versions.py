"""The PyTorch / CUDA / cuDNN versions a GPU run depends on, and the cuDNN releases known to slow PSMNet down."""
from __future__ import annotations

import torch

KNOWN_CUDNN_ISSUES = (
    (90800, 91500, "PyTorch does not use cuDNN for contiguous float16/bfloat16 3D convolutions with kernels larger "
                   "than 1 on cuDNN 9.8-9.14: plain autocast (the bf16 row, psmnet-train --amp) runs slower "
                   "fallback kernels; channels_last_3d (the fast path) is not affected"),
    (91002, 91600, "cuDNN 9.10.2-9.15 has a broken TF32 kernel for 3D convolutions; PyTorch builds that work around "
                   "it run 3D convolutions without TF32, so precision tf32 may time like fp32"),
)
"""(first affected, first fixed, what happens) by cuDNN version number (major*10000 + minor*100 + patch)."""


def cudnn_version_text(version: int | None) -> str:
    """9.10.2 for 91002; "none" without cuDNN."""
    if not version:
        return "none"
    return f"{version // 10000}.{version % 10000 // 100}.{version % 100}"


def cudnn_notes(version: int | None) -> list[str]:
    """The known issues of cuDNN ``version`` (empty for None or an unaffected release)."""
    return [f"cuDNN {cudnn_version_text(version)}: {text}" for first, fixed, text in KNOWN_CUDNN_ISSUES
            if version and first <= version < fixed]


def runtime_text(device: torch.device) -> str:
    """The device and the versions it runs with: "NVIDIA H200 (sm_90; torch ..., CUDA ..., cuDNN ...)",
    or "CPU (torch ...)"."""
    if device.type != "cuda":
        return f"CPU (torch {torch.__version__})"
    major, minor = torch.cuda.get_device_capability(device)
    return (f"{torch.cuda.get_device_name(device)} (sm_{major}{minor}; torch {torch.__version__}, CUDA "
            f"{torch.version.cuda}, cuDNN {cudnn_version_text(torch.backends.cudnn.version())})")
