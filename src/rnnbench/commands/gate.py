"""``rnnbench gate``: fail CI on a real performance regression between two benchmark runs."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from rnnbench.gate import Rule, compare, load_run
from rnnbench.gate.baseline import write_atomic
from rnnbench.gate.load import UnusableInput
from rnnbench.gate.report import format_text, to_dict
from rnnbench.gate.rerun import CPU_ARGS, run_suite

HELP = "compare two pytest-benchmark JSON files; exit 1 on a regression, 2 on unusable input"

REGRESSION = 1


def configure(parser: argparse.ArgumentParser) -> None:
    defaults = Rule()
    parser.add_argument("baseline", help="pytest-benchmark JSON of the baseline "
                        "(e.g. baselines/cpu-quick.json)")
    parser.add_argument("current", help="pytest-benchmark JSON of this run (--benchmark-json)")
    parser.add_argument("reruns", nargs="*", help="reruns of some current cases: a timing "
                        "regression must show in each run that measured the case")
    parser.add_argument("--min-ratio", type=float, default=defaults.min_ratio, metavar="R",
                        help="smallest slowdown, relative to native of the same shape, that "
                        f"fails (default {defaults.min_ratio})")
    parser.add_argument("--alpha", type=float, default=defaults.alpha, metavar="P",
                        help=f"significance level of the Mann-Whitney U test "
                        f"(default {defaults.alpha})")
    parser.add_argument("--raw-min-ratio", type=float, default=None, metavar="R",
                        help="also fail native cases on raw time at this ratio (only for runs "
                        "of the same quiet machine; default: report-only)")
    parser.add_argument("--no-signals", dest="check_signals", action="store_false",
                        help="ignore deterministic counts (FLOPs, ATen ops, bytes)")
    parser.add_argument("--confirm", type=int, default=0, metavar="N",
                        help="rerun the suite up to N times on the cases that look slower (and "
                        "their native references) before failing (default 0)")
    parser.add_argument("--run", dest="run_first", action="store_true",
                        help="first run the suite into CURRENT (with --pytest-args)")
    parser.add_argument("--pytest-args", default=CPU_ARGS, metavar="ARGS",
                        help="pytest arguments for --run and --confirm runs; must match how "
                        f"CURRENT was measured (default: {CPU_ARGS!r})")
    parser.add_argument("--json", metavar="PATH", help="also write the verdicts as JSON here")


def run(args: argparse.Namespace) -> int:
    if args.confirm < 0:
        raise ValueError(f"--confirm={args.confirm} is not accepted: expected 0 or more reruns")
    rule = Rule(min_ratio=args.min_ratio, alpha=args.alpha, raw_min_ratio=args.raw_min_ratio,
                check_signals=args.check_signals)
    baseline = load_run(args.baseline, "baseline")  # before a long run: is it usable?
    if args.run_first:
        status = run_suite(args.current, args.pytest_args)
        if status != 0:
            raise UnusableInput(f"the benchmark run failed (pytest exit {status}): nothing to "
                                "judge; fix the suite first")
    current = load_run(args.current)
    reruns = [load_run(path, "rerun") for path in args.reruns]
    comparison = compare(baseline, current, rule, reruns)
    for attempt in range(1, args.confirm + 1):
        if not comparison.suspects:
            break
        print(f"rnnbench gate: confirming {len(comparison.suspects)} case(s), rerun {attempt} "
              f"of at most {args.confirm}", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / "rerun.json"
            status = run_suite(output, args.pytest_args, comparison.suspects)
            if status != 0:
                raise UnusableInput(f"the confirmation rerun failed (pytest exit {status}); "
                                    "fix the suite run, or gate without --confirm")
            reruns.append(load_run(output, f"rerun {attempt}"))
        comparison = compare(baseline, current, rule, reruns)
    print(format_text(comparison))
    if args.json:
        write_atomic(args.json, json.dumps(to_dict(comparison), indent=1) + "\n")
    return REGRESSION if comparison.regressions else 0
