"""Measure a baseline commit and the working tree on this machine, interleaved (A/B).

Timings compare only between runs of one machine, so when the committed baseline comes from
another machine (or with ``rnnbench gate --against REV``) the gate measures the baseline's
*code* here: the commit is extracted with ``git archive`` into a temporary folder and its own
suite runs from its own ``src``, in a worker process (:mod:`rnnbench.gate.worker`) beside a
worker of the current tree. The two are driven in **lockstep**: for each shape, every round
times each implementation once on both sides, in the order A B, B A, ... so both sides, and
each custom case and its native reference, are measured seconds apart, and a shared machine
whose speed wanders by tens of percent over a minute hits all of them alike (whole-suite runs
per side do not survive that: ``reports/gate/ab-study.md``). pytest-benchmark cannot
interleave two processes, so this loop times by hand, with its rules: untimed warm-up calls,
at least ``MIN_ROUNDS`` rounds, about ``MAX_TIME`` seconds per case. The fault-injection
switch (``RNNBENCH_SLOWDOWN``) applies to the current side only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from rnnbench.bench.results import Run
from rnnbench.files import write_json
from rnnbench.gate.compare import UnusableInput, parse_run
from rnnbench.gate.rerun import suite_command, tree_env
from rnnbench.gate.worker import API_VERSION, CHECK

#: Rounds per case: at least ``MIN_ROUNDS``, about ``MAX_TIME`` seconds of calls, at most
#: ``MAX_ROUNDS``.
#: 8 rounds: the paired test's smallest one-sided p is 1/256, below the gate's alpha.
MIN_ROUNDS, MAX_TIME, MAX_ROUNDS = 8, 1.0, 40
#: Longest wait for one step of either side (an import check, the collection, one load, timing
#: or description of a case), seconds: generous, so that only a hung tree hits it.
STEP_TIMEOUT_S = 600.0
#: Worker processes per side, taking turns round by round. One process can run every case at
#: 0.77x the speed of another for its whole life (where its memory and threads landed), so no
#: single process decides a side: fresh processes draw fresh luck.
WORKERS_PER_SIDE = 2
#: Environment variables that must not reach the baseline side (the fault-injection switch).
CURRENT_ONLY = ("RNNBENCH_SLOWDOWN",)


class Pair(NamedTuple):
    """One interleaved measurement: the baseline commit's run and the current tree's (a
    confirmation of :func:`rnnbench.gate.compare.compare`)."""

    baseline: Run
    current: Run


def repo_root() -> Path:
    """The top of the git repository holding the current folder."""
    return Path(git(["rev-parse", "--show-toplevel"], Path.cwd()).strip())


def resolve_commit(rev: str, repo: Path) -> str:
    """The full id of ``rev`` in ``repo``; :class:`UnusableInput` when it is not there."""
    try:
        return git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], repo).strip()
    except UnusableInput:
        shallow = git(["rev-parse", "--is-shallow-repository"], repo).strip() == "true"
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
    env = tree_env(tree, _without_switches())
    done = _run([sys.executable, "-c", CHECK], tree, env, "baseline",
                "the import check")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UnusableInput(
            f"the baseline commit {commit[:12]} does not import on this interpreter, or lacks "
            f"the worker's tree API v{API_VERSION} ({last}); install what it needs, or "
            "refresh the baseline at a commit that works here"
        )


def collect(pytest_args: str, tree: Path) -> list[str]:
    """The case ids the suite of ``tree`` would run with these arguments, in suite order."""
    done = _run([*suite_command(None, pytest_args), "--collect-only"], tree, tree_env(tree),
                "current", "collecting the suite")
    ids = re.findall(r"^\S+::\S+\[(.+)\]$", done.stdout, flags=re.MULTILINE)
    if done.returncode != 0 or not ids:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise UnusableInput(f"collecting the suite failed (pytest exit {done.returncode}):\n"
                            f"{tail}")
    return ids


def _run(command: list[str], cwd: Path, env: dict[str, str], side: str,
         step: str) -> subprocess.CompletedProcess[str]:
    """``command``'s output, or :class:`UnusableInput` naming the side and step when it takes
    longer than :data:`STEP_TIMEOUT_S`."""
    try:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              check=False, timeout=STEP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UnusableInput(f"the {side} side did not finish {step} within {STEP_TIMEOUT_S:g} "
                            "s: its tree hangs; fix it, or judge against another commit "
                            "(--against REV)") from None


def shapes(ids: Sequence[str]) -> list[list[str]]:
    """``ids`` grouped by shape (a native case and its custom cases), cells in order."""
    from rnnbench.bench import grid

    shape_of = {case.id: case.shape_key for case in grid.cases("full")}
    groups: dict[str, list[str]] = {}
    for case in ids:
        groups.setdefault(shape_of.get(case, case), []).append(case)
    return sorted(groups.values(), key=lambda group: group[0].split("-")[0])


class Worker:
    """A :mod:`rnnbench.gate.worker` process timing the cases of one tree."""

    def __init__(self, side: str, tree: Path, env: dict[str, str], threads: int) -> None:
        self.side = side
        script = Path(__file__).with_name("worker.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(threads)], cwd=tree, env=tree_env(tree, env),
            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=1)

    def ask(self, op: str, case: str | None = None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, "case": case}) + "\n")
        # one answer per question: nothing is left in the reader's buffer between questions
        ready, _, _ = select.select([self.process.stdout], [], [], STEP_TIMEOUT_S)
        if not ready:
            self.process.kill()
            raise UnusableInput(f"the {self.side} side's worker did not answer {op!r}"
                                f"{f' of {case}' if case else ''} within {STEP_TIMEOUT_S:g} s: "
                                "its workload hangs; fix that tree, or judge against another "
                                "commit (--against REV)")
        line = self.process.stdout.readline()
        if not line:
            raise UnusableInput(f"the {self.side} side's worker stopped (exit "
                                f"{self.process.wait()}): see its output above")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise UnusableInput(f"the {self.side} side's worker answered {line.strip()[:80]!r} "
                                "instead of JSON: its tree writes to the standard output "
                                "outside Python (e.g. a C library); silence it") from None

    def close(self) -> None:
        """Ask the worker to quit; kill it if it has not within 30 s. Its pipes are closed."""
        try:
            self.process.communicate(json.dumps({"op": "quit"}) + "\n", timeout=30)
        except Exception:  # stuck, or its stdin already gone
            self.process.kill()
            self.process.communicate()


def measure(tree: Path, commit: str, folder: Path, pytest_args: str,
            cases: Sequence[str] = (), label: str = "") -> Pair:
    """Time ``cases`` (default: the suite's selection) on both sides in lockstep.

    The runs land in ``folder`` as ``baseline{label}.json`` and ``current{label}.json``
    (pytest-benchmark's format, as the gate reads it).
    """
    here = repo_root()
    match = re.search(r"--rnnbench-threads[= ](\d+)", pytest_args)
    threads = int(match.group(1)) if match else 1
    plan = shapes(list(cases) or collect(pytest_args, here))
    sides = {side: [Worker(side, root, env, threads) for _ in range(WORKERS_PER_SIDE)]
             for side, root, env in (("baseline", tree, _without_switches()),
                                     ("current", here, dict(os.environ)))}
    timings: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    infos: dict[str, dict[str, dict[str, Any]]] = {side: {} for side in sides}
    try:
        for index, group in enumerate(plan, 1):
            loaded = {side: load_cases(workers, group) for side, workers in sides.items()}
            if not loaded["current"] and not loaded["baseline"]:
                continue
            slowest = max(max(times.values(), default=0.0) for times in loaded.values())
            rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, round(MAX_TIME / max(slowest, 1e-3))))
            print(f"rnnbench gate: A/B shape {index}/{len(plan)}: {len(group)} case(s), "
                  f"{rounds} rounds each side", flush=True)
            for r in range(rounds):
                for position, case in enumerate(group):
                    order = ("baseline", "current") if (r + position) % 2 == 0 else (
                        "current", "baseline")
                    for side in order:
                        if case in loaded[side]:
                            worker = sides[side][r % WORKERS_PER_SIDE]
                            seconds = worker.ask("time", case)["seconds"]
                            timings[side].setdefault(case, []).append(seconds)
            for side, workers in sides.items():
                for case in loaded[side]:
                    infos[side][case] = workers[0].ask("describe", case)["info"]
    finally:
        for worker in (w for workers in sides.values() for w in workers):
            worker.close()
    import cpuinfo

    cpu = cpuinfo.get_cpu_info()  # one machine for both sides (it takes a second to read)
    runs = {}
    for side in sides:
        document = to_document(timings[side], infos[side], cpu,
                             commit if side == "baseline" else None)
        path = folder / f"{side}{label}.json"
        write_json(path, document)
        runs[side] = parse_run(document, str(path), f"A/B {side}")
    return Pair(runs["baseline"], runs["current"])


def load_cases(workers: Sequence[Worker], group: Sequence[str]) -> dict[str, float]:
    """The cases of ``group`` that load on every one of a tree's ``workers``, with the longest
    time one call took; a case that fails in the current tree is an error, in any other tree it
    is left out (the commit lacks it)."""
    loaded: dict[str, float] = {}
    for case in group:
        replies = [worker.ask("load", case) for worker in workers]
        failed = next((reply for reply in replies if not reply.get("ok")), None)
        if failed is None:
            loaded[case] = max(reply["seconds"] for reply in replies)
        elif workers[0].side == "current":
            raise UnusableInput(f"{case} does not run in the current tree: {failed['error']}")
    return loaded


def to_document(timings: dict[str, list[float]], infos: dict[str, dict[str, Any]],
              cpu: dict[str, Any], commit: str | None) -> dict[str, Any]:
    """The side's timings as a pytest-benchmark document (what the gate reads of one)."""
    if commit is None:  # the working tree: its HEAD, and whether tracked files changed
        here = repo_root()
        commit_info = {"id": git(["rev-parse", "HEAD"], here).strip(), "dirty": bool(
            git(["status", "--porcelain", "--untracked-files=no"], here).strip())}
    else:
        commit_info = {"id": commit, "dirty": False}
    entries = []
    for case, data in timings.items():
        entries.append({
            "name": f"test_speed[{case}]", "fullname": f"rnnbench.gate.ab::{case}",
            "extra_info": infos.get(case, {"case": case}),
            "options": {"timer": "process_time", "runner": "rnnbench.gate.ab lockstep"},
            "stats": {"data": data, "rounds": len(data), "median": statistics.median(data),
                      "min": min(data), "max": max(data)},
        })
    return {"machine_info": {"cpu": cpu, "device_name": cpu.get("brand_raw")},
            "commit_info": commit_info, "benchmarks": entries,
            "rnnbench": {"exitstatus": 0, "runner": "lockstep"}}


def _without_switches() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CURRENT_ONLY}


def git(args: list[str], cwd: Path) -> str:
    """The output of ``git ARGS`` in ``cwd``; :class:`UnusableInput` saying why it failed."""
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

