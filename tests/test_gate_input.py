"""Unusable input exits 2 with a message saying which file, what is wrong and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_gate_synthetic import document, entry, run_cli, suite, timings, write


def gate(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    return run_cli(capsys, "gate", *args)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write(tmp_path / "good.json", suite())


def test_missing_baseline_says_how_to_record_one(tmp_path, good, capsys) -> None:
    status, message = gate(capsys, tmp_path / "nope.json", good)
    assert status == 2
    assert "baseline file" in message and "does not exist" in message
    assert "rnnbench baseline refresh" in message


def test_missing_current_file(tmp_path, good, capsys) -> None:
    status, message = gate(capsys, good, tmp_path / "nope.json")
    assert status == 2 and "current file" in message and "does not exist" in message


def test_a_folder_is_not_a_result(tmp_path, good, capsys) -> None:
    status, message = gate(capsys, good, tmp_path)
    assert status == 2 and "is a directory" in message


@pytest.mark.parametrize("text", ["", "{", "benchmarks: []", "\xff\xfe"])
def test_not_json(tmp_path, good, capsys, text: str) -> None:
    status, message = gate(capsys, write(tmp_path / "bad.json", text), good)
    assert status == 2 and "--benchmark-json" in message
    assert any(why in message for why in ("is empty", "is not valid JSON", "is not UTF-8"))


@pytest.mark.parametrize("content", [[], {"benchmarks": []}, {"machine_info": {}}, {"a": 1},
                                     {"machine_info": {}, "benchmarks": {}}])
def test_json_that_is_not_a_pytest_benchmark_result(tmp_path, good, capsys, content) -> None:
    status, message = gate(capsys, good, write(tmp_path / "other.json", json.dumps(content)))
    assert status == 2 and "not a pytest-benchmark result" in message


def test_no_benchmarks_at_all(tmp_path, good, capsys) -> None:
    status, message = gate(capsys, good, write(tmp_path / "empty.json", document()))
    assert status == 2 and "holds no benchmark results" in message
    assert "--benchmark-disable" in message


def test_results_without_raw_timings(tmp_path, good, capsys) -> None:
    run = suite()
    del run["benchmarks"][1]["stats"]["data"]
    status, message = gate(capsys, good, write(tmp_path / "summary.json", run))
    assert status == 2 and "lstm-eager" in message and "no raw timings" in message
    assert "--benchmark-save-data" in message


@pytest.mark.parametrize("data", [[0.0, 1.0], [-1.0], ["1"], [True], [float("nan")]])
def test_timings_must_be_positive_numbers(tmp_path, good, capsys, data) -> None:
    run = suite()
    run["benchmarks"][0]["stats"]["data"] = data
    status, message = gate(capsys, good, write(tmp_path / "odd.json", run))
    assert status == 2
    assert "positive numbers" in message or "holds the number NaN" in message


def test_the_same_case_twice(tmp_path, good, capsys) -> None:
    twice = document(entry("a", timings(1.0)), entry("a", timings(1.0)))
    status, message = gate(capsys, good, write(tmp_path / "twice.json", twice))
    assert status == 2 and "'a' twice" in message


def test_no_common_cases_lists_both_sides(tmp_path, good, capsys) -> None:
    other = document(entry("gru-eager", timings(40.0)))
    status, message = gate(capsys, good, write(tmp_path / "other.json", other))
    assert status == 2 and "no common cases" in message
    assert "lstm-eager" in message and "gru-eager" in message
    assert "rnnbench baseline refresh" in message


def test_different_devices(tmp_path, good, capsys) -> None:
    gpu = document(entry("lstm-eager", timings(5.0), device="cuda"), device_name="NVIDIA H100")
    status, message = gate(capsys, good, write(tmp_path / "gpu.json", gpu))
    assert status == 2 and "different devices" in message and "cpu" in message
    assert "cuda" in message


def test_different_gpu_models(tmp_path, capsys) -> None:
    def run(name: str) -> dict:
        return document(entry("lstm-eager", timings(5.0), device="cuda"), device_name=name)

    base = write(tmp_path / "a100.json", run("NVIDIA A100-SXM4-80GB"))
    now = write(tmp_path / "h100.json", run("NVIDIA H100 80GB HBM3"))
    status, message = gate(capsys, base, now)
    assert status == 2 and "GPU models differ" in message
    assert "A100" in message and "H100" in message and "--run" in message


def test_different_thread_counts(tmp_path, capsys) -> None:
    base = write(tmp_path / "t1.json", suite(threads=1))
    now = write(tmp_path / "t2.json", suite(threads=2))
    status, message = gate(capsys, base, now)
    assert status == 2 and "CPU thread counts differ" in message
    assert "--rnnbench-threads" in message


def test_different_timers(tmp_path, capsys) -> None:
    cpu_time = suite()
    for case in cpu_time["benchmarks"]:
        case["options"]["timer"] = "time.process_time"
    wall = suite()
    for case in wall["benchmarks"]:
        case["options"]["timer"] = "perf_counter"
    status, message = gate(capsys, write(tmp_path / "w.json", wall),
                           write(tmp_path / "c.json", cpu_time))
    assert status == 2 and "timers differ" in message
    assert "perf_counter" in message and "process_time" in message


def test_timings_of_another_cpu_model_are_not_compared(tmp_path, good, capsys) -> None:
    other = suite()
    other["machine_info"]["cpu"]["brand_raw"] = "AMD EPYC 7B13"
    status, message = gate(capsys, good, write(tmp_path / "amd.json", other))
    assert status == 2 and "CPU models differ" in message and "AMD EPYC 7B13" in message
    assert "--run" in message  # what to do: measure the baseline's commit here


def test_timings_of_another_instruction_set_are_not_compared(tmp_path, good, capsys) -> None:
    base, other = suite(), suite()
    base["machine_info"]["cpu"]["flags"] = ["avx2", "fma"]
    other["machine_info"]["cpu"]["flags"] = ["avx2", "avx512f", "fma"]
    status, message = gate(capsys, write(tmp_path / "b.json", base),
                           write(tmp_path / "o.json", other))
    assert status == 2 and "instruction sets differ" in message and "avx512f" in message


@pytest.mark.parametrize("option", [["--min-ratio", "0.9"], ["--alpha", "1.5"],
                                    ["--raw-min-ratio", "1"]])
def test_bad_thresholds_are_usage_errors(good, capsys, option: list[str]) -> None:
    status, message = gate(capsys, good, good, *option)
    assert status == 2 and "is not accepted" in message


def test_a_noisy_baseline_is_named(tmp_path, capsys) -> None:
    noisy = suite(spread=0.3)
    noisy["machine_info"]["load_average_1m"] = {"start": 3.1, "end": 4.0, "cpu_count": 2,
                                                "threads": 1}
    status, message = gate(capsys, write(tmp_path / "n.json", noisy),
                           write(tmp_path / "c.json", suite()))
    assert status == 0
    assert "note: baseline run" in message and "load average 3.10 at start" in message
    assert "rounds spread wider than 10%" in message
