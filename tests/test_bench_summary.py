"""``rnnbench targets``: the target figures computed from a results JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnbench.bench.grid import Case
from rnnbench.bench.results import load
from rnnbench.bench.summary import growth_rows, ratio_rows, spread
from rnnbench.cli import main

#: (cell, impl, T, B) -> median seconds of a made-up CPU run.
MEDIANS = {
    ("lstm", "native", 100, 64): 0.040, ("lstm", "eager", 100, 64): 0.048,
    ("lstm", "script", 100, 64): 0.060, ("lstm", "native", 800, 64): 0.320,
    ("lstm", "eager", 800, 64): 0.576, ("lstm", "script", 800, 64): 0.480,
    ("gru", "native", 100, 8): 0.004, ("gru", "eager", 100, 8): 0.010,
}


def write_results(path: Path) -> Path:
    benchmarks = []
    for (cell, impl, T, B), median in MEDIANS.items():
        case = Case(cell, impl, "cpu", "f32", T, B, 256, 128, 1)
        benchmarks.append({"name": f"test_speed[{case.id}]", "extra_info": case.info(),
                           "stats": {"median": median, "iqr": median / 10, "data": [median]}})
    benchmarks.append({"name": "test_other", "extra_info": {}, "stats": {"median": 1.0}})
    document = {"machine_info": {"device_name": "Test CPU", "torch": "2.x", "threads": 2},
                "benchmarks": benchmarks, "rnnbench": {"profile": "quick", "wall_s": 200.0}}
    path.write_text(json.dumps(document))
    return path


def test_ratio_of_the_best_custom_impl_to_native(tmp_path: Path) -> None:
    rows = {row[0]: row for row in ratio_rows(load(write_results(tmp_path / "run.json")))}
    lstm = rows["lstm-cpu-f32-I256-H128-L1-T100-B64-fwdbwd"]
    assert lstm[2:6] == ["eager", "48.00", "1.20x", "met (<= 1.3)"]
    gru = rows["gru-cpu-f32-I256-H128-L1-T100-B8-fwdbwd"]
    assert gru[4:6] == ["2.50x", ""]  # B=8 has no target: reported, not judged
    assert rows["lstm-cpu-f32-I256-H128-L1-T800-B64-fwdbwd"][2] == "script"


def test_growth_relative_to_natives_own(tmp_path: Path) -> None:
    rows = {row[1]: row for row in growth_rows(load(write_results(tmp_path / "run.json")))}
    assert rows["native"][2:5] == ["8.00x", "8.00x", "1.00"]
    assert rows["eager"][4:] == ["1.50", "met (<= 1.5)"]
    assert rows["script"][4:] == ["1.00", "met (<= 1.5)"]
    assert len(rows) == 3  # gru has no T=800 case


def test_spread_counts_cases_over_a_millisecond(tmp_path: Path) -> None:
    count, middle, widest, _ = spread(load(write_results(tmp_path / "run.json")).cases)
    assert count == len(MEDIANS) and middle == pytest.approx(0.1) and widest == pytest.approx(0.1)


def test_command_prints_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets", str(write_results(tmp_path / "run.json"))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Speed targets: Test CPU, torch 2.x, 2 threads, profile quick")
    assert "| lstm-cpu-f32-I256-H128-L1-T*-B64-fwdbwd | eager | 12.00x | 8.00x | 1.50 |" in out
    assert "Wall time of the run: 200 s (8 timed cases)." in out


def test_a_file_without_rnnbench_cases_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"machine_info": {},
                               "benchmarks": [{"name": "x", "stats": {"median": 1}}]}))
    assert main(["targets", str(path)]) == 2
    assert "holds no rnnbench benchmark cases" in capsys.readouterr().err
