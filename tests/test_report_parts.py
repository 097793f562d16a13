"""The report's building blocks: the seed arithmetic, number formats, colours, matching."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnbench.params import count_parameters, vocab_size_for_total
from rnnbench.report import accounting, seed
from rnnbench.report.style import CELL_COLOURS, cell_colour
from rnnbench.report.tables import count, markdown_table, plain


def test_per_layer_arithmetic_uses_the_accounting() -> None:
    text = accounting.per_layer_arithmetic()
    for cell, gates in (("lstm", 4), ("gru", 3)):
        no_bias = count_parameters(accounting.recurrent(cell, 256, 128, bias=False))
        assert f"{gates}×(256+128)×128 = {count(no_bias)}" in text
        # The seed's table value is the bias-free formula at input = hidden = 128.
        quoted = seed.PER_LAYER_TABLE[cell].value
        assert count_parameters(accounting.recurrent(cell, 128, 128, bias=False)) == quoted
        assert f"{gates}×(128+128)×128 = {count(quoted)}" in text
        assert count(seed.MODULE_TOTALS[cell].value) in text


def test_imdb_totals_imply_disjoint_vocabularies() -> None:
    text = accounting.imdb_arithmetic()
    intervals = []
    for cell, row in seed.IMDB_TABLE.items():
        rec = accounting.recurrent(cell, 256, 128, 2)
        implied = vocab_size_for_total(row.params.value, 256, rec)
        assert count(round(implied)) in text
        low = vocab_size_for_total(row.params.value - seed.IMDB_PARAMS_ROUNDING, 256, rec)
        high = vocab_size_for_total(row.params.value + seed.IMDB_PARAMS_ROUNDING, 256, rec)
        assert f"{count(math.ceil(low))} – {count(math.floor(high))}" in text
        intervals.append((low, high))
    assert max(lo for lo, _ in intervals) > min(hi for _, hi in intervals)
    assert "no single vocabulary gives all three totals" in text


def test_parameter_table_rows_add_up() -> None:
    table = accounting.parameter_table()
    config = accounting.recurrent("bilstm", 300, 256, 2)
    layers = accounting.per_layer(config)
    assert sum(layers) == count_parameters(config)
    assert f"| BiLSTM | {count(layers[0])} | {count(layers[1])} | " in table
    assert "| GRU | 148,224 | – | 148,224 | 148,224 ✓ (code); 98,304 ✗ (table) |" in table


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_plain_numbers_never_use_exponents(value: float) -> None:
    text = plain(value)
    assert "e" not in text
    if abs(value) >= 1:
        assert math.isclose(float(text.replace(",", "")), value, rel_tol=0.01, abs_tol=0.01)


def test_markdown_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match=r"has 1 cells: expected 2"):
        markdown_table(["a", "b"], [["x"]])
    assert markdown_table(["a", "b"], [[1, 2]], right=(1,)).splitlines()[1] == "| --- | ---: |"


def test_each_cell_has_its_own_colour() -> None:
    assert len(set(CELL_COLOURS.values())) == len(CELL_COLOURS)
    assert cell_colour("lstm") == CELL_COLOURS["lstm"]
    assert cell_colour("unknown") not in CELL_COLOURS.values()
