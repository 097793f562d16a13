"""``rnnbench baseline refresh``: make a benchmark run the committed baseline, on purpose.

With a result file, that file becomes the baseline; without one, the quick suite runs first.
Either way the file is validated as the gate reads it, and more: an unusable file (no raw
timings, too few rounds, an interrupted or failed session, no clean commit to measure again
elsewhere) never becomes the baseline. It is written atomically, with sorted keys so that
baseline diffs stay readable.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

from rnnbench.files import check_output_file, write_atomic
from rnnbench.gate.compare import UnusableInput, load_run
from rnnbench.gate.rerun import CPU_ARGS, SUITE, run_suite
from rnnbench.results import Run

HELP = "refresh a committed baseline (baselines/cpu-quick.json) from a run, atomically"
#: The committed baseline of the CPU quick profile.
CPU_QUICK = Path("baselines/cpu-quick.json")


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


def refresh(source: str | Path, target: str | Path = CPU_QUICK) -> Run:
    """Validate the result ``source``, then make it the baseline ``target`` (atomically)."""
    run = load_run(source, role="new baseline")
    where = f"new baseline {run.path!r}"
    if run.exitstatus is None:
        raise UnusableInput(f"{where} does not record how its pytest session ended, so it may "
                            "be partial: record it again with this version's suite")
    if run.exitstatus != 0:
        raise UnusableInput(f"{where} comes from a pytest session that ended with exit status "
                            f"{run.exitstatus} (interrupted or failed): a partial run is never "
                            "a baseline; run the whole suite again")
    if not run.commit:
        raise UnusableInput(f"{where} records no git commit: measure it in a git checkout, so "
                            "that another machine can measure the same code (A/B)")
    if run.dirty:
        raise UnusableInput(f"{where} was measured with uncommitted changes to tracked files: "
                            "commit them first, so that the commit it names is the code it "
                            "measured")
    document = json.loads(Path(source).read_text(encoding="utf-8"))
    write_atomic(target, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return run
