"""Where the package's data files are: the source tree, or the ROS install's share folder."""
from __future__ import annotations

from pathlib import Path

from .core.errors import InputError

PACKAGE = "psmnet_ros"


def share_file(*parts: str) -> Path:
    """Path of ``config/...`` or ``launch/...``: the repository's copy, else share/psmnet_ros/."""
    source = Path(__file__).resolve().parent.parent.joinpath(*parts)
    if source.is_file():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory(PACKAGE)).joinpath(*parts)
    except (ImportError, LookupError):
        installed = None
    if installed is not None and installed.is_file():
        return installed
    raise InputError(f"cannot find {'/'.join(parts)} of {PACKAGE} (neither in the source tree nor installed)")
