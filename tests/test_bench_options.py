"""The suite's pytest options: bad values are usage errors that name what is accepted, the
grid is what gets collected, and results of another device are refused for comparison."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pytest_benchmark.utils import get_machine_id

from rnnbench.bench import grid

ROOT = Path(__file__).resolve().parents[1]


def pytest_benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_unknown_profile_is_a_usage_error_naming_the_profiles() -> None:
    result = pytest_benchmarks("--rnnbench-profile=huge", "--collect-only")
    assert result.returncode == 4
    assert "--rnnbench-profile: invalid choice: 'huge' (choose from" in result.stderr
    assert "quick" in result.stderr and "full" in result.stderr  # quoting varies with Python


def test_bad_thread_count_is_a_usage_error() -> None:
    result = pytest_benchmarks("--rnnbench-threads=0", "--collect-only")
    assert result.returncode == 4
    assert "'0' is not accepted: expected a positive integer" in result.stderr


def test_collects_the_grid_and_refuses_results_of_another_device(tmp_path: Path) -> None:
    saved = tmp_path / get_machine_id() / "0001_other.json"
    saved.parent.mkdir()
    saved.write_text(json.dumps({"machine_info": {"device_name": "Some Other GPU"},
                                 "commit_info": {}, "benchmarks": [], "version": "5.2.3"}))
    result = pytest_benchmarks("--collect-only", "-q", "--rnnbench-device=cpu")
    collected = [line.split("[", 1)[1].rstrip("]") for line in result.stdout.splitlines()
                 if line.startswith("benchmarks/test_speed.py::test_speed[")]
    assert collected == [case.id for case in grid.cases("quick", devices=["cpu"])]

    result = pytest_benchmarks("--collect-only", f"--benchmark-storage=file://{tmp_path}",
                               "--benchmark-compare=0001")
    assert result.returncode == 4
    assert "device_name='Some Other GPU' are not accepted for comparison" in result.stderr
