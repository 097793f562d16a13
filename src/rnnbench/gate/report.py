"""Turn a :class:`~rnnbench.gate.compare.Comparison` into text for people and a dict for JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from rnnbench.bench.results import WHAT_TO_DO
from rnnbench.gate.compare import Comparison, Verdict, few


def format_text(comparison: Comparison) -> str:
    """The table of all common cases, then each regression with the reasons it counts."""
    rule = comparison.rule
    lines = [f"rnnbench gate: {comparison.baseline} -> {comparison.current}"]
    if comparison.machine_factor is not None:
        lines.append(
            f"native cases run {comparison.machine_factor:.2f}x the baseline's time on this "
            "machine (geometric mean); custom cases are judged relative to native, so this "
            "does not count"
        )
    lines += [f"note: {note}" for note in comparison.notes]
    width = max(len(v.case) for v in comparison.verdicts)
    lines += ["", f"{'case':<{width}}  {'base ms':>8}  {'now ms':>8}  {'ratio':>6}  "
                  f"{'95% interval':>13}  {'p':>7}  verdict"]
    for v in comparison.verdicts:
        low, high = v.interval
        lines.append(
            f"{v.case:<{width}}  {v.base_median * 1e3:8.2f}  {v.now_median * 1e3:8.2f}  "
            f"{v.ratio:6.3f}  [{low:5.3f},{high:6.3f}]  {v.p_slower:7.1e}  {v.status}"
            + (f" (best of {v.runs} runs)" if v.runs > 1 else "")
        )
    native = f"gated at {rule.raw_min_ratio:.2f}x" if rule.raw_min_ratio else "report-only"
    lines.append(
        f"ratio: relative to the native case of the same shape in the same run; native cases "
        f"compare raw times ({native}). "
        f"Fails at ratio >= {rule.min_ratio:.2f} with p < {rule.alpha:g} (one-sided "
        f"{_tests(comparison)}), or when a deterministic count of a custom case grew."
    )
    for cases, text in ((comparison.added, "\nadded (not in the baseline, not judged)"),
                        (comparison.removed, "removed (in the baseline only)")):
        if cases:
            lines.append(f"{text}: {few(cases, 8, more=' (see --json)')}")
    moved = [
        f"  {v.case}: {c.describe()}" for v in comparison.verdicts for c in v.signals if not c.grew
    ]
    if moved:
        lines.append("\ndeterministic counts that moved without failing (they shrank, stayed "
                     "within tolerance, or are a native case's); refresh the baseline to keep "
                     "them:")
        lines += moved
    regressions = comparison.regressions
    if regressions:
        lines.append(f"\nREGRESSION in {len(regressions)} case(s):")
        for v in regressions:
            lines.append(f"  {v.case}: {v.base_median * 1e3:.2f} ms -> {v.now_median * 1e3:.2f} ms")
            lines += [f"    - {reason}" for reason in reasons(v)]
    noisy = comparison.noisy
    if noisy:
        lines.append(f"\nnoisy in {len(noisy)} case(s), so their timings were not judged:")
        lines += [f"  {v.case}: {v.noise}" for v in noisy[:8]]
        lines += [f"  ... and {len(noisy) - 8} more (see --json)"] if len(noisy) > 8 else []
        lines.append(f"  {WHAT_TO_DO}")
    if not regressions:
        lines.append(f"\nno regression in {len(comparison.verdicts)} common case(s)" + (
            f"; {len(noisy)} of them noisy, their timings not judged: {WHAT_TO_DO}"
            if noisy else ""))
    return "\n".join(lines)


def _tests(comparison: Comparison) -> str:
    tests = sorted({v.test for v in comparison.verdicts})
    return " / ".join(f"{t}, of the ratio against the threshold" if "paired" in t
                      else f"{t} on raw rounds" for t in tests)


def reasons(verdict: Verdict) -> list[str]:
    """Why a case counts as regressed, one sentence per reason."""
    out = []
    if verdict.timing_regressed:
        against = f"relative to {verdict.reference}" if verdict.reference else "raw time"
        out.append(
            f"{verdict.ratio:.2f}x slower {against} (95% interval {verdict.interval[0]:.2f}-"
            f"{verdict.interval[1]:.2f}), at least {verdict.threshold:.2f}x, and significant: "
            f"{verdict.test} p={verdict.p_slower:.1e} < {verdict.alpha:g} over "
            f"{verdict.rounds[0]} vs {verdict.rounds[1]} rounds"
            + (f"; reproduced in all {verdict.runs} runs" if verdict.runs > 1 else "")
        )
    out += [change.describe() for change in verdict.signals if change.grew]
    return out


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """Everything in the comparison, as plain JSON-ready data."""
    c = comparison
    return {
        "baseline": c.baseline, "current": c.current, "rule": dataclasses.asdict(c.rule),
        "regressed": [v.case for v in c.regressions], "suspects": list(c.suspects),
        "machine_factor": c.machine_factor, "notes": list(c.notes), "added": list(c.added),
        "removed": list(c.removed), "noisy": [v.case for v in c.noisy],
        "cases": [
            {"case": v.case, "reference": v.reference, "status": v.status,
             "timing_regressed": v.timing_regressed, "signal_regressed": v.signal_regressed,
             "base_median_s": v.base_median, "now_median_s": v.now_median, "ratio": v.ratio,
             "interval": list(v.interval), "p_slower": v.p_slower, "p_faster": v.p_faster,
             "threshold": v.threshold, "rounds": list(v.rounds), "runs": v.runs,
             "signals": [{"name": s.name, "baseline": s.baseline, "current": s.current,
                          "grew": s.grew} for s in v.signals],
             "noise": v.noise, "reasons": reasons(v)}
            for v in c.verdicts
        ],
    }
