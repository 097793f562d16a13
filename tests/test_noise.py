"""The noise rule (:func:`rnnbench.bench.results.noise`) and every place that applies it, on a
synthetic run measured under load: no noisy case is called fastest, met or faster."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from rnnbench.bench import results
from rnnbench.bench.grid import Case
from rnnbench.bench.summary import NOT_JUDGED, noise_lines, ratio_rows
from rnnbench.cli import main
from rnnbench.gate.compare import compare
from rnnbench.gate.report import format_text, to_dict
from rnnbench.report import plots
from rnnbench.report.tables import NOT_RANKED, best_table, ms, sweep_table, sweeps

QUIET_LOAD = {"start": 0.2, "end": 2.1, "cpu_count": 2, "threads": 2}  # its own 2 threads
BUSY_LOAD = {"start": 3.5, "end": 4.6, "cpu_count": 2, "threads": 2}


def entry(cell: str, impl: str, T: int, B: int, median_ms: float, spread: float = 0.05,
          seed: int = 0) -> dict[str, Any]:
    """One case as pytest-benchmark writes it: 20 rounds whose IQR is about ``spread`` x
    the median."""
    rng = np.random.default_rng(seed)
    data = (median_ms / 1e3 * np.exp(rng.normal(0, spread / 1.35, 20))).tolist()
    q1, q3 = np.percentile(data, [25, 75])
    case = Case(cell, impl, "cpu", "f32", T, B, 256, 128, 1)
    return {"name": f"test_speed[{case.id}]", "extra_info": case.info(), "options": {},
            "stats": {"median": float(np.median(data)), "iqr": float(q3 - q1), "q1": float(q1),
                      "q3": float(q3), "rounds": 20, "data": data}}


def write(path: Path, load: dict[str, float], noisy_script: bool = False) -> Path:
    """An LSTM at T=100 and 800, B=64: native, eager and script; script's T=100 case spreads
    over twice its median when ``noisy_script`` (and is then the fastest by its median)."""
    benchmarks = [
        entry("lstm", "native", 100, 64, 40), entry("lstm", "eager", 100, 64, 48, seed=1),
        entry("lstm", "script", 100, 64, 30 if noisy_script else 60,
              spread=2.0 if noisy_script else 0.05, seed=2),
        entry("lstm", "native", 800, 64, 320, seed=3),
        entry("lstm", "eager", 800, 64, 576, seed=4),
        entry("lstm", "script", 800, 64, 480, seed=5),
    ]
    document = {"machine_info": {"device_name": "Test CPU", "torch": "2.x", "threads": 2,
                                 "cpu": {"brand_raw": "Test CPU"}, "load_average_1m": load},
                "commit_info": {"id": "0" * 40, "dirty": False}, "benchmarks": benchmarks,
                "datetime": "2026-01-01T00:00:00+00:00",
                "rnnbench": {"profile": "quick", "wall_s": 60.0, "exitstatus": 0}}
    path.write_text(json.dumps(document))
    return path


def test_the_rule_spread_beyond_half_the_median_or_a_loaded_machine() -> None:
    assert results.noise(0.1, 0.04, QUIET_LOAD) is None
    assert results.noise(0.1, 0.05, None) is None  # at the limit: still judged
    assert "IQR 60% of the median" in results.noise(0.1, 0.06, QUIET_LOAD)
    assert "machine loaded" in results.noise(0.1, 0.0, BUSY_LOAD)
    # busy only in the minute before the run: the terminal warns, the timings stand
    assert results.noise(0.1, 0.0, {**QUIET_LOAD, "start": 1.8}) is None
    # one thread on 2 cores: a whole core of other work is one too many
    assert results.noise(0.1, 0.0, {"start": 0, "end": 2.0, "cpu_count": 2, "threads": 1})
    assert results.noise(0.1, 0.0, {"start": None, "end": None, "cpu_count": 2}) is None


def test_run_names_its_noisy_cases(tmp_path: Path) -> None:
    quiet = results.load(write(tmp_path / "quiet.json", QUIET_LOAD))
    assert quiet.noisy() == ()
    noisy = results.load(write(tmp_path / "noisy.json", QUIET_LOAD, noisy_script=True))
    assert [r.case.impl for r in noisy.noisy()] == ["script"]
    assert noisy.noisy()[0].spread > results.SPREAD_LIMIT
    busy = results.load(write(tmp_path / "busy.json", BUSY_LOAD))
    assert len(busy.noisy()) == len(busy.cases)


def test_targets_say_noisy_not_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    quiet = {row[0]: row for row in ratio_rows(results.load(write(tmp_path / "q.json",
                                                                  QUIET_LOAD)))}
    assert quiet["lstm-cpu-f32-I256-H128-L1-T100-B64-fwdbwd"][5] == "met (<= 1.3)"
    path = write(tmp_path / "noisy.json", QUIET_LOAD, noisy_script=True)
    rows = {row[0]: row for row in ratio_rows(results.load(path))}
    assert rows["lstm-cpu-f32-I256-H128-L1-T100-B64-fwdbwd"][5] == NOT_JUDGED
    assert main(["targets", str(path)]) == 0
    out = capsys.readouterr().out
    assert "met (" not in out.split("## Growth")[0] and "MISSED" not in out
    assert "## Noisy cases" in out and "lstm-script-cpu-f32-I256-H128-L1-T100-B64-fwdbwd" in out
    assert "--run" in out  # what to do


def test_noise_lines_for_the_terminal_summary() -> None:
    assert noise_lines([("a", 0.1, 0.01), ("b", 0.2, 0.02)], QUIET_LOAD) == []
    lines = noise_lines([("a", 0.1, 0.01), ("b", 0.2, 0.3)], QUIET_LOAD)
    assert lines[0].startswith("1 of 2 cases are noisy")
    assert lines[1] == "  b: IQR 150% of the median (limit 50%)"
    assert "quiet machine" in lines[-1]
    busy = noise_lines([(f"c{i}", 0.1, 0.0) for i in range(20)], BUSY_LOAD)
    assert len(busy) == 3 and "every case: machine loaded" in busy[1]
    assert all(len(line) <= 100 for line in busy)


def test_report_never_ranks_a_noisy_case(tmp_path: Path) -> None:
    run = results.load(write(tmp_path / "noisy.json", QUIET_LOAD, noisy_script=True))
    speed = best_table(run.cases, lambda r: r.median, ms, run.noise)
    assert "script" not in speed and NOT_RANKED in speed and "noisy" in speed
    quiet = results.load(write(tmp_path / "quiet.json", QUIET_LOAD))
    assert "| LSTM native |" in best_table(quiet.cases, lambda r: r.median, ms, quiet.noise)
    sweep = sweeps(run.cases, "T")[0]
    text = sweep_table(sweep, "T", lambda r: r.median * 1e3, lambda v: f"{v:.1f}", run.noise)
    script = next(line for line in text.splitlines() if "| script |" in line)
    assert "(noisy)" in script and script.rstrip(" |").endswith("noisy")  # no growth from it


def test_report_page_marks_noisy_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    path = write(tmp_path / "busy.json", BUSY_LOAD)
    assert main(["report", str(path), "--out", str(tmp_path / "page")]) == 0
    page = (tmp_path / "page" / "README.md").read_text()
    assert "6 of 6 cases are noisy" in page and NOT_RANKED in page
    assert "least" in page and "LSTM native" not in page  # no fastest named
    compared = tmp_path / "cmp"
    quiet = write(tmp_path / "quiet.json", QUIET_LOAD)
    assert main(["report", "--compare", str(quiet), str(path), "--out", str(compared)]) == 0
    assert "(noisy)" in (compared / "compare.md").read_text()
    capsys.readouterr()


def test_gate_in_files_mode_says_noisy_not_faster(tmp_path: Path) -> None:
    baseline = results.load(write(tmp_path / "base.json", QUIET_LOAD))
    current = results.load(write(tmp_path / "now.json", QUIET_LOAD, noisy_script=True))
    comparison = compare(baseline, current)
    script = next(v for v in comparison.verdicts if v.case.startswith("lstm-script-cpu-f32"
                                                                       "-I256-H128-L1-T100"))
    assert script.ratio < 1 / 1.2  # half the time by the medians ...
    assert script.status == "noisy" and not script.improved and not script.timing_regressed
    text = format_text(comparison)
    assert "faster" not in text and "noisy in 1 case(s)" in text
    assert "no regression in 6 common case(s); 1 of them noisy, their timings not judged" in text
    assert "quiet machine" in text and "--run" in text
    assert to_dict(comparison)["noisy"] == [script.case]
    busy = compare(baseline, results.load(write(tmp_path / "busy.json", BUSY_LOAD)))
    assert {v.status for v in busy.verdicts} == {"noisy"}


def test_footer_lies_inside_the_figure() -> None:
    footer = " · ".join(["AMD EPYC 7B13 64-Core Processor (2 threads)", "f32",
                         "torch 2.13.0+cpu", "2026-01-01",
                         "runs/a/rather/long/path/to/my-own-results-file.json"] * 2)
    fig, (ax,) = plots._figure(1)
    ax.plot([1, 2], [1, 2], label="x")
    fig.legend(loc="outside right upper")
    fig.suptitle("title")
    text = fig.supxlabel(plots.wrap(footer, fig.get_figwidth() - 0.3), fontsize=8)
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    figure_box = fig.bbox
    for artist in (text, fig.legends[0]):
        box = artist.get_window_extent(renderer)
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1, artist
        assert figure_box.y0 <= box.y0 and box.y1 <= figure_box.y1, artist
    legend, axes = fig.legends[0].get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= axes.x1  # beside the data, not over it
    assert text.get_text().count("\n") >= 1


def test_time_plots_draw_the_interquartile_band(tmp_path: Path) -> None:
    run = results.load(write(tmp_path / "quiet.json", QUIET_LOAD))
    drawn: list[Figure] = []
    save = plots._save

    def keep(fig: Figure, *args: Any) -> Path:
        drawn.append(fig)
        return save(fig, *args)

    plots._save = keep
    try:
        plots.sweep(run, "T", tmp_path / "t.png", "t", "ms", lambda r: r.median * 1e3, band=True)
    finally:
        plots._save = save
    (ax,) = drawn[0].axes
    bands = ax.collections
    assert len(bands) == 3  # one per implementation
    lowest = min(path.vertices[:, 1].min() for band in bands for path in band.get_paths())
    native = next(r for r in run.cases if r.case.impl == "native" and r.case.T == 100)
    assert math.isclose(lowest, native.quartiles[0] * 1e3, rel_tol=0.2)
