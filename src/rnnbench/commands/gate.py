"""``rnnbench gate``: fail CI on a real performance regression, never on a change of machine.

Three ways to judge (the output says which, and why):

- **files**: ``gate BASELINE CURRENT`` compares two result files; their timings must come from
  one machine with the same settings, else exit 2 with what to do.
- **direct**: ``gate BASELINE CURRENT --run`` runs the suite into CURRENT and compares it with
  BASELINE, when BASELINE was measured on this machine (same processor and instruction set).
- **A/B**: when BASELINE comes from another machine, or with ``--ab``, or ``--against REV``
  (no baseline file needed): the baseline's commit (or REV) and the current tree are measured
  here, interleaved (:mod:`rnnbench.gate.ab`), and judged by the same rule with the A/B
  threshold; deterministic counts are still compared with BASELINE when it is given.

Exit codes: 0 no regression, 1 regression (the only cause of 1), 2 unusable input or
environment, 130 interrupted.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from rnnbench.bench.results import Run, machine_identity
from rnnbench.files import check_output_file, write_json
from rnnbench.gate import ab
from rnnbench.gate.compare import (
    AB_MIN_RATIO,
    Comparison,
    Confirmation,
    Rule,
    UnusableInput,
    check_complete,
    compare,
    load_run,
    machine_differences,
)
from rnnbench.gate.report import format_text, to_dict
from rnnbench.gate.rerun import CPU_ARGS, check_pytest_args, run_suite, with_profile

HELP = ("judge a benchmark run against a baseline, measuring both on this machine when needed; "
        "exit 1 on a regression, 2 on unusable input")

REGRESSION = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", nargs="?", help="pytest-benchmark JSON of the baseline "
                        "(e.g. baselines/cpu-quick.json); optional with --against")
    parser.add_argument("current", nargs="?", help="pytest-benchmark JSON of this run "
                        "(--benchmark-json); with --run or --against, where to write it")
    parser.add_argument("reruns", nargs="*", help="reruns of some current cases: a timing "
                        "regression must show in each run that measured the case")
    parser.add_argument("--run", dest="run_first", action="store_true",
                        help="first run the suite into CURRENT (with --pytest-args); if the "
                        "baseline comes from another machine, measure its commit here too (A/B)")
    parser.add_argument("--against", metavar="REV",
                        help="A/B: measure commit REV and the working tree on this machine, "
                        "interleaved, and judge the tree against REV")
    parser.add_argument("--ab", action="store_true",
                        help="with --run: A/B against the baseline's commit even on its machine")
    parser.add_argument("--min-ratio", type=float, default=None, metavar="R",
                        help="smallest slowdown, relative to native of the same shape, that "
                        f"fails (default {Rule.min_ratio} between runs of different times, "
                        f"{AB_MIN_RATIO} in A/B mode)")
    parser.add_argument("--alpha", type=float, default=Rule.alpha, metavar="P",
                        help=f"significance level of the Mann-Whitney U test "
                        f"(default {Rule.alpha})")
    parser.add_argument("--raw-min-ratio", type=float, default=None, metavar="R",
                        help="also fail native cases on raw time at this ratio (default: "
                        "report-only)")
    parser.add_argument("--no-signals", dest="check_signals", action="store_false",
                        help="ignore deterministic counts (ATen ops, peak memory)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="accept a current run that lacks some baseline cases (a "
                        "deliberate subset, e.g. with -k in --pytest-args)")
    parser.add_argument("--confirm", type=int, default=0, metavar="N",
                        help="rerun up to N times the cases that look slower (and their native "
                        "references) before failing; in A/B mode both sides (default 0)")
    parser.add_argument("--pytest-args", default=CPU_ARGS, metavar="ARGS",
                        help="pytest arguments for the runs this command makes; with --run they "
                        f"must match how the baseline was measured (default: {CPU_ARGS!r})")
    parser.add_argument("--json", metavar="PATH", help="also write the verdicts as JSON here")


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    try:
        comparison = _judge(args)
    except (ValueError, BrokenPipeError):  # unusable input already (the CLI exits 2); the
        raise  # reader of stdout went away (141)
    except Exception as error:  # only a regression may exit 1: anything else is "unusable"
        raise UnusableInput(f"the gate could not finish: {type(error).__name__}: {error}") from None
    print(format_text(comparison))
    if args.json:
        write_json(args.json, to_dict(comparison))
    return REGRESSION if comparison.regressions else 0


def _judge(args: argparse.Namespace) -> Comparison:
    baseline = load_run(args.baseline, "baseline") if args.baseline else None
    if baseline is not None:
        args.pytest_args = with_profile(args.pytest_args, baseline.suite.get("profile"))
    reruns = [load_run(path, "rerun") for path in args.reruns]
    if args.against:
        commit = ab.resolve_commit(args.against, ab.repo_root())
        print(f"rnnbench gate: mode A/B (--against {args.against}): commit {commit[:12]} and "
              "the working tree, measured here, interleaved", flush=True)
        return _ab(args, commit, baseline)
    assert baseline is not None  # _check_arguments
    if not args.run_first:
        print("rnnbench gate: mode files: comparing two result files", flush=True)
        return _confirmed(args, baseline, load_run(args.current), reruns)
    differences = machine_differences(baseline.machine, this_machine(), gpu=False,
                                      here=True)
    if not differences and not args.ab:
        print(f"rnnbench gate: mode direct: the baseline was measured on this machine "
              f"({baseline.device_name}); running the suite, then comparing", flush=True)
        status = run_suite(args.current, args.pytest_args)
        if status != 0:
            raise UnusableInput(f"the benchmark run failed (pytest exit {status}): nothing to "
                                "judge; fix the suite first")
        return _confirmed(args, baseline, load_run(args.current), reruns)
    why = ("--ab" if not differences else
           "the baseline was measured on another machine (" + "; ".join(differences) + ")")
    if not baseline.commit:
        raise UnusableInput(
            f"{why}, and baseline {args.baseline!r} records no commit to measure here: refresh "
            "it on this machine (`rnnbench baseline refresh`, from a clean checkout), or judge "
            "against a commit with --against REV"
        )
    commit = ab.resolve_commit(baseline.commit, ab.repo_root())
    dirty = (" (it was measured with uncommitted changes; the commit as committed runs here)"
             if baseline.dirty else "")
    print(f"rnnbench gate: mode A/B: {why}: timings of two machines do not compare, so the "
          f"baseline's commit {commit[:12]}{dirty} and the working tree are measured here, "
          "interleaved; deterministic counts are compared with the baseline file", flush=True)
    return _ab(args, commit, baseline)


def _confirmed(args: argparse.Namespace, baseline: Run, current: Run, reruns: list[Run]
               ) -> Comparison:
    """Files and direct mode: confirmations are runs of the suite here, of the suspects."""
    def rerun(attempt: int, suspects: tuple[str, ...]) -> Run:
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / "rerun.json"
            status = run_suite(output, args.pytest_args, suspects)
            if status != 0:
                raise UnusableInput(f"the confirmation rerun failed (pytest exit {status}); "
                                    "fix the suite run, or gate without --confirm")
            return load_run(output, f"rerun {attempt}")

    return _confirm(args, baseline, current, _rule(args, ab_mode=False), rerun, list(reruns))


def _ab(args: argparse.Namespace, commit: str, baseline: Run | None) -> Comparison:
    rule = _rule(args, ab_mode=True)  # bad thresholds fail before minutes of measuring
    with (tempfile.TemporaryDirectory(prefix="rnnbench-gate-", ignore_cleanup_errors=True) as name,
          ab.checkout(commit, ab.repo_root()) as tree):
        folder = Path(name)
        ab.check_builds(tree, commit)
        pair = ab.measure(tree, commit, folder, args.pytest_args)
        if baseline is not None and not args.allow_missing:
            check_complete(baseline, pair.current)
        comparison = _confirm(
            args, pair.baseline, pair.current, rule,
            lambda attempt, suspects: ab.measure(tree, commit, folder, args.pytest_args,
                                                 suspects, label=f"-confirm{attempt}"),
            [], signals=baseline)
        if args.current:
            shutil.copyfile(folder / "current.json", args.current)
            shutil.copyfile(folder / "baseline.json",
                            Path(args.current).with_suffix(f".ab-{commit[:7]}.json"))
    return comparison


def _confirm(args: argparse.Namespace, baseline: Run, current: Run, rule: Rule,
             rerun: Callable[[int, tuple[str, ...]], Confirmation], confirm: list[Confirmation],
             signals: Run | None = None) -> Comparison:
    """Compare, then rerun the suspects up to ``--confirm`` times, until none is left."""
    comparison = compare(baseline, current, rule, confirm, args.allow_missing, signals)
    for attempt in range(1, args.confirm + 1):
        if not comparison.suspects:
            break
        print(f"rnnbench gate: confirming {len(comparison.suspects)} case(s), rerun {attempt} "
              f"of at most {args.confirm}", flush=True)
        confirm.append(rerun(attempt, comparison.suspects))
        comparison = compare(baseline, current, rule, confirm, args.allow_missing, signals)
    return comparison


def this_machine() -> dict[str, str]:
    """:func:`~rnnbench.bench.results.machine_identity` of this machine's CPU, as pytest-benchmark
    records it (``py-cpuinfo``)."""
    import cpuinfo

    return machine_identity({"cpu": cpuinfo.get_cpu_info()})


def _rule(args: argparse.Namespace, ab_mode: bool) -> Rule:
    default = AB_MIN_RATIO if ab_mode else Rule.min_ratio
    return Rule(min_ratio=default if args.min_ratio is None else args.min_ratio,
                alpha=args.alpha, raw_min_ratio=args.raw_min_ratio,
                check_signals=args.check_signals)


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad arguments before anything long runs."""
    if args.against and args.baseline and not args.current:  # `gate --against REV CURRENT`
        args.baseline, args.current = None, args.baseline
    if args.confirm < 0:
        raise UnusableInput(f"--confirm={args.confirm} is not accepted: expected 0 or more reruns")
    if not args.against and not args.baseline:
        raise UnusableInput("name a baseline file (e.g. baselines/cpu-quick.json), or a commit "
                            "to compare with: --against REV")
    if not args.against and not args.run_first and not args.current:
        raise UnusableInput("name the current result file, or pass --run to measure it now")
    if (args.against or args.ab) and args.reruns:
        raise UnusableInput("rerun files cannot be combined with A/B mode; use --confirm N")
    for ab_mode in (False, True):  # bad thresholds fail before any run, not after it
        _rule(args, ab_mode)
    check_pytest_args(args.pytest_args)
    from rnnbench.bench import slowdown

    slowdown.check()  # a typo in the fault-injection switch, before anything runs
    measured = args.run_first or args.against  # CURRENT is written, not read
    written = [("--json", args.json), ("CURRENT", args.current if measured else None)]
    read = [("BASELINE", args.baseline), ("CURRENT", None if measured else args.current),
            *(("RERUN", path) for path in args.reruns)]
    for option, path in written:
        if not path:
            continue
        check_output_file(option, path)
        if Path(path).resolve().parent.name == "baselines":
            raise UnusableInput(f"{option} {path!r} lies in a baselines/ folder: the gate never "
                                "writes a baseline; write the run elsewhere, and adopt it on "
                                "purpose with `rnnbench baseline refresh RUN`")
        for other, given in [*read, *written]:
            if other != option and given and _same_file(path, given):
                raise UnusableInput(f"{option} {path!r} is also {other}: the gate would "
                                    f"overwrite it; name another file to write")


def _same_file(a: str, b: str) -> bool:
    """Whether the paths name one file (the same path, or links to one existing file)."""
    try:
        return Path(a).resolve() == Path(b).resolve() or Path(a).samefile(b)
    except OSError:  # one does not exist yet
        return False
