"""Measure K commits on this machine in lockstep, one results file per commit.

The A/B gate's lockstep (:mod:`rnnbench.gate.ab`) for K trees instead of two: every commit is
extracted into a temporary folder and served by worker processes of its own
(:mod:`rnnbench.gate.worker`), two, taking turns round by round (one process can run a case
at 0.77x the speed of another for its whole life, so no single process decides a commit). For
each shape, every round times every commit once, in an order that rotates from round to round,
so every commit meets the machine's wandering speed alike, and round ``r`` of all commits is
one paired sample (what :mod:`rnnbench.history.steps` tests). Each commit's runs go into
pytest-benchmark's autosave storage, ``STORAGE/MACHINE/NNNN_<commit>_<date>.json``,
rewritten after every shape, so an interrupted run keeps the shapes finished so far. The
fault-injection switch (``RNNBENCH_SLOWDOWN``) reaches the newest commit's workers only.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rnnbench.files import check_output_dir, write_json
from rnnbench.gate import ab
from rnnbench.gate.compare import UnusableInput
from rnnbench.gate.rerun import CPU_ARGS, tree_env
from rnnbench.gate.worker import API_VERSION, CHECK, OLDEST_TREE

#: The name of one storage file, as pytest-benchmark's ``--benchmark-autosave`` writes it.
FILE_NAME = "{number:04d}_{commit}_{time:%Y%m%d_%H%M%S}.json"
#: Worker processes per commit; round ``r`` is timed by worker ``r % WORKERS``.
WORKERS = ab.WORKERS_PER_SIDE
#: Fewest rounds per case: the gate's fewest for each worker.
MIN_ROUNDS = WORKERS * ab.MIN_ROUNDS


def commits(revs: Sequence[str], repo: Path) -> list[str]:
    """The full ids that ``revs`` name (``A..B``: the commits after A up to B, oldest first),
    in the given order; :class:`UnusableInput` naming a REV that names none, or a repeat."""
    out: list[str] = []
    for rev in revs:
        if ".." in rev:
            start, end = (ab.resolve_commit(part or "HEAD", repo) for part in rev.split("..", 1))
            found = ab.git(["rev-list", "--reverse", "--first-parent", f"{start}..{end}"],
                           repo).split()
            if not found:
                raise UnusableInput(f"range {rev!r} holds no commits: name A..B with A older "
                                    "than B")
            out += found
        else:
            out.append(ab.resolve_commit(rev, repo))
    repeated = sorted({c[:12] for c in out if out.count(c) > 1})
    if repeated:
        raise UnusableInput(f"commit(s) {', '.join(repeated)} named twice: name each once")
    return out


def check_tree(tree: Path, commit: str) -> None:
    """:class:`UnusableInput` naming ``commit`` unless its package and the worker's tree API
    import here."""
    if not (tree / "src" / "rnnbench").is_dir() or not (tree / "benchmarks").is_dir():
        raise UnusableInput(f"commit {commit[:12]} has no src/rnnbench/ and benchmarks/: it is "
                            "not a commit of this project")
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=tree, env=tree_env(tree),
                          capture_output=True, text=True, check=False, timeout=ab.STEP_TIMEOUT_S)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UnusableInput(f"commit {commit[:12]}'s tree does not import here, or lacks the "
                            f"worker's tree API v{API_VERSION} ({last}); the commits from "
                            f"{OLDEST_TREE[:7]} on provide it")


def select(expression: str | None, repo: Path) -> list[str]:
    """The case ids of the current tree's suite (quick profile) that ``-k expression`` keeps."""
    args = CPU_ARGS + (f" -k {_quoted(expression)}" if expression else "")
    return ab.collect(args, repo)


def measure(ids: Sequence[str], repo: Path, cases: Sequence[str], storage: Path,
            machine: str) -> list[Path]:
    """Time ``cases`` of every commit in ``ids`` in lockstep; the files written, one a commit."""
    folder = check_output_dir("--storage", storage / machine)
    first = 1 + max((int(p.name[:4]) for p in folder.glob("[0-9][0-9][0-9][0-9]_*.json")),
                    default=0)
    started = datetime.now(timezone.utc)
    paths = [folder / FILE_NAME.format(number=first + i, commit=c, time=started)
             for i, c in enumerate(ids)]
    session = {"runner": "lockstep", "session": uuid.uuid4().hex[:12], "workers": WORKERS,
               "exitstatus": 0, "profile": "quick"}
    import cpuinfo

    cpu = cpuinfo.get_cpu_info()
    quiet = {k: v for k, v in os.environ.items() if k not in ab.CURRENT_ONLY}
    timings: list[dict[str, list[float]]] = [{} for _ in ids]
    infos: list[dict[str, dict[str, Any]]] = [{} for _ in ids]
    described = {commit: _date_and_subject(commit, repo) for commit in ids}
    written: list[Path] = []
    with contextlib.ExitStack() as stack:
        trees = [stack.enter_context(ab.checkout(commit, repo)) for commit in ids]
        for tree, commit in zip(trees, ids, strict=True):
            check_tree(tree, commit)
        workers = [[ab.Worker(commit[:7], tree, os.environ if i == len(ids) - 1 else quiet, 1)
                    for _ in range(WORKERS)]
                   for i, (commit, tree) in enumerate(zip(ids, trees, strict=True))]
        for worker in (w for pair in workers for w in pair):
            stack.callback(worker.close)
        plan = ab.shapes(cases)
        for index, group in enumerate(plan, 1):
            loaded = [ab.load_cases(pair, group) for pair in workers]
            slowest = max((max(times.values(), default=0.0) for times in loaded), default=0.0)
            if not slowest:
                continue
            rounds = max(MIN_ROUNDS, min(ab.MAX_ROUNDS, round(ab.MAX_TIME / slowest)))
            print(f"rnnbench history: shape {index}/{len(plan)}: {len(group)} case(s) x "
                  f"{len(ids)} commits, {rounds} rounds", flush=True)
            for r in range(rounds):
                for k in (*range(r % len(ids), len(ids)), *range(r % len(ids))):
                    for case in (group if r // WORKERS % 2 == 0 else group[::-1]):
                        if case in loaded[k]:
                            seconds = workers[k][r % WORKERS].ask("time", case)["seconds"]
                            timings[k].setdefault(case, []).append(seconds)
            for k, pair in enumerate(workers):
                for case in loaded[k]:
                    infos[k][case] = pair[0].ask("describe", case)["info"]
                if timings[k]:
                    write_json(paths[k], _document(timings[k], infos[k], cpu, ids[k],
                                                   described[ids[k]], started, session))
                    if paths[k] not in written:
                        written.append(paths[k])
    return written


def _document(timings: dict[str, list[float]], infos: dict[str, dict[str, Any]],
              cpu: dict[str, Any], commit: str, described: tuple[str, str], started: datetime,
              session: dict[str, Any]) -> dict[str, Any]:
    """One commit's run as pytest-benchmark writes it, with the commit's date and subject."""
    document = ab.to_document(timings, infos, cpu, commit)
    time, subject = described
    document["commit_info"].update(time=time, project="rnnbench")
    document["machine_info"]["threads"] = 1
    document["datetime"] = started.isoformat()
    document["rnnbench"] = {**session, "subject": subject}
    return document


def _date_and_subject(commit: str, repo: Path) -> tuple[str, str]:
    """The commit's date (ISO 8601) and subject line, for its run's file."""
    shown = ab.git(["show", "-s", "--format=%cI%n%s", commit], repo).rstrip("\n")
    date, _, subject = shown.partition("\n")
    return date, subject


def _quoted(expression: str) -> str:
    return "'" + expression.replace("'", "'\"'\"'") + "'"


def storage_machine(name: str | None) -> str:
    """The storage folder of this machine: ``name``, or pytest-benchmark's machine id."""
    if name is not None:
        if not re.fullmatch(r"[\w.+-]+", name):
            raise UnusableInput(f"--machine {name!r} is not accepted: expected a folder name "
                                "of letters, digits, '.', '+', '-' or '_', e.g. amd-epyc-2core")
        return name
    from pytest_benchmark.utils import get_machine_id

    return get_machine_id()
