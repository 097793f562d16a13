"""How good is the A/B gate on this machine: false alarms on unchanged code, detection of a
real slowdown. Results: ``reports/gate/ab-study.{md,json}``.

Each run is one A/B measurement (:func:`rnnbench.gate.ab.measure`): the cases of ``--rev`` and
of the working tree, timed in lockstep. ``null`` runs change nothing; ``slow-F`` runs
slow ``--slow`` (CELL:IMPL) down on the current side with the test-only ``RNNBENCH_SLOWDOWN``
switch (F is the switch's factor: it reruns a share F-1 of the time steps; the slowdown of the
whole case is measured and reported beside it). Runs of all kinds are interleaved in time and
kept in ``--runs``, so that ``--analyse`` can judge them again without measuring.

Timing verdicts only: the switch also adds ATen operators, which the deterministic count catches
every time, so counting it would say nothing about timing. *False alarm*: an unchanged run with
any timing verdict "regressed"; *(conf.)*: the next unchanged run flags the same case too (what
``--confirm 1`` asks of a fresh A/B rerun). *Caught*: a slowed run flags a slowed case; *named*:
it flags slowed cases only.

    python scripts/gate_ab_study.py --rev HEAD --null 10 --factors 1.2,1.4,2 --per-factor 10 \\
        --pytest-args "--rnnbench-device=cpu --rnnbench-threads=1 \\
        --benchmark-timer=time.process_time -k 'lstm and T100 and (native or eager)'"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnbench.bench.results import Run
from rnnbench.bench.slowdown import ENV as SLOWDOWN_ENV
from rnnbench.files import write_atomic
from rnnbench.gate import ab
from rnnbench.gate.compare import Rule, compare, load_run
from rnnbench.gate.rerun import CPU_ARGS

MIN_RATIOS = (1.03, 1.05, 1.08, 1.1, 1.15, 1.2)


def plan(null: int, factors: Sequence[float], per_factor: int) -> list[tuple[str, float]]:
    """Run names and switch factors, the kinds interleaved so that drift hits all alike."""
    rounds = max(null, per_factor)
    out = []
    for k in range(1, rounds + 1):
        if k <= null:
            out.append((f"null-{k:02d}", 1.0))
        if k <= per_factor:
            out += [(f"slow-{f:g}-{k:02d}", f) for f in factors]
    return out


def record(runs: Path, rev: str, runs_plan: list[tuple[str, float]], slow: str,
           pytest_args: str) -> None:
    repo = ab.repo_root()
    commit = ab.resolve_commit(rev, repo)
    with ab.checkout(commit, repo) as tree:
        ab.check_builds(tree, commit)
        for name, factor in runs_plan:
            folder = runs / name
            if (folder / "current.json").exists():
                continue
            folder.mkdir(parents=True, exist_ok=True)
            os.environ.pop(SLOWDOWN_ENV, None)
            if factor != 1:
                os.environ[SLOWDOWN_ENV] = f"{slow}:{factor}"
            try:
                print(f"== {name}", flush=True)
                ab.measure(tree, commit, folder, pytest_args, label=".partial")
            finally:
                os.environ.pop(SLOWDOWN_ENV, None)
            for side in ("baseline", "current"):
                (folder / f"{side}.partial.json").replace(folder / f"{side}.json")


def analyse(runs: Path, slow: str) -> dict[str, Any]:
    pairs: dict[str, list[tuple[Run, Run]]] = {}
    for folder in sorted(p for p in runs.iterdir() if (p / "current.json").exists()):
        kind = folder.name.rsplit("-", 1)[0]
        pairs.setdefault(kind, []).append(
            (load_run(folder / "baseline.json", "A"), load_run(folder / "current.json")))
    cell, impl = slow.split(":")
    first = next(iter(pairs.values()))[0][1]
    target = {r.name for r in first.cases if r.case.impl == impl and cell in r.case.cell}
    rule = Rule(min_ratio=1.0001, check_signals=False)
    judged = {kind: [compare(a, b, rule, allow_missing=True) for a, b in group]
              for kind, group in pairs.items()}

    def flagged(kind: str, min_ratio: float) -> list[set[str]]:
        return [{v.case for v in c.verdicts if v.gated and v.ratio >= min_ratio
                 and v.p_slower < rule.alpha} for c in judged[kind]]

    def confirmed(sets: list[set[str]]) -> list[set[str]]:
        return [s & sets[(i + 1) % len(sets)] for i, s in enumerate(sets)] if sets else []

    null_ratios = sorted(v.ratio for c in judged.get("null", []) for v in c.verdicts if v.gated)
    slowed_kinds = sorted((k for k in judged if k != "null"), key=lambda k: float(k.split("-")[1]))
    sweep = []
    for t in MIN_RATIOS:
        nulls = flagged("null", t) if "null" in judged else []
        row: dict[str, Any] = {
            "min_ratio": t, "false_alarms": _rate(nulls),
            "false_alarms_confirmed": _rate(confirmed(nulls)),
            "false_alarm_cases": sorted({c for s in nulls for c in s}),
        }
        for kind in slowed_kinds:
            sets = flagged(kind, t)
            row[kind] = {
                "caught": _rate([bool(s & target) for s in sets]),
                "caught_confirmed": _rate([bool(s & target) for s in confirmed(sets)]),
                "named": _rate([bool(s) and s <= target for s in sets]),
            }
        sweep.append(row)
    return {
        "slowed": slow, "slowed_cases": sorted(target),
        "runs": {k: len(v) for k, v in pairs.items()},
        "device_name": first.device_name,
        "cases": len(first.cases),
        "null_ratio_quantiles": _quantiles(null_ratios),
        "effective_slowdown": {
            kind: {case: round(statistics.median(
                next(v.ratio for v in c.verdicts if v.case == case) for c in judged[kind]), 3)
                for case in sorted(target)}
            for kind in slowed_kinds
        },
        "sweep": sweep,
    }


def markdown(result: dict[str, Any], command: str) -> str:
    kinds = [k for k in result["runs"] if k != "null"]
    kinds.sort(key=lambda k: float(k.split("-")[1]))
    lines = [
        f"# A/B regression gate study on {result['device_name']}",
        "",
        f"Runs: {', '.join(f'{k} {n}' for k, n in result['runs'].items())}; "
        f"{result['cases']} cases per run; slowed `{result['slowed']}` "
        f"({', '.join(f'`{c}`' for c in result['slowed_cases'])}). Timing verdicts only, "
        "alpha 0.01. Measured with:",
        "",
        f"    {command}",
        "",
        "| min_ratio | false alarms (conf.) | "
        + " | ".join(f"{k}: caught (conf.), named" for k in kinds) + " |",
        "|---" * (2 + len(kinds)) + "|",
    ]
    for row in result["sweep"]:
        cells = [f"{row[k]['caught']} ({row[k]['caught_confirmed']}), {row[k]['named']}"
                 for k in kinds]
        lines.append(f"| {row['min_ratio']:.2f} | {row['false_alarms']} "
                     f"({row['false_alarms_confirmed']}) | " + " | ".join(cells) + " |")
    q = result["null_ratio_quantiles"]
    lines += [
        "",
        "Normalised ratio of gated cases in unchanged runs: "
        + ", ".join(f"{k} {v:.3f}" for k, v in q.items()) + ".",
        "",
        "Measured slowdown of the slowed cases (median over runs), by switch factor: "
        + "; ".join(f"{k.split('-')[1]}x -> " + ", ".join(
            f"{c.split('-cpu-')[0]}-{c.split('-')[-2]}-{c.split('-')[-1]} {r}"
            for c, r in result["effective_slowdown"][k].items()) for k in kinds) + ".",
    ]
    return "\n".join(lines) + "\n"


def _rate(outcomes: Sequence[object]) -> str:
    return f"{sum(bool(o) for o in outcomes)}/{len(outcomes)}"


def _quantiles(values: list[float]) -> dict[str, float]:
    pick = {"min": 0.0, "p1": 0.01, "median": 0.5, "p99": 0.99, "max": 1.0}
    return {k: values[round(q * (len(values) - 1))] for k, q in pick.items()} if values else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/rnnbench-ab-study"))
    parser.add_argument("--out", type=Path, default=Path("reports/gate"))
    parser.add_argument("--name", default="ab-study")
    parser.add_argument("--rev", default="HEAD", help="the baseline side's commit")
    parser.add_argument("--null", type=int, default=10)
    parser.add_argument("--factors", default="1.2,1.4,2")
    parser.add_argument("--per-factor", type=int, default=10)
    parser.add_argument("--slow", default="lstm:eager", help="CELL:IMPL to slow down")
    parser.add_argument("--pytest-args", default=CPU_ARGS)
    parser.add_argument("--analyse", action="store_true", help="only analyse existing runs")
    args = parser.parse_args(argv)
    if not args.analyse:
        factors = [float(f) for f in args.factors.split(",") if f]
        record(args.runs, args.rev, plan(args.null, factors, args.per_factor), args.slow,
               args.pytest_args)
    result = analyse(args.runs, args.slow)
    command = "python " + " ".join(sys.argv)
    write_atomic(args.out / f"{args.name}.json", json.dumps(result, indent=1) + "\n")
    write_atomic(args.out / f"{args.name}.md", markdown(result, command))
    print(markdown(result, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
