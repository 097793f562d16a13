"""Read result JSONs into flat records, with errors that name the file and what was expected.

Two kinds of file feed the report:

- benchmark results: pytest-benchmark JSON (``machine_info``, ``datetime``, ``benchmarks[]``)
  whose cases carry rnnbench's ``extra_info`` (``cell``, ``impl``, ``T``, ``B``, ``pass``, ...);
- convergence results: the JSON that ``rnnbench converge`` writes (see :mod:`.convergence`).

A file is told apart by its keys, not its name, so any path works.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnbench import files

#: ``extra_info`` keys a benchmark case needs to be placed in a table or plot.
REQUIRED_CASE_KEYS = ("cell", "impl", "T", "B", "pass")


@dataclass(frozen=True)
class Case:
    """One benchmark case: its shape, its implementation and its timing (seconds)."""

    case: str
    cell: str
    impl: str
    device: str
    dtype: str
    T: int
    B: int
    input_size: int
    hidden_size: int
    num_layers: int
    layout: str
    pass_: str
    median: float
    iqr: float
    rounds: int
    params: int | None = None
    tokens_per_s: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_source: str | None = None
    flops: float | None = None

    @property
    def shape(self) -> tuple[Any, ...]:
        """Everything but the implementation: cases with equal shape are directly comparable."""
        return (self.device, self.dtype, self.input_size, self.hidden_size, self.num_layers,
                self.layout, self.T, self.B, self.pass_)

    @property
    def label(self) -> str:
        """The case id without its device, so CPU and GPU runs of one case share a label."""
        parts = [self.cell, self.impl, self.dtype, f"I{self.input_size}", f"H{self.hidden_size}",
                 f"L{self.num_layers}", f"T{self.T}", f"B{self.B}", self.pass_]
        if self.layout != "padded":
            parts.append(self.layout)
        return "-".join(parts)


@dataclass(frozen=True)
class BenchResults:
    """A pytest-benchmark results file reduced to what the report draws."""

    path: Path
    device_name: str
    torch_version: str
    date: str
    cases: tuple[Case, ...]
    skipped: tuple[str, ...] = ()
    threads: int | None = None
    timer: str | None = None

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(sorted({case.device for case in self.cases}))

    @property
    def dtypes(self) -> tuple[str, ...]:
        return tuple(sorted({case.dtype for case in self.cases}))

    @property
    def footer(self) -> str:
        """Device, dtype, torch version and date: the subtitle of every speed/memory plot."""
        cpu_only = "cuda" not in self.devices
        threads = (f" ({self.threads} thread{'s' * (self.threads != 1)})"
                   if self.threads and cpu_only else "")
        return (f"{self.device_name}{threads} · {', '.join(self.dtypes) or '?'} · torch "
                f"{self.torch_version} · {self.date} · {self.path.name}")


def read_json(path: Path) -> Any:
    """The parsed file; a missing, unreadable or non-JSON file raises an error that names it."""
    return files.read_json(path, "results file")


def is_bench(data: Any) -> bool:
    return isinstance(data, Mapping) and isinstance(data.get("benchmarks"), list)


def load_bench(path: Path, data: Any | None = None) -> BenchResults:
    """Benchmark results from a pytest-benchmark JSON file.

    Benchmarks without rnnbench's ``extra_info`` (for example convergence cases that travel in
    the same file) are listed in ``skipped`` rather than guessed at.
    """
    data = read_json(path) if data is None else data
    if not is_bench(data):
        raise ValueError(
            f"results file {str(path)!r} is not pytest-benchmark JSON: expected an object with "
            "a 'benchmarks' list (write one with pytest --benchmark-json=FILE)"
        )
    machine = data.get("machine_info") or {}
    if not isinstance(machine, Mapping):
        raise ValueError(f"results file {str(path)!r}: 'machine_info' is "
                         f"{type(machine).__name__}, expected an object")
    cases, skipped = [], []
    for index, bench in enumerate(data["benchmarks"]):
        try:
            case = _case(bench)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"results file {str(path)!r}: benchmarks[{index}] is not a usable "
                             f"rnnbench case ({type(error).__name__}: {error}); regenerate it "
                             "with pytest benchmarks --benchmark-json=FILE") from None
        if case is None:
            name = bench.get("name", f"#{index}") if isinstance(bench, Mapping) else f"#{index}"
            skipped.append(str(name))
        else:
            cases.append(case)
    torch_version = str(machine.get("torch") or machine.get("torch_version") or _first_version(
        cases, data) or "?")
    return BenchResults(
        path=path,
        device_name=str(machine.get("device_name") or _mapping(machine.get("cpu")).get("brand_raw")
                        or machine.get("processor") or "unknown device"),
        torch_version=torch_version,
        date=str(data.get("datetime", "undated"))[:10],
        cases=tuple(sorted(cases, key=lambda c: (c.shape, c.cell, c.impl))),
        skipped=tuple(skipped),
        threads=_int_or_none(machine.get("threads")),
        timer=_timer(data["benchmarks"]),
    )


def _timer(benchmarks: list[Any]) -> str | None:
    """The clock pytest-benchmark timed with (``perf_counter``: wall; ``process_time``: CPU)."""
    timers = sorted({str(b["options"]["timer"]) for b in benchmarks if isinstance(b, Mapping)
                     and isinstance(b.get("options"), Mapping) and b["options"].get("timer")})
    return ", ".join(timers) or None


def _first_version(cases: list[Case], data: Mapping[str, Any]) -> str | None:
    for bench in data["benchmarks"]:
        info = _mapping(bench.get("extra_info")) if isinstance(bench, Mapping) else {}
        versions = info.get("versions")
        if isinstance(versions, Mapping) and versions.get("torch"):
            return str(versions["torch"])
        if info.get("torch"):
            return str(info["torch"])
    return None


def _case(bench: Any) -> Case | None:
    if not isinstance(bench, Mapping):
        return None
    info, stats = _mapping(bench.get("extra_info")), _mapping(bench.get("stats"))
    if any(key not in info for key in REQUIRED_CASE_KEYS) or not _finite(stats.get("median")) \
            or stats["median"] <= 0:  # a time of zero or less is no measurement
        return None
    return Case(
        case=str(info.get("case") or bench.get("name", "")),
        cell=str(info["cell"]),
        impl=str(info["impl"]),
        device=str(info.get("device", "cpu")),
        dtype=str(info.get("dtype", "f32")),
        T=int(info["T"]),
        B=int(info["B"]),
        input_size=int(info.get("input_size", 0)),
        hidden_size=int(info.get("hidden_size", 0)),
        num_layers=int(info.get("num_layers", 1)),
        layout=str(info.get("layout", "padded")),
        pass_=str(info["pass"]),
        median=float(stats["median"]),
        iqr=float(stats.get("iqr") or 0.0),
        rounds=int(stats.get("rounds") or 0),
        params=_int_or_none(info.get("params")),
        tokens_per_s=_float_or_none(info.get("tokens_per_s")),
        peak_memory_bytes=_int_or_none(info.get("peak_memory_bytes")),
        peak_memory_source=str(info["peak_memory_source"]) if info.get("peak_memory_source")
        else None,
        flops=_float_or_none(info.get("flops")),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _float_or_none(value: Any) -> float | None:
    return float(value) if _finite(value) else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if _finite(value) else None
