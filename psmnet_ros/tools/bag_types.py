"""This package's own message types for rosbags, so the project's bags can carry them.

rosbags ships the standard ROS 2 types; ``psmnet_ros/msg/FrameStats`` and any other message of
``msg/`` come from their ``.msg`` definitions, installed beside the generated ``psmnet_ros.msg``
package by every install (``psmnet_ros/tools/build_msgs.py`` for pip, ``CMakeLists.txt`` in a ROS 2
workspace).
"""
from __future__ import annotations

from pathlib import Path

from rosbags.typesys import Stores, get_typestore, get_types_from_msg

PACKAGE = "psmnet_ros"
DEFINITIONS = Path(__file__).resolve().parents[1] / "msg"


def package_types(definitions: Path = DEFINITIONS) -> dict:
    """rosbags type definitions of every ``.msg`` in ``definitions``, named ``psmnet_ros/msg/<Name>``."""
    files = sorted(Path(definitions).glob("*.msg"))
    if not files:
        raise FileNotFoundError(f"no {PACKAGE} message definitions in {definitions}: the messages are not "
                                "built (python -m psmnet_ros.tools.build_msgs)")
    types = {}
    for path in files:
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    return types


def package_typestore(store: Stores = Stores.ROS2_HUMBLE):
    """A new rosbags typestore holding ``store``'s standard types and this package's messages."""
    typestore = get_typestore(store)
    typestore.register(package_types())
    return typestore
