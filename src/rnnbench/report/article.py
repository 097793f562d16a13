"""The article's figures, as data, and the tables that set the exact numbers beside them.

The article is the blog post this project checks ("LSTM 与 GRU 门控机制对比:3 种变体在
PyTorch 中的参数量与收敛速度实测", ``shared/seed/article.txt``). Only its own figures are
typed in here; every number set beside them comes from :mod:`rnnbench.model.params` or from the
results files.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from itertools import combinations

from rnnbench.model import cells
from rnnbench.model.params import RecurrentConfig, count_parameters, vocab_size_for_total
from rnnbench.report.load import Convergence
from rnnbench.report.tables import (
    count,
    epochs_run,
    label,
    order,
    percent,
    points,
    spread,
    table,
    values,
)


@dataclass(frozen=True)
class ImdbRow:
    """One row of the article's IMDB table (§3.2); ``params`` is printed to 0.1M there."""

    params: float
    params_text: str
    seconds_per_epoch: float
    best_accuracy: float
    converged_epoch: int


#: §3.2 table "在IMDB数据集上的测试结果" (20 epochs; the device is not stated).
IMDB: dict[str, ImdbRow] = {
    "lstm": ImdbRow(2.1e6, "2.1M", 142, 0.872, 12),
    "bilstm": ImdbRow(4.2e6, "4.2M", 210, 0.885, 15),
    "gru": ImdbRow(1.6e6, "1.6M", 118, 0.868, 10),
}
IMDB_ROUNDING = 0.05e6  # a total printed as 2.1M lies within 2.1M ± 0.05M
IMDB_EMBED, IMDB_HIDDEN, IMDB_LAYERS, IMDB_CLASSES, IMDB_EPOCHS = 256, 128, 2, 2, 20
#: §1.3: the per-layer table at hidden 128 (bias-free formula G×(input+hidden)×hidden, G gate
#: blocks) and what its code prints for ``nn.LSTM(256, 128)`` / ``nn.GRU(256, 128)``.
PER_LAYER_TABLE = {"lstm": 131_072, "gru": 98_304}
MODULE_PRINTED = {"lstm": 197_632, "gru": 148_224}
MODULE_INPUT, MODULE_HIDDEN = 256, 128

#: The configurations the parameter table lists: (name, input, hidden, layers).
SHAPES = (("article §1.3, one layer", MODULE_INPUT, MODULE_HIDDEN, 1),
          ("article IMDB stack", IMDB_EMBED, IMDB_HIDDEN, IMDB_LAYERS),
          ("PyTorch fastrnns default", 512, 512, 1),
          ("GloVe-300 embeddings, 2 layers", 300, 256, 2))


def mark(quoted: float, exact: float) -> str:
    return "✓" if quoted == exact else "✗"


def parameter_table() -> str:
    """Totals of every registered cell, one and two directions, in each of :data:`SHAPES`,
    with what the article quotes for the same configurations."""
    rows = []
    for cell in sorted(cells.names(), key=order):
        quoted = []
        if cell in MODULE_PRINTED:
            exact = count_parameters(RecurrentConfig.named(cell, MODULE_INPUT, MODULE_HIDDEN))
            quoted.append(f"§1.3: {count(MODULE_PRINTED[cell])} "
                          f"{mark(MODULE_PRINTED[cell], exact)} code, "
                          f"{count(PER_LAYER_TABLE[cell])} {mark(PER_LAYER_TABLE[cell], exact)} "
                          "table")
        if cell in IMDB:
            quoted.append(f"§3.2: {IMDB[cell].params_text} whole model")
        rows.append([label(cell), *(count(count_parameters(RecurrentConfig.named(cell, *shape[1:])))
                                    for shape in SHAPES), "; ".join(quoted)])
    return table(["cell", *(f"{name} (I={i}, H={h}, L={n})" for name, i, h, n in SHAPES),
                  "the article"], rows, right=range(1, len(SHAPES) + 1))


def per_layer_table() -> str:
    """The article's §1.3 per-layer values against the exact counts they should be."""
    rows = []
    for cell, quoted in PER_LAYER_TABLE.items():
        g, inp, h = cells.get(cell).gates, MODULE_INPUT, MODULE_HIDDEN
        no_bias = count_parameters(RecurrentConfig.named(cell, inp, h, bias=False))
        exact = count_parameters(RecurrentConfig.named(cell, inp, h))
        square = count_parameters(RecurrentConfig.named(cell, h, h, bias=False))
        rows.append([label(cell), count(quoted), f"{g}×({inp}+{h})×{h} = {count(no_bias)}",
                     f"{count(exact)} (code prints {count(MODULE_PRINTED[cell])} "
                     f"{mark(MODULE_PRINTED[cell], exact)})",
                     f"{g}×({h}+{h})×{h} = {count(square)} {mark(quoted, square)}"])
    return table(["cell", "article's table", f"formula at I={MODULE_INPUT}, H={MODULE_HIDDEN}",
                  "exact, with PyTorch's two bias vectors", "formula at I=H=128"], rows)


def imdb_totals() -> tuple[str, bool, list[str]]:
    """The vocabulary each of the article's IMDB totals implies (total = V×E + recurrent +
    head), whether one vocabulary fits all three, and the listed configurations whose
    recurrent layers alone round to all three totals."""
    rows, ranges = [], []
    for cell, row in IMDB.items():
        rec = RecurrentConfig.named(cell, IMDB_EMBED, IMDB_HIDDEN, IMDB_LAYERS)
        low, mid, high = (vocab_size_for_total(row.params + d, IMDB_EMBED, rec, IMDB_CLASSES)
                          for d in (-IMDB_ROUNDING, 0, IMDB_ROUNDING))
        ranges.append((low, high))
        rows.append([label(cell), row.params_text, count(count_parameters(rec)),
                     count((rec.directions * IMDB_HIDDEN + 1) * IMDB_CLASSES), count(mid),
                     f"{count(math.ceil(low))} – {count(math.floor(high))}"])
    shared = max(lo for lo, _ in ranges) <= min(hi for _, hi in ranges)
    alone = [f"{name} (I={inp}, H={hidden}, L={layers})" for name, inp, hidden, layers in SHAPES
             if all(abs(count_parameters(RecurrentConfig.named(c, inp, hidden, layers)) - r.params)
                    < IMDB_ROUNDING for c, r in IMDB.items())]
    return (table(["model", "article's total", "recurrent layers", "head", "implied V",
                   f"V for total ± {IMDB_ROUNDING / 1e6:g}M"], rows, right=(2, 3, 4)),
            shared, alone)


def section() -> str:
    totals, shared, alone = imdb_totals()
    return "\n\n".join([
        "## Parameters",
        "Closed-form counts from `rnnbench.params` (checked against the PyTorch modules in "
        "`tests/test_params.py`), with PyTorch's two bias vectors per gate block. A "
        "bidirectional layer counts both directions; a further layer reads both directions' "
        "outputs. Totals of the recurrent layers; ✓ marks a figure of the article equal to the "
        "exact count, ✗ one that is not.",
        parameter_table(),
        "### The article's arithmetic",
        "Per layer (§1.3): the article's table beside the exact counts for the layer its code "
        f"builds, `nn.LSTM({MODULE_INPUT}, {MODULE_HIDDEN})` / `nn.GRU(...)`.",
        per_layer_table(),
        f"IMDB totals (§3.2): embedding {IMDB_EMBED}, hidden {IMDB_HIDDEN}, {IMDB_LAYERS} "
        "layers and a linear head on the final state of every direction, so total = V×"
        f"{IMDB_EMBED} + recurrent + head and each total implies a vocabulary size V "
        "(`rnnbench.params.vocab_size_for_total`).",
        totals,
        f"One vocabulary gives all three totals: **{'yes' if shared else 'no'}**. "
        "Listed configurations whose recurrent layers alone round to all three: "
        f"{'; '.join(alone) or 'none'}.",
    ])


def imdb_table(conv: Convergence) -> str:
    """The article's IMDB table: per cell, mean ± sample std over seeds, beside the article's."""
    rows = []
    for cell in sorted({t.cell for t in conv.runs}, key=order):
        runs, counted = [t for t in conv.runs if t.cell == cell], conv.counted(cell)
        params = [t.params for t in runs if t.params]
        quoted = IMDB.get(cell)
        going = len(runs) - len(counted)
        rows.append([
            label(cell), count(params[0]) if params else "–",
            f"{len(counted)} (+{going} running)" if going else len(runs), epochs_run(runs),
            spread(values(counted, "best_val_accuracy"), percent, points),
            spread(values(counted, "test_accuracy_at_best"), percent, points),
            spread(values(counted, "converged_epoch"), "{:.3g}".format),
            spread(values(counted, "seconds_per_epoch")),
            *((quoted.params_text, f"{quoted.seconds_per_epoch:g}",
               percent(quoted.best_accuracy), quoted.converged_epoch) if quoted else ["–"] * 4),
        ])
    return table(["cell", "params", "seeds", "epochs run / asked", "best val acc",
                  "test acc at best val", "converged at epoch",
                  f"s/epoch ({conv.device_name})", "article: params", "article: s/epoch",
                  "article: best acc", "article: converged at"], rows, right=range(1, 12))


@dataclass(frozen=True)
class Difference:
    """Cell ``a`` minus cell ``b`` in mean ``metric`` over finished seeds, in points, with
    Welch's 95 % confidence interval (None below two seeds a cell: spread unknown)."""

    a: str
    b: str
    metric: str
    points: float
    interval: tuple[float, float] | None
    seeds: tuple[int, int]

    @property
    def ranks(self) -> bool:
        """The interval excludes zero: the seeds rank ``a`` and ``b``."""
        return self.interval is not None and (self.interval[0] > 0 or self.interval[1] < 0)


def imdb_differences(conv: Convergence, metric: str = "best_val_accuracy") -> list[Difference]:
    """Per pair of cells, the difference in mean ``metric``. Welch's test: the cells' runs
    are independent and their spreads need not be equal."""
    from scipy import stats

    got = {c: values(conv.counted(c), metric)
           for c in sorted({t.cell for t in conv.runs}, key=order)}
    found = []
    for a, b in combinations([c for c, v in got.items() if v], 2):
        x, y = got[a], got[b]
        interval = None
        if min(len(x), len(y)) >= 2:
            low, high = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)
            interval = (float(low) * 100, float(high) * 100)
        found.append(Difference(a, b, metric, (statistics.fmean(x) - statistics.fmean(y)) * 100,
                                interval, (len(x), len(y))))
    return found


def one_seed(conv: Convergence) -> list[str]:
    """The cells with one finished seed: their differences have no spread."""
    return [c for c in sorted({t.cell for t in conv.runs}, key=order)
            if len(values(conv.counted(c), "best_val_accuracy")) == 1]


def imdb_pairs(conv: Convergence) -> list[str]:
    """Per pair of cells with two seeds or more and per metric: the difference, its 95 %
    interval, and whether the seeds can rank the two."""
    lines = []
    for metric, name in (("best_val_accuracy", "best validation accuracy"),
                         ("test_accuracy_at_best", "test accuracy at best validation")):
        for d in imdb_differences(conv, metric):
            if d.interval is None:
                continue
            low, high = d.interval
            verdict = "ranks them" if d.ranks else "includes 0: these seeds cannot rank them"
            lines.append(f"- {label(d.a)} − {label(d.b)}: {d.points:+.1f} points of {name}; "
                         f"95 % interval {low:+.1f} to {high:+.1f} (Welch, n={d.seeds[0]} and "
                         f"{d.seeds[1]}): {verdict}.")
    if alone := one_seed(conv):
        lines.append(f"- One finished seed of {', '.join(map(label, alone))}: its differences "
                     "have no spread and rank nothing.")
    return lines
