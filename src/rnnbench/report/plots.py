"""The speed and memory figures of one benchmark results file (matplotlib, headless).

Each function draws one PNG and returns its path, or ``None`` when the results hold nothing
to draw (the README then says so). Colour is the cell, line style and marker the
implementation, everywhere; the footer names device, dtype, torch version and date.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from rnnbench.report.analysis import (
    forward_backward,
    native_ratios,
    reference_key,
    reference_shape,
    shape_label,
    sweeps,
)
from rnnbench.report.load import BenchResults, Case
from rnnbench.report.style import (
    cell_colour,
    cell_name,
    finish,
    impl_style,
    new_figure,
    plain_log,
    sort_key_cell,
    sort_key_impl,
)

#: At most this many panels per figure; the tables list everything.
MAX_PANELS = 6


def legend_handles(cells: Iterable[str], impls: Iterable[str]) -> list[Line2D]:
    """One entry per cell (its colour) and one per implementation (its line style)."""
    handles = [Line2D([], [], color=cell_colour(c), linewidth=3, label=cell_name(c))
               for c in sorted(set(cells), key=sort_key_cell)]
    handles += [Line2D([], [], color="#333333", label=i, **impl_style(i))
                for i in sorted(set(impls), key=sort_key_impl)]
    return handles


def _plain_log_axis(axis, values: Iterable[int]) -> None:
    """Log scale with the measured values as plain tick labels (25, 100, 400, not 10²)."""
    values = sorted(set(values))
    axis.set_ticks(values)
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _sweep_figure(results: BenchResults, vary: str, path: Path, title: str, ylabel: str,
                  value, require=lambda case: True) -> Path | None:
    families = {
        family: {key: [c for c in line if require(c)] for key, line in lines.items()}
        for family, lines in sweeps(results.cases, vary).items()
    }
    families = {f: {k: v for k, v in lines.items() if len(v) >= 2} for f, lines in
                families.items()}
    families = {f: lines for f, lines in families.items() if lines}
    if not families:
        return None
    shown = list(families)[:MAX_PANELS]
    fig, axes = new_figure(len(shown))
    cells, impls = set(), set()
    for ax, family in zip(axes, shown, strict=True):
        xs = set()
        for (cell, impl), line in families[family].items():
            cells.add(cell)
            impls.add(impl)
            x = [getattr(c, vary) for c in line]
            xs.update(x)
            ax.plot(x, [value(c) for c in line], color=cell_colour(cell), markersize=5,
                    linewidth=1.6, **impl_style(impl))
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_axis(ax.xaxis, xs)
        plain_log(ax.yaxis)
        ax.set_xlabel({"T": "sequence length T (steps)", "B": "batch size B"}[vary])
        ax.set_ylabel(ylabel)
        ax.set_title(family.title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(handles=legend_handles(cells, impls), fontsize=8, loc="upper left")
    hidden = len(families) - len(shown)
    note = f" (first {len(shown)} of {len(families)} sweeps)" if hidden else ""
    return finish(fig, path, title + note, results.footer)


def time_vs(results: BenchResults, vary: str, path: Path) -> Path | None:
    """Median time per call against ``T`` or ``B``, log-log, one panel per sweep."""
    what = {"T": "sequence length", "B": "batch size"}[vary]
    return _sweep_figure(results, vary, path, f"Time per call vs {what}",
                         "median time per call (ms)", lambda c: c.median * 1e3)


def memory_vs_t(results: BenchResults, path: Path) -> Path | None:
    """Peak memory of the pass against ``T``, one panel per sweep."""
    return _sweep_figure(results, "T", path, "Peak memory vs sequence length",
                         "peak memory of the pass (MiB)",
                         lambda c: c.peak_memory_bytes / 2**20,
                         require=lambda c: c.peak_memory_bytes is not None)


def ratio_dots(points: list[tuple[Case, float]], labels: list[str], xlabel: str,
               top: float = -0.5, extra_height: float = 1.2) -> tuple[Figure, Axes]:
    """One row per shape label, one dot per cell (colour) and impl (marker) at its ratio.

    Shared by the custom/native figure and the comparison page, so both read the same way.
    """
    cells = sorted({case.cell for case, _ in points}, key=sort_key_cell)
    fig, (ax,) = new_figure(1, width=9.5, height=max(2.8, 0.42 * len(labels) + extra_height))
    step = 0.6 / max(len(cells), 1)
    for case, value in points:
        row = labels.index(shape_label(case))
        offset = (cells.index(case.cell) - (len(cells) - 1) / 2) * step
        ax.plot(value, row + offset, linestyle="none", color=cell_colour(case.cell),
                marker=impl_style(case.impl)["marker"], markersize=6)
    ax.axvline(1.0, color="#333333", linewidth=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, top)
    for row in range(len(labels) - 1):
        ax.axhline(row + 0.5, color="#dddddd", linewidth=0.6)
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    impls = {case.impl for case, _ in points}
    ax.legend(handles=legend_handles(cells, impls), fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig, ax


def custom_vs_native(results: BenchResults, path: Path) -> Path | None:
    """Custom/native time ratio per shape: one row per shape, one dot per cell and impl."""
    ratios = native_ratios(results.cases)
    if not ratios:
        return None
    labels = list(dict.fromkeys(shape_label(r.custom) for r in ratios))
    fig, ax = ratio_dots(
        [(r.custom, r.value) for r in ratios], labels, top=-1,
        xlabel="custom median time / native median time (×; < 1 is faster than native)")
    ax.text(1.0, -0.75, " native = 1", fontsize=8, va="center")
    return finish(fig, path, "Custom implementations relative to native", results.footer)


def forward_backward_share(results: BenchResults, path: Path) -> Path | None:
    """Stacked forward and backward time per cell/impl for the best-covered shapes."""
    splits = forward_backward(results.cases)
    if not splits:
        return None
    by_shape: dict[tuple, list] = {}
    for split in splits:
        by_shape.setdefault(reference_key(split.both), []).append(split)
    shown = _split_shapes(list(by_shape), reference_shape(results.cases))
    fig, axes = new_figure(len(shown), width=6.4,
                           height=max(2.6, 0.38 * max(len(by_shape[s]) for s in shown) + 1.3))
    for ax, shape in zip(axes, shown, strict=True):
        group = by_shape[shape]
        title = shape_label(group[0].both, with_pass=False)
        rows = [f"{cell_name(s.both.cell)} {s.both.impl}" for s in group]
        forward = [s.forward.median * 1e3 for s in group]
        backward = [max(s.backward, 0.0) * 1e3 for s in group]
        colours = [cell_colour(s.both.cell) for s in group]
        ax.barh(rows, forward, color=colours, edgecolor="black", linewidth=0.5)
        ax.barh(rows, backward, left=forward, color=colours, alpha=0.35, hatch="//",
                edgecolor="black", linewidth=0.5)
        for row, (f, b, s) in enumerate(zip(forward, backward, group, strict=True)):
            ax.text(f + b, row, f" {s.backward_share:.0%} bwd", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(f + b for f, b in zip(forward, backward, strict=True)) * 1.22)
        ax.set_xlabel("median time per call (ms): forward solid, backward hatched")
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
    note = (f" ({len(shown)} of {len(by_shape)} shapes; all in the table)"
            if len(by_shape) > len(shown) else "")
    return finish(fig, path, "Forward vs backward time" + note, results.footer)


def _split_shapes(shapes: list[tuple], reference: tuple | None) -> list[tuple]:
    """The reference shape, then the longest sequence of the same model and batch."""
    first = reference if reference in shapes else shapes[0]
    same = [s for s in shapes if s[:6] == first[:6] and s[7] == first[7] and s != first]
    return [first, *sorted(same, key=lambda s: -s[6])[:1]]


