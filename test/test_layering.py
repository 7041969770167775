"""Floors: core < ros < tools < cli. A module imports only from its own floor or a lower one, and
psmnet_ros.core loads no ROS at all."""
import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import psmnet_ros
import psmnet_ros.core

PACKAGE_DIR = Path(psmnet_ros.__file__).parent
FLOORS = ("core", "ros", "tools", "cli")
"""Sub-packages from the lowest floor to the highest."""
TOP_LEVEL_FLOORS = {"__init__": "core", "resources": "ros", "msg": "ros"}
"""Modules directly in psmnet_ros/: the package docstring sits with core; resources.py finds ROS share folders;
msg is the generated FrameStats message package (tools/build_msgs.py), an interface of the node."""
FORBIDDEN = ("rclpy", "rosbags", "rosidl", "builtin_interfaces", "std_msgs", "sensor_msgs", "stereo_msgs",
             "diagnostic_msgs", "geometry_msgs", "tf2_msgs", "rosgraph_msgs", "ament_index_python", "psmnet_ros.ros",
             "psmnet_ros.msg")


def _module_name(path: Path) -> str:
    parts = ["psmnet_ros", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports (at the top or inside functions), relative imports
    resolved against the package of ``path``; ``from X import y`` gives X.y (y may be a module)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module
            names += [f"{base}.{a.name}" for a in node.names]
    return names


def _floor(module: str) -> int | None:
    """Index in FLOORS of a psmnet_ros module, None for a module outside the package."""
    parts = module.split(".")
    if parts[0] != "psmnet_ros":
        return None
    if len(parts) == 1:
        return FLOORS.index("core")
    if parts[1] in FLOORS:
        return FLOORS.index(parts[1])
    assert parts[1] in TOP_LEVEL_FLOORS, f"{module}: give psmnet_ros.{parts[1]} a floor in TOP_LEVEL_FLOORS"
    return FLOORS.index(TOP_LEVEL_FLOORS[parts[1]])


def _sources() -> list[Path]:
    return sorted(PACKAGE_DIR.rglob("*.py"))


def test_relative_imports_resolve_against_their_own_package():
    """core/fast/model.py's "from ..preprocess import" is psmnet_ros.core.preprocess, not psmnet_ros.preprocess;
    an __init__.py's "from .x import" is its own package's x."""
    names = _imported_names(PACKAGE_DIR / "core" / "fast" / "model.py")
    assert any(n.startswith("psmnet_ros.core.preprocess.") for n in names), names
    assert any(n.startswith("psmnet_ros.core.fast.cost_volume.") for n in names), names
    init = _imported_names(PACKAGE_DIR / "core" / "fast" / "__init__.py")
    assert any(n.startswith("psmnet_ros.core.fast.engine.") for n in init), init


def test_floor_order_is_core_ros_tools_cli():
    assert [_floor(f"psmnet_ros.{floor}.x") for floor in FLOORS] == [0, 1, 2, 3]
    assert _floor("psmnet_ros.resources") == 1 and _floor("psmnet_ros.msg.FrameStats") == 1
    assert _floor("numpy") is None


def test_no_module_imports_from_a_higher_floor():
    upward = []
    for path in _sources():
        own = _floor(_module_name(path))
        for name in _imported_names(path):
            floor = _floor(name)
            if floor is not None and floor > own:
                upward.append(f"{path.relative_to(PACKAGE_DIR)} ({FLOORS[own]}) imports {name} ({FLOORS[floor]})")
    assert not upward, "imports from a higher floor:\n" + "\n".join(upward)


def _unit(name: str, known: set[str]) -> str | None:
    """The module or sub-package (psmnet_ros.FLOOR.X) an imported name belongs to; None outside psmnet_ros."""
    parts = name.split(".")
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts[:3]) if parts else None


def test_no_import_cycle_between_modules_or_subpackages():
    """Neither modules nor sub-packages (core/fast, core/datasets, ...) import each other round a loop, not even
    through imports inside functions: a lower unit must not need a higher one (the estimator used to import
    core/fast while core/fast/benchmark.py imported the estimator)."""
    modules = {_module_name(p): p for p in _sources()}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        for name in _imported_names(path):
            target = _unit(name, set(modules))
            if target and target != _unit(module, set(modules)):
                graph.setdefault(_unit(module, set(modules)), set()).add(target)
    done: set[str] = set()

    def visit(unit: str, trail: list[str]) -> None:
        if unit in trail:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(unit):] + [unit]))
        if unit in done:
            return
        for target in sorted(graph.get(unit, ())):
            visit(target, trail + [unit])
        done.add(unit)

    for unit in sorted(graph):
        visit(unit, [])
    assert _unit("psmnet_ros.core.fast.FastConfig", set(modules)) == "psmnet_ros.core.fast"
    assert _unit("psmnet_ros.core.fast.model.FastConfig", set(modules)) == "psmnet_ros.core.fast"


def test_no_core_source_names_a_ros_module():
    for path in (PACKAGE_DIR / "core").rglob("*.py"):
        for name in _imported_names(path):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_importing_every_core_module_loads_no_ros():
    modules = [_module_name(p) for p in (PACKAGE_DIR / "core").rglob("*.py")]
    code = ("import importlib, sys\n"
            f"for name in {sorted(modules)!r}: importlib.import_module(name)\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} or m.startswith('psmnet_ros.ros'))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
