"""``rnnbench report`` on small synthetic results files that these tests write themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbench.cli import main
from rnnbench.report import guide, learning, readme
from rnnbench.report.compare import compare
from rnnbench.report.convergence import load_convergence
from rnnbench.report.load import load_bench

# seconds at T=100, B=64, forward+backward, native
CELL_BASE = {"lstm": 0.040, "gru": 0.032, "bilstm": 0.088, "bigru": 0.0576}
EAGER = 1.25  # eager / native
FORWARD = 0.4  # forward / forward+backward, so backward is 60 %
GATES = {"lstm": 4, "gru": 3, "bilstm": 8, "bigru": 6}


def bench_case(cell: str, impl: str, T: int, B: int, pass_: str, memory: bool = True,
               device: str = "cpu") -> dict:
    median = CELL_BASE[cell] * T / 100 * (B / 64 if B > 1 else 0.25)
    median *= (EAGER if impl == "eager" else 1.0) * (FORWARD if pass_ == "fwd" else 1.0)
    info = {"case": f"{cell}-{impl}-{device}-f32-T{T}-B{B}-{pass_}", "cell": cell, "impl": impl,
            "device": device, "dtype": "f32", "T": T, "B": B, "input_size": 256,
            "hidden_size": 128, "num_layers": 1, "layout": "padded", "pass": pass_,
            "shape_key": f"{device}-T{T}-B{B}-{pass_}", "params": 1, "tokens_per_s": 1.0}
    if memory:
        info["peak_memory_bytes"] = GATES[cell] * T * 2**20
    return {"name": f"test_case[{info['case']}]", "group": info["shape_key"],
            "stats": {"min": median, "max": median, "mean": median, "median": median,
                      "iqr": 0.0, "stddev": 0.0, "rounds": 3},
            "extra_info": info}


def bench_results(memory: bool = True, device: str = "cpu", cells=("lstm", "gru")) -> dict:
    shapes = [(T, 64) for T in (50, 100, 200)] + [(100, 1)]
    cases = [bench_case(cell, impl, T, B, p, memory, device) for T, B in shapes
             for cell in cells for impl in ("native", "eager") for p in ("fwd", "fwdbwd")]
    return {"machine_info": {"device_name": f"Test {device.upper()}", "torch": "9.9.9"},
            "commit_info": {}, "datetime": "2031-02-03T04:05:06", "benchmarks": cases}


def epoch_row(task: str, epoch: int, value: float) -> dict:
    row = {"epoch": epoch, "step": 100 * epoch, "train_loss": 1.0 / epoch,
           "train_seconds": 10.0, "eval_seconds": 1.0, "tokens_per_second": 1000.0}
    if task == "imdb":
        row.update(val_accuracy=value, val_loss=1 - value, test_accuracy=value - 0.01)
    else:
        row.update(eval_loss=value, eval_accuracy=1 - value)
    return row


def convergence_results(task: str, curves: dict[str, list[list[float]]]) -> dict:
    """``curves``: cell -> one list of per-epoch values (val accuracy / eval loss) per seed."""
    runs = []
    for cell, seeds in curves.items():
        for seed, values in enumerate(seeds):
            epochs = [epoch_row(task, e, v) for e, v in enumerate(values, 1)]
            if task == "imdb":
                best = values.index(max(values)) + 1
                summary = {"best_val_accuracy": max(values), "best_epoch": best,
                           "test_accuracy_at_best": values[best - 1] - 0.01,
                           "converged_epoch": best, "seconds_per_epoch": 10.0,
                           "cpu_seconds_per_epoch": 12.0 if cell == "lstm" else 8.0}
            else:
                solved = [i for i, v in enumerate(values) if v < 0.01]
                summary = {"solved": bool(solved), "steps_to_solve":
                           100 * (solved[0] + 1) if solved else None,
                           "final_loss": values[-1], "final_accuracy": 1 - values[-1]}
            runs.append({"cell": cell, "seed": seed, "status": "done",
                         "epochs_requested": len(values),
                         "params": {"total": 1000, "breakdown": {"embedding": 700,
                                                                 "recurrent": 298, "head": 2}},
                         "epochs": epochs, "summary": summary})
    data = {"solved_when": "eval_loss (MSE) < 0.01", "baseline_loss": 0.1667}
    return {"schema": "rnnbench.converge/1", "task": task,
            "settings": {"seq_len": 200} if task != "imdb" else {"embed_dim": 256},
            "data": data if task != "imdb" else {"vocab_size": 5000},
            "environment": {"device": "cpu", "device_name": "Test CPU", "torch": "9.9.9"},
            "created": "2031-02-03T00:00:00+00:00", "updated": "2031-02-04T00:00:00+00:00",
            "runs": runs, "cells": {}}


IMDB_CURVES = {"lstm": [[0.80, 0.84, 0.85], [0.79, 0.83, 0.86]],
               "gru": [[0.82, 0.87, 0.86], [0.81, 0.88, 0.87]]}
ADDING_CURVES = {"rnn": [[0.17, 0.16, 0.16]] * 2, "lstm": [[0.1, 0.005, 0.002]] * 2,
                 "gru": [[0.05, 0.008, 0.001], [0.1, 0.05, 0.005]]}


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("results")
    return [write(root / "cpu.json", bench_results()),
            write(root / "convergence" / "imdb.json", convergence_results("imdb", IMDB_CURVES)),
            write(root / "convergence" / "adding.json",
                  convergence_results("adding", ADDING_CURVES))]


@pytest.fixture(scope="module")
def report(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", *map(str, files), "--out", str(out)]) == 0
    return out


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n")
    end = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(heading):], re.MULTILINE)
    return text[start:start + len(heading) + end.start()] if end else text[start:]


def test_readme_has_every_section(report: Path) -> None:
    text = (report / "README.md").read_text()
    for heading in ("# rnnbench report", "## Selection guide", "## Parameters",
                    "## Speed and memory: Test CPU (cpu.json)", "## Convergence",
                    "## Inputs", "### Time vs sequence length", "### Time vs batch size",
                    "### Custom implementations vs native", "### Forward vs backward",
                    "### Peak memory vs sequence length"):
        assert heading + "\n" in text, heading
    assert "No data yet" not in text
    assert "- [Speed and memory: Test CPU (cpu.json)](#speed-and-memory-test-cpu-cpujson)" in text


def test_tables_show_the_measured_numbers(report: Path) -> None:
    text = (report / "README.md").read_text()
    # 40 ms at T=100 scales with T; eager is 1.25x native; T=50 -> 200 is 4x the time.
    assert "| LSTM | native | 20.0 | 40.0 | 80.0 | 4.00× | 1.00× |" in text
    assert "| GRU | eager | 20.0 | 40.0 | 80.0 | 4.00× | 1.00× |" in text
    ratios = section(text, "### Custom implementations vs native")
    assert "| T100 B64 I256 H128 L1 fwd+bwd | 1.25× | 1.25× |" in ratios
    split = section(text, "### Forward vs backward")
    assert "| T100 B64 I256 H128 L1 | 60% (60%) | 60% (60%) |" in split
    memory = section(text, "### Peak memory vs sequence length")
    assert "| LSTM | native | 200 | 400 | 800 | 4.00× | 1.00× |" in memory


def test_guide_numbers_come_from_the_data(report: Path) -> None:
    guide = section((report / "README.md").read_text(), "## Selection guide")
    # LSTM/GRU = 0.040/0.032 everywhere; memory GRU/LSTM = 3/4 gates.
    assert "GRU is 1.25× faster (LSTM native 4.00 ms vs GRU native 3.20 ms" in guide
    assert "LSTM takes 1.25× GRU's time at T=50 and 1.25× at T=200" in guide
    assert "GRU is faster at every T measured, so the data do not support limiting GRU" in guide
    assert "GRU needs less with the native layers: 600.0 MiB vs LSTM 800.0 MiB (75%)" in guide
    assert "least over implementations" not in guide  # no custom impl needs less here
    assert ("LSTM eager 1.25×, GRU eager 1.25× at B=64; LSTM eager 1.25×, GRU eager 1.25× "
            "at B=1") in guide
    assert "No GPU results" in guide
    assert "no bidirectional case" in guide
    assert "GRU 87.5% > LSTM 85.5%" in guide
    assert "every seed of the first beats every seed of the second" in guide
    assert "Runs were still improving at their last epoch" in guide
    assert "LSTM/GRU 1.50× (seed: 1.20×); process CPU seconds of 2 runs per cell" in guide
    assert "RNN 0/2, LSTM 2/2 (mean 200 steps), GRU 2/2 (mean 250 steps)" in guide
    assert "LSTM does better than GRU here, as the seed's LSTM-for-long-range" in guide
    assert "The vanilla RNN falls behind every gated cell." in guide


def test_bidirectional_cost_against_the_seed(tmp_path: Path) -> None:
    data = bench_results(cells=("lstm", "gru", "bilstm", "bigru"))
    text = guide.bidirectional(load_bench(write(tmp_path / "bi.json", data)))
    # 0.088 / 0.040 and 0.0576 / 0.032; the seed's own table: 210 s / 142 s.
    assert "time BiLSTM/LSTM 2.20×, BiGRU/GRU 1.80×, on both sides of the seed's 2×" in text
    assert "210 s/142 s = 1.48× per epoch" in text


def test_unsolved_task_is_ranked_by_its_final_metric(tmp_path: Path) -> None:
    # Held-out loss per epoch; final accuracy = 1 - loss; nobody reaches 99 % accuracy.
    data = convergence_results("copy", {"rnn": [[0.9, 0.88]] * 2, "lstm": [[0.9, 0.7]] * 2,
                                        "gru": [[0.8, 0.4], [0.8, 0.2]]})
    data["data"]["solved_when"] = "eval_accuracy (recalled symbols) >= 0.99"
    results = load_convergence(write(tmp_path / "copy.json", data))
    (item,) = learning.accuracy_items([results])
    assert "RNN 0/2, LSTM 0/2, GRU 0/2. No cell reached the threshold" in item
    assert ("by the final held-out accuracy (mean over seeds): GRU 70.0% > LSTM 30.0% > RNN "
            "12.0%.") in item
    assert "GRU does as well as LSTM or better here (judged by the final held-out accuracy" in item


def test_convergence_tables(report: Path) -> None:
    text = section((report / "README.md").read_text(), "## Convergence")
    # Mean over the two seeds, then min–max; test accuracy is read at the best-val epoch.
    assert ("| LSTM | 1,000 | 10.0 | 12.0 | – | 85.5% (85.0%–86.0%) | 3 | 84.5% (84.0%–85.0%) "
            "| 3* | 3 | 2 |") in text
    assert ("| GRU | 1,000 | 10.0 | 8.00 | – | 87.5% (87.0%–88.0%) | 2 | 86.5% (86.0%–87.0%) | 2 "
            in text)
    assert "\\* The best validation accuracy came at the last epoch run" in text
    assert "2.1M · 142 s · 87.2% · epoch 12" in text
    assert "LSTM 700 embedding + 298 recurrent + 2 head; GRU 700 embedding" in text
    assert "| RNN | 1,000 | 0 of 2 | – |" in text
    assert "| GRU | 1,000 | 2 of 2 | 250 (200–300) |" in text


def test_every_linked_figure_is_a_png(report: Path) -> None:
    text = (report / "README.md").read_text()
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert len(figures) == 7
    for name in figures:
        path = report / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        height, width = matplotlib.image.imread(path).shape[:2]
        assert width > 400 and height > 200, name
    assert sorted(p.name for p in report.glob("*.png")) == sorted(figures)


def test_same_inputs_give_the_same_report(files: list[Path], report: Path,
                                          tmp_path: Path) -> None:
    command = f"rnnbench report {' '.join(p.as_posix() for p in files)} --out {report.as_posix()}"
    readme.generate(readme.load_inputs(files), tmp_path, command)
    again = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert again == {p.name: p.read_bytes() for p in report.iterdir()}


def test_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["report", str(missing), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "rnnbench report: error:" in error and str(missing) in error


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not valid JSON (line 1, column 2"),
    ("", "is empty: expected JSON"),
    ("[1, 2]", "neither pytest-benchmark JSON"),
    ('{"schema": "rnnbench.converge/1", "task": "adding", "runs": [{"cell": "gru"}]}',
     "runs[0] lacks 'seed', 'epochs'"),
])
def test_malformed_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["report", str(bad), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert str(bad) in error and message in error
    assert not (tmp_path / "out" / "README.md").exists()


def test_sections_without_data_say_so(tmp_path: Path) -> None:
    bench = write(tmp_path / "nomem.json", bench_results(memory=False))
    empty = write(tmp_path / "empty.json", {"machine_info": {}, "benchmarks": []})
    assert main(["report", str(bench), str(empty), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "README.md").read_text()
    memory = section(section(text, "## Speed and memory: Test CPU (nomem.json)"),
                     "### Peak memory vs sequence length")
    assert "_No data yet for peak memory vs sequence length:" in memory
    assert "_No data yet for speed and memory: empty.json holds no benchmark case" in text
    assert "_No data yet for convergence:" in text
    assert "No convergence results yet" in section(text, "### Accuracy first")
    assert not (tmp_path / "out" / "nomem-memory-vs-T.png").exists()


def test_no_results_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 0
    assert "no result files in reports/" in capsys.readouterr().err
    text = (tmp_path / "reports" / "README.md").read_text()
    assert "_No data yet: no benchmark results file was given." in text
    assert "## Parameters" in text and "no single vocabulary" in text
    assert "Generated by `rnnbench report`" in text


def test_default_inputs_skip_unrelated_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "reports" / "cpu.json", bench_results())
    write(tmp_path / "reports" / "notes.json", {"hello": 1})
    write(tmp_path / "reports" / "convergence" / "adding.json",
          convergence_results("adding", ADDING_CURVES))
    assert main(["report"]) == 0
    assert "reports/notes.json is not a results file, ignored" in capsys.readouterr().err
    text = (tmp_path / "reports" / "README.md").read_text()
    inputs = section(text, "## Inputs")
    assert "`reports/cpu.json`: benchmark results, 32 cases" in inputs
    assert "`reports/convergence/adding.json`: convergence results, 6 runs" in inputs
    assert "`reports/notes.json`: not a results file, ignored" in inputs


def test_compare_page(tmp_path: Path) -> None:
    cpu = bench_results()
    for bench in cpu["benchmarks"]:
        bench["options"] = {"timer": "process_time"}
    old = write(tmp_path / "cpu.json", cpu)
    gpu = bench_results(device="cuda")
    for bench in gpu["benchmarks"]:
        bench["stats"]["median"] /= 4
    gpu["benchmarks"] = [b for b in gpu["benchmarks"] if b["extra_info"]["T"] != 50]
    gpu["benchmarks"].append(bench_case("lstm", "native", 400, 64, "fwd", device="cuda"))
    new = write(tmp_path / "gpu.json", gpu)
    out = tmp_path / "out"
    assert main(["report", "--compare", str(old), str(new), "--out", str(out)]) == 0
    page = (out / "compare.md").read_text()
    assert "| device | Test CPU | Test CUDA |" in page
    assert "| timer | process_time | ? |" in page
    assert "**Note:** different devices (Test CPU vs Test CUDA): the ratios compare" in page
    assert f"Generated by `rnnbench report --compare {old.as_posix()} {new.as_posix()}" in page
    assert "24 cases in both files, 8 only in the first, 1 only in the second" in page
    assert "| LSTM | native | 6 | 0.25× | 0.25× | 0.25× |" in page
    assert "| lstm-native-f32-I256-H128-L1-T100-B64-fwdbwd | 40.0 ms | 10.0 ms | 0.25× |" in page
    assert "- `lstm-native-f32-I256-H128-L1-T400-B64-fwd`" in section(
        page, "### Only in the second file (added)")
    assert "- `gru-eager-f32-I256-H128-L1-T50-B64-fwd`" in section(
        page, "### Only in the first file (removed)")
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_refuses_a_convergence_file(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bench = write(tmp_path / "cpu.json", bench_results())
    conv = write(tmp_path / "adding.json", convergence_results("adding", ADDING_CURVES))
    assert main(["report", "--compare", str(bench), str(conv), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert str(conv) in error and "is not pytest-benchmark JSON" in error


def test_compare_refuses_two_devices_in_one_file(tmp_path: Path) -> None:
    mixed = bench_results()
    mixed["benchmarks"] += bench_results(device="cuda")["benchmarks"]
    path = write(tmp_path / "mixed.json", mixed)
    results = load_bench(path)
    with pytest.raises(ValueError, match="expected one device per file"):
        compare(results, results)


def test_check_says_whether_the_report_is_up_to_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = write(tmp_path / "cpu.json", bench_results())
    out = str(tmp_path / "out")
    assert main(["report", str(bench), "--out", out, "--check"]) == 1
    assert "README.md does not exist" in capsys.readouterr().err
    assert main(["report", str(bench), "--out", out]) == 0
    assert main(["report", str(bench), "--out", out, "--check"]) == 0
    changed = bench_results()
    changed["benchmarks"][0]["stats"]["median"] *= 2
    write(bench, changed)
    assert main(["report", str(bench), "--out", out, "--check"]) == 1
    error = capsys.readouterr().err
    assert "README.md is out of date; run `rnnbench report" in error
    assert error.count("\n-|") >= 1 and error.count("\n+|") >= 1  # the changed table rows
    assert main(["report", str(bench), "--out", out]) == 0
    (tmp_path / "out" / "cpu-fwd-bwd.png").unlink()
    assert main(["report", str(bench), "--out", out, "--check"]) == 1
    assert "missing figure:" in capsys.readouterr().err


@settings(max_examples=30)
@given(keep=st.lists(st.booleans(), min_size=64, max_size=64),
       device=st.sampled_from(["cpu", "cuda"]))
def test_guide_copes_with_any_subset_of_cases(tmp_path_factory: pytest.TempPathFactory,
                                              keep: list[bool], device: str) -> None:
    data = bench_results(device=device, cells=("lstm", "gru"))
    data["benchmarks"] = [b for b, k in zip(data["benchmarks"], keep, strict=False) if k]
    path = write(tmp_path_factory.mktemp("subset") / "r.json", data)
    results = load_bench(path)
    text = guide.section([results], [], [])
    assert "### What these data cannot say" in text
    assert ("No GPU results" in text) == (device == "cpu" and bool(results.cases))
    if results.cases:
        assert "### Speed and memory on Test" in text
    assert compare(results, results).removed == ()
