"""The check's runner: steps within one time budget, every command logged, the summary files kept current."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .common import REPO, child_env, parse_result, sizes_for


@dataclass
class StepResult:
    name: str
    status: str                     # pass, fail, skipped
    seconds: float
    summary: str
    details: dict = field(default_factory=dict)


class StepFailed(Exception):
    """A step's own verdict: what did not meet its criterion (details still reported)."""

    def __init__(self, summary: str, details: dict):
        super().__init__(summary)
        self.details = details


class Check:
    """Runs the steps within the budget, logs every command, keeps the summary files current."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log_path = self.out / "gpu_check.log"
        self.log_path.write_text("")
        self.deadline = time.monotonic() + args.budget
        self.results: list[StepResult] = []
        self.sizes = sizes_for(args.tiny, args.device)
        self.work = Path(tempfile.mkdtemp(prefix="psmnet_gpu_check_"))
        self.cuda = args.device.startswith("cuda")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def log(self, text: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(text if text.endswith("\n") else text + "\n")

    def command(self, argv: list[str], timeout_s: float, env: dict | None = None) -> tuple[int, str]:
        """Run ``argv`` in the repository (own process group), at most ``timeout_s`` (and the budget);
        (exit status, output). 124: timed out, the group killed."""
        timeout_s = max(1.0, min(timeout_s, self.remaining()))
        self.log(f"\n$ {' '.join(argv)}   (timeout {timeout_s:.0f} s)")
        with tempfile.TemporaryFile("w+") as output:
            proc = subprocess.Popen(argv, cwd=REPO, env=env or child_env(), stdout=output, stderr=subprocess.STDOUT,
                                    start_new_session=True, text=True)
            try:
                rc = proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = 124
            output.seek(0)
            text = output.read()
        self.log(text + f"[exit {rc}]")
        return rc, text

    def probe(self, what: str, timeout_s: float, *extra: str) -> dict:
        rc, text = self.command([sys.executable, "-m", "psmnet_ros.tools.gpu_check", "probe", what,
                                 "--device", self.args.device, *(["--tiny"] if self.args.tiny else []), *extra],
                                timeout_s)
        return parse_result(rc, text, f"probe {what}")

    def step(self, name: str, fn, min_seconds: float) -> None:
        started = time.monotonic()
        if self.remaining() < min_seconds:
            result = StepResult(name, "skipped", 0.0, f"out of time ({self.remaining():.0f} s of the budget left, "
                                                      f"{min_seconds:.0f} s needed)")
        else:
            try:
                summary, details = fn()
                result = StepResult(name, "pass", 0.0, summary, details)
            except StepFailed as exc:
                result = StepResult(name, "fail", 0.0, str(exc), exc.details)
            except Exception as exc:  # noqa: BLE001  one failing step must not stop the others
                self.log(traceback.format_exc())
                result = StepResult(name, "fail", 0.0, f"{type(exc).__name__}: {exc}")
        result.seconds = round(time.monotonic() - started, 1)
        self.results.append(result)
        self.log(f"=== {name}: {result.status} in {result.seconds} s: {result.summary}")
        self.write_summary()

    def write_summary(self) -> None:
        (self.out / "summary.json").write_text(json.dumps([asdict(r) for r in self.results], indent=1, default=str))
        lines = [f"# GPU check ({self.args.device}{', tiny' if self.args.tiny else ''})", "",
                 "| step | status | seconds | summary |", "|---|---|---|---|"]
        lines += [f"| {r.name} | {r.status} | {r.seconds} | {r.summary.replace('|', '/')} |" for r in self.results]
        for r in self.results:
            if r.details.get("table"):
                lines += ["", f"## {r.name}", "", r.details["table"]]
        (self.out / "summary.md").write_text("\n".join(lines) + "\n")
