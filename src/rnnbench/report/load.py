"""The report's inputs, read once, with errors that name the file and what was expected.

Two kinds of file, told apart by their keys rather than their names:

- benchmark results: pytest-benchmark JSON, read by :mod:`rnnbench.bench.results` (the one
  reader, shared with the gate) into a :class:`~rnnbench.bench.results.Run`;
- convergence results: the JSON ``rnnbench converge`` writes (schema in
  :mod:`rnnbench.converge.store`), read into :class:`Convergence` and :class:`Training`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnbench import files
from rnnbench.bench import results
from rnnbench.bench.results import Run
from rnnbench.files import integer, mapping

CONVERGENCE_SCHEMA = "rnnbench.converge/1"


@dataclass(frozen=True)
class Training:
    """One cell trained with one seed: its per-epoch curve and summary."""

    cell: str
    seed: int
    status: str
    epochs: tuple[Mapping[str, Any], ...]
    summary: Mapping[str, Any]
    params: int | None
    epochs_requested: int | None
    diverged_epoch: int | None = None


@dataclass(frozen=True)
class Convergence:
    """A convergence results file: one task, its settings and its runs."""

    path: Path
    task: str
    settings: Mapping[str, Any]
    data: Mapping[str, Any]
    environment: Mapping[str, Any]
    date: str
    runs: tuple[Training, ...]

    @property
    def device_name(self) -> str:
        """The machine(s) that trained the runs: each epoch names its own, since a resumed run
        may have gone on elsewhere; epochs of older files go by the file's environment."""
        env = self.environment
        default = str(env.get("device_name") or env.get("device") or "unknown device")
        names = {str(e.get("device_name") or default) for t in self.runs for e in t.epochs}
        return " + ".join(sorted(names)) or default

    def counted(self, cell: str) -> list[Training]:
        """The runs of ``cell`` that means and spreads are taken over: the finished ones (done
        or diverged), since a run still going has no final best or final loss yet; a cell
        with none finished falls back to its runs still going, so a file of partial runs still
        shows where they stand (the epochs-run column says how far)."""
        runs = [t for t in self.runs if t.cell == cell]
        return [t for t in runs if t.status != "running"] or runs


@dataclass(frozen=True)
class Inputs:
    bench: tuple[Run, ...] = ()
    convergence: tuple[Convergence, ...] = ()
    ignored: tuple[str, ...] = ()


def is_bench(data: Any) -> bool:
    return isinstance(data, Mapping) and isinstance(data.get("benchmarks"), list)


def is_convergence(data: Any) -> bool:
    return isinstance(data, Mapping) and (data.get("schema") == CONVERGENCE_SCHEMA or (
        isinstance(data.get("runs"), list) and "task" in data and "benchmarks" not in data))


def read(paths: Sequence[Path], strict: bool = True) -> Inputs:
    """Every file, by kind; one of neither kind is an error, or with ``strict=False`` noted."""
    bench, conv, ignored = [], [], []
    for path in paths:
        data = files.read_json(path, "results file")
        if is_bench(data):
            bench.append(results.parse(data, path.as_posix()))
        elif is_convergence(data):
            conv.append(load_convergence(path, data))
        elif strict:
            raise ValueError(f"results file {str(path)!r} is neither pytest-benchmark JSON (a "
                             "'benchmarks' list) nor rnnbench convergence JSON (a 'runs' list)")
        else:
            ignored.append(path.as_posix())
    return Inputs(tuple(bench), tuple(conv), tuple(ignored))


def load_convergence(path: Path, data: Any = None) -> Convergence:
    """A ``rnnbench converge --out FILE`` results file."""
    where = f"results file {str(path)!r}"
    data = files.read_json(path, "results file") if data is None else data
    if not is_convergence(data):
        raise ValueError(f"{where} is not rnnbench convergence JSON: expected an object with "
                         f"schema {CONVERGENCE_SCHEMA!r}, a 'task' and a 'runs' list")
    if not isinstance(data.get("runs"), list):
        raise ValueError(f"{where}: 'runs' is {type(data.get('runs')).__name__}, expected a list")
    runs = []
    for index, raw in enumerate(data["runs"]):
        missing = [key for key in ("cell", "seed", "epochs") if key not in mapping(raw)]
        if missing or not isinstance(raw.get("epochs"), list):
            raise ValueError(f"{where}: runs[{index}] lacks "
                             f"{', '.join(map(repr, missing or ['epochs']))} (expected an "
                             "object with cell, seed and a list of epochs)")
        if not isinstance(raw["seed"], int) or isinstance(raw["seed"], bool):
            raise ValueError(f"{where}: runs[{index}].seed is {raw['seed']!r}, expected an "
                             "integer")
        params = raw.get("params")
        total = params.get("total") if isinstance(params, Mapping) else params
        runs.append(Training(
            cell=str(raw["cell"]), seed=raw["seed"], status=str(raw.get("status", "?")),
            epochs=tuple(e for e in raw["epochs"] if isinstance(e, Mapping)),
            summary=mapping(raw.get("summary")), params=integer(total),
            epochs_requested=integer(raw.get("epochs_requested")),
            diverged_epoch=integer(mapping(raw.get("diverged")).get("epoch"))))
    return Convergence(
        path=path, task=str(data.get("task", "?")), settings=mapping(data.get("settings")),
        data=mapping(data.get("data")), environment=mapping(data.get("environment")),
        date=str(data.get("updated") or data.get("created") or "undated")[:10],
        runs=tuple(runs))
