"""A newcomer's first hour: the ordinary situations end with a message, not a
traceback, and the terminal says what ran, what was left out and where results went.

Each test runs ``pytest benchmarks`` in a subprocess on a tiny selection, with its own
``--benchmark-storage``, so nothing lands in the checkout's ``.benchmarks``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import torch

from rnnbench.bench import machine, plugin
from rnnbench.bench.grid import Case

REPO = Path(__file__).resolve().parents[1]
NATIVE = "lstm-native-cpu-f32-I256-H128-L1-T100-B8-fwdbwd"
EAGER = "lstm-eager-cpu-f32-I256-H128-L1-T100-B8-fwdbwd"
PYTEST_BENCHMARK = tuple(int(part) for part in version("pytest-benchmark").split(".")[:2])
#: Few, short rounds: these tests check what is printed, not the timings.
QUICK_TIMING = ("--benchmark-min-rounds=2", "--benchmark-max-time=0.05")


def bench(*args: str, storage: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider",
               f"--benchmark-storage={storage}", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def output(result: subprocess.CompletedProcess[str]) -> str:
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    return text


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_asked_for_without_cuda_is_a_usage_error(tmp_path: Path) -> None:
    result = bench("--rnnbench-device=cuda", "--benchmark-autosave", storage=tmp_path)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--rnnbench-device=cuda is not accepted here: CUDA is not available" in output(result)


def test_nothing_timed_with_autosave_and_json_saves_nothing_and_says_so(tmp_path: Path) -> None:
    json_file = tmp_path / "run.json"
    result = bench("-k", "matches-no-case", "--benchmark-autosave",
                   f"--benchmark-json={json_file}", storage=tmp_path / "store")
    text = output(result)
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "no case was timed, so nothing was saved (--benchmark-json=" in text
    assert not json_file.exists()
    assert not list((tmp_path / "store").rglob("*.json"))
    # What was left out is said once each, CUDA cases included where there is no CUDA.
    assert re.search(r"^not collected: \d+ convergence cases", text, re.MULTILINE)
    said = [line for line in text.splitlines() if "CUDA is not available" in line]
    assert len(said) == (0 if torch.cuda.is_available() else 1)
    assert all(line.startswith("not collected: ") for line in said)


def test_compare_without_a_saved_run_says_how_to_save_one(tmp_path: Path) -> None:
    result = bench("-k", NATIVE, "--benchmark-compare", storage=tmp_path / "empty")
    text = output(result)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--benchmark-compare: no saved run in" in text
    assert "pytest benchmarks --benchmark-autosave" in text
    assert "Can't compare" not in text  # pytest-benchmark's own warning is not shown too


def test_a_run_ends_with_the_summary_and_compares_with_a_change_column(tmp_path: Path) -> None:
    selection = ("-k", f"{NATIVE} or {EAGER}", *QUICK_TIMING)
    first = bench(*selection, "--benchmark-autosave", storage=tmp_path)
    text = output(first)
    assert first.returncode == 0, text
    table = text[text.index("Name (time in "):]
    assert "Median" in table and "IQR" in table and "Rounds" in table
    assert "StdDev" not in table and "speed[lstm-eager-" in table  # short names
    summary = text[text.index("rnnbench summary"):]
    assert "lstm-cpu-f32-I256-H128-L1-T100-B8-fwdbwd  native" in summary
    assert "eager " in summary and "x" in summary
    saved = next(tmp_path.rglob("*.json"))
    assert f"readable report: rnnbench report {saved}" in summary
    assert "load average (1 min)" in summary
    load = json.loads(saved.read_text())["machine_info"][machine.LOAD]
    assert set(load) == {"start", "end", "cpu_count", "threads"}

    second = bench(*selection, "--benchmark-compare", storage=tmp_path)
    text = output(second)
    assert second.returncode == 0, text
    assert "change of median against the run saved" in text
    assert NATIVE in text.split("change of median against")[1]


def test_load_warning_only_when_other_work_competed() -> None:
    idle = {"start": 0.1, "end": 2.0, "cpu_count": 2, "threads": 2}  # the run's own 2 threads
    assert machine.load_warning(idle) is None
    busy_before = {**idle, "start": 1.2}
    busy_during = {**idle, "end": 3.3}
    for load in (busy_before, busy_during):
        warning = machine.load_warning(load)
        assert warning and "on 2 cores" in warning and "idle machine" in warning
    assert machine.load_warning({"start": None, "end": None, "cpu_count": 8}) is None
    assert machine.load_average() is None or machine.load_average() >= 0


def test_load_average_is_not_compared_between_runs() -> None:
    info = {machine.LOAD: {"start": 1.0}, "cpu_model": "x"}
    machine.drop_volatile(info)
    assert info == {"cpu_model": "x"}


def test_the_estimate_weighs_long_sequences_more() -> None:
    def case(T: int, cell: str = "lstm", device: str = "cpu") -> Case:
        return Case(cell, "native", device, "f32", T, 64, 256, 128, 1)

    assert plugin._weight(case(100)) < plugin._weight(case(100, "bilstm")) < plugin._weight(
        case(800))
    assert plugin._weight(case(800, device="cuda")) == 1.0


def test_each_case_gets_one_progress_line_with_an_estimate(tmp_path: Path) -> None:
    result = bench("-k", f"{NATIVE} or {EAGER}", *QUICK_TIMING, storage=tmp_path)
    lines = [line for line in output(result).splitlines() if line.startswith("[")]
    assert [line.split()[:2] for line in lines] == [["[1/2]", NATIVE], ["[2/2]", EAGER]]
    assert " ms " in lines[0] and "left" in lines[0] and "left" not in lines[1]
    assert all(len(line) <= 100 for line in lines)
    assert output(result).count("benchmarks/test_speed.py") == 1
    assert "USDT" not in output(result)  # the profiler's own log lines are silenced


def test_json_into_a_missing_folder_is_created_before_timing(tmp_path: Path) -> None:
    target = tmp_path / "new" / "run.json"
    result = bench("-k", NATIVE, *QUICK_TIMING, f"--benchmark-json={target}", storage=tmp_path)
    if PYTEST_BENCHMARK < (5, 3):  # argparse opens the file while it reads the option
        assert result.returncode == pytest.ExitCode.USAGE_ERROR
        assert "--benchmark-json: can't open" in result.stderr and NATIVE not in result.stdout
        return
    assert result.returncode == 0, output(result)
    assert json.loads(target.read_text())["benchmarks"]


def test_compare_fail_ends_with_the_summary_and_exit_1(tmp_path: Path) -> None:
    selection = ("-k", EAGER, *QUICK_TIMING)
    assert bench(*selection, "--benchmark-autosave", storage=tmp_path).returncode == 0
    # The saved run made a thousand times faster: the comparison regresses whatever the
    # machine's load does to two rounds of timing.
    (saved,) = tmp_path.rglob("*.json")
    run = json.loads(saved.read_text())
    for case in run["benchmarks"]:
        case["stats"] = {k: v / 1000 if k in ("min", "max", "mean", "median") else v
                         for k, v in case["stats"].items()}
    saved.write_text(json.dumps(run))
    result = bench(*selection, "--benchmark-compare", "--benchmark-compare-fail=median:10%",
                   storage=tmp_path)
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "Traceback" not in text and "INTERNALERROR" not in text
    assert "rnnbench summary" in text and "performance regressed" in text


@pytest.mark.skipif(importlib.util.find_spec("pygal") is not None, reason="pygal is installed")
def test_histogram_without_pygal_is_a_usage_error_before_timing(tmp_path: Path) -> None:
    result = bench("-k", NATIVE, "--benchmark-histogram", storage=tmp_path)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "pip install 'pytest-benchmark[histogram]'" in output(result)


@pytest.mark.skipif(shutil.which("tox") is None, reason="tox is not installed")
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="nvidia-smi is here")
def test_tox_gpu_stops_before_installing_anything_without_a_gpu(tmp_path: Path) -> None:
    result = subprocess.run(["tox", "-e", "gpu", "--workdir", str(tmp_path)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "tox -e gpu: no NVIDIA GPU here" in result.stdout + result.stderr
    assert not list(tmp_path.rglob("site-packages/torch"))
    assert not list(tmp_path.rglob("site-packages/rnnbench*"))


def test_gitignore_covers_the_venv_file_tox_leaves() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", ".venv"], cwd=REPO)
    assert ignored.returncode == 0


def test_readme_install_lines_and_commands_that_change_no_committed_file() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "python -m venv .venv" in readme
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in readme
    assert "pip install -e . && pytest benchmarks --benchmark-autosave" in readme
    assert 'pip install -e ".[dev]" && pytest --benchmark-disable' in readme
    assert "--benchmark-json=reports/" not in readme
    assert "rnnbench report FILE --out" in readme and "the article" in readme
