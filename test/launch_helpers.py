"""Running the real ``ros2 launch`` in tests: the launch stack's wheels (../shared/wheels/ros2-launch, installed
by scripts/env.sh), the environment the README's commands create, and a launch process that is stopped the
way a user stops it (SIGINT), with every process it started accounted for.

- ``LAUNCH_WHEELS``; ``require_launch_stack()``: skips (no ../shared) or fails (wheels there, not installed).
- ``launch_env(domain_id)``: ``ros_env`` plus the venv as ROS 2 prefix (AMENT_PREFIX_PATH, PATH).
- ``LaunchProcess(log_path, domain_id, launch_file, *arguments)``: ``ros2 launch psmnet_ros FILE ARGS``.
- ``write_params(path, **values)``: a params file under the key ``/**/psmnet_node``.
"""
from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ros_helpers import REPO, ros_env

LAUNCH_WHEELS = REPO.parent / "shared" / "wheels" / "ros2-launch"
PREFIX = Path(sys.prefix)


def require_launch_stack() -> None:
    """Skip without ../shared/wheels/ros2-launch; fail, saying what to run, when it is there but not installed."""
    if not LAUNCH_WHEELS.is_dir():
        pytest.skip(f"the ROS 2 launch stack's wheels are not at {LAUNCH_WHEELS} (../shared sits beside the "
                    "repository in development and CI only)")
    missing = [m for m in ("launch", "launch_ros", "ros2launch") if importlib.util.find_spec(m) is None]
    installed = (PREFIX / "share" / "psmnet_ros" / "launch" / "stereo.launch.py").is_file()
    assert not missing and installed, f"launch stack not installed in {PREFIX} (missing: {missing}, share files " \
        f"{'present' if installed else 'absent'}): run `bash scripts/test.sh` or `source scripts/env.sh`"


def launch_env(domain_id: int) -> dict:
    """The test's ROS domain, the venv as ROS 2 prefix and on PATH, unbuffered output, one compute thread."""
    env = ros_env(domain_id)
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(":") if p and p != str(PREFIX)]
    env["AMENT_PREFIX_PATH"] = ":".join([str(PREFIX), *prefixes])
    env["PATH"] = f"{PREFIX / 'bin'}:{env.get('PATH', '')}"
    env.update(PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0", OMP_NUM_THREADS="1")
    return env


def write_params(path: Path, **values) -> Path:
    """A params file for psmnet_node in any namespace holding ``values``."""
    path.write_text(yaml.safe_dump({"/**/psmnet_node": {"ros__parameters": values}}))
    return path


SIGINT_AS_IN_A_TERMINAL = [sys.executable, "-c", "import os, signal, sys; "
                           "signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"]
"""Prefix of a command line: the command runs (same process) with SIGINT at its default action. A shell that runs the
test suite as a background job without job control starts it with SIGINT ignored, every child inherits that, and
ros2 launch started with SIGINT ignored does not react to SIGINT at all (measured: still running 20 s after it)."""


class LaunchProcess:
    """``ros2 launch psmnet_ros LAUNCH_FILE ARGUMENTS`` on ``domain_id``, output to ``log_path``. A context
    manager: leaving it stops the launch (SIGINT) and kills whatever it left running."""

    def __init__(self, log_path: Path, domain_id: int, launch_file: str, *arguments: str):
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([*SIGINT_AS_IN_A_TERMINAL, "ros2", "launch", "psmnet_ros", launch_file,
                                      *arguments], cwd=REPO, env=launch_env(domain_id), stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self._seen = {}  # pid -> psutil.Process of every descendant seen

    def __enter__(self) -> "LaunchProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
        for child in self.left_running():
            child.kill()

    def log(self) -> str:
        return self.log_path.read_text()

    def _note_children(self) -> None:
        import psutil  # installed with the launch stack (scripts/env.sh)
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self._seen.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def wait_for_log(self, text: str, timeout_s: float = 90.0) -> None:
        """Wait until ``text`` is in the output (AssertionError with the output if the launch ends first)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            self._note_children()
            assert self.proc.poll() is None, f"ros2 launch exited ({self.proc.returncode}):\n{self.log()}"
            assert time.monotonic() < deadline, f"'{text}' not logged within {timeout_s} s:\n{self.log()}"
            time.sleep(0.05)
        self._note_children()

    def stop(self, sig=signal.SIGINT, timeout_s: float = 15.0) -> tuple[int | None, float]:
        """Send ``sig`` to ros2 launch; (exit status or None if it had to be killed, seconds it took)."""
        self._note_children()
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        if not self._log.closed:
            self._log.close()
        return rc, time.monotonic() - start

    def left_running(self, grace_s: float = 2.0) -> list:
        """Processes the launch started that still run ``grace_s`` after it ended (zombies excluded)."""
        deadline = time.monotonic() + grace_s
        while True:
            alive = [p for p in self._seen.values() if _alive(p)]
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.05)


def _alive(process) -> bool:
    """Whether a psutil.Process still runs (a zombie does not)."""
    import psutil
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

