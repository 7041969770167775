"""Generate and compile this package's ROS 2 messages (``msg/*.msg``) for rclpy, without CMake or colcon.

Used by ``scripts/env.sh`` (into the source tree, editable install) and by ``setup.py`` (into the
wheel). The generators, headers and libraries are those of the ROS 2 installed in the running
Python's prefix: the PyPI wheels of ``requirements.txt`` (rclpy brings rosidl; catkin-pkg is the one
extra). ``rosidl generate`` writes the C and Python sources; cc/c++ compile them into

- ``libpsmnet_ros__rosidl_{generator_c,typesupport_c,typesupport_fastrtps_c,
  typesupport_introspection_c,generator_py}.so``,
- the Python extension modules ``psmnet_ros_s__rosidl_typesupport_{c,fastrtps_c,introspection_c}``
  that ``rosidl_generator_py.import_type_support`` imports,
- the ``psmnet_ros.msg`` Python package (with a copy of each ``.msg`` for the bag tools),

all in the package directory, each library found through an ``$ORIGIN`` runpath (no environment
variable; the ROS libraries themselves come from the environment's library path, as for every
message package of the wheels). A hash of the ``.msg`` files, this file and the ROS packages used is
recorded with the build; the build runs again only when it changes.

    python -m psmnet_ros.tools.build_msgs [--msg-dir msg] [--package-dir psmnet_ros] [--force]

(defaults: this source tree's ``msg/`` and ``psmnet_ros/``).

Standard library only: ``setup.py`` runs it while the package is not importable.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PACKAGE = "psmnet_ros"
# The C type supports: one library and one Python extension module each, as rosidl_generator_py
# builds them (rclpy's import_type_support imports the "c" module, which dispatches to the others).
TYPESUPPORTS = ("c", "fastrtps_c", "introspection_c")
HASH_FILE = ".build_hash"
REPO = Path(__file__).resolve().parents[2]
# ROS packages whose code ends up in the build: a new version of any of them means a rebuild.
TOOLCHAIN = ("rosidl_cli", "rosidl_adapter", "rosidl_generator_c", "rosidl_generator_py", "rosidl_runtime_c",
             "rosidl_typesupport_c", "rosidl_typesupport_fastrtps_c", "rosidl_typesupport_introspection_c")
PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32",
              "int64", "uint64", "string", "wstring"}


class BuildError(RuntimeError):
    """The messages cannot be built here; the text says what is missing or what failed."""


def msg_files(msg_dir: Path) -> list[Path]:
    """The .msg files of ``msg_dir``, sorted; a BuildError when there are none."""
    files = sorted(Path(msg_dir).glob("*.msg"))
    if not files:
        raise BuildError(f"no .msg files in {msg_dir}")
    return files


def dependencies(msg_paths: list[Path], prefix: Path) -> list[str]:
    """ROS packages whose message types the .msg files use, directly or through those types."""
    found, seen, todo = [], set(), [(PACKAGE, path) for path in msg_paths]
    while todo:
        package, path = todo.pop()
        for line in path.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            field_type = re.sub(r"(\[.*\]|<=\d+)$", "", words[0]) if words else ""
            if not field_type or field_type in PRIMITIVES:
                continue
            used, _, name = field_type.rpartition("/")
            used = used.split("/")[0] or package   # pkg/Type, pkg/msg/Type or Type of the same package
            if used == PACKAGE or (used, name) in seen:
                continue
            definition = prefix / "share" / used / "msg" / f"{name}.msg"
            if not definition.is_file():
                raise BuildError(f"message type {used}/{name} used in {path.name} is not installed in {prefix}")
            seen.add((used, name))
            found += [used] if used not in found else []
            todo.append((used, definition))
    return found


def build_hash(msg_dir: Path, prefix: Path = Path(sys.prefix)) -> str:
    """sha256 of what the build depends on: the .msg files, this builder, Python's ABI, the ROS packages."""
    msgs = msg_files(msg_dir)
    digest = hashlib.sha256()
    for name in TOOLCHAIN + tuple(dependencies(msgs, prefix)):
        manifest = prefix / "share" / name / "package.xml"
        digest.update(name.encode() + (manifest.read_bytes() if manifest.is_file() else b"missing"))
    for path in msgs:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(Path(__file__).read_bytes() + sysconfig.get_config_var("EXT_SUFFIX").encode())
    return digest.hexdigest()


def is_current(msg_dir: Path, package_dir: Path, prefix: Path = Path(sys.prefix)) -> bool:
    """True when ``package_dir`` holds a complete build of exactly these .msg files and ROS packages."""
    recorded = Path(package_dir) / "msg" / HASH_FILE
    return recorded.is_file() and recorded.read_text().strip() == build_hash(msg_dir, prefix)


def _check_environment(prefix: Path) -> dict:
    """Compilers and flags for building against the ROS 2 in ``prefix``; a BuildError names what is missing."""
    if not (prefix / "share" / "rosidl_generator_py" / "package.xml").is_file():
        raise BuildError(f"no ROS 2 message generators in {prefix}: install requirements.txt first "
                         "(the ros-rclpy wheels), or build in a ROS 2 workspace with colcon")
    tools = {"cc": os.environ.get("CC", "cc"), "c++": os.environ.get("CXX", "c++")}
    for name, tool in tools.items():
        if shutil.which(tool) is None:
            raise BuildError(f"no {name} compiler ({tool}) on PATH: on Debian/Ubuntu apt install build-essential")
    python_include = Path(sysconfig.get_paths()["include"])
    if not (python_include / "Python.h").is_file():
        raise BuildError(f"no Python.h in {python_include}: on Debian/Ubuntu apt install python3-dev")
    try:
        import numpy
    except ImportError as exc:
        raise BuildError("numpy is not installed (the generated Python support includes its headers)") from exc
    include = prefix / "include"
    includes = [include] + sorted(p for p in include.iterdir() if p.is_dir())
    includes += [python_include, Path(numpy.get_include())]
    tools["flags"] = [f"-I{p}" for p in includes] + ["-fPIC", "-O2", "-shared", f"-L{prefix / 'lib'}"]
    return tools


def _run(command: list, what: str, **kwargs) -> None:
    """Run ``command`` quietly; on failure a BuildError with the end of its output."""
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if result.returncode != 0:
        lines = [line for line in result.stdout.splitlines() if "duplicate entry point" not in line]
        raise BuildError(f"{what} failed (exit {result.returncode}):\n" + "\n".join(lines[-40:]))


def _generate(msgs: list[Path], prefix: Path, out: Path) -> None:
    """``rosidl generate`` without -t/-ts (the wheels register each generator twice, which -t rejects)."""
    env = dict(os.environ)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(filter(None, [str(prefix), env.get("AMENT_PREFIX_PATH")]))
    staging = out / "interfaces"
    (staging / "msg").mkdir(parents=True)
    for path in msgs:
        shutil.copyfile(path, staging / "msg" / path.name)
    command = [sys.executable, "-c", "import sys; from rosidl_cli.cli import main; sys.exit(main())",
               "generate", "-o", str(out / "gen"), "-I", str(prefix / "share"), PACKAGE]
    command += [f"{staging}:msg/{path.name}" for path in msgs]
    _run(command, "rosidl generate", env=env, cwd=out)
    # The generated sources include "psmnet_ros/msg/...": give each generator's tree that name.
    for kind in ("c", "fastrtps_c", "introspection_c"):
        (out / "include" / kind).mkdir(parents=True)
        (out / "gen" / kind).rename(out / "include" / kind / PACKAGE)


def _compile(out: Path, tools: dict, deps: list[str], jobs: int) -> list[Path]:
    """Compile the generated sources in ``out``; returns the built libraries and modules."""
    lib_dir = out / "lib"
    lib_dir.mkdir()
    src = {kind: out / "include" / kind / PACKAGE for kind in ("c", "fastrtps_c", "introspection_c")}
    py = out / "gen" / "py"
    flags = tools["flags"] + [f"-I{out / 'include' / kind}" for kind in src] + [f"-L{lib_dir}"]

    def own(name: str) -> str:
        return f"-l{PACKAGE}__rosidl_{name}"

    def of_deps(name: str) -> list[str]:
        return [f"-l{dep}__rosidl_{name}" for dep in deps]

    runtime = ["-lrosidl_runtime_c", "-lrcutils"]
    libraries = {
        "generator_c": (tools["cc"], sorted((src["c"] / "msg" / "detail").glob("*.c")),
                        of_deps("generator_c") + runtime),
        "typesupport_c": (tools["c++"], sorted((src["c"] / "msg").glob("*__type_support.cpp")),
                          [own("generator_c"), "-lrosidl_typesupport_c"] + runtime),
        "typesupport_fastrtps_c": (tools["c++"], sorted((src["fastrtps_c"] / "msg" / "detail").glob("*.cpp")),
                                   [own("generator_c")] + of_deps("typesupport_fastrtps_c")
                                   + ["-lrosidl_typesupport_fastrtps_c", "-lrosidl_typesupport_fastrtps_cpp",
                                      "-lfastcdr", "-lrmw"] + runtime),
        "typesupport_introspection_c": (tools["cc"], sorted((src["introspection_c"] / "msg" / "detail").glob("*.c")),
                                        [own("generator_c")] + of_deps("typesupport_introspection_c")
                                        + ["-lrosidl_typesupport_introspection_c"] + runtime),
        "generator_py": (tools["cc"], sorted((py / "msg").glob("*_s.c")),
                         [own("generator_c"), own("typesupport_c")] + of_deps("generator_c")
                         + of_deps("generator_py") + runtime),
    }
    linking = ["-Wl,--enable-new-dtags,-rpath,$ORIGIN"]

    def build_library(name: str) -> Path:
        compiler, sources, libs = libraries[name]
        target = lib_dir / f"lib{PACKAGE}__rosidl_{name}.so"
        _run([compiler, "-o", str(target), *map(str, sources), *flags, *linking, f"-Wl,-soname,{target.name}",
              *libs], f"compiling {target.name}")
        return target

    def build_module(typesupport: str) -> Path:
        # rosidl_typesupport_c dlopens the fastrtps/introspection libraries by file name, which finds
        # them on the library path or, here, among the loaded ones (by soname): every module links all
        # three, also those whose symbols it does not use.
        target = lib_dir / f"{PACKAGE}_s__rosidl_typesupport_{typesupport}{sysconfig.get_config_var('EXT_SUFFIX')}"
        source = py / f"_{PACKAGE}_s.ep.rosidl_typesupport_{typesupport}.c"
        _run([tools["cc"], "-o", str(target), str(source), *flags, *linking, "-Wl,--no-as-needed",
              own("generator_py"), own("generator_c"), *(own(f"typesupport_{ts}") for ts in TYPESUPPORTS),
              "-Wl,--as-needed", "-lrosidl_runtime_c"], f"compiling {target.name}")
        return target

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        built = [build_library("generator_c")]
        built += list(pool.map(build_library, [n for n in libraries if n != "generator_c"]))
        built += list(pool.map(build_module, TYPESUPPORTS))
    return built


def built_files(package_dir: Path) -> list[Path]:
    """The msg/ folder (whether there or not), then the libraries and modules a build left in ``package_dir``."""
    return [package_dir / "msg", *package_dir.glob(f"lib{PACKAGE}__rosidl_*.so"),
            *package_dir.glob(f"{PACKAGE}_s__rosidl_typesupport_*.so")]


def build(msg_dir=REPO / "msg", package_dir=REPO / PACKAGE, *, force: bool = False,
          jobs: int | None = None) -> bool:
    """Build the messages of ``msg_dir`` into ``package_dir`` unless that build is current.

    Returns True when it built, False when the recorded build was current. The previous build is
    removed first and the hash written last, so an interrupted build is redone next time.
    """
    msg_dir, package_dir, prefix = Path(msg_dir), Path(package_dir), Path(sys.prefix)
    package_dir.mkdir(parents=True, exist_ok=True)
    lock = os.open(package_dir, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one build at a time per package directory
        if not force and is_current(msg_dir, package_dir, prefix):
            return False
        msgs = msg_files(msg_dir)
        tools = _check_environment(prefix)
        deps = dependencies(msgs, prefix)
        expected_hash = build_hash(msg_dir, prefix)
        with tempfile.TemporaryDirectory(prefix="psmnet_msgs_") as tmp:
            out = Path(tmp)
            _generate(msgs, prefix, out)
            built = _compile(out, tools, deps, jobs or os.cpu_count() or 1)
            for path in built_files(package_dir):
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
            (package_dir / "msg").mkdir()
            for path in [*(out / "gen" / "py" / "msg").glob("*.py"), *msgs]:
                shutil.copyfile(path, package_dir / "msg" / path.name)
            for path in built:
                shutil.copy2(path, package_dir / path.name)
        (package_dir / "msg" / HASH_FILE).write_text(expected_hash + "\n")
        return True
    finally:
        os.close(lock)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Generate and compile psmnet_ros's ROS 2 messages for rclpy.")
    parser.add_argument("--msg-dir", type=Path, default=REPO / "msg",
                        help="folder of .msg files (default: %(default)s)")
    parser.add_argument("--package-dir", type=Path, default=REPO / PACKAGE,
                        help="the psmnet_ros package folder to build into (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="build even when the recorded build is current")
    args = parser.parse_args(argv)
    try:
        built = build(args.msg_dir, args.package_dir, force=args.force)
    except BuildError as exc:
        print(f"build_msgs: {exc}", file=sys.stderr)
        return 1
    if built:
        print(f"build_msgs: built {PACKAGE}.msg from {args.msg_dir} into {args.package_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
