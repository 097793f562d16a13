"""The one reader of benchmark results: the JSON that ``pytest benchmarks --benchmark-json=F``
writes, for the gate, the report and ``rnnbench targets``.

The file is pytest-benchmark's, with what ``benchmarks/conftest.py`` adds::

    {"machine_info": {"cpu": {"brand_raw", "arch", "flags"}, "device_name", "torch",
                      "threads", "load_average_1m", ...},
     "commit_info": {"id", "dirty", "time"},    # the commit measured (time: its date)
     "datetime": "2026-01-01T00:00:00+00:00",
     "rnnbench": {"profile", "wall_s", "exitstatus", "runner"},   # "lockstep": A/B mode
     "benchmarks": [{"name", "fullname", "options": {"timer"},
                     "stats": {"median", "iqr", "mean", "stddev", "rounds",
                               "data": [seconds per round]},   # data: when saved
                     "extra_info": {**Case.info(), "aten_ops", "peak_memory_bytes",
                                    "tokens", "flops", "params", "threads", ...}}]}

A benchmark whose ``extra_info`` has a ``shape_key`` is an rnnbench case: its coordinates
become a :class:`rnnbench.bench.grid.Case`; the others are listed in :attr:`Run.skipped`.
A file that cannot be used raises :class:`~rnnbench.files.BadFile` (a ``ValueError``: the CLI
exits 2) naming the file, what is wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rnnbench.bench.grid import Case
from rnnbench.files import BadFile, integer, mapping, number, read_json

HOW_TO_RECORD = "record one with `pytest benchmarks --benchmark-json=FILE`"

#: The noise rule, the one every command applies (:func:`noise`): a case whose interquartile
#: range exceeds this share of its median is *noisy*. Quiet runs spread far less (the committed
#: ``reports/cpu-quick.json``: 9% in the median case, 34% at the widest); what is decided on
#: timings are differences of 20-50% (the gate's 1.2x, the 1.3x and 1.5x targets), and once the
#: middle half of a case's rounds spans half its median, such a difference lies within the
#: case's own spread.
SPREAD_LIMIT = 0.5
#: The other half of the rule: a run is *loaded* when other work kept at least this share of
#: the cores busy (and at least one whole core) during its last minute: the load average at the
#: end less the run's own threads. Such competition slows whichever rounds it meets, so every
#: case of the run is noisy. The reading at the start is of the minute *before* the run (an
#: install, pytest's collection, a previous job): the terminal summary warns of it
#: (:func:`rnnbench.bench.machine.load_warning`), but it does not rule on the measurements;
#: competition that came and went mid-run shows in the cases' spread.
LOAD_LIMIT = 0.5
#: What a person can do about a noisy case.
WHAT_TO_DO = ("rerun on a quiet machine, or measure interleaved: "
              "`rnnbench gate BASELINE CURRENT --run`")


def competing_load(load: Mapping[str, Any]) -> float | None:
    """Cores' worth of other work during a run's last minute (a ``load_average_1m`` entry)."""
    end, cores = load.get("end"), load.get("cpu_count") or 1
    if not number(end) or not number(cores):
        return None
    return end - min(load.get("threads") or 1, cores)


def noise(median: float, iqr: float, load: Mapping[str, Any] | None = None) -> str | None:
    """Why a timing is too noisy to judge (its spread, its run's load), or None."""
    others = competing_load(load) if load else None
    cores = (load or {}).get("cpu_count") or 1
    if others is not None and others >= max(1.0, LOAD_LIMIT * cores):
        return f"machine loaded: other work kept {others:.1f} of {cores} cores busy"
    if median > 0 and iqr / median > SPREAD_LIMIT:
        return f"IQR {iqr / median:.0%} of the median (limit {SPREAD_LIMIT:.0%})"
    return None


@dataclass(frozen=True)
class Result:
    """One case's coordinates, timing statistics (seconds) and measured counts (the rest of
    ``extra_info``, e.g. ``flops`` or ``tokens``, is in ``extra``)."""

    case: Case
    name: str  # the suite's name for it: ``extra_info["case"]``, normally ``case.id``
    median: float
    iqr: float = 0.0
    quartiles: tuple[float, float] | None = None  # (q1, q3), where the file holds them
    rounds: int | None = None
    data: tuple[float, ...] = ()  # every round's time, where the file holds them
    aten_ops: int | None = None  # the deterministic counts the gate compares
    peak_memory_bytes: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # the whole ``extra_info``

    @property
    def spread(self) -> float:
        """IQR / median: how widely the rounds spread."""
        return self.iqr / self.median

    @property
    def shape_key(self) -> str:
        return self.case.shape_key

    @property
    def impl(self) -> str:
        return self.case.impl


@dataclass(frozen=True)
class Run:
    """One results file."""

    path: str
    cases: tuple[Result, ...]
    machine: Mapping[str, str] = field(default_factory=dict)  # see :func:`machine_identity`
    device_name: str | None = None  # GPU name or CPU model
    torch_version: str | None = None
    date: str | None = None  # YYYY-MM-DD
    threads: int | None = None  # torch's CPU threads (``machine_info.threads``)
    timer: str | None = None  # pytest-benchmark's clock(s), e.g. ``process_time``
    commit: str | None = None  # the commit measured
    commit_time: str | None = None  # its committer date (ISO 8601), where recorded
    dirty: bool = False  # measured with uncommitted changes to tracked files
    exitstatus: int | None = None  # the pytest session's exit status, where recorded
    load: Mapping[str, Any] = field(default_factory=dict)  # load averages during the run
    paired: bool = False  # rounds measured in lockstep with another run (A/B mode)
    skipped: tuple[str, ...] = ()  # benchmarks without rnnbench's extra_info
    suite: Mapping[str, Any] = field(default_factory=dict)  # the file's ``rnnbench`` object

    def by_name(self) -> dict[str, Result]:
        return {result.name: result for result in self.cases}

    def noise(self, result: Result) -> str | None:
        """Why ``result`` (a case of this run) is too noisy to judge, or None (:func:`noise`)."""
        return noise(result.median, result.iqr, self.load)

    def noisy(self) -> tuple[Result, ...]:
        """The cases that :meth:`noise` rules out of rankings, targets and verdicts."""
        return tuple(result for result in self.cases if self.noise(result))

    def by_shape(self) -> dict[str, dict[str, Result]]:
        """``shape_key`` -> implementation -> result: the cases that compare directly."""
        out: dict[str, dict[str, Result]] = {}
        for result in self.cases:
            out.setdefault(result.case.shape_key, {})[result.case.impl] = result
        return out

    def reference_for(self, result: Result) -> Result | None:
        """The ``native`` case of ``result``'s shape in this run (None: none, or it is one)."""
        return None if result.impl == "native" else natives(self.cases).get(result.shape_key)


class Timing(Protocol):
    """A median time of one implementation at one shape: a :class:`Result`, or a case the
    pytest session has just timed."""

    @property
    def shape_key(self) -> str: ...
    @property
    def impl(self) -> str: ...
    @property
    def median(self) -> float: ...


T = TypeVar("T", bound=Timing)


def natives(timings: Iterable[T]) -> dict[str, T]:
    """``shape_key`` -> the ``native`` timing of that shape (:attr:`Case.shape_key`: the same
    cell and all but the implementation), the reference of every custom one."""
    return {t.shape_key: t for t in timings if t.impl == "native"}


def versus_native(timings: Iterable[T]) -> list[tuple[T, T, float]]:
    """Every custom timing with its shape's native one and its median over native's, in the
    given order: the custom/native ratio of the report, the targets and the session summary
    (the gate pairs the rounds of the same two through :meth:`Run.reference_for`)."""
    timings = list(timings)
    native = natives(timings)
    return [(t, native[t.shape_key], t.median / native[t.shape_key].median)
            for t in timings if t.impl != "native" and t.shape_key in native]


def load(path: str | Path, role: str = "results file") -> Run:
    """The results in ``path``; ``role`` names the file in errors (``"baseline file"``)."""
    try:
        document = read_json(path, role)
    except BadFile as error:
        raise BadFile(f"{error}; {HOW_TO_RECORD}") from None
    return parse(document, str(path), role)


def parse(document: object, path: str, role: str = "results file") -> Run:
    """The results in an already parsed document (see :func:`load`)."""
    where = f"{role} {path!r}"
    if (not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list)
            or not isinstance(document.get("machine_info"), dict)):
        raise BadFile(f"{where} is not a pytest-benchmark result: expected pytest-benchmark "
                      f"JSON, an object with 'machine_info' and a 'benchmarks' list; "
                      f"{HOW_TO_RECORD}")
    if not document["benchmarks"]:
        raise BadFile(f"{where} holds no benchmark results (was the suite run with "
                      f"--benchmark-disable or --benchmark-skip?): {HOW_TO_RECORD}")
    machine, suite = document["machine_info"], mapping(document.get("rnnbench"))
    cases: dict[str, Result] = {}
    skipped, timers = [], set()
    for index, entry in enumerate(document["benchmarks"]):
        result = _result(entry, f"{where}, benchmarks[{index}]")
        if result is None:
            skipped.append(str(entry.get("name") or f"#{index}"))
            continue
        if result.name in cases:
            raise BadFile(f"{where} holds case {result.name!r} twice: pass the result of one "
                          "pytest session")
        cases[result.name] = result
        timer = mapping(entry.get("options")).get("timer")
        if timer:
            timers.add(str(timer).rsplit(".", 1)[-1])  # "time.process_time" too
    if not cases:
        raise BadFile(f"{where} holds no rnnbench benchmark cases (extra_info without "
                      "shape_key); was it written by this project's benchmarks?")
    commit = mapping(document.get("commit_info"))
    commit_id = _text(commit.get("id"))  # pytest-benchmark: "unknown"/"unversioned" for none
    status = suite.get("exitstatus")
    first = next(iter(cases.values())).extra
    return Run(
        path=path, cases=tuple(cases.values()), machine=machine_identity(machine),
        device_name=_text(machine.get("device_name")
                          or mapping(machine.get("cpu")).get("brand_raw")),
        torch_version=_text(machine.get("torch") or first.get("torch")),
        date=_text(str(document.get("datetime") or "")[:10]),
        threads=integer(machine.get("threads")), timer=", ".join(sorted(timers)) or None,
        commit=None if commit_id in ("unknown", "unversioned") else commit_id,
        commit_time=_text(commit.get("time")),
        dirty=commit.get("dirty") is True,
        exitstatus=integer(status) if isinstance(status, int) else None,
        load=mapping(machine.get("load_average_1m")),
        paired=suite.get("runner") == "lockstep", skipped=tuple(skipped), suite=suite,
    )


def machine_identity(machine_info: Mapping[str, Any]) -> dict[str, str]:
    """What must be equal for two runs' timings to be comparable: the processor (model,
    architecture and instruction-set flags, since oneDNN picks its kernels by them) and, where
    CUDA cases ran, the GPU model. Thread count and timer are checked per case."""
    cpu = mapping(machine_info.get("cpu"))
    flags = cpu.get("flags")
    identity = {
        "cpu": str(cpu.get("brand_raw") or machine_info.get("cpu_model") or ""),
        "arch": str(cpu.get("arch") or machine_info.get("machine") or "").lower(),
        "cpu_flags": " ".join(sorted(map(str, flags))) if isinstance(flags, list) else "",
    }
    name = machine_info.get("device_name")  # the GPU's name where CUDA cases ran
    if name and str(name) not in (identity["cpu"], str(machine_info.get("cpu_model"))):
        identity["gpu"] = str(name)
    return {key: value for key, value in identity.items() if value}


def _result(entry: object, where: str) -> Result | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("stats"), dict):
        raise BadFile(f"{where} is not a pytest-benchmark result (no 'stats' object)")
    info, stats = entry.get("extra_info") or {}, entry["stats"]
    if not isinstance(info, dict):
        raise BadFile(f"{where}: 'extra_info' is {type(info).__name__}, expected an object")
    if "shape_key" not in info:
        return None
    # Case's fields by their JSON names (``pass`` for ``pass_``), typed as its annotations say
    coordinates = {f.name: info.get(f.name.rstrip("_"), f.default) for f in fields(Case)}
    missing = [f.name.rstrip("_") for f in fields(Case)
               if type(coordinates[f.name]).__name__ != f.type]  # a bool is no int here
    try:
        if missing:
            raise ValueError(f"lacks or has no usable {', '.join(missing)}")
        case = Case.recorded(**coordinates)
    except (TypeError, ValueError) as error:
        raise BadFile(f"{where} {error}: regenerate it with pytest benchmarks "
                      "--benchmark-json=FILE") from None
    name = str(info.get("case") or case.id)
    data = stats.get("data", [])
    if not isinstance(data, list) or not all(number(x) and x > 0 for x in data):
        raise BadFile(f"{where} ({name}): 'stats.data' must hold positive numbers (seconds)")
    median, iqr, q1, q3 = (stats.get(key) for key in ("median", "iqr", "q1", "q3"))
    if not number(median) or median <= 0:
        raise BadFile(f"{where} ({name}) has no positive 'stats.median'; regenerate it with "
                      "pytest benchmarks --benchmark-json=FILE")
    return Result(
        case=case, name=name, median=float(median), iqr=float(iqr) if number(iqr) else 0.0,
        quartiles=(float(q1), float(q3)) if number(q1) and number(q3) else None,
        rounds=integer(stats.get("rounds")), data=tuple(map(float, data)),
        aten_ops=integer(info.get("aten_ops")),
        peak_memory_bytes=integer(info.get("peak_memory_bytes")),
        extra=info,
    )


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
