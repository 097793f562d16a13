"""``pytest -p rnnbench.gate.plugin --rnnbench-gate=BASELINE`` fails the session on a regression."""

from __future__ import annotations

from pathlib import Path

from test_gate_synthetic import run_pytest, write

#: Two cases of one shape: native sleeps 2 ms, eager 2 ms times $SLOW (default 1).
BENCHMARKS = """
import os, time
import pytest

@pytest.mark.parametrize("impl", ["native", "eager"])
def test_speed(benchmark, impl):
    seconds = 0.002 * (float(os.environ.get("SLOW", "1")) if impl == "eager" else 1)
    benchmark.extra_info.update(case=f"sleep-{impl}", impl=impl, shape_key="s", device="cpu")
    benchmark.pedantic(time.sleep, (seconds,), rounds=15)
"""


def test_the_pytest_option_passes_unchanged_code_and_fails_a_slowdown(tmp_path: Path,
                                                                      monkeypatch) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\n")
    write(tmp_path / "test_sleep.py", BENCHMARKS)
    baseline = tmp_path / "baseline.json"
    gate = ["-p", "rnnbench.gate.plugin", f"--rnnbench-gate={baseline}"]

    recorded = run_pytest(tmp_path, f"--benchmark-json={baseline}")
    assert recorded.returncode == 0, recorded.stdout

    same = run_pytest(tmp_path, *gate)
    assert same.returncode == 0, same.stdout
    assert "rnnbench gate" in same.stdout and "no regression in 2 common case(s)" in same.stdout

    monkeypatch.setenv("SLOW", "2")
    slow = run_pytest(tmp_path, *gate)
    assert slow.returncode == 1, slow.stdout
    assert "REGRESSION in 1 case(s):\n  sleep-eager" in slow.stdout

    missing = run_pytest(tmp_path, "-p", "rnnbench.gate.plugin", "--rnnbench-gate=nope.json")
    assert missing.returncode == 4 and "does not exist" in missing.stdout


def test_the_plugin_is_inert_without_its_option(tmp_path: Path) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\n")
    write(tmp_path / "test_sleep.py", BENCHMARKS)
    result = run_pytest(tmp_path, "-p", "rnnbench.gate.plugin", "--benchmark-disable")
    assert result.returncode == 0 and "rnnbench gate" not in result.stdout
