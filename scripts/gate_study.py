"""How good is the gate on this machine: false alarms on unchanged code, and the smallest
slowdown it catches. ``python scripts/gate_study.py --help``; results in ``reports/gate/``.

It records one baseline run and ``--reruns`` back-to-back runs of unchanged code, then
``--per-factor`` runs for each ``--factors`` slowdown of one implementation (the test-only
``RNNBENCH_SLOWDOWN`` switch), all with the same ``--pytest-args`` subset. Runs are kept in
``--runs`` so that :func:`analyse` can be repeated without measuring again (``--analyse``).

Figures, for each ``min_ratio`` of the sweep (timing only: deterministic counts would flag any
slowdown of this switch, so they are left out of the detection figures):

- *false alarms*: unchanged runs judged against the baseline that fail, single-shot and with
  the next run as confirmation (what ``--confirm 1`` does); and over all ordered pairs of
  unchanged runs (baseline included), which uses every run as a baseline once;
- *detection*: slowed runs whose failing cases are exactly the slowed implementation's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Sequence
from itertools import permutations
from pathlib import Path
from typing import Any

from rnnbench.bench.results import Run
from rnnbench.bench.slowdown import ENV as SLOWDOWN_ENV
from rnnbench.files import write_atomic
from rnnbench.gate.compare import Comparison, Rule, compare, load_run
from rnnbench.gate.rerun import run_suite

MIN_RATIOS = (1.05, 1.1, 1.15, 1.2, 1.25, 1.3)


def record(runs: Path, reruns: int, factors: Sequence[float], per_factor: int, slow: str,
           pytest_args: str) -> None:
    """Measure every run of the study into ``runs`` (skipping those already there)."""
    runs.mkdir(parents=True, exist_ok=True)
    plan = [("baseline", 1.0)] + [(f"null-{i:02d}", 1.0) for i in range(1, reruns + 1)]
    plan += [(f"slow-{f:g}-{k}", f) for f in factors for k in range(1, per_factor + 1)]
    for name, factor in plan:
        output = runs / f"{name}.json"
        if output.exists():
            continue
        env = {SLOWDOWN_ENV: f"{slow}:{factor}"} if factor != 1 else {}
        os.environ.pop(SLOWDOWN_ENV, None)
        os.environ.update(env)
        partial = output.with_suffix(".partial")  # pytest creates the JSON file at start
        status = run_suite(partial, pytest_args)
        os.environ.pop(SLOWDOWN_ENV, None)
        if status != 0:
            raise RuntimeError(f"run {name} failed (pytest exit {status})")
        partial.replace(output)


def analyse(runs: Path, slow: str, min_ratios: Sequence[float] = MIN_RATIOS) -> dict[str, Any]:
    """The study's figures from the runs in ``runs`` (see the module docstring)."""
    base = load_run(runs / "baseline.json", "baseline")
    nulls = [load_run(p) for p in sorted(runs.glob("null-*.json"))]
    slowed: dict[str, list[Run]] = {}
    for path in sorted(runs.glob("slow-*.json")):
        slowed.setdefault(path.stem.split("-")[1], []).append(load_run(path))
    cell, impl = slow.split(":")
    target = {r.name for r in base.cases if r.case.cell == cell and r.case.impl == impl}
    rule = Rule()
    judged: dict[tuple[int, int], Comparison] = {}

    def comparison(a: Run, b: Run) -> Comparison:  # ratios and p-values do not depend on
        key = (id(a), id(b))  # min_ratio, so each pair is judged once
        if key not in judged:
            judged[key] = compare(a, b, rule)
        return judged[key]

    def timing(a: Run, b: Run, min_ratio: float) -> set[str]:
        return {v.case for v in comparison(a, b).verdicts
                if v.gated and v.ratio >= min_ratio and v.p_slower < rule.alpha}

    def single(group: list[Run], min_ratio: float) -> list[set[str]]:
        return [timing(base, r, min_ratio) for r in group]

    def confirmed(group: list[Run], min_ratio: float) -> list[set[str]]:  # next run agrees
        flagged = single(group, min_ratio)
        return [f & flagged[(i + 1) % len(flagged)] for i, f in enumerate(flagged)]

    pairs = list(permutations([base, *nulls], 2))
    everyone = [base, *nulls]

    def pair_confirmed(t: float) -> list[set[str]]:  # (a, b), confirmed by the run after b
        out = []
        for a, b in pairs:
            others = [r for r in everyone if r is not a]
            c = others[(others.index(b) + 1) % len(others)]
            out.append(timing(a, b, t) & timing(a, c, t))
        return out

    sweep = [
        {
            "min_ratio": t,
            "false_alarms": _rate(single(nulls, t)),
            "false_alarms_confirmed": _rate(confirmed(nulls, t)),
            "false_alarms_all_pairs": _rate([timing(a, b, t) for a, b in pairs]),
            "false_alarms_all_pairs_confirmed": _rate(pair_confirmed(t)),
            "false_alarm_cases": sorted({c for s in single(nulls, t) for c in s}),
            "detected": {f: _detections(single(g, t), target) for f, g in slowed.items()},
            "detected_confirmed": {f: _detections(confirmed(g, t), target)
                                   for f, g in slowed.items()},
        }
        for t in min_ratios
    ]
    null_ratios = [v.ratio for a, b in pairs for v in comparison(a, b).verdicts if v.gated]
    return {
        "slowed": slow, "slowed_cases": sorted(target), "runs": len(nulls),
        "per_factor": {f: len(g) for f, g in slowed.items()},
        "device_name": base.device_name, "cases": sorted(base.by_name()),
        "null_ratio_quantiles": _quantiles(null_ratios),
        "effective_slowdown": {
            f: {c: round(statistics.median(_ratio(comparison(base, r), c) for r in g), 3)
                for c in sorted(target)}
            for f, g in slowed.items()
        },
        "sweep": sweep,
        "pytest_compare_fail_median_25": _rate([_raw_fail(base, r, 1.25) for r in nulls]),
        "pytest_compare_fail_min_10": _rate([_raw_fail(base, r, 1.10, min) for r in nulls]),
        "signal_false_alarms_all_pairs": _rate(
            [any(v.signal_regressed for v in comparison(a, b).verdicts) for a, b in pairs]),
        "signals_flag_slowed_runs": {
            f: _rate([any(v.signal_regressed for v in comparison(base, r).verdicts) for r in g])
            for f, g in slowed.items()
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """The study as a small markdown report."""
    factors = sorted(result["per_factor"], key=float)
    counts = ", ".join(f"{f}x: {n} runs" for f, n in result["per_factor"].items())
    measured = "; ".join(
        f"{f}x -> " + ", ".join(str(v) for v in result["effective_slowdown"][f].values())
        for f in factors
    )
    cases = result["slowed_cases"]
    short = [c.split("-cpu-")[0] + "-" + c.split("-")[-2] for c in cases]  # e.g. lstm-eager-B64
    lines = [
        f"# Regression gate study on {result['device_name']}",
        "",
        f"{result['runs']} unchanged reruns against one baseline run; slowed implementation "
        f"`{result['slowed']}` ({counts}). "
        "Timing verdicts only (alpha 0.01). *False alarms*: unchanged runs that fail against "
        "the baseline; *(conf.)*: the next run must agree (what `--confirm 1` does); *all "
        "pairs*: every unchanged run (baseline included) judged against every other. "
        "*Detected*: slowed runs that flag the case, single-shot (confirmed); *named*: runs "
        "that flag slowed cases and nothing else.",
        "",
        f"Slowed cases: {', '.join(f'`{c}`' for c in cases)}.",
        "",
        "Measured with `python scripts/gate_study.py --reruns "
        f"{result['runs']} --pytest-args \"{result.get('pytest_args', '')}\"`.",
        "",
        "| min_ratio | false alarms (conf.) | all pairs (conf.) | factor | "
        + " | ".join(f"detected {c}" for c in short) + " | named |",
        "|---" * (5 + len(short)) + "|",
    ]
    for row in result["sweep"]:
        for i, f in enumerate(factors):
            head = (f"| {row['min_ratio']:.2f} | {row['false_alarms']} "
                    f"({row['false_alarms_confirmed']}) | {row['false_alarms_all_pairs']} "
                    f"({row['false_alarms_all_pairs_confirmed']}) " if i == 0 else "| | | ")
            single, conf = row["detected"][f], row["detected_confirmed"][f]
            lines.append(head + f"| {f}x | " + " | ".join(
                f"{single[k]} ({conf[k]})" for k in [*cases, "named"]) + " |")
    q = result["null_ratio_quantiles"]
    lines += [
        "",
        "Normalised ratio of gated cases between unchanged runs (all pairs): "
        + ", ".join(f"{k} {v:.3f}" for k, v in q.items()) + ".",
        "",
        f"Measured slowdown of the slowed cases (median ratio over runs): {measured}.",
        "",
        "pytest-benchmark's own rule on the same unchanged runs: "
        f"`--benchmark-compare-fail=median:25%` fails {result['pytest_compare_fail_median_25']}, "
        f"`min:10%` fails {result['pytest_compare_fail_min_10']}.",
        "",
        "Deterministic counts that grew between unchanged runs (all pairs): "
        f"{result['signal_false_alarms_all_pairs']}. "
        "Slowed runs whose deterministic counts grew (fail by default): "
        + ", ".join(f"{f}x {result['signals_flag_slowed_runs'][f]}" for f in factors) + ".",
    ]
    return "\n".join(lines) + "\n"


def _raw_fail(base: Run, run: Run, limit: float, of: Any = statistics.median) -> bool:
    """Would ``--benchmark-compare-fail=<of>:<limit-1>`` fail ``run`` against ``base``?"""
    then = base.by_name()
    return any(of(r.data) > limit * of(then[r.name].data) for r in run.cases if r.name in then)


def _detections(flagged: list[set[str]], target: set[str]) -> dict[str, str]:
    """Per slowed case, the runs that flag it; ``named``: runs that flag slowed cases only."""
    rates = {case: _rate([case in f for f in flagged]) for case in sorted(target)}
    return {**rates, "named": _rate([bool(f) and f <= target for f in flagged])}


def _rate(outcomes: Sequence[object]) -> str:
    count = sum(bool(o) for o in outcomes)
    return f"{count}/{len(outcomes)}"


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = {"min": 0.0, "p1": 0.01, "median": 0.5, "p99": 0.99, "max": 1.0}
    return {k: ordered[round(q * (len(ordered) - 1))] for k, q in pick.items()} if ordered else {}


def _ratio(comparison: Comparison, case: str) -> float:
    return next(v.ratio for v in comparison.verdicts if v.case == case)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/gate_study.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/rnnbench-gate-study"))
    parser.add_argument("--out", type=Path, default=Path("reports/gate"))
    parser.add_argument("--reruns", type=int, default=10)
    parser.add_argument("--factors", default="1.1,1.2,1.3,1.5")
    parser.add_argument("--per-factor", type=int, default=3)
    parser.add_argument("--slow", default="lstm:eager", help="CELL:IMPL to slow down")
    parser.add_argument("--pytest-args", default="", help="the subset, e.g. \"-k 'T100'\"")
    parser.add_argument("--name", default="study", help="report file stem under --out")
    parser.add_argument("--analyse", action="store_true", help="only analyse existing runs")
    args = parser.parse_args(argv)
    if not args.analyse:
        record(args.runs, args.reruns, [float(f) for f in args.factors.split(",")],
               args.per_factor, args.slow, args.pytest_args)
    result = analyse(args.runs, args.slow)
    result["pytest_args"] = args.pytest_args
    write_atomic(args.out / f"{args.name}.json", json.dumps(result, indent=1) + "\n")
    write_atomic(args.out / f"{args.name}.md", markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
