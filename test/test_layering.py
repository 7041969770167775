"""psmnet_ros.core stays free of ROS: no rclpy, no message packages, no bag library."""
import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import psmnet_ros.core

FORBIDDEN = ("rclpy", "rosbags", "rosidl", "builtin_interfaces", "std_msgs", "sensor_msgs", "stereo_msgs",
             "diagnostic_msgs", "geometry_msgs", "tf2_msgs", "rosgraph_msgs", "psmnet_ros.ros")


def _core_modules():
    return [m.name for m in pkgutil.walk_packages(psmnet_ros.core.__path__, "psmnet_ros.core.")]


def test_importing_every_core_module_loads_no_ros():
    code = ("import importlib, sys\n"
            f"for name in {_core_modules()!r}: importlib.import_module(name)\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} or m.startswith('psmnet_ros.ros'))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_core_source_names_a_ros_module():
    for path in Path(psmnet_ros.core.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
                names = [f"psmnet_ros.{node.module}"]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
