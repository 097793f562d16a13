"""The suite's pytest plugin: its pure parts, on both shapes of pytest-benchmark's options."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rnnbench.bench.plugin import (
    Timed,
    _sort_by_the_shown_column,
    compare_lines,
    json_target,
    ratio_lines,
)


def test_json_target_reads_a_path_and_an_open_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    assert json_target(None) is None
    assert json_target(path) == path  # pytest-benchmark 5.3 and later
    assert json_target(str(path)) == path
    with path.open("wb") as opened:  # before 5.3: argparse.FileType('wb')
        assert json_target(opened) == path


def timed(impl: str, median: float) -> Timed:
    return Timed(f"speed[lstm-{impl}-x]", f"lstm-{impl}-x", "lstm-x", impl, median, 0.0)


def test_ratio_lines_put_each_custom_impl_beside_native() -> None:
    (line,) = ratio_lines([timed("native", 0.010), timed("eager", 0.015), timed("derived", 0.008)])
    assert line.startswith("lstm-x  native    10.00 ms")
    assert line.endswith("eager 1.50x  derived 0.80x")
    assert ratio_lines([timed("eager", 0.015)]) == []  # no native: no ratio


def test_compare_lines_name_the_saved_run_and_the_change() -> None:
    saved = {"datetime": "2026-01-01T00:00:00", "commit_info": {"id": "abcdef0123456789"},
             "benchmarks": [{"fullname": "speed[lstm-eager-x]", "stats": {"median": 0.010}}]}
    head, row = compare_lines([timed("eager", 0.012), timed("native", 0.01)], [saved])
    assert "saved 2026-01-01T00:00:00 (commit abcdef0123" in head
    assert row.split() == ["lstm-eager-x", "10.00", "->", "12.00", "ms", "+20.0%"]


def sorted_by(args: list[str], columns: list[str]) -> str:
    options: dict[str, Any] = {"benchmark_columns": columns, "benchmark_sort": "min"}
    config = SimpleNamespace(invocation_params=SimpleNamespace(args=args),
                             getoption=lambda name, default=None: options.get(name, default),
                             option=SimpleNamespace(benchmark_sort="min"))
    _sort_by_the_shown_column(config)  # type: ignore[arg-type]
    return config.option.benchmark_sort


def test_tables_are_sorted_by_the_median_they_show_unless_told_otherwise() -> None:
    assert sorted_by([], ["median", "iqr", "rounds"]) == "median"
    assert sorted_by([], ["min", "median"]) == "min"  # min shown: pytest-benchmark's default
    assert sorted_by(["--benchmark-sort=mean"], ["median"]) == "min"  # the user's choice stands
