"""Measure a baseline commit and the working tree on this machine, interleaved (A/B).

Timings compare only between runs of one machine, so when the committed baseline comes from
another machine (or on demand, ``rnnbench gate --against REV``) the gate measures the baseline's
*code* here. The commit is extracted from git into a temporary folder (``git archive``: no
worktree bookkeeping is left behind, whatever stops the run) and its own suite runs from its own
``src`` on this interpreter, next to the current tree's suite:

- the cases are split into chunks of whole shapes (a custom case and its native reference are
  always measured in the same process, minutes apart at most), and
- each chunk runs on both sides back to back, in the order A B, B A, A B, ... so that drift and
  load from other processes hit both sides alike and a linear drift cancels.

The fault-injection switch (``RNNBENCH_SLOWDOWN``) applies to the current side only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnbench.gate.load import Run, UnusableInput, parse_run
from rnnbench.gate.rerun import run_suite, suite_command

#: Chunks per side: more interleaves more finely and costs a process start (and a
#: ``torch.compile`` warm-up) per chunk.
CHUNKS = 4
#: Environment variables that must not reach the baseline side (the fault-injection switch).
CURRENT_ONLY = ("RNNBENCH_SLOWDOWN",)


@dataclass(frozen=True)
class Pair:
    """One interleaved measurement: the baseline commit's run and the current tree's."""

    baseline: Run
    current: Run


def repo_root(start: Path | None = None) -> Path:
    """The top of the git repository holding ``start`` (default: here)."""
    done = _git(["rev-parse", "--show-toplevel"], start or Path.cwd())
    return Path(done.strip())


def resolve_commit(rev: str, repo: Path) -> str:
    """The full id of ``rev`` in ``repo``; :class:`UnusableInput` when it is not there."""
    try:
        return _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], repo).strip()
    except UnusableInput:
        shallow = _git(["rev-parse", "--is-shallow-repository"], repo).strip() == "true"
        hint = ("this clone is shallow: fetch the history (`git fetch --unshallow`, or clone "
                "with a larger --depth / actions/checkout fetch-depth: 0)" if shallow else
                f"fetch it (`git fetch origin {rev}`) or name an existing commit")
        raise UnusableInput(f"commit {rev!r} is not in the repository at {repo}: {hint}") from None


@contextlib.contextmanager
def checkout(commit: str, repo: Path) -> Iterator[Path]:
    """The tree of ``commit`` in a temporary folder, removed on exit (Ctrl-C and SIGTERM
    included: SIGTERM is turned into KeyboardInterrupt meanwhile)."""
    folder = Path(tempfile.mkdtemp(prefix=f"rnnbench-ab-{commit[:7]}-"))
    stack = contextlib.ExitStack()
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
        stack.callback(signal.signal, signal.SIGTERM, previous)
    try:
        archive = folder / "tree.tar"
        with archive.open("wb") as stream:
            done = subprocess.run(["git", "archive", "--format=tar", commit], cwd=repo,
                                  stdout=stream, stderr=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            raise UnusableInput(f"git archive {commit[:12]} failed: {done.stderr.strip()}")
        tree = folder / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter="data")
        archive.unlink()
        yield tree
    finally:
        signals = {signal.SIGINT, signal.SIGTERM}
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # a second Ctrl-C waits
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            stack.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def check_builds(tree: Path, commit: str) -> None:
    """Raise :class:`UnusableInput` unless ``tree``'s package and suite import here."""
    for required in ("src/rnnbench", "benchmarks"):
        if not (tree / required).is_dir():
            raise UnusableInput(
                f"commit {commit[:12]} has no {required}/: it is not an rnnbench tree whose "
                "suite can run; refresh the baseline (`rnnbench baseline refresh`)"
            )
    env = {**_without_switches(), "PYTHONPATH": str(tree / "src")}
    done = subprocess.run([sys.executable, "-c", "import rnnbench, rnnbench.bench.grid"],
                          cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UnusableInput(
            f"the baseline commit {commit[:12]} does not import on this interpreter ({last}); "
            "install what it needs, or refresh the baseline at a commit that works here"
        )


def collect(pytest_args: str, tree: Path) -> list[str]:
    """The case ids the suite of ``tree`` would run with these arguments, in suite order."""
    command = [a for a in suite_command("unused.json", pytest_args)
               if not a.startswith("--benchmark-json")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tree / "src"), os.environ.get("PYTHONPATH", "")]))}
    done = subprocess.run([*command, "--collect-only"], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)
    ids = re.findall(r"^\S+::\S+\[(.+)\]$", done.stdout, flags=re.MULTILINE)
    if done.returncode != 0 or not ids:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise UnusableInput(f"collecting the suite failed (pytest exit {done.returncode}):\n"
                            f"{tail}")
    return ids


def chunks(ids: Sequence[str], count: int = CHUNKS) -> list[list[str]]:
    """``ids`` in at most ``count`` chunks of whole shapes (native and customs together).

    Shapes are ordered by cell first, so that a chunk spans few cells: each process compiles
    the ``torch.compile`` step once per cell and grad mode it meets.
    """
    from rnnbench.bench import grid

    shape_of = {case.id: case.shape_key for case in grid.cases("full")}
    shapes: dict[str, list[str]] = {}
    for case in ids:
        shapes.setdefault(shape_of.get(case, case), []).append(case)
    groups = sorted(shapes.values(), key=lambda group: group[0].split("-")[0])
    count = max(1, min(count, len(groups)))
    size, extra = divmod(len(groups), count)
    out, start = [], 0
    for index in range(count):
        stop = start + size + (index < extra)
        out.append([case for group in groups[start:stop] for case in group])
        start = stop
    return out


def measure(tree: Path, commit: str, folder: Path, pytest_args: str,
            cases: Sequence[str] = (), count: int = CHUNKS, label: str = "") -> Pair:
    """Run ``cases`` (default: the whole suite) on both sides, interleaved chunk by chunk.

    The merged results land in ``folder`` as ``baseline{label}.json`` and
    ``current{label}.json``; a side whose suite fails is :class:`UnusableInput`.
    """
    here = repo_root()
    plan = chunks(list(cases) or collect(pytest_args, here), count)
    parts: dict[str, list[Path]] = {"baseline": [], "current": []}
    for index, selection in enumerate(plan):
        order = ("baseline", "current") if index % 2 == 0 else ("current", "baseline")
        for side in order:
            output = folder / f"{side}{label}-{index}.json"
            print(f"rnnbench gate: A/B chunk {index + 1}/{len(plan)}, {side} "
                  f"({len(selection)} case(s))", flush=True)
            if side == "baseline":
                status = run_suite(output, pytest_args, selection, tree, _without_switches())
            else:
                status = run_suite(output, pytest_args, selection, here)
            if status != 0:
                who = (f"the baseline commit {commit[:12]}'s suite" if side == "baseline"
                       else "the current suite")
                raise UnusableInput(f"{who} failed (pytest exit {status}) on chunk {index + 1}: "
                                    "see its output above; nothing to judge")
            parts[side].append(output)
    runs = {}
    for side, files in parts.items():
        merged = _merge(files, commit if side == "baseline" else None)
        path = folder / f"{side}{label}.json"
        path.write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
        runs[side] = parse_run(merged, str(path), f"A/B {side}")
    return Pair(runs["baseline"], runs["current"])


def _merge(files: Sequence[Path], commit: str | None) -> dict[str, Any]:
    """One pytest-benchmark document of several chunk documents of one side."""
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    merged = dict(documents[0])
    merged["benchmarks"] = [b for d in documents for b in d.get("benchmarks", [])]
    if commit is not None:  # the extracted tree has no .git: say what was measured
        merged["commit_info"] = {"id": commit, "dirty": False}
    statuses = [(d.get("rnnbench") or {}).get("exitstatus") for d in documents]
    merged["rnnbench"] = {**(documents[0].get("rnnbench") or {}),
                          "exitstatus": max((s for s in statuses if isinstance(s, int)),
                                            default=None)}
    return merged


def _without_switches() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CURRENT_ONLY}


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
        raise UnusableInput("git is not installed: A/B mode needs it to check out the "
                            "baseline's commit") from None
    if done.returncode != 0:
        raise UnusableInput(f"git {' '.join(args)} failed in {cwd}: "
                            f"{done.stderr.strip() or 'no output'}")
    return done.stdout

