"""``rnnbench history``: every commit's speed on this machine.

``history run REV... | A..B [-k EXPR]`` measures the commits in lockstep
(:mod:`rnnbench.history.run`) into pytest-benchmark's storage; ``history show`` prints each
case's series over the commits with its steps (:mod:`rnnbench.history.steps`).
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

from rnnbench.bench import slowdown
from rnnbench.gate import ab
from rnnbench.history import run as history
from rnnbench.history.series import Machine, load
from rnnbench.history.steps import MIN_RATIO, steps
from rnnbench.markdown import table

HELP = "measure commits on this machine in lockstep into the benchmark storage, or show them"
STORAGE = Path(".benchmarks")


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    measure = actions.add_parser("run", help="measure commits in lockstep, one file a commit",
                                 allow_abbrev=False)
    measure.add_argument("revs", nargs="+", metavar="REV",
                         help="commits (any git revision) or a range A..B (after A, up to B)")
    measure.add_argument("-k", dest="expression", metavar="EXPR",
                         help="pytest -k expression selecting cases of the quick profile")
    measure.add_argument("--machine", metavar="NAME", help="this machine's storage folder "
                         "(default: pytest-benchmark's machine id, e.g. Linux-CPython-3.11-64bit)")
    show = actions.add_parser("show", help="each case's ratio to native and time over commits",
                              allow_abbrev=False)
    show.add_argument("-k", dest="expression", metavar="PATTERN",
                      help="only cases whose id matches this glob (or contains it)")
    for sub in (measure, show):
        sub.add_argument("--storage", type=Path, default=STORAGE, metavar="DIR",
                         help=f"pytest-benchmark's storage (default: {STORAGE})")


def run(args: argparse.Namespace) -> int:
    if args.action == "run":
        slowdown.check()
        machine = history.storage_machine(args.machine)
        repo = ab.repo_root()
        ids = history.commits(args.revs, repo)
        cases = history.select(args.expression, repo)
        print(f"rnnbench history: {len(ids)} commit(s) x {len(cases)} case(s) into "
              f"{args.storage / machine}", flush=True)
        for path in history.measure(ids, repo, cases, args.storage, machine):
            print(path)
        return 0
    machines, _ = load([args.storage])
    if not machines:
        raise ValueError(f"storage {str(args.storage)!r} holds no result files: measure some "
                         "with `rnnbench history run A..B`")
    for machine in machines:
        print(show(machine, args.expression))
    return 0


def show(machine: Machine, pattern: str | None = None) -> str:
    """Markdown: per case, its ratio to native and median over the commits, steps marked."""
    lines = [f"# {machine.name}: {machine.device_name}, {len(machine.runs)} commit(s)", ""]
    for case, points in machine.series().items():
        if pattern and not (fnmatch.fnmatch(case, pattern) or pattern in case):
            continue
        moved = {step.commit: step for step in steps(points)}
        rows = []
        for point in points:
            run, step = point.run, moved.get(point.run.commit or "")
            rows.append([
                (run.commit or "?")[:10], (run.commit_time or run.date or "?")[:10],
                "" if point.ratio is None else f"{point.ratio:.3f}",
                f"{point.result.median * 1e3:.3g}",
                f"STEP {step.size:.2f}x (p={step.p:.3g})" if step else ""])
        lines += [f"## {case}", "", table(
            ["commit", "date", "ratio to native", f"median ms ({machine.device_name})", "step"],
            rows, right=(2, 3)), ""]
    lines.append(f"A step: a commit whose ratio to native differs from its parent's by at least "
                 f"{MIN_RATIO}x, significantly on the paired rounds.")
    return "\n".join(lines)
