"""The report's building blocks: the article's arithmetic, statistics over seeds, formats."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_report import bench_case, row, rows

from rnnbench.bench import results
from rnnbench.model import cells
from rnnbench.model.params import RecurrentConfig, count_parameters, vocab_size_for_total
from rnnbench.report import article, guide
from rnnbench.report.load import Convergence, Training
from rnnbench.report.tables import (
    colour,
    count,
    epochs_run,
    label,
    order,
    plain,
    solved,
    spread,
    table,
    versus_baseline,
)


def test_parameter_table_holds_every_cell_and_marks_the_article() -> None:
    table = rows(article.parameter_table())
    assert [r["cell"] for r in table][:2] == ["RNN", "BiRNN"] and len(table) == len(
        cells.names())
    gru = row(table, cell="GRU")
    assert gru["article §1.3, one layer (I=256, H=128, L=1)"] == "148,224"
    assert gru["the article"] == ("§1.3: 148,224 ✓ code, 98,304 ✗ table; §3.2: 1.6M whole "
                                  "model")
    stacked = row(table, cell="BiLSTM")["GloVe-300 embeddings, 2 layers (I=300, H=256, L=2)"]
    assert stacked == count(count_parameters(RecurrentConfig.named("bilstm", 300, 256, 2)))
    assert stacked == count(2 * 4 * 256 * (300 + 256 + 2) + 2 * 4 * 256 * (2 * 256 + 256 + 2))


def test_per_layer_values_are_the_formula_at_input_equal_hidden() -> None:
    for r in rows(article.per_layer_table()):
        cell = r["cell"].lower()
        quoted = article.PER_LAYER_TABLE[cell]
        assert count_parameters(RecurrentConfig.named(cell, 128, 128, bias=False)) == quoted
        assert r["formula at I=H=128"].endswith(f"= {count(quoted)} ✓")
        assert r["exact, with PyTorch's two bias vectors"].startswith(
            count(article.MODULE_PRINTED[cell]))


def test_imdb_totals_imply_disjoint_vocabularies() -> None:
    text, shared, alone = article.imdb_totals()
    ranges = []
    for r in rows(text):
        cell = r["model"].lower()
        rec = RecurrentConfig.named(cell, 256, 128, 2)
        quoted = article.IMDB[cell].params
        assert r["implied V"] == count(vocab_size_for_total(quoted, 256, rec))
        ranges.append(tuple(vocab_size_for_total(quoted + d, 256, rec) for d in (-5e4, 5e4)))
    assert shared is False and max(lo for lo, _ in ranges) > min(hi for _, hi in ranges)
    assert alone == ["PyTorch fastrnns default (I=512, H=512, L=1)"]


def training(cell: str, best: float, seed: int = 0, epochs: int = 3, asked: int = 3,
             status: str = "done") -> Training:
    return Training(cell, seed, status, ({},) * epochs, {"best_val_accuracy": best}, 1,
                    asked)


@pytest.mark.parametrize(("lstm", "gru", "verdict"), [
    # Welch: difference -10 points, standard error 0.82 points on 4 degrees of freedom,
    # t(0.975, 4) = 2.776, so the interval is -10 ± 2.3 points.
    ([0.80, 0.82, 0.81], [0.90, 0.91, 0.92],
     "-10.0 points of best validation accuracy; 95 % interval -12.3 to -7.7 (Welch, n=3 and "
     "3): ranks them."),
    ([0.80, 0.90], [0.86, 0.87], "includes 0: these seeds cannot rank them."),
    ([0.80], [0.90, 0.91], "One finished seed of LSTM: its differences have no spread"),
])
def test_imdb_pairs_give_the_difference_with_welchs_interval(lstm, gru, verdict) -> None:
    runs = tuple(training("lstm", b, s) for s, b in enumerate(lstm)) + tuple(
        training("gru", b, s) for s, b in enumerate(gru))
    conv = Convergence(Path("x.json"), "imdb", {}, {}, {}, "2031-01-01", runs)
    (line,) = article.imdb_pairs(conv)  # no test accuracy in these runs: one metric
    assert verdict in line, line
    known = [d for d in article.imdb_differences(conv) if d.interval]
    assert [guide.rankable(d)[-1] for d in known] == (["yes"] if "ranks them" in verdict else
                                                      ["no"] if "includes 0" in verdict else [])


def test_a_run_still_going_counts_only_where_its_cell_has_none_finished() -> None:
    runs = (training("gru", 0.88, 0, epochs=20, asked=20),
            training("gru", 0.72, 1, epochs=1, asked=20, status="running"),
            training("lstm", 0.86, 0, epochs=12, asked=20, status="running"),
            training("lstm", 0.80, 1, epochs=2, asked=20, status="diverged"))
    conv = Convergence(Path("x.json"), "imdb", {}, {}, {}, "2031-01-01", runs)
    assert [t.seed for t in conv.counted("gru")] == [0]
    assert [t.seed for t in conv.counted("lstm")] == [1]  # diverged is final
    alone = Convergence(Path("x.json"), "imdb", {}, {}, {}, "", runs[1:2])
    assert [t.seed for t in alone.counted("gru")] == [1]
    by_cell = {r["cell"]: r for r in rows(article.imdb_table(conv))}
    assert by_cell["GRU"]["seeds"] == "1 (+1 running)"
    assert by_cell["GRU"]["best val acc"] == "88.0%"
    assert by_cell["GRU"]["epochs run / asked"] == "1–20 / 20"
    (difference,) = article.imdb_differences(conv)
    assert (difference.a, difference.b, round(difference.points, 1)) == ("lstm", "gru", -8.0)


def test_device_name_names_every_machine_that_trained_an_epoch() -> None:
    def conv(*epochs: dict[str, str]) -> Convergence:
        run = Training("lstm", 0, "done", epochs, {}, 1, 3)
        return Convergence(Path("x.json"), "imdb", {}, {}, {"device_name": "Old CPU"}, "", (run,))

    assert conv().device_name == "Old CPU"
    assert conv({}, {"device_name": "Old CPU"}).device_name == "Old CPU"
    assert conv({"device_name": "B"}, {"device_name": "A"}, {}).device_name == "A + B + Old CPU"


def test_spread_and_epochs() -> None:
    assert spread([]) == "–"
    assert spread([2.0]) == "2.00"
    assert spread([1.0, 3.0]) == "2.00 ± 1.41"
    assert epochs_run([training("lstm", 0.8, epochs=3, asked=20)]) == "3 / 20"
    assert epochs_run([training("lstm", 0.8, 0, 3, 20), training("lstm", 0.8, 1, 5, 20)]) \
        == "3–5 / 20"


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_plain_numbers_never_use_exponents(value: float) -> None:
    text = plain(value)
    assert "e" not in text
    if abs(value) >= 1:
        assert math.isclose(float(text.replace(",", "")), value, rel_tol=0.01, abs_tol=0.01)


def test_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match=r"has 1 cells: expected 2"):
        table(["a", "b"], [["x"]])
    assert table(["a", "b"], [[1, 2]], right=(1,)).splitlines()[1] == "| --- | ---: |"


def test_labels_and_colours_come_from_the_registry() -> None:
    names = cells.names()
    assert len({colour(c) for c in names}) == len(names)
    assert [label(c) for c in sorted(names, key=order)][:3] == ["RNN", "BiRNN", "LSTM"]
    assert label("mystery") == "mystery"


def bench_run(path: str, cases: list[tuple[str, str, float]]) -> results.Run:
    """A benchmark file timing ``(cell, impl, median)`` at the ablation's shape."""
    entries = []
    for cell, impl, median in cases:
        entry = bench_case("lstm", "native", 100, 64, "fwdbwd")
        entry["extra_info"].update(cell=cell, impl=impl,
                                   case=f"{cell}-{impl}-cpu-f32-I256-H128-L1-T100-B64-fwdbwd")
        entry["stats"]["median"] = median
        entries.append(entry)
    return results.parse({"machine_info": {}, "benchmarks": entries}, path)


def test_versus_baseline_takes_the_fastest_impl_from_the_widest_file() -> None:
    quick = bench_run("quick.json", [("lstm", "native", 0.04), ("gru", "native", 0.02)])
    zoo = bench_run("zoo.json", [("lstm", "native", 0.5), ("gru", "native", 0.25),
                                 ("mingru", "eager", 2.0), ("mingru", "parallel", 0.125)])
    found = versus_baseline([quick, zoo])
    assert found["gru"] == (0.5, "native", "zoo.json")
    assert found["mingru"] == (0.25, "parallel", "zoo.json")
    assert found["lstm"] == (1.0, "native", "zoo.json")
    assert versus_baseline([bench_run("x.json", [("gru", "native", 0.02)])]) == {}


def test_solved_counts_finished_seeds_and_solves_of_running_ones() -> None:
    def run(status: str, steps: int | None) -> Training:
        summary = {"solved": steps is not None, **({"steps_to_solve": steps} if steps else {})}
        return Training("mgu", 0, status, ({},), summary, 1, 20)

    assert solved([run("done", 300), run("done", None), run("running", 500),
                   run("running", None), run("done", 700)]) == ("3 / 4", "500")
    assert solved([run("running", None)]) == ("–", "–")
    assert solved([run("diverged", None)]) == ("0 / 1", "–")
