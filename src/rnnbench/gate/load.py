"""Read a pytest-benchmark JSON file into the cases the gate compares, or say why it can't.

Every problem with an input file raises :class:`UnusableInput` (a ``ValueError``, so the CLI
turns it into exit code 2) with a message that names the file, what is wrong and what to do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnbench.files import BadFile, read_json

#: ``extra_info`` keys holding measured counts that do not depend on the machine's speed.
#: (FLOPs are computed from the case's shape, so they cannot change; they are not gated.)
SIGNAL_KEYS = ("aten_ops", "peak_memory_bytes")
#: Fewest rounds per case: with fewer, the Mann–Whitney U test can never reach ``alpha``
#: (5 vs 5 rounds: smallest one-sided p is 1/252). pytest-benchmark's default ``min_rounds``.
MIN_ROUNDS = 5

HOW_TO_RECORD = (
    "record one with `pytest benchmarks --benchmark-json=FILE` (raw timings are included) "
    "or refresh the baseline with `rnnbench baseline refresh`"
)


class UnusableInput(ValueError):
    """An input file cannot be compared; the message says which file, why and what to do."""


@dataclass(frozen=True)
class Case:
    """One benchmark case of one run: its raw per-call timings and deterministic counts."""

    key: str  # ``extra_info["case"]`` when the suite sets it, else pytest's ``fullname``
    timings: tuple[float, ...]  # seconds per call, one entry per round
    shape_key: str | None = None  # same for every impl of one shape
    impl: str | None = None
    device: str | None = None
    signals: Mapping[str, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)  # the whole ``extra_info``
    timer: str | None = None  # pytest-benchmark's ``options.timer``, e.g. ``perf_counter``

    @property
    def median(self) -> float:
        ordered = sorted(self.timings)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    @property
    def is_native(self) -> bool:
        return self.impl == "native"


@dataclass(frozen=True)
class Run:
    """All cases of one pytest-benchmark JSON file."""

    path: str
    device_name: str | None  # GPU name or CPU model
    cases: Mapping[str, Case]
    machine: Mapping[str, str] = field(default_factory=dict)  # see :func:`machine_identity`
    commit: str | None = None  # the commit measured (pytest-benchmark's ``commit_info.id``)
    dirty: bool = False  # measured with uncommitted changes
    exitstatus: int | None = None  # the pytest session's exit status, where recorded
    load: Mapping[str, Any] = field(default_factory=dict)  # load averages during the run
    paired: bool = False  # rounds measured in lockstep with another run (A/B mode)

    @property
    def timers(self) -> frozenset[str]:
        return frozenset(case.timer for case in self.cases.values() if case.timer)

    @property
    def threads(self) -> frozenset[str]:
        return frozenset(str(case.info["threads"]) for case in self.cases.values()
                         if case.info.get("threads") is not None)

    @property
    def devices(self) -> frozenset[str]:
        return frozenset(case.device for case in self.cases.values() if case.device)

    def reference_for(self, case: Case) -> Case | None:
        """The ``native`` case of the same shape measured in this run (None: there is none)."""
        if case.is_native or case.shape_key is None:
            return None
        for other in self.cases.values():
            if other.is_native and other.shape_key == case.shape_key:
                return other
        return None


def load_run(path: str | Path, role: str = "current") -> Run:
    """Parse and validate one pytest-benchmark JSON file; ``role`` names it in errors."""
    path = Path(path)
    if role == "baseline" and not path.exists():
        raise UnusableInput(f"baseline file {str(path)!r} does not exist: {HOW_TO_RECORD}")
    try:
        document = read_json(path, f"{role} file")
    except BadFile as error:
        raise UnusableInput(f"{error}; {HOW_TO_RECORD}") from None
    return parse_run(document, str(path), role)


def parse_run(document: object, path: str, role: str = "current") -> Run:
    """Validate an already parsed pytest-benchmark document (see :func:`load_run`)."""
    where = f"{role} file {path!r}"
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("benchmarks"), list)
        or not isinstance(document.get("machine_info"), dict)
    ):
        raise UnusableInput(
            f"{where} is JSON but not a pytest-benchmark result (expected an object with "
            f"'machine_info' and a 'benchmarks' list): {HOW_TO_RECORD}"
        )
    if not document["benchmarks"]:
        raise UnusableInput(
            f"{where} holds no benchmark results (was the suite run with --benchmark-disable "
            f"or --benchmark-skip?): {HOW_TO_RECORD}"
        )
    cases: dict[str, Case] = {}
    for index, entry in enumerate(document["benchmarks"]):
        case = _parse_case(entry, f"{where}, benchmarks[{index}]")
        if case.key in cases:
            raise UnusableInput(
                f"{where} holds case {case.key!r} twice: pass the result of one pytest session"
            )
        cases[case.key] = case
    commit = document.get("commit_info")
    commit = commit if isinstance(commit, dict) else {}
    rnnbench = document.get("rnnbench")
    status = rnnbench.get("exitstatus") if isinstance(rnnbench, dict) else None
    return Run(
        path=path, device_name=_device_name(document["machine_info"]), cases=cases,
        machine=machine_identity(document["machine_info"]),
        commit=_commit(commit.get("id")), dirty=commit.get("dirty") is True,
        exitstatus=status if isinstance(status, int) else None,
        load=_mapping(document["machine_info"].get("load_average_1m")),
        paired=isinstance(rnnbench, dict) and rnnbench.get("runner") == "lockstep",
    )


def machine_identity(machine_info: Mapping[str, Any]) -> dict[str, str]:
    """What must be equal for two runs' timings to be comparable: the processor (model,
    architecture and instruction-set flags, since oneDNN picks its kernels by them) and, where
    CUDA cases ran, the GPU model. Thread count and timer are checked per case."""
    cpu = machine_info.get("cpu") if isinstance(machine_info.get("cpu"), dict) else {}
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


def _parse_case(entry: object, where: str) -> Case:
    if not isinstance(entry, dict) or not isinstance(entry.get("stats"), dict):
        raise UnusableInput(f"{where} is not a pytest-benchmark result (no 'stats' object)")
    info = entry.get("extra_info") or {}
    if not isinstance(info, dict):
        raise UnusableInput(f"{where}: 'extra_info' is {type(info).__name__}, expected an object")
    key = info.get("case") or entry.get("fullname") or entry.get("name")
    if not isinstance(key, str) or not key:
        raise UnusableInput(f"{where} has no name: expected 'extra_info.case' or 'fullname'")
    data = entry["stats"].get("data")
    if not isinstance(data, list) or not data:
        raise UnusableInput(
            f"{where} ({key}) has no raw timings ('stats.data'): the gate tests significance on "
            "them; write results with --benchmark-json, or use --benchmark-save-data with "
            "--benchmark-save/--benchmark-autosave"
        )
    if not all(_is_number(x) and x > 0 for x in data):
        raise UnusableInput(f"{where} ({key}): 'stats.data' must hold positive numbers (seconds)")
    if len(data) < MIN_ROUNDS:
        raise UnusableInput(
            f"{where} ({key}) has {len(data)} timing round(s), fewer than {MIN_ROUNDS}: no "
            "significance test can pass on so few; measure again with pytest-benchmark's "
            f"defaults (--benchmark-min-rounds={MIN_ROUNDS} or more)"
        )
    signals = {name: float(info[name]) for name in SIGNAL_KEYS if _is_number(info.get(name))}
    return Case(
        key=key, timings=tuple(float(x) for x in data), shape_key=_text(info.get("shape_key")),
        impl=_text(info.get("impl")), device=_text(info.get("device")), signals=signals,
        info=info, timer=_timer(entry.get("options")),
    )


def _timer(options: object) -> str | None:
    timer = options.get("timer") if isinstance(options, dict) else None
    return str(timer).rsplit(".", 1)[-1] if timer else None  # "time.process_time" too


def _device_name(machine_info: Mapping[str, Any]) -> str | None:
    name = machine_info.get("device_name")
    if not name and isinstance(machine_info.get("cpu"), dict):
        name = machine_info["cpu"].get("brand_raw")
    return str(name) if name else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _commit(value: object) -> str | None:
    """A commit id as pytest-benchmark records it; None for its "unknown"/"unversioned"."""
    text = _text(value)
    return text if text and text not in ("unknown", "unversioned") else None


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
