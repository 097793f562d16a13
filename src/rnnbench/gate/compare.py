"""The decision rule: which cases of the current run regressed against the baseline.

**Timing.** A custom case (``impl`` other than ``native``) is compared *relative to the native
case of the same shape measured in the same run*, so a machine that is uniformly faster or
slower than the baseline's cancels out::

    ratio = (median(now) / median(now native)) / (median(base) / median(base native))

The case regressed when BOTH hold: the effect ``ratio >= Rule.min_ratio`` (chosen from measured
false alarms, see ``reports/gate/``), and the one-sided Mann–Whitney U test of the normalised
raw rounds (now against base) gives ``p < Rule.alpha`` (:mod:`rnnbench.gate.stats`; rounds
measured in lockstep, A/B mode: the paired Wilcoxon test of the per-round ratios against the
effect threshold itself, since a worker process can be slow for its whole life and its rounds
alone would make "above 1" significant on unchanged code). The effect threshold keeps drift
and small real changes from failing CI (with many rounds, the test alone calls every
difference significant); the test keeps a handful of disturbed rounds from doing so. A
bootstrap interval of the ratio is reported beside them.

Native cases, and custom cases whose shape has no native case in both runs, have no in-run
reference: their raw ratio ``median(now) / median(base)`` is *reported, not gated*, because the
baseline usually comes from another session or machine, unless ``Rule.raw_min_ratio`` gates
them too (same rule, raw times) when both runs come from the same quiet machine.

**Confirmation.** Load from other processes can slow one case's rounds and not its
reference's. Given reruns (``confirm``), a timing regression counts only if *every* run that
measured the case shows it; the verdict shown is the most favourable run's. A real slowdown
reproduces, a passing disturbance rarely hits the same case twice.

**Noise.** Unless the rounds were measured in lockstep, a case is judged on timing only when
it, and the native case it is normalised by, are quiet in both runs by the results model's
rule (:func:`rnnbench.bench.results.noise`: spread or machine load); otherwise its status is
``noisy``: neither slower nor faster, and the verdict says how to measure it again.

**Deterministic signals** (:mod:`rnnbench.gate.deterministic`) fail a custom case whenever one
grew beyond its tolerance, however noisy the timings. A native case's counts are PyTorch's, not
this project's code: like its timings they are reported, never failed.

**Runs** must come from the same machine (processor model, architecture, instruction set flags;
GPU model) with the same CPU thread count and timer: the balance between oneDNN's fused kernels
and the custom loops differs between processors (a custom LSTM is 1.3x native on one Xeon and
1.7x on one EPYC), so normalising by native does not make two machines comparable. The gate
then measures the baseline's commit on this machine (:mod:`rnnbench.gate.ab`).

**Completeness.** A current run that lacks cases of the baseline, or the native reference of a
custom case, is unusable (a Ctrl-C'd or filtered run would otherwise pass on what it left out)
unless ``allow_missing`` says the subset is deliberate. Cases only the current run has are
listed, never failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.stats import iqr

from rnnbench.bench.results import Result, Run, parse
from rnnbench.bench.results import load as load_results
from rnnbench.gate import stats
from rnnbench.gate.deterministic import TOLERANCES, SignalChange, signal_changes

#: Fewest rounds per case: with fewer, the Mann–Whitney U test can never reach ``alpha``
#: (5 vs 5 rounds: smallest one-sided p is 1/252). pytest-benchmark's default ``min_rounds``.
MIN_ROUNDS = 5


class UnusableInput(ValueError):
    """An input cannot be compared; the message says which input, why and what to do."""


def load_run(path: str | Path, role: str = "current") -> Run:
    """The results in ``path``, checked to hold what the gate tests; ``role`` names it."""
    if role == "baseline" and not Path(path).exists():
        raise UnusableInput(f"baseline file {str(path)!r} does not exist: record one with "
                            "`pytest benchmarks --benchmark-json=FILE` or refresh the baseline "
                            "with `rnnbench baseline refresh`")
    return _timed(load_results(path, f"{role} file"))


def parse_run(document: object, path: str, role: str = "current") -> Run:
    """:func:`load_run` of an already parsed document."""
    return _timed(parse(document, path, f"{role} file"))


def _timed(run: Run) -> Run:
    """``run``, unless a case lacks the raw round timings the significance test needs."""
    for result in run.cases:
        where = f"{run.path!r} ({result.name})"
        if not result.data:
            raise UnusableInput(
                f"{where} has no raw timings ('stats.data'): the gate tests significance on "
                "them; write results with --benchmark-json, or use --benchmark-save-data with "
                "--benchmark-save/--benchmark-autosave")
        if len(result.data) < MIN_ROUNDS:
            raise UnusableInput(
                f"{where} has {len(result.data)} timing round(s), fewer than {MIN_ROUNDS}: no "
                "significance test can pass on so few; measure again with pytest-benchmark's "
                f"defaults (--benchmark-min-rounds={MIN_ROUNDS} or more)")
        low, high = PLAUSIBLE_S
        if not all(low <= seconds <= high for seconds in result.data):
            raise UnusableInput(
                f"{where} has a round of {min(result.data):.3g} s or {max(result.data):.3g} s, "
                f"outside {low:g}-{high:g} s: no call of a case takes that long or that "
                "little; the file was edited or broken, measure it again")
    return run

#: The round timings a call can take, seconds; outside them ratios would overflow a float.
PLAUSIBLE_S = (1e-9, 1e6)

#: ``extra_info`` keys whose difference between the runs is worth a note.
NOTED_INFO = ("torch", "python")


#: ``min_ratio`` in A/B mode: both sides measured here, interleaved, so the noise between them
#: is that of one machine over minutes, not of two sessions (see ``reports/gate/``).
AB_MIN_RATIO = 1.05


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
            raise ValueError(f"raw_min_ratio={self.raw_min_ratio!r} is not accepted: "
                             "expected > 1 or None")
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
    test: str = "Mann-Whitney U"  # the one-sided test behind the p-values
    runs: int = 1  # current runs that measured the case (1 + confirmations)
    noise: str | None = None  # why its timings cannot be judged (see the module docstring)

    @property
    def gated(self) -> bool:
        return self.threshold is not None

    @property
    def timing_regressed(self) -> bool:
        return (self.gated and not self.noise and self.ratio >= self.threshold
                and self.p_slower < self.alpha)

    @property
    def signal_regressed(self) -> bool:
        return any(change.grew for change in self.signals)

    @property
    def regressed(self) -> bool:
        return self.timing_regressed or self.signal_regressed

    @property
    def improved(self) -> bool:
        limit = self.threshold or Rule.min_ratio
        return not self.noise and self.ratio <= 1 / limit and self.p_faster < self.alpha

    @property
    def status(self) -> str:
        if self.regressed:
            return "REGRESSED"
        if self.noise:
            return "noisy"
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
    def noisy(self) -> tuple[Verdict, ...]:
        """Cases whose timings were too noisy to judge (deterministic counts still count)."""
        return tuple(v for v in self.verdicts if v.noise and not v.regressed)

    @property
    def suspects(self) -> tuple[str, ...]:
        """Cases slower on timing, and the references they were judged by: what to rerun."""
        slow = [v for v in self.verdicts if v.timing_regressed]
        return tuple(dict.fromkeys(k for v in slow for k in (v.case, v.reference) if k))


#: A rerun of some current cases (judged against the same baseline), or a fresh
#: (baseline, current) pair measured again on this machine (A/B mode).
Confirmation = Run | tuple[Run, Run]


def compare(
    baseline: Run, current: Run, rule: Rule | None = None,
    confirm: Sequence[Confirmation] = (), allow_missing: bool = False,
    signals: Run | None = None,
) -> Comparison:
    """Judge every case the runs share (see the module docstring for the rule).

    ``confirm``: reruns; a timing regression must show in each that measured the case.
    ``signals``: judge deterministic counts against this run instead of ``baseline`` (the
    committed baseline of another machine, when ``baseline`` was measured here afresh).
    """
    rule = rule or Rule()
    notes = check_compatible(baseline, current)
    pairs = [(baseline, current)] + [
        item if isinstance(item, tuple) else (baseline, item) for item in confirm
    ]
    for base, rerun in pairs[1:]:
        check_compatible(base, rerun)
    base_cases, now_cases = baseline.by_name(), current.by_name()
    common = [key for key in now_cases if key in base_cases]
    if not common:
        raise UnusableInput(
            f"no common cases: baseline {baseline.path!r} has {len(base_cases)} case(s): "
            f"{few(sorted(base_cases), 3)}, current {current.path!r} has {len(now_cases)} "
            f"case(s): {few(sorted(now_cases), 3)}; compare runs of the same suite and "
            "profile, or refresh the baseline on purpose with `rnnbench baseline refresh`"
        )
    if not allow_missing:
        check_complete(baseline, current)
    source = (signals or baseline).by_name()
    verdicts = []
    for key in common:
        judged = [judge(key, base, run, rule) for base, run in pairs
                  if key in run.by_name() and key in base.by_name()]
        counted = rule.check_signals and key in source
        tolerances = (rule.tolerances if now_cases[key].case.impl != "native"
                      else dict.fromkeys(rule.tolerances, math.inf))
        changes = tuple(signal_changes(_signals(source[key]), _signals(now_cases[key]),
                                       tolerances)) if counted else ()
        # the most favourable verdict over the reruns that could judge it, counting them all
        best = min([v for v in judged if not v.noise] or judged,
                   key=lambda v: (v.timing_regressed, v.ratio))
        verdicts.append(replace(best, runs=len(judged), signals=changes))
    natives = [v.ratio for v in verdicts
               if v.reference is None and now_cases[v.case].case.impl == "native"]
    factor = math.exp(float(np.mean(np.log(natives)))) if natives else None
    return Comparison(
        baseline=baseline.path, current=current.path, rule=rule, verdicts=tuple(verdicts),
        added=tuple(sorted(now_cases.keys() - base_cases.keys())),
        removed=tuple(sorted(base_cases.keys() - now_cases.keys())),
        notes=tuple(notes), machine_factor=factor,
    )


def judge(key: str, baseline: Run, current: Run, rule: Rule) -> Verdict:
    """The verdict on one case present in both runs (its timings only)."""
    base, now = baseline.by_name()[key], current.by_name()[key]
    base_ref, now_ref = baseline.reference_for(base), current.reference_for(now)
    if base_ref is None or now_ref is None or base_ref.name != now_ref.name:
        base_ref = now_ref = None
    series = [now.data, base.data, *((now_ref.data, base_ref.data) if now_ref and base_ref else ())]
    # Rounds measured together (A/B lockstep): judge the per-round ratios, paired.
    paired = baseline.paired and current.paired and len({len(x) for x in series}) == 1
    threshold = rule.min_ratio if now_ref else rule.raw_min_ratio
    ratio, interval, p_slower, p_faster = (
        stats.paired_ratio(*series, above=threshold or 1.0) if paired
        else stats.unpaired_ratio(*series))
    lockstep = baseline.paired and current.paired  # load slows both sides alike
    unjudgeable = None if lockstep else next(
        (f"{role} {result.name}: {why}" for role, run, result in (
            ("current", current, now), ("baseline", baseline, base),
            ("current", current, now_ref), ("baseline", baseline, base_ref))
         if result is not None and (why := run.noise(result))), None)
    return Verdict(
        case=key, reference=now_ref.name if now_ref else None,
        threshold=threshold, alpha=rule.alpha,
        base_median=base.median, now_median=now.median, ratio=ratio, interval=interval,
        p_slower=p_slower, p_faster=p_faster, rounds=(len(base.data), len(now.data)),
        test="Wilcoxon signed-rank, paired rounds" if paired else "Mann-Whitney U",
        noise=unjudgeable,
    )


def check_complete(baseline: Run, current: Run) -> None:
    """Raise :class:`UnusableInput` when ``current`` lacks baseline cases or references."""
    base_cases = baseline.by_name()
    missing = sorted(base_cases.keys() - current.by_name().keys())
    missing += sorted(  # cases only the current run has (a new shape) need no reference
        ref.name for result in current.cases if result.name in base_cases
        for ref in [baseline.reference_for(result)]
        if ref is not None and current.reference_for(result) is None and ref.name not in missing
    )
    if missing:
        interrupted = (f" (pytest exit status {current.exitstatus}: interrupted or failed)"
                       if current.exitstatus not in (None, 0) else "")
        raise UnusableInput(
            f"current run {current.path!r}{interrupted} lacks {len(missing)} case(s) of the "
            f"baseline {baseline.path!r}: {few(missing, 6)}; rerun the whole suite, pass "
            "--allow-missing for a deliberate subset, or refresh the baseline if the cases "
            "were removed on purpose"
        )


def machine_differences(then: Mapping[str, str], now: Mapping[str, str],
                        gpu: bool = True, here: bool = False) -> list[str]:
    """How two :func:`~rnnbench.bench.results.machine_identity` values differ, one phrase each
    (of the instruction set flags, a few that only one side has); ``here``: ``now`` is this
    machine, not a current run."""
    out = []
    for key, what, plural in (("cpu", "CPU model", "CPU models"),
                              ("arch", "architecture", "architectures"),
                              ("cpu_flags", "instruction set flags", "CPU instruction sets"),
                              ("gpu", "GPU model", "GPU models")):
        a, b = then.get(key), now.get(key)
        if a != b and (a or b) and (key != "gpu" or gpu):
            if key == "cpu_flags":
                x, y = set((a or "").split()), set((b or "").split())
                a, b = few(sorted(x - y), 6, " ") or "-", few(sorted(y - x), 6, " ") or "-"
            out.append(f"{what}: baseline {a!r}, here {b!r}" if here else
                       f"{plural} differ (baseline {a!r}, current {b!r})")
    return out


def check_compatible(baseline: Run, current: Run) -> list[str]:
    """Raise :class:`UnusableInput` unless both runs' timings compare (same device, machine,
    timer and threads); else notes."""
    devices = [{r.case.device for r in run.cases} for run in (baseline, current)]
    if devices[0] != devices[1]:
        raise UnusableInput(
            f"different devices: baseline {baseline.path!r} ran on {_names(devices[0])}, "
            f"current {current.path!r} on {_names(devices[1])}; compare against the "
            "baseline of the same device (baselines/cpu-quick.json for CPU runs)"
        )
    mismatch = machine_differences(baseline.machine, current.machine,
                                   gpu=bool(devices[1] - {"cpu"}))
    for values, what, option in ((lambda r: {r.timer} - {None}, "timers", "--benchmark-timer"),
                                 (lambda r: _info_values(r, "threads"), "CPU thread counts",
                                  "--rnnbench-threads")):
        then, now = values(baseline), values(current)
        if then and now and then != now:
            mismatch.append(f"{what} differ (baseline {_names(then)}, current {_names(now)}; "
                            f"{option})")
    if mismatch:
        raise UnusableInput(
            f"timings of baseline {baseline.path!r} and current {current.path!r} do not "
            f"compare: {'; '.join(mismatch)}. Timings are compared only between runs of one "
            "machine with the same settings: `rnnbench gate BASELINE CURRENT --run` measures "
            "the baseline's commit here, interleaved with the current code"
        )
    notes = [f"{role} run {run.path!r}: {warning}" for role, run in
             (("baseline", baseline), ("current", current)) for warning in noise(run)]
    for key in NOTED_INFO:
        then, now = _info_values(baseline, key), _info_values(current, key)
        if then and now and then != now:
            notes.append(f"{key} differs: baseline {_names(then)}, current {_names(now)}")
    return notes


#: A case whose rounds spread (interquartile range) wider than this share of the median is
#: noisy; a run with many such cases was measured on a busy machine.
NOISY_IQR = 0.10


def noise(run: Run) -> list[str]:
    """Warnings that ``run``'s timings are noisy: a loaded machine, widely spread rounds."""
    from rnnbench.bench.machine import load_warning

    out = [warning] if run.load and (warning := load_warning(run.load)) else []
    spread = [r.name for r in run.cases if iqr(r.data) / np.median(r.data) > NOISY_IQR]
    if len(spread) * 4 >= len(run.cases) and spread:
        out.append(f"{len(spread)} of {len(run.cases)} cases have rounds spread wider than "
                   f"{NOISY_IQR:.0%} of their median (e.g. {spread[0]}): the timings are noisy, "
                   "so small differences cannot be told apart from it")
    return out


def few(items: Sequence[str], shown: int, sep: str = ", ", more: str = "") -> str:
    """The first ``shown`` of ``items``, then how many more (``more``: what follows that)."""
    rest = f" and {len(items) - shown} more{more}" if len(items) > shown else ""
    return sep.join(items[:shown]) + rest


def _signals(result: Result) -> dict[str, float]:
    """The deterministic counts ``result`` recorded (see :mod:`.deterministic`)."""
    return {name: value for name in TOLERANCES if (value := getattr(result, name)) is not None}


def _info_values(run: Run, key: str) -> set[str]:
    return {str(r.extra[key]) for r in run.cases if r.extra.get(key) is not None}


def _names(values: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(values))
