"""The decision rule: which cases of the current run regressed against the baseline.

**Timing.** A custom case (``impl`` other than ``native``) is compared *relative to the native
case of the same shape measured in the same run*: its normalised time is ``t / median(native)``
of its own run, and the effect is the ratio of normalised medians::

    ratio = (median(now) / median(now native)) / (median(base) / median(base native))

so a machine that is uniformly faster or slower than the baseline's cancels out. The case
regressed when BOTH hold:

1. effect size: ``ratio >= Rule.min_ratio`` (chosen from measured false alarms, see
   ``reports/gate/``), and
2. significance: the one-sided Mann–Whitney U test of the normalised raw round timings (now
   against base) gives ``p < Rule.alpha``.

The effect threshold keeps drift and small real changes from failing CI (with many rounds, the U
test alone calls every difference significant); the U test keeps a handful of disturbed
rounds from doing so. A bootstrap interval of the ratio is reported beside them.

Native cases, and custom cases whose shape has no native case in both runs, have no in-run
reference. Their raw ratio ``median(now) / median(base)`` is *reported, not gated* by default,
because the baseline usually comes from another session or machine; ``Rule.raw_min_ratio``
gates them too (same rule, raw times) when both runs come from the same quiet machine.

**Confirmation.** Load from other processes can slow one case's rounds and not its
reference's. Given reruns (``confirm``: more current runs, typically of the suspect cases and
their references only), a timing regression counts only if *every* run that measured the case
shows it; the verdict shown is the most favourable run's. A real slowdown reproduces, a
passing disturbance rarely hits the same case twice.

**Deterministic signals** (:mod:`rnnbench.gate.deterministic`) fail a case whenever one grew
beyond its tolerance, however noisy the timings.

**Runs** must come from the same kind of device, for GPUs the same model, and with the same
CPU thread count and timer; anything else is :class:`~rnnbench.gate.load.UnusableInput`. A different
CPU model is only a note, since the normalisation absorbs its speed. Cases present in one run
only are listed, never failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from rnnbench.gate import stats
from rnnbench.gate.deterministic import TOLERANCES, SignalChange, signal_changes
from rnnbench.gate.load import Case, Run, UnusableInput

#: ``extra_info`` keys whose difference between the runs is worth a note.
NOTED_INFO = ("torch", "python")


@dataclass(frozen=True)
class Rule:
    """The thresholds of the decision (see the module docstring)."""

    min_ratio: float = 1.2
    alpha: float = 0.01
    raw_min_ratio: float | None = None  # None: native/unreferenced cases are report-only
    check_signals: bool = True
    tolerances: Mapping[str, float] = field(default_factory=lambda: dict(TOLERANCES))

    def __post_init__(self) -> None:
        if not self.min_ratio > 1:
            raise ValueError(f"min_ratio={self.min_ratio!r} is not accepted: expected > 1")
        if self.raw_min_ratio is not None and not self.raw_min_ratio > 1:
            raise ValueError(
                f"raw_min_ratio={self.raw_min_ratio!r} is not accepted: expected > 1 or None"
            )
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha={self.alpha!r} is not accepted: expected 0 < alpha < 1")


@dataclass(frozen=True)
class Verdict:
    """How one case common to both runs compares."""

    case: str
    reference: str | None  # the native case it is normalised by; None: raw times
    threshold: float | None  # effect size that fails it; None: timing is report-only
    alpha: float
    base_median: float  # raw seconds per call
    now_median: float
    ratio: float  # normalised (or raw) ratio of medians, > 1: slower
    interval: tuple[float, float]  # 95% bootstrap interval of ``ratio``
    p_slower: float  # one-sided Mann–Whitney U
    p_faster: float
    rounds: tuple[int, int]  # (base, now)
    signals: tuple[SignalChange, ...] = ()
    runs: int = 1  # current runs that measured the case (1 + confirmations)

    @property
    def gated(self) -> bool:
        return self.threshold is not None

    @property
    def timing_regressed(self) -> bool:
        return self.gated and self.ratio >= self.threshold and self.p_slower < self.alpha

    @property
    def signal_regressed(self) -> bool:
        return any(change.grew for change in self.signals)

    @property
    def regressed(self) -> bool:
        return self.timing_regressed or self.signal_regressed

    @property
    def improved(self) -> bool:
        limit = self.threshold or Rule.min_ratio
        return self.ratio <= 1 / limit and self.p_faster < self.alpha

    @property
    def status(self) -> str:
        if self.regressed:
            return "REGRESSED"
        if self.improved:
            return "faster"
        if not self.gated:
            return "report-only"
        return "ok"


@dataclass(frozen=True)
class Comparison:
    """The verdicts of all common cases plus what only one run has."""

    baseline: str
    current: str
    rule: Rule
    verdicts: tuple[Verdict, ...]
    added: tuple[str, ...]  # in the current run only
    removed: tuple[str, ...]  # in the baseline only
    notes: tuple[str, ...]
    machine_factor: float | None  # geometric mean of raw native ratios (now / base)

    @property
    def regressions(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.regressed)

    @property
    def suspects(self) -> tuple[str, ...]:
        """Cases slower on timing, and the references they were judged by: what to rerun."""
        slow = [v for v in self.verdicts if v.timing_regressed]
        return tuple(dict.fromkeys(k for v in slow for k in (v.case, v.reference) if k))


def compare(
    baseline: Run, current: Run, rule: Rule | None = None, confirm: Sequence[Run] = ()
) -> Comparison:
    """Judge every case the runs share (see the module docstring for the rule).

    ``confirm``: reruns of (some of) the current cases; a timing regression must show in each.
    """
    rule = rule or Rule()
    notes = check_compatible(baseline, current)
    for rerun in confirm:
        check_compatible(baseline, rerun)
    common = [key for key in current.cases if key in baseline.cases]
    if not common:
        raise UnusableInput(
            f"no common cases: baseline {baseline.path!r} has {_sample(baseline.cases)}, current "
            f"{current.path!r} has {_sample(current.cases)}; compare runs of the same suite and "
            "profile, or refresh the baseline on purpose with `rnnbench baseline refresh`"
        )
    verdicts = tuple(
        _least_slow([judge(key, baseline, run, rule)
                     for run in (current, *confirm) if key in run.cases])
        for key in common
    )
    natives = [v.ratio for v in verdicts if v.reference is None and v.case in _natives(current)]
    factor = math.exp(float(np.mean(np.log(natives)))) if natives else None
    return Comparison(
        baseline=baseline.path, current=current.path, rule=rule, verdicts=verdicts,
        added=tuple(sorted(current.cases.keys() - baseline.cases.keys())),
        removed=tuple(sorted(baseline.cases.keys() - current.cases.keys())),
        notes=tuple(notes), machine_factor=factor,
    )


def judge(key: str, baseline: Run, current: Run, rule: Rule) -> Verdict:
    """The verdict on one case present in both runs."""
    base, now = baseline.cases[key], current.cases[key]
    base_ref, now_ref = baseline.reference_for(base), current.reference_for(now)
    if base_ref is None or now_ref is None or base_ref.key != now_ref.key:
        base_ref = now_ref = None
    base_t, now_t = _normalised(base, base_ref), _normalised(now, now_ref)
    refs = (now_ref.timings, base_ref.timings) if now_ref and base_ref else (None, None)
    return Verdict(
        case=key,
        reference=now_ref.key if now_ref else None,
        threshold=rule.min_ratio if now_ref else rule.raw_min_ratio,
        alpha=rule.alpha,
        base_median=base.median,
        now_median=now.median,
        ratio=stats.ratio_of_medians(now.timings, base.timings, *refs),
        interval=stats.ratio_interval(now.timings, base.timings, *refs),
        p_slower=stats.slower_p_value(now_t, base_t),
        p_faster=stats.slower_p_value(base_t, now_t),
        rounds=(len(base.timings), len(now.timings)),
        signals=(
            tuple(signal_changes(base.signals, now.signals, rule.tolerances))
            if rule.check_signals else ()
        ),
    )


def _least_slow(verdicts: list[Verdict]) -> Verdict:
    """The most favourable of one case's verdicts over reruns, counting them in ``runs``."""
    best = min(verdicts, key=lambda v: (v.timing_regressed, v.ratio))
    return replace(best, signals=verdicts[0].signals, runs=len(verdicts))


def check_compatible(baseline: Run, current: Run) -> list[str]:
    """Raise :class:`UnusableInput` for runs of different devices or GPU models; else notes."""
    if baseline.devices and current.devices and baseline.devices != current.devices:
        raise UnusableInput(
            f"different devices: baseline {baseline.path!r} ran on {_names(baseline.devices)}, "
            f"current {current.path!r} on {_names(current.devices)}; compare against the "
            "baseline of the same device (baselines/cpu-quick.json for CPU runs)"
        )
    then, now = _timers(baseline), _timers(current)
    if then and now and then != now:
        raise UnusableInput(
            f"different timers: baseline {baseline.path!r} was timed with {_names(then)}, "
            f"current {current.path!r} with {_names(now)}; wall-clock and CPU time do not "
            "compare: run with the baseline's --benchmark-timer"
        )
    then, now = _info_values(baseline, "threads"), _info_values(current, "threads")
    if then and now and then != now:
        raise UnusableInput(
            f"different CPU thread counts: baseline {baseline.path!r} ran with {_names(then)}, "
            f"current {current.path!r} with {_names(now)}; the balance between native and "
            "custom kernels depends on it: run with the baseline's --rnnbench-threads"
        )
    notes = []
    if baseline.device_name != current.device_name:
        if current.devices - {"cpu"}:
            raise UnusableInput(
                f"different GPU models: baseline {baseline.path!r} ran on "
                f"{baseline.device_name!r}, current {current.path!r} on "
                f"{current.device_name!r}; GPU timings do not transfer between models: record "
                "a baseline on this GPU with `rnnbench baseline refresh --to baselines/NAME.json`"
            )
        notes.append(
            f"CPU models differ (baseline {baseline.device_name!r}, current "
            f"{current.device_name!r}): custom cases are judged relative to native ones of the "
            "same run, which absorbs the speed, not a different balance of kernels"
        )
    for key in NOTED_INFO:
        then, now = _info_values(baseline, key), _info_values(current, key)
        if then and now and then != now:
            notes.append(f"{key} differs: baseline {_names(then)}, current {_names(now)}")
    return notes


def _normalised(case: Case, reference: Case | None) -> list[float]:
    scale = reference.median if reference is not None else 1.0
    return [t / scale for t in case.timings]


def _natives(run: Run) -> set[str]:
    return {key for key, case in run.cases.items() if case.is_native}


def _info_values(run: Run, key: str) -> set[str]:
    return {str(case.info[key]) for case in run.cases.values() if case.info.get(key) is not None}


def _timers(run: Run) -> set[str]:
    return {case.timer for case in run.cases.values() if case.timer}


def _names(values: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(values))


def _sample(cases: Mapping[str, Case], shown: int = 3) -> str:
    keys = sorted(cases)
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{len(keys)} case(s): {', '.join(keys[:shown])}{more}"
