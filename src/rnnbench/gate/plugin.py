"""The gate as the pytest option users expect: judge this session's benchmarks at its end::

    pytest benchmarks -p rnnbench.gate.plugin --rnnbench-gate=baselines/cpu-quick.json

Without ``--rnnbench-gate`` it does nothing. It builds the session's pytest-benchmark JSON (raw
timings included) as ``--benchmark-json`` would, judges it by :mod:`rnnbench.gate.compare`,
prints the report in the terminal summary and fails the session (exit 1) on a regression, or
with pytest's usage-error code (4) on unusable input.
"""

from __future__ import annotations

import pytest

from rnnbench.gate.compare import Rule, UnusableInput, compare, load_run, parse_run
from rnnbench.gate.report import format_text

REPORT = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rnnbench gate")
    group.addoption("--rnnbench-gate", metavar="BASELINE", default=None,
                    help="fail the session when a benchmark regressed against this "
                    "pytest-benchmark JSON (see `rnnbench gate --help`)")
    group.addoption("--rnnbench-gate-min-ratio", metavar="R", type=float,
                    default=Rule.min_ratio, help="smallest slowdown relative to native that fails")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    baseline = config.getoption("rnnbench_gate")
    if not baseline:
        return
    bench = getattr(config, "_benchmarksession", None)
    try:
        if bench is None:
            raise UnusableInput("--rnnbench-gate needs the pytest-benchmark plugin")
        document = config.hook.pytest_benchmark_generate_json(
            config=config, benchmarks=[b for b in bench.benchmarks if b], include_data=True,
            machine_info=bench.get_machine_info(), commit_info={},
        )
        rule = Rule(min_ratio=config.getoption("rnnbench_gate_min_ratio"))
        comparison = compare(
            load_run(baseline, "baseline"), parse_run(document, "this session"), rule
        )
    except (UnusableInput, ValueError) as error:
        config.stash[REPORT] = f"rnnbench gate: error: {error}"
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    config.stash[REPORT] = format_text(comparison)
    if comparison.regressions and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(REPORT, None)
    if report is not None:
        terminalreporter.write_sep("=", "rnnbench gate")
        terminalreporter.write_line(report)
