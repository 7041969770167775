"""The weights shipped inside the package, and the checkpoint value that asks for none.

``psmnet_ros/weights/psmnet_synthetic.tar`` is a stackhourglass model (maxdisp 192,
align_corners True) trained by this project on generated scenes, stored in the project
checkpoint format with float16 weights; ``psmnet_ros/weights/MODEL_CARD.md`` describes it.
The file is package data, so it sits next to this package in the source tree, in a pip or
editable install and in a colcon ``ament_python`` install alike.
"""
from __future__ import annotations

from pathlib import Path

from .errors import CheckpointError

RANDOM = "random"
"""Checkpoint value (``--checkpoint random``, ``checkpoint:=random``) for untrained weights."""
PRETRAINED_FILE = ("weights", "psmnet_synthetic.tar")
"""The shipped file, relative to the ``psmnet_ros`` package folder."""
PRETRAINED_SETTINGS = {"variant": "stackhourglass", "maxdisp": 192, "align_corners": True}
"""Architecture settings of the shipped weights (also recorded in the file)."""
PRETRAINED_LABEL = f"pretrained (psmnet_ros/{'/'.join(PRETRAINED_FILE)})"
"""How logs, diagnostics and result tables name the shipped weights."""


def pretrained_path() -> Path:
    """Absolute path of the shipped weights; CheckpointError naming the path when it is missing."""
    path = Path(__file__).resolve().parent.parent.joinpath(*PRETRAINED_FILE)
    if not path.is_file():
        raise CheckpointError(f"the package's pretrained weights are missing: {path} not found "
                              "(incomplete installation?)")
    return path


def pretrained_mismatch(variant: str | None = None, maxdisp: int | None = None,
                        align_corners: bool | None = None) -> dict:
    """The requested settings (None = no request) that the shipped weights do not have, by name."""
    requested = {"variant": variant, "maxdisp": maxdisp, "align_corners": align_corners}
    return {name: value for name, value in requested.items()
            if value is not None and value != PRETRAINED_SETTINGS[name]}


def describe_pretrained() -> str:
    """"stackhourglass, maxdisp 192, align_corners True": the shipped model in words."""
    s = PRETRAINED_SETTINGS
    return f"{s['variant']}, maxdisp {s['maxdisp']}, align_corners {s['align_corners']}"
