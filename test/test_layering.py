"""psmnet_ros.core stays free of ROS: no rclpy, no message packages, no bag library."""
import ast
import importlib.util
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


def _imported_names(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports, relative imports resolved against its package."""
    core = Path(psmnet_ros.core.__file__).parent
    parts = ["psmnet_ros", "core", *path.relative_to(core).with_suffix("").parts]
    package = ".".join(parts[:-1])   # a module's package; for __init__.py the package itself
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module
            names += [base] if node.module else [f"{base}.{a.name}" for a in node.names]
    return names


def test_relative_imports_resolve_against_their_own_package():
    """core/fast/model.py's "from ..preprocess import" is psmnet_ros.core.preprocess, not psmnet_ros.preprocess."""
    names = _imported_names(Path(psmnet_ros.core.__file__).parent / "fast" / "model.py")
    assert "psmnet_ros.core.preprocess" in names and "psmnet_ros.core.fast.cost_volume" in names


def test_no_core_source_names_a_ros_module():
    for path in Path(psmnet_ros.core.__file__).parent.rglob("*.py"):
        for name in _imported_names(path):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
