"""``pytest -p rnnbench.gate.plugin --rnnbench-gate=BASELINE`` fails the session on a regression.

These tests check the wiring (option, the session's results, report, exit status); the slowdown
is a deterministic count, so no verdict here depends on timing (that rule is tested on
synthetic data in ``test_gate_rule.py``).
"""

from __future__ import annotations

from pathlib import Path

from test_gate_synthetic import run_pytest, write

#: Two cases of one shape; the eager one dispatches $SLOW times as many operators.
BENCHMARKS = """
import os
import pytest
from rnnbench.bench.grid import Case

@pytest.mark.parametrize("impl", ["native", "eager"])
def test_speed(benchmark, impl):
    ops = 100 * (int(os.environ.get("SLOW", "1")) if impl == "eager" else 1)
    case = Case("lstm", impl, "cpu", "f32", 100, 64, 256, 128, 1)
    benchmark.extra_info.update(case.info(), case=f"sum-{impl}", aten_ops=ops)
    benchmark.pedantic(sum, (range(1000),), rounds=15)
"""
#: Timing verdicts off in effect: only the deterministic count decides here.
NO_TIMING = "--rnnbench-gate-min-ratio=1000"


def test_the_pytest_option_passes_unchanged_code_and_fails_a_slowdown(tmp_path: Path,
                                                                      monkeypatch) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\n")
    write(tmp_path / "test_sum.py", BENCHMARKS)
    baseline = tmp_path / "baseline.json"
    gate = ["-p", "rnnbench.gate.plugin", f"--rnnbench-gate={baseline}", NO_TIMING]

    recorded = run_pytest(tmp_path, f"--benchmark-json={baseline}")
    assert recorded.returncode == 0, recorded.stdout

    same = run_pytest(tmp_path, *gate)
    assert same.returncode == 0, same.stdout
    assert "rnnbench gate" in same.stdout and "no regression in 2 common case(s)" in same.stdout

    monkeypatch.setenv("SLOW", "2")
    slow = run_pytest(tmp_path, *gate)
    assert slow.returncode == 1, slow.stdout
    assert "REGRESSION in 1 case(s):\n  sum-eager" in slow.stdout
    assert "aten_ops grew 100 -> 200" in slow.stdout

    missing = run_pytest(tmp_path, "-p", "rnnbench.gate.plugin", "--rnnbench-gate=nope.json")
    assert missing.returncode == 4 and "does not exist" in missing.stdout


def test_the_plugin_is_inert_without_its_option(tmp_path: Path) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\n")
    write(tmp_path / "test_sum.py", BENCHMARKS)
    result = run_pytest(tmp_path, "-p", "rnnbench.gate.plugin", "--benchmark-disable")
    assert result.returncode == 0 and "rnnbench gate" not in result.stdout
