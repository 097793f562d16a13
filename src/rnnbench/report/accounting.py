"""The parameter section: counts per layer and in total, and the arithmetic behind the seed's.

Every number here comes from :mod:`rnnbench.params`; the seed article's figures come from
:mod:`.seed` and are only ever compared, never reused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rnnbench.params import (
    GATES,
    ClassifierConfig,
    RecurrentConfig,
    classifier_breakdown,
    count_classifier_parameters,
    count_parameters,
    parameter_shapes,
    vocab_size_for_total,
)
from rnnbench.report import seed
from rnnbench.report.style import cell_name
from rnnbench.report.tables import count, markdown_table, millions

#: Report cell -> (PyTorch mode, bidirectional).
CELLS: dict[str, tuple[str, bool]] = {
    "rnn": ("rnn_tanh", False),
    "gru": ("gru", False),
    "lstm": ("lstm", False),
    "bigru": ("gru", True),
    "bilstm": ("lstm", True),
}


@dataclass(frozen=True)
class Shape:
    """A recurrent configuration the parameter table lists."""

    name: str
    input_size: int
    hidden_size: int
    num_layers: int


SHAPES = (
    Shape("seed §1.3: one layer", seed.MODULE_INPUT, seed.MODULE_HIDDEN, 1),
    Shape("seed IMDB stack", seed.IMDB_EMBED_DIM, seed.IMDB_HIDDEN, seed.IMDB_LAYERS),
    Shape("PyTorch fastrnns default", 512, 512, 1),
    Shape("GloVe-300 embeddings, 2 layers", 300, 256, 2),
)


def recurrent(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
              bias: bool = True) -> RecurrentConfig:
    mode, bidirectional = CELLS[cell]
    return RecurrentConfig(mode, input_size, hidden_size, num_layers, bias, bidirectional)


def per_layer(config: RecurrentConfig) -> list[int]:
    """Parameters of each layer, both directions together, from :func:`parameter_shapes`."""
    layers = [0] * config.num_layers
    for name, shape in parameter_shapes(config).items():
        layer = int(re.search(r"_l(\d+)", name).group(1))
        layers[layer] += math.prod(shape)
    return layers


def parameter_table() -> str:
    """Per-layer and total counts for :data:`SHAPES` × :data:`CELLS`, seed's figures beside."""
    rows = []
    for shape in SHAPES:
        for index, cell in enumerate(CELLS):
            config = recurrent(cell, shape.input_size, shape.hidden_size, shape.num_layers)
            layers = per_layer(config)
            total = count_parameters(config)
            assert sum(layers) == total, (config, layers, total)
            further = count(layers[1]) if len(layers) > 1 else "–"
            rows.append([
                f"{shape.name} (I={shape.input_size}, H={shape.hidden_size}, "
                f"L={shape.num_layers})" if index == 0 else "",
                cell_name(cell), count(layers[0]), further, count(total),
                _seed_figures(cell, shape, total),
            ])
    return markdown_table(
        ["configuration", "cell", "layer 0", "each further layer", "total", "seed article"],
        rows, right=(2, 3, 4),
    )


def _seed_figures(cell: str, shape: Shape, total: int) -> str:
    one_layer = (shape.input_size, shape.hidden_size, shape.num_layers) == (
        seed.MODULE_INPUT, seed.MODULE_HIDDEN, 1)
    if one_layer and cell in seed.MODULE_TOTALS:
        printed, table = seed.MODULE_TOTALS[cell], seed.PER_LAYER_TABLE[cell]
        mark = "✓" if printed.value == total else "✗"
        return (f"{count(printed.value)} {mark} (code); "
                f"{count(table.value)} {'✓' if table.value == total else '✗'} (table)")
    imdb = (shape.input_size, shape.hidden_size, shape.num_layers) == (
        seed.IMDB_EMBED_DIM, seed.IMDB_HIDDEN, seed.IMDB_LAYERS)
    if imdb and cell in seed.IMDB_TABLE:
        return f"{seed.IMDB_TABLE[cell].params.text} whole model, see below"
    return ""


def per_layer_arithmetic() -> str:
    """Why the seed's per-layer table (131,072 / 98,304) disagrees with its own code."""
    rows = []
    hidden, inp = seed.PER_LAYER_HIDDEN, seed.MODULE_INPUT
    for cell, quoted in seed.PER_LAYER_TABLE.items():
        g = seed.PER_LAYER_GATES[cell]
        assert g == GATES[cell]
        no_bias = count_parameters(recurrent(cell, inp, hidden, bias=False))
        with_bias = count_parameters(recurrent(cell, inp, hidden))
        # The input size at which the bias-free formula gives the quoted value.
        matching_input = quoted.value / (g * hidden) - hidden
        w_ih = math.prod(parameter_shapes(recurrent(cell, inp, hidden))["weight_ih_l0"])
        check = count_parameters(recurrent(cell, int(matching_input), hidden, bias=False))
        rows.append([
            cell_name(cell),
            f"{g}×({inp}+{hidden})×{hidden} = {count(no_bias)}",
            f"+ 2×{g}×{hidden} = {count(with_bias - no_bias)} → {count(with_bias)}",
            f"{count(seed.MODULE_TOTALS[cell].value)}",
            count(quoted.value),
            f"{g}×({count(matching_input)}+{hidden})×{hidden} = {count(check)}"
            + (f"; also W_ih alone at input {inp}: {g * hidden}×{inp} = {count(w_ih)}"
               if w_ih == quoted.value else ""),
        ])
    table = markdown_table(
        ["cell", f"formula at input {inp}", "PyTorch's two bias vectors",
         f"seed's code prints for input {inp}", "seed's table value",
         "what gives the table value"],
        rows,
    )
    return (
        f"**Per-layer formula (seed §1.3).** The article's table gives the per-layer count for "
        f"hidden {hidden} as `G×(input+hidden)×hidden`, next to code that builds "
        f"`nn.LSTM({inp}, {hidden})`. Evaluated by the parameter accounting:\n\n{table}\n\n"
        "The code's printed totals are right (formula plus PyTorch's two bias vectors). The "
        f"table's values are the formula at input = hidden = {hidden}, not at the input "
        f"{inp} the code uses, so the table and the code describe different layers."
    )


def imdb_arithmetic() -> str:
    """The vocabulary each of the seed's IMDB totals implies; they cannot share one."""
    embed, hidden, layers = seed.IMDB_EMBED_DIM, seed.IMDB_HIDDEN, seed.IMDB_LAYERS
    rows, intervals = [], {}
    for cell, row in seed.IMDB_TABLE.items():
        rec = recurrent(cell, embed, hidden, layers)
        quoted = row.params.value
        low, high = (vocab_size_for_total(quoted + sign * seed.IMDB_PARAMS_ROUNDING, embed, rec,
                                          seed.IMDB_CLASSES) for sign in (-1, 1))
        intervals[cell] = (low, high)
        head = (rec.directions * hidden + 1) * seed.IMDB_CLASSES
        rows.append([
            cell_name(cell), row.params.text, count(count_parameters(rec)),
            f"({rec.directions}×{hidden}+1)×{seed.IMDB_CLASSES} = {count(head)}",
            count(round(vocab_size_for_total(quoted, embed, rec, seed.IMDB_CLASSES))),
            f"{count(math.ceil(low))} – {count(math.floor(high))}",
        ])
    table = markdown_table(
        ["model", "seed's total", "recurrent (2 layers)", "head", "implied vocabulary V",
         f"V for total ± {millions(seed.IMDB_PARAMS_ROUNDING)} (rounding)"],
        rows, right=(2, 4),
    )
    overlap = max(low for low, _ in intervals.values()) <= min(high for _, high in
                                                                intervals.values())
    verdict = ("The intervals overlap, so one vocabulary could give all three totals."
               if overlap else
               "The intervals do not overlap: **no single vocabulary gives all three totals**, "
               "although the article trains all three models on the same data with the same "
               "embedding.")
    shared = round(vocab_size_for_total(seed.IMDB_TABLE["lstm"].params.value, embed,
                                        recurrent("lstm", embed, hidden, layers),
                                        seed.IMDB_CLASSES))
    totals = {cell: count_classifier_parameters(ClassifierConfig(
        shared, embed, recurrent(cell, embed, hidden, layers), seed.IMDB_CLASSES))
        for cell in seed.IMDB_TABLE}
    embedding = classifier_breakdown(ClassifierConfig(
        shared, embed, recurrent("lstm", embed, hidden, layers)))["embedding"]
    consistent = ", ".join(f"{cell_name(cell)} {millions(total)} (seed: "
                           f"{seed.IMDB_TABLE[cell].params.text})"
                           for cell, total in totals.items())
    return (
        f"**IMDB totals (seed §3.2).** Embedding {embed}, hidden {hidden}, {layers} layers and a "
        f"linear head on the final state of every direction: total = V×{embed} + recurrent + "
        f"head, so each quoted total implies a vocabulary size V "
        "(`rnnbench.params.vocab_size_for_total`):\n\n"
        f"{table}\n\n{verdict} With one shared vocabulary, say the LSTM's V = {count(shared)} "
        f"(embedding {millions(embedding)}), the three models would have {consistent}: a "
        "bidirectional layer doubles the recurrent weights, not the embedding, so BiLSTM cannot "
        "be twice the LSTM when the embedding is most of the model."
        + _recurrent_only_match()
    )


def _recurrent_only_match() -> str:
    """Shapes whose recurrent layers alone round to all three of the seed's IMDB totals."""
    matches = []
    for shape in SHAPES:
        totals = {cell: count_parameters(recurrent(cell, shape.input_size, shape.hidden_size,
                                                   shape.num_layers))
                  for cell in seed.IMDB_TABLE}
        if all(abs(totals[cell] - row.params.value) < seed.IMDB_PARAMS_ROUNDING
               for cell, row in seed.IMDB_TABLE.items()):
            listed = ", ".join(f"{cell_name(cell)} {count(total)}"
                               for cell, total in totals.items())
            matches.append(
                f" The three totals do match, to the printed precision, the recurrent layers "
                f"alone of the {shape.name} shape (input {shape.input_size}, hidden "
                f"{shape.hidden_size}, {shape.num_layers} layer{'s' * (shape.num_layers > 1)}, "
                f"no embedding): {listed}; not the configuration the article states."
            )
    return "".join(matches)


def section() -> str:
    """The whole parameter section of the README."""
    return "\n\n".join([
        "## Parameters",
        "Closed-form counts from `rnnbench.params` (checked against the PyTorch modules in "
        "`tests/test_params.py`), with PyTorch's two bias vectors per gate block. "
        "Bidirectional rows count both directions; a further layer reads both directions' "
        "outputs, so it is wider.",
        parameter_table(),
        "### Where the seed article's numbers cannot all hold",
        per_layer_arithmetic(),
        imdb_arithmetic(),
    ])
