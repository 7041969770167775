"""``python -m psmnet_ros.tools.gpu_check``: the whole check, or one probe in a child process."""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __doc__ as DESCRIPTION
from .check import Check
from .common import RESULT
from .probes import probe_env, probe_gpu, train_run
from .steps import STEPS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m psmnet_ros.tools.gpu_check",
                                     description=DESCRIPTION.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_check.log, summary.md and summary.json")
    parser.add_argument("--device", default="cuda", help="cuda[:N] or cpu (default cuda)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and random weights (the CPU smoke test)")
    parser.add_argument("--budget", type=float, default=470.0, help="seconds for all steps (default 470)")
    parser.add_argument("--train-seconds", type=float, default=120.0, help="AMP training time (default 120)")
    parser.add_argument("--reference-dir", default=os.environ.get("PSMNET_REFERENCE_DIR"),
                        help="cases.pt + reference checkpoint (default $PSMNET_REFERENCE_DIR)")
    parser.add_argument("--steps", nargs="+", choices=[s[0] for s in STEPS], help="run only these steps")
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["probe"]:
        what, rest = argv[1], argv[2:]
        device = rest[rest.index("--device") + 1]
        found = probe_env(device) if what == "env" else probe_gpu(device, "--tiny" in rest)
        print(RESULT + json.dumps(found, default=str), flush=True)
        return 0
    if argv[:1] == ["train-run"]:
        split = argv.index("--")
        print(RESULT + json.dumps(train_run(float(argv[argv.index("--seconds") + 1]), argv[split + 1:])), flush=True)
        return 0
    args = build_parser().parse_args(argv)
    check = Check(args)
    for name, fn, min_seconds in STEPS:
        if args.steps is None or name in args.steps:
            check.step(name, lambda fn=fn: fn(check), min_seconds)
    failed = [r.name for r in check.results if r.status != "pass"]
    print(f"GPU check: {len(check.results) - len(failed)} of {len(check.results)} steps passed"
          f"{'; not passed: ' + ', '.join(failed) if failed else ''}; summary in {check.out / 'summary.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
