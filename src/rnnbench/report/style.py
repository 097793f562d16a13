"""One look for every figure: colours per cell, line styles per implementation, saving.

Every plot takes its colours from :data:`CELL_COLOURS`, so LSTM is the same blue in the speed,
memory and learning-curve figures. LSTM-family cells are cool colours, GRU-family warm ones,
the vanilla RNN grey; a bidirectional cell is the darker sibling of its one-way cell.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

CELL_COLOURS: dict[str, str] = {
    "rnn": "#7f7f7f",
    "lstm": "#1f77b4",
    "bilstm": "#17365d",
    "gru": "#ff7f0e",
    "bigru": "#a63603",
}
#: Reading order of cells in legends and tables.
CELL_ORDER = tuple(CELL_COLOURS)
CELL_NAMES: dict[str, str] = {
    "rnn": "RNN", "lstm": "LSTM", "bilstm": "BiLSTM", "gru": "GRU", "bigru": "BiGRU",
}
IMPL_STYLES: dict[str, dict[str, str]] = {
    "native": {"linestyle": "-", "marker": "o"},
    "eager": {"linestyle": "--", "marker": "s"},
    "script": {"linestyle": ":", "marker": "^"},
    "compiled": {"linestyle": "-.", "marker": "D"},
    "fused": {"linestyle": (0, (5, 1)), "marker": "*"},
}
IMPL_ORDER = tuple(IMPL_STYLES)
FALLBACK_COLOUR = "#2ca02c"
DPI = 110


def cell_colour(cell: str) -> str:
    return CELL_COLOURS.get(cell, FALLBACK_COLOUR)


def cell_name(cell: str) -> str:
    return CELL_NAMES.get(cell, cell)


def impl_style(impl: str) -> dict[str, str]:
    return IMPL_STYLES.get(impl, {"linestyle": (0, (1, 3)), "marker": "x"})


def sort_key_cell(cell: str) -> tuple[int, str]:
    return (CELL_ORDER.index(cell) if cell in CELL_ORDER else len(CELL_ORDER), cell)


def sort_key_impl(impl: str) -> tuple[int, str]:
    return (IMPL_ORDER.index(impl) if impl in IMPL_ORDER else len(IMPL_ORDER), impl)


def plain_log(axis) -> None:
    """Log scale ticked at 1, 2, 5 × 10^k and labelled as plain numbers (0.2, 50, 2000)."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v)))
    axis.set_minor_formatter(NullFormatter())


def _tick(value: float) -> str:
    """1, 2 or 5 × 10^k without an exponent: 0.00005, 0.2, 2000."""
    if value <= 0:
        return f"{value:g}"
    return f"{value:.{max(0, -math.floor(math.log10(value) + 1e-9))}f}"


def new_figure(panels: int, width: float = 5.2, height: float = 3.9) -> tuple[Figure, list]:
    """A row of ``panels`` axes (wrapping after three) sized for a README column."""
    columns = min(panels, 3)
    rows = -(-panels // columns)
    width = max(width, 7.2 / columns)  # room for the footer line under a single panel
    # A bare Figure draws with Agg and keeps no pyplot state: headless, and nothing to close.
    fig = Figure(figsize=(width * columns, height * rows + 0.6))
    axes = fig.subplots(rows, columns, squeeze=False)
    flat = list(axes.flat)
    for extra in flat[panels:]:
        extra.set_visible(False)
    return fig, flat[:panels]


def finish(fig: Figure, path: Path, title: str, footer: str | None = None) -> Path:
    """Title, footer and a reproducible PNG: fixed DPI, no software/date metadata."""
    height = fig.get_figheight()
    fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - 0.1 / height, va="top")
    if footer:
        fig.text(0.5, 0.06 / height, footer, ha="center", va="bottom", fontsize=8,
                 color="#444444")
    # Leave fixed room in inches for the title and footer, whatever the figure's height.
    bottom = 0.16 + 0.14 * footer.count("\n") + 0.14 if footer else 0.05
    fig.tight_layout(rect=(0, bottom / height, 1, 1 - 0.1 / height))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path
