"""A storage of runs as series over commits, per machine and case.

A storage is pytest-benchmark's autosave folder, ``STORAGE/MACHINE/NNNN_*.json``, or one
``MACHINE`` folder of it. Every file is read by :mod:`rnnbench.bench.results`. The commits of a
machine are ordered by commit date (a run without one by its own date); of several runs of one
commit, the newest file counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rnnbench.bench import results
from rnnbench.bench.results import Result, Run
from rnnbench.files import BadFile

PATTERN = "[0-9][0-9][0-9][0-9]_*.json"


@dataclass(frozen=True)
class Point:
    """One case at one commit: its result, its shape's native result of the same run, and the
    custom/native ratio of every round (where both hold the same number of rounds)."""

    run: Run
    result: Result
    native: Result | None

    @cached_property
    def ratio(self) -> float | None:
        """Custom over native: the geometric median of the per-round ratios where the rounds
        are paired, else the ratio of the medians."""
        if self.native is None:
            return None
        rounds = self.round_ratios
        if not rounds:
            return self.result.median / self.native.median
        logs = sorted(math.log(x) for x in rounds)
        middle = len(logs) // 2
        return math.exp(logs[middle] if len(logs) % 2 else (logs[middle - 1] + logs[middle]) / 2)

    @cached_property
    def round_ratios(self) -> tuple[float, ...]:
        """Round r's time over round r of native, measured seconds apart (lockstep runs)."""
        if (self.native is None or not self.run.paired or not self.result.data
                or len(self.result.data) != len(self.native.data)):
            return ()
        return tuple(a / b for a, b in zip(self.result.data, self.native.data, strict=True))


@dataclass(frozen=True)
class Machine:
    """The runs of one storage folder, one a commit, oldest commit first."""

    name: str
    runs: tuple[Run, ...]

    @property
    def device_name(self) -> str:
        return next((run.device_name for run in self.runs if run.device_name), "unknown device")

    def series(self) -> dict[str, list[Point]]:
        """Case name -> its points over the commits, in commit order."""
        out: dict[str, list[Point]] = {}
        for run in self.runs:
            native = results.natives(run.cases)
            for result in run.cases:
                ref = native.get(result.shape_key) if result.impl != "native" else None
                out.setdefault(result.name, []).append(Point(run, result, ref))
        return out


def files(storages: Iterable[Path]) -> dict[str, list[Path]]:
    """Machine folder name -> its result files, for storages and machine folders alike."""
    out: dict[str, list[Path]] = {}
    for storage in storages:
        if not storage.is_dir():
            raise BadFile(f"storage {str(storage)!r} is not a folder: expected pytest-benchmark's "
                          "storage (.benchmarks) or one machine folder of it")
        found = sorted(storage.glob(PATTERN))
        folders = [(storage.resolve().name, found)] if found else [
            (sub.name, sorted(sub.glob(PATTERN))) for sub in sorted(storage.iterdir())
            if sub.is_dir()]
        for name, paths in folders:
            if paths:
                out.setdefault(name, []).extend(paths)
    return out


def load(storages: Sequence[Path], warn: bool = False) -> tuple[list[Machine], list[str]]:
    """Every machine in ``storages`` and the warnings; an unreadable file raises
    :class:`BadFile` naming it, or with ``warn`` is skipped with a warning."""
    machines, warnings = [], []
    for name, paths in files(storages).items():
        runs = []
        for path in paths:
            try:
                runs.append(results.load(path, "storage file"))
            except BadFile as error:
                if not warn:
                    raise
                warnings.append(f"skipped: {error}")
        if runs:
            machines.append(Machine(name, ordered(runs)))
    return machines, warnings


def ordered(runs: Iterable[Run]) -> tuple[Run, ...]:
    """One run per commit (the newest file), oldest commit first."""
    newest: dict[str, Run] = {}
    for run in sorted(runs, key=lambda run: Path(run.path).name):
        newest[run.commit or run.path] = run
    return tuple(sorted(newest.values(), key=lambda run: (run.commit_time or run.date or "",
                                                           Path(run.path).name)))
