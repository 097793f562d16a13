"""``rnnbench report`` end to end, on small results files these tests write themselves.

Tests read numbers out of table cells (:func:`rows`), never whole sentences.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rnnbench.cli import main
from rnnbench.report.readme import anchor, figures

# seconds at T=100, B=64, forward+backward, native
CELL_BASE = {"lstm": 0.040, "gru": 0.032, "bilstm": 0.088, "bigru": 0.0576}
EAGER = 1.25  # eager / native
FORWARD = 0.4  # forward / forward+backward
GATES = {"lstm": 4, "gru": 3, "bilstm": 8, "bigru": 6}  # peak memory: gates × T MiB


def bench_case(cell: str, impl: str, T: int, B: int, pass_: str, device: str = "cpu",
               memory: bool = True) -> dict:
    median = CELL_BASE[cell] * T / 100 * B / 64
    median *= (EAGER if impl == "eager" else 1.0) * (FORWARD if pass_ == "fwd" else 1.0)
    info = {"case": f"{cell}-{impl}-{device}-f32-I256-H128-L1-T{T}-B{B}-{pass_}", "cell": cell,
            "impl": impl, "device": device, "dtype": "f32", "T": T, "B": B, "input_size": 256,
            "hidden_size": 128, "num_layers": 1, "layout": "padded", "pass": pass_,
            "shape_key": f"{cell}-{device}-T{T}-B{B}-{pass_}"}
    if memory:
        info["peak_memory_bytes"] = GATES[cell] * T * 2**20
    return {"name": f"test_speed[{info['case']}]", "options": {"timer": "perf_counter"},
            "stats": {"median": median, "iqr": 0.0, "mean": median, "rounds": 3},
            "extra_info": info}


def bench_results(device: str = "cpu", cells=("lstm", "gru"), memory: bool = True) -> dict:
    shapes = [(50, 64), (100, 64), (200, 64), (100, 8)]
    cases = [bench_case(cell, impl, T, B, p, device, memory) for T, B in shapes
             for cell in cells for impl in ("native", "eager") for p in ("fwd", "fwdbwd")]
    return {"machine_info": {"device_name": f"Test {device.upper()}", "torch": "9.9.9",
                             "threads": 2},
            "datetime": "2031-02-03T04:05:06", "benchmarks": cases}


def epoch_row(task: str, epoch: int, value: float, best: bool) -> dict:
    row = {"epoch": epoch, "step": 100 * epoch, "train_loss": 1.0 / epoch}
    if task == "imdb":
        row.update(val_accuracy=value, **({"test_accuracy": value - 0.01} if best else {}))
    else:
        row.update(eval_loss=value, eval_accuracy=1 - value)
    return row


def convergence_results(task: str, curves: dict[str, list[list[float]]],
                        asked: int | None = None) -> dict:
    """``curves``: cell -> per seed, the per-epoch val accuracy (imdb) or held-out loss."""
    runs = []
    for cell, seeds in curves.items():
        for seed, curve in enumerate(seeds):
            best = curve.index(max(curve)) + 1
            epochs = [epoch_row(task, e, v, v > max(curve[:e - 1], default=0))
                      for e, v in enumerate(curve, 1)]
            if task == "imdb":
                summary = {"best_val_accuracy": max(curve), "best_epoch": best,
                           "test_accuracy_at_best": curve[best - 1] - 0.01,
                           "converged_epoch": best, "seconds_per_epoch": 10.0 + seed}
            else:
                solved = [i for i, v in enumerate(curve) if v < 0.01]
                summary = {"solved": bool(solved), "final_loss": curve[-1],
                           "final_accuracy": 1 - curve[-1], "seconds_per_epoch": 2.0,
                           **({"steps_to_solve": 100 * (solved[0] + 1)} if solved else {})}
            runs.append({"cell": cell, "seed": seed, "params": {"total": 1000},
                         "status": "running" if asked else "done",
                         "epochs_requested": asked or len(curve),
                         "epochs": epochs, "summary": summary})
    return {"schema": "rnnbench.converge/1", "task": task, "settings": {"lr": 0.001},
            "data": {"solved_when": "eval_loss (MSE) < 0.01"} if task != "imdb" else {},
            "environment": {"device": "cpu", "device_name": "Test CPU", "torch": "9.9.9",
                            "threads": 1},
            "updated": "2031-02-04T00:00:00+00:00", "runs": runs}


# Two seeds each: LSTM best 0.85/0.86, GRU best 0.87/0.88 (the spread is 0.7 points).
IMDB_CURVES = {"lstm": [[0.80, 0.84, 0.85], [0.79, 0.83, 0.86]],
               "gru": [[0.82, 0.87, 0.86], [0.81, 0.88, 0.87]]}
ADDING_CURVES = {"rnn": [[0.17, 0.16, 0.16]] * 2, "lstm": [[0.1, 0.005, 0.002]] * 2,
                 "gru": [[0.05, 0.008, 0.001], [0.1, 0.05, 0.005]]}


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = len(heading.split(" ")[0])
    start = text.index(heading + "\n") + len(heading)
    end = re.search(rf"^#{{1,{level}}} ", text[start:], re.MULTILINE)
    return text[start:start + end.start()] if end else text[start:]


def rows(text: str, index: int = 0) -> list[dict[str, str]]:
    """The ``index``-th markdown table in ``text`` as one dict per row, keyed by header."""
    tables = re.findall(r"((?:^\|.*\|\n?)+)", text, re.MULTILINE)
    lines = [[cell.strip() for cell in line.strip()[1:-1].split(" | ")]
             for line in tables[index].strip().splitlines()]
    return [dict(zip(lines[0], line, strict=True)) for line in lines[2:]]


def row(table: list[dict[str, str]], **match: str) -> dict[str, str]:
    (found,) = [r for r in table if all(r[k] == v for k, v in match.items())]
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("results")
    return [write(root / "cpu.json", bench_results()),
            write(root / "convergence" / "imdb.json", convergence_results("imdb", IMDB_CURVES)),
            write(root / "convergence" / "adding.json",
                  convergence_results("adding", ADDING_CURVES))]


@pytest.fixture(scope="module")
def report(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", *map(str, files), "--out", str(out)]) == 0
    text = (out / "README.md").read_text()
    linked = figures(text)
    assert sorted(linked) == sorted(p.name for p in out.glob("*.png"))
    assert len(linked) == 7  # time vs T, vs B, memory, custom/native; ablation; two curves
    for name in linked:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    return text


def test_every_contents_link_has_its_heading(report: str) -> None:
    links = re.findall(r"^- \[([^\]]+)\]\((#[^)]+)\)$", report, re.MULTILINE)
    assert [title for title, _ in links] == [
        "Selection guide", "Parameters", "Speed and memory: Test CPU (cpu.json)",
        "Gating ablation", "Convergence", "Inputs"]
    for title, target in links:
        assert f"\n## {title}\n" in report and anchor(title) == target


def test_speed_tables_hold_the_medians(report: str) -> None:
    speed = section(report, "## Speed and memory: Test CPU (cpu.json)")
    by_t = rows(section(speed, "### Time vs sequence length"))
    # 40 ms at T=100 scales with T; eager is 1.25× native.
    assert row(by_t, cell="LSTM", impl="native") == {
        "cell": "LSTM", "impl": "native", "T=50": "20.0", "T=100": "40.0", "T=200": "80.0",
        "growth T=50→200": "4.00×"}
    assert row(by_t, cell="GRU", impl="eager")["T=100"] == "40.0"
    by_b = rows(section(speed, "### Time vs batch size"))
    assert row(by_b, cell="GRU", impl="native")["B=8"] == "4.00"
    assert row(by_b, cell="GRU", impl="native")["growth B=8→64"] == "8.00×"
    memory = rows(section(speed, "### Peak memory vs sequence length"))
    assert row(memory, cell="GRU", impl="native")["T=200"] == "600"
    ratios = rows(section(speed, "### Custom implementations vs native"))
    assert [r["shape"] for r in ratios] == [
        "T50 B64 I256 H128 L1 fwd+bwd", "T100 B8 I256 H128 L1 fwd+bwd",
        "T100 B64 I256 H128 L1 fwd+bwd", "T200 B64 I256 H128 L1 fwd+bwd",
        "T50 B64 I256 H128 L1 fwd", "T100 B8 I256 H128 L1 fwd", "T100 B64 I256 H128 L1 fwd",
        "T200 B64 I256 H128 L1 fwd"]
    assert {v for r in ratios for k, v in r.items() if k != "shape"} == {"1.25×"}


def test_guide_names_the_fastest_and_the_most_accurate(report: str) -> None:
    guide = section(report, "## Selection guide")
    speed = rows(section(guide, "### Speed on Test CPU (`cpu.json`)"))
    assert row(speed, shape="T100 B64 I256 H128 L1 fwd+bwd") == {
        "shape": "T100 B64 I256 H128 L1 fwd+bwd", "LSTM": "native 40.0", "GRU": "native 32.0",
        "least": "GRU native"}
    memory = rows(section(guide, "### Memory on Test CPU (`cpu.json`)"))
    assert row(memory, shape="T200 B64 I256 H128 L1 fwd")["GRU"] == "native 600"
    accuracy = rows(section(guide, "### Accuracy and long-range memory"))
    assert row(accuracy, task="imdb")["cells, best first (mean over seeds)"] == (
        "GRU 87.5% > LSTM 85.5%")
    assert row(accuracy, task="adding")["cells, best first (mean over seeds)"] == (
        "LSTM 2/2 solved, 0.00200 > GRU 2/2 solved, 0.00300 > RNN 0/2 solved, 0.160")


def test_gating_ablation_row_per_cell(report: str) -> None:
    ablation = section(report, "## Gating ablation")
    table = rows(ablation)
    assert [r["cell"] for r in table] == ["RNN", "LSTM", "GRU"]
    # GRU native 32 ms over LSTM native 40 ms at T100 B64; adding solved at steps 200 and 300.
    assert row(table, cell="GRU") == {
        "cell": "GRU", "params (I=256, H=128)": "148,224", "time / native LSTM": "0.80×",
        "fastest impl": "native", "adding: solved": "2 / 2", "adding: median steps": "250",
        "imdb: best val acc": "87.5%"}
    assert row(table, cell="LSTM")["time / native LSTM"] == "1.00×"
    assert row(table, cell="RNN")["params (I=256, H=128)"] == "49,408"
    assert [row(table, cell="RNN")[k] for k in (
        "time / native LSTM", "adding: solved", "adding: median steps", "imdb: best val acc")] \
        == ["–", "0 / 2", "–", "–"]
    assert figures(ablation) == ["gating-ablation.png"]
    gates = rows(section(report, "### Which gates can go"))
    assert gates == [{"task": "adding",
                      "solved every seed, fewest parameters first: share of LSTM's (seeds)":
                      "GRU 75.0% (2/2), LSTM 100.0% (2/2)"}]


def test_imdb_table_beside_the_article(report: str) -> None:
    imdb = section(report, "### imdb (`imdb.json`)")
    table = rows(imdb)
    lstm, gru = row(table, cell="LSTM"), row(table, cell="GRU")
    # best 0.85, 0.86 -> 85.5% ± 0.7 points (sample std); test read at the best epoch.
    assert lstm["best val acc"] == "85.5% ± 0.7"
    assert lstm["test acc at best val"] == "84.5% ± 0.7"
    assert lstm["converged at epoch"] == "3 ± 0"
    assert gru["converged at epoch"] == "2 ± 0"
    assert lstm["s/epoch (Test CPU)"] == "10.5 ± 0.707"
    assert (lstm["seeds"], lstm["epochs run / asked"]) == ("2", "3 / 3")
    assert [lstm[f"article: {k}"] for k in ("params", "s/epoch", "best acc", "converged at")] \
        == ["2.1M", "142", "87.2%", "12"]
    # 2.0 points apart, standard error 0.7 points on 2 degrees of freedom, t = 4.303.
    assert ("- LSTM − GRU: -2.0 points of best validation accuracy; 95 % interval -5.0 to "
            "+1.0 (Welch, n=2 and 2): includes 0: these seeds cannot rank them.") in imdb
    ranked = rows(section(report, "### Accuracy and long-range memory"), 1)
    assert row(ranked, pair="LSTM − GRU") == {
        "pair": "LSTM − GRU", "difference (points)": "-2.0", "95 % interval": "-5.0 to +1.0",
        "seeds": "2 and 2", "ranked?": "no"}


def test_synthetic_table(report: str) -> None:
    table = rows(section(report, "### adding (`adding.json`)"))
    assert row(table, cell="GRU")["seeds solved"] == "2 of 2"
    assert row(table, cell="GRU")["steps to solve (solved seeds)"] == "250 ± 70.7"
    assert row(table, cell="RNN")["steps to solve (solved seeds)"] == "–"
    assert row(table, cell="LSTM")["final held-out accuracy"] == "99.8% ± 0.0"


def test_partial_single_seed_run(tmp_path: Path) -> None:
    """A run still going shows epochs run of asked, and one seed has no spread."""
    data = convergence_results("imdb", {"lstm": [[0.7, 0.8]], "bilstm": [[0.75, 0.74]]},
                               asked=20)
    assert main(["report", str(write(tmp_path / "imdb.json", data)), "--out",
                 str(tmp_path / "out")]) == 0
    imdb = section((tmp_path / "out" / "README.md").read_text(), "### imdb (`imdb.json`)")
    table = rows(imdb)
    assert row(table, cell="BiLSTM")["epochs run / asked"] == "2 / 20"
    assert row(table, cell="BiLSTM")["best val acc"] == "75.0%"
    assert row(table, cell="BiLSTM")["article: best acc"] == "88.5%"
    assert "One finished seed of LSTM, BiLSTM: its differences have no spread" in imdb


def test_a_budgeted_imdb_run_has_its_own_ablation_column(tmp_path: Path) -> None:
    """Two IMDB files (the article's and one on a review limit) are two columns, each named
    with its budget, so accuracies from different budgets are never averaged together."""
    full = convergence_results("imdb", {"lstm": [[0.8, 0.85]]})
    budget = convergence_results("imdb", {"lstm": [[0.6, 0.7]], "mgu": [[0.65, 0.72]]})
    budget["settings"]["limit"] = 4000
    paths = [write(tmp_path / "convergence" / "imdb.json", full),
             write(tmp_path / "convergence" / "imdb-zoo.json", budget)]
    assert main(["report", *map(str, paths), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "README.md").read_text()
    table = rows(section(text, "## Gating ablation"))
    assert row(table, cell="LSTM")["imdb: best val acc"] == "85.0%"
    assert row(table, cell="LSTM")["imdb (4,000 reviews): best val acc"] == "70.0%"
    assert row(table, cell="MGU")["imdb (4,000 reviews): best val acc"] == "72.0%"
    assert row(table, cell="MGU")["imdb: best val acc"] == "–"
    assert "### imdb (4,000 reviews) (`imdb-zoo.json`)" in text


def test_each_finding_is_judged_by_the_seeds_solved(tmp_path: Path) -> None:
    """CIFG solves as often as LSTM (agrees); MGU solves fewer seeds than GRU (disagrees);
    a pair with no data is "no test"."""
    data = convergence_results("adding", {
        "lstm": [[0.1, 0.005]] * 2, "cifg": [[0.05, 0.004]] * 2,
        "gru": [[0.1, 0.005]] * 2, "mgu": [[0.1, 0.005], [0.2, 0.1]]})
    path = write(tmp_path / "convergence" / "adding.json", data)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
    table = rows(section((tmp_path / "out" / "README.md").read_text(), "## Gating ablation"), 1)
    by_pair = {r["variant vs reference"]: (r["adding: solved"], r["on this data"])
               for r in table}
    assert by_pair["CIFG vs LSTM"] == ("2/2 vs 2/2", "agrees")
    assert by_pair["MGU vs GRU"] == ("1/2 vs 2/2", "disagrees")
    assert by_pair["minGRU vs GRU"] == ("–", "no test")


def test_diverged_runs_are_listed(tmp_path: Path) -> None:
    data = convergence_results("adding", {"lstm": [[0.1]]})
    data["runs"][0].update(status="diverged", diverged={"epoch": 2, "reason": "nan"})
    assert main(["report", str(write(tmp_path / "a.json", data)), "--out",
                 str(tmp_path / "out")]) == 0
    assert "LSTM seed 0 in epoch 2" in (tmp_path / "out" / "README.md").read_text()


def test_check_and_reproducibility(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = write(tmp_path / "cpu.json", bench_results(cells=("gru",), memory=False))
    out, again = str(tmp_path / "out"), str(tmp_path / "again")
    assert main(["report", str(bench), "--out", out, "--check"]) == 1
    assert "README.md does not exist" in capsys.readouterr().err
    assert main(["report", str(bench), "--out", out]) == 0
    assert main(["report", str(bench), "--out", again]) == 0
    first = {p.name: p.read_bytes() for p in Path(out).iterdir()}
    second = {p.name: p.read_bytes() for p in Path(again).iterdir()}
    assert first.keys() == second.keys() and len(first) == 4
    assert all(first[k] == second[k] for k in first if k.endswith(".png"))
    assert main(["report", str(bench), "--out", out, "--check"]) == 0
    changed = bench_results(cells=("gru",), memory=False)
    changed["benchmarks"][0]["stats"]["median"] *= 2
    write(bench, changed)
    assert main(["report", str(bench), "--out", out, "--check"]) == 1
    error = capsys.readouterr().err
    assert "is out of date" in error and "\n-|" in error and "\n+|" in error
    assert main(["report", str(bench), "--out", out]) == 0
    (tmp_path / "out" / "cpu-time-vs-T.png").unlink()
    assert main(["report", str(bench), "--out", out, "--check"]) == 1
    assert "missing figure:" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    ("{not json", "is not valid JSON (line 1, column 2"),
    ("[1, 2]", "neither pytest-benchmark JSON"),
    ('{"benchmarks": []}', "not a pytest-benchmark result"),
    ('{"schema": "rnnbench.converge/1", "task": "adding", "runs": [{"cell": "gru"}]}',
     "runs[0] lacks 'seed', 'epochs'"),
    ('{"task": "adding", "runs": [{"cell": "gru", "seed": "x", "epochs": []}]}',
     "runs[0].seed is 'x'"),
])
def test_bad_input_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  content: str | None, message: str) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert main(["report", str(bad), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert str(bad) in error and message in error and "Traceback" not in error
    assert not (tmp_path / "out" / "README.md").exists()


def test_no_results_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "reports" / "notes.json", {"hello": 1})
    assert main(["report"]) == 0
    assert "reports/notes.json is not a results file, ignored" in capsys.readouterr().err
    text = (tmp_path / "reports" / "README.md").read_text()
    gru = row(rows(section(text, "## Parameters")), cell="GRU")
    assert gru["article §1.3, one layer (I=256, H=128, L=1)"] == "148,224"
    assert "`reports/notes.json`: not a results file" in section(text, "## Inputs")
    assert not list((tmp_path / "reports").glob("*.png"))


def test_compare_page(tmp_path: Path) -> None:
    old = write(tmp_path / "cpu.json", bench_results())
    gpu = bench_results(device="cuda")
    for bench in gpu["benchmarks"]:
        bench["stats"]["median"] /= 4
    gpu["benchmarks"] = [b for b in gpu["benchmarks"] if b["extra_info"]["T"] != 50]
    gpu["benchmarks"].append(bench_case("lstm", "native", 400, 64, "fwd", device="cuda"))
    new = write(tmp_path / "gpu.json", gpu)
    out = tmp_path / "out"
    assert main(["report", "--compare", str(old), str(new), "--out", str(out)]) == 0
    page = (out / "compare.md").read_text()
    header = rows(page)
    assert row(header, **{"": "device"}) == {"": "device", "first": "Test CPU",
                                             "second": "Test CUDA"}
    summary = rows(section(page, "### Summary per cell and implementation"))
    assert len(summary) == 4 and row(summary, cell="LSTM", impl="native") == {
        "cell": "LSTM", "impl": "native", "cases": "6", "geometric mean ratio": "0.25×",
        "min": "0.25×", "max": "0.25×"}
    every = rows(section(page, "### Every common case"))
    assert len(every) == 24
    assert row(every, case="lstm-native-f32-I256-H128-L1-T100-B64-fwdbwd") == {
        "case": "lstm-native-f32-I256-H128-L1-T100-B64-fwdbwd", "first (ms)": "40.0",
        "second (ms)": "10.0", "ratio": "0.25×"}
    assert section(page, "### Only in the second file (added)").count("\n- `") == 1
    assert section(page, "### Only in the first file (removed)").count("\n- `") == 8
    assert figures(page) == ["compare.png"] and (out / "compare.png").exists()


def test_compare_refuses_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = write(tmp_path / "cpu.json", bench_results())
    conv = write(tmp_path / "adding.json", convergence_results("adding", ADDING_CURVES))
    assert main(["report", "--compare", str(bench), str(conv), "--out", str(tmp_path)]) == 2
    assert str(conv) in capsys.readouterr().err
    mixed = bench_results()
    mixed["benchmarks"] += bench_results(device="cuda")["benchmarks"]
    mixed = write(tmp_path / "mixed.json", mixed)
    assert main(["report", "--compare", str(mixed), str(bench), "--out", str(tmp_path)]) == 2
    assert "expected one device per file" in capsys.readouterr().err
