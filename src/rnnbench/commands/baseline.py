"""``rnnbench baseline refresh``: make a benchmark run the committed baseline, on purpose.

With a result file, that file becomes the baseline; without one, the quick suite runs first.
Either way the file is validated as the gate reads it, and more: an unusable file (no raw
timings, too few rounds, an interrupted or failed session, a subset of its profile's cases, no
clean commit of this repository to measure again elsewhere) never becomes the baseline. It is
written atomically, with sorted keys so that baseline diffs stay readable.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

from rnnbench.bench.results import Run
from rnnbench.files import check_output_file, write_atomic
from rnnbench.gate.compare import UnusableInput, few, load_run
from rnnbench.gate.rerun import CPU_ARGS, SUITE, check_pytest_args, run_suite, with_profile

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
                        help=f"pytest arguments for the run (default: {CPU_ARGS!r}, in the "
                        "profile the replaced baseline holds; for a GPU baseline e.g. "
                        "--pytest-args=--rnnbench-device=cuda)")


def run(args: argparse.Namespace) -> int:
    check_output_file("--to", args.to)  # before a suite run of minutes, not after it
    if args.result:
        return _adopt(args.result, args.to)
    check_pytest_args(args.pytest_args)
    pytest_args = with_profile(args.pytest_args, _profile(args.to))
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "run.json"
        status = run_suite(result, pytest_args)
        if status != 0:  # pytest's status is not ours: 1 would read as a verdict
            why = _PYTEST.get(status, "")
            raise UnusableInput(f"the suite run failed (pytest exit {status}{why}); baseline "
                                f"{args.to} left as it was: fix the run first")
        return _adopt(str(result), args.to)


def _profile(baseline: str) -> str:
    """The profile the baseline being replaced holds; ``quick`` for a new one."""
    if not Path(baseline).exists():
        return "quick"
    return load_run(baseline, "baseline").suite.get("profile") or "quick"


#: What pytest's exit statuses mean (https://docs.pytest.org/en/stable/reference/exit-codes.html).
_PYTEST = {1: ": tests failed", 2: ": interrupted", 3: ": internal error",
           4: ": usage error, check --pytest-args", 5: ": no case selected"}


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
    document = json.loads(Path(source).read_text(encoding="utf-8"))
    if document["commit_info"].get("dirty") is not False:
        raise UnusableInput(f"{where} was measured with uncommitted changes to tracked files "
                            f"(commit_info.dirty is {document['commit_info'].get('dirty')!r}, "
                            "not false): commit them first, so that the commit it names is the "
                            "code it measured")
    _check_commit(run.commit, where, Path(target))
    _check_whole(run, where)
    write_atomic(target, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return run


def _check_commit(commit: str, where: str, target: Path) -> None:
    """The commit must be a commit id, and one of the repository the baseline goes into (when
    it goes into one): the gate measures that commit again on other machines."""
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise UnusableInput(f"{where} names commit {commit!r}, which is not a git commit id: "
                            "record the run again in a git checkout")
    folder = target.resolve().parent
    while not folder.is_dir():  # --to's folder is created before the run; this is defensive
        folder = folder.parent
    try:
        inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=folder,
                                capture_output=True, text=True, check=False)
        if inside.returncode != 0:
            return  # not a repository: nothing to check against
        found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=folder,
                               capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return  # no git here; the A/B gate says so when it needs the commit
    if found.returncode != 0:
        raise UnusableInput(f"{where} names commit {commit[:12]}, which is not in the "
                            f"repository at {folder}: measure a commit of this repository (or "
                            "fetch the one it names)")


def _check_whole(run: Run, where: str) -> None:
    """Every case of the run's profile on its devices and dtypes: a ``-k`` subset would make
    every later gate call the rest "added, not judged"."""
    from rnnbench.bench import grid

    profile = run.suite.get("profile")
    if profile not in grid.PROFILES:
        raise UnusableInput(f"{where} does not record which profile it ran (rnnbench.profile "
                            f"is {profile!r}): record it with this version's suite")
    devices = {result.case.device for result in run.cases}
    dtypes = {result.case.dtype for result in run.cases}
    expected = [case.id for case in grid.cases(profile, devices, dtypes)]
    missing = [case for case in expected if case not in run.by_name()]
    if missing:
        raise UnusableInput(f"{where} lacks {len(missing)} of the {len(expected)} cases of "
                            f"profile {profile!r}: {few(missing, 3)}; a partial run (-k, a "
                            "filter) is never a baseline: run the whole profile")
