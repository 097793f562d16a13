"""Convergence results (schema ``rnnbench.converge/1``, see :mod:`rnnbench.converge.store`).

One file holds one task (``imdb``, ``adding`` or ``copy``) and its runs, one per cell and
seed, each with a per-epoch curve and a summary. This module reads them and computes the
spread over seeds; :mod:`.learning` draws and tabulates.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnbench.report.load import read_json
from rnnbench.report.style import sort_key_cell

SCHEMA = "rnnbench.converge/1"
#: The curve each task is judged by: validation accuracy, held-out MSE, recall accuracy.
PRIMARY_METRIC = {"imdb": "val_accuracy", "adding": "eval_loss", "copy": "eval_accuracy"}
FALLBACK_METRICS = ("val_accuracy", "eval_accuracy", "eval_loss", "val_loss", "train_loss")


@dataclass(frozen=True)
class Run:
    """One cell trained with one seed."""

    cell: str
    seed: int
    status: str
    epochs: tuple[Mapping[str, Any], ...]
    summary: Mapping[str, Any]
    params: int | None
    epochs_requested: int | None
    breakdown: Mapping[str, int] = field(default_factory=dict)
    diverged_epoch: int | None = None  # the epoch whose loss or metric was not finite

    def series(self, metric: str, x: str = "epoch") -> list[tuple[float, float]]:
        return [(float(e[x]), float(e[metric])) for e in self.epochs
                if _number(e.get(metric)) and _number(e.get(x))]


@dataclass(frozen=True)
class ConvergenceResults:
    path: Path
    task: str
    settings: Mapping[str, Any]
    data: Mapping[str, Any]
    device: str
    device_name: str
    torch_version: str
    date: str
    runs: tuple[Run, ...]
    threads: int | None = None

    @property
    def tasks(self) -> tuple[str, ...]:
        return (self.task,)

    @property
    def x_name(self) -> str:
        """Epochs for IMDB (the seed's unit); optimizer steps for the synthetic tasks."""
        return "epoch" if self.task == "imdb" else "step"

    @property
    def metric(self) -> str | None:
        keys = {k for run in self.runs for e in run.epochs for k, v in e.items() if _number(v)}
        preferred = PRIMARY_METRIC.get(self.task)
        if preferred in keys:
            return preferred
        return next((m for m in FALLBACK_METRICS if m in keys), None)

    @property
    def threshold(self) -> tuple[str, float] | None:
        """The solved criterion of a synthetic task as ``(metric, value)``, if stated."""
        match = re.match(r"\s*(\w+).*?(?:<|>=?)\s*([0-9.eE+-]+)", str(self.data.get(
            "solved_when", "")))
        return (match.group(1), float(match.group(2))) if match else None

    def by_cell(self) -> dict[str, list[Run]]:
        grouped: dict[str, list[Run]] = defaultdict(list)
        for run in self.runs:
            grouped[run.cell].append(run)
        return {cell: sorted(grouped[cell], key=lambda r: r.seed)
                for cell in sorted(grouped, key=sort_key_cell)}

    @property
    def footer(self) -> str:
        threads = f", {self.threads} thread{'s' * (self.threads != 1)}" if self.threads else ""
        return (f"{self.device_name} ({self.device}{threads}) · torch {self.torch_version} · "
                f"{self.date} · {self.path.name}")


def _number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def is_convergence(data: Any) -> bool:
    return isinstance(data, Mapping) and (data.get("schema") == SCHEMA or (
        isinstance(data.get("runs"), list) and "task" in data and "benchmarks" not in data))


def load_convergence(path: Path, data: Any | None = None) -> ConvergenceResults:
    """Convergence results from a ``rnnbench converge --out FILE`` JSON file."""
    data = read_json(path) if data is None else data
    if not is_convergence(data):
        raise ValueError(
            f"results file {str(path)!r} is not rnnbench convergence JSON: expected an object "
            f"with schema {SCHEMA!r}, a 'task' and a 'runs' list (rnnbench converge --out FILE)"
        )
    if not isinstance(data.get("runs"), list):
        raise ValueError(f"results file {str(path)!r}: 'runs' is "
                         f"{type(data.get('runs')).__name__}, expected a list of runs")
    environment, settings, about = (
        value if isinstance(value, Mapping) else {}
        for value in (data.get("environment"), data.get("settings"), data.get("data")))
    return ConvergenceResults(
        path=path, task=str(data.get("task", "?")), settings=settings,
        data=about, device=str(environment.get("device", "?")),
        device_name=str(environment.get("device_name") or environment.get("device") or "?"),
        torch_version=str(environment.get("torch", "?")),
        date=str(data.get("updated") or data.get("created") or "undated")[:10],
        runs=tuple(_run(path, index, raw) for index, raw in enumerate(data["runs"])),
        threads=environment.get("threads") if _number(environment.get("threads")) else None,
    )


def _run(path: Path, index: int, raw: Any) -> Run:
    if not isinstance(raw, Mapping):
        raise ValueError(f"results file {str(path)!r}: runs[{index}] is "
                         f"{type(raw).__name__}, expected an object")
    missing = [key for key in ("cell", "seed", "epochs") if key not in raw]
    if missing or not isinstance(raw.get("epochs"), list):
        raise ValueError(f"results file {str(path)!r}: runs[{index}] lacks "
                         f"{', '.join(map(repr, missing or ['epochs']))} (expected cell, seed "
                         "and a list of epochs)")
    if not isinstance(raw["seed"], int) or isinstance(raw["seed"], bool):
        raise ValueError(f"results file {str(path)!r}: runs[{index}].seed is {raw['seed']!r}, "
                         "expected an integer")
    params = raw.get("params")
    total = params.get("total") if isinstance(params, Mapping) else params
    breakdown = params.get("breakdown") if isinstance(params, Mapping) else None
    diverged = raw.get("diverged")
    diverged_epoch = diverged.get("epoch") if isinstance(diverged, Mapping) else None
    summary = raw.get("summary")
    return Run(
        cell=str(raw["cell"]), seed=raw["seed"], status=str(raw.get("status", "?")),
        epochs=tuple(e for e in raw["epochs"] if isinstance(e, Mapping)),
        summary=summary if isinstance(summary, Mapping) else {},
        params=int(total) if _number(total) else None,
        epochs_requested=raw.get("epochs_requested"),
        breakdown={k: v for k, v in breakdown.items() if _number(v)}
        if isinstance(breakdown, Mapping) else {},
        diverged_epoch=int(diverged_epoch) if _number(diverged_epoch) else None,
    )


@dataclass(frozen=True)
class Band:
    """Mean and min–max over the seeds that reached each x (a run still going is shorter)."""

    x: tuple[float, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    seeds: int


def band(runs: Sequence[Run], metric: str, x: str = "epoch") -> Band:
    values: dict[float, list[float]] = defaultdict(list)
    for run in runs:
        for at, value in run.series(metric, x):
            values[at].append(value)
    xs = sorted(values)
    return Band(tuple(xs), tuple(statistics.fmean(values[at]) for at in xs),
                tuple(min(values[at]) for at in xs), tuple(max(values[at]) for at in xs),
                len(runs))


def summary_values(runs: Sequence[Run], key: str) -> list[float]:
    """``summary[key]`` of every run that has a number there."""
    return [float(r.summary[key]) for r in runs if _number(r.summary.get(key))]
