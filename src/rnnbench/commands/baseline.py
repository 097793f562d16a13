"""``rnnbench baseline refresh``: make a benchmark run the committed baseline, on purpose.

With a result file, that file becomes the baseline; without one, the quick suite runs first.
Either way the file is validated like the gate reads it and written atomically.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

from rnnbench.files import check_output_file
from rnnbench.gate.baseline import CPU_QUICK, refresh
from rnnbench.gate.rerun import CPU_ARGS, SUITE, run_suite

HELP = "refresh a committed baseline (baselines/cpu-quick.json) from a run, atomically"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["refresh"], help="refresh: replace the baseline")
    parser.add_argument("result", nargs="?", help="pytest-benchmark JSON to adopt (default: run "
                        f"`python {shlex.join(SUITE)}` now)")
    parser.add_argument("--to", default=str(CPU_QUICK), metavar="PATH",
                        help=f"baseline to replace (default {CPU_QUICK})")
    parser.add_argument("--pytest-args", default=CPU_ARGS, metavar="ARGS",
                        help=f"pytest arguments for the run (default: {CPU_ARGS!r}; for a GPU "
                        "baseline e.g. '--rnnbench-device=cuda')")


def run(args: argparse.Namespace) -> int:
    check_output_file("--to", args.to)  # before a suite run of minutes, not after it
    if args.result:
        return _adopt(args.result, args.to)
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "run.json"
        status = run_suite(result, args.pytest_args)
        if status != 0:
            print(f"rnnbench baseline: the suite failed (exit {status}); baseline {args.to} "
                  "left as it was", file=sys.stderr)
            return status
        return _adopt(str(result), args.to)


def _adopt(result: str, target: str) -> int:
    adopted = refresh(result, target)
    print(f"baseline {target}: {len(adopted.cases)} cases from {result} "
          f"({adopted.device_name or 'unknown device'})")
    return 0
