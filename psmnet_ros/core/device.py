"""The one rule for a device name: what the node's ``device`` parameter, the estimator and the tools accept."""
from __future__ import annotations

import re

import torch

from .errors import InputError

DEVICE_PATTERN = r"cpu|cuda(:\d+)?"
"""Device names accepted everywhere: cpu, cuda (the current GPU) or cuda:N."""


def parse_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device; InputError unless it is cpu, cuda or cuda:N. Says nothing about whether that
    GPU exists (callers decide: fall back to the CPU, or refuse)."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not re.fullmatch(DEVICE_PATTERN, device):
        raise InputError(f"device {device!r} must be cpu, cuda or cuda:N")
    return torch.device(device)
