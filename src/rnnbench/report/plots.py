"""The report's figures (matplotlib, headless, reproducible PNGs without a timestamp).

Colour is the cell everywhere (:func:`~rnnbench.report.tables.colour`), line style and
marker the implementation; a footer names the device, torch version, date and file, wrapped
to the figure's width. Legends stand outside the axes, so no line hides behind one; time
plots shade each line's interquartile range and ring its noisy points.
Each function writes one PNG and returns its path, or ``None`` when there is nothing to draw.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from rnnbench.bench.grid import Case
from rnnbench.bench.results import Result, Run
from rnnbench.files import number
from rnnbench.report import article
from rnnbench.report.load import Convergence
from rnnbench.report.tables import (
    PRIMARY,
    Noisy,
    colour,
    label,
    never_noisy,
    order,
    shape_label,
    sweeps,
    task_name,
    values,
)

STYLES = {"native": ("-", "o"), "eager": ("--", "s"), "script": (":", "^"),
          "compiled": ("-.", "D"), "fused": ((0, (5, 1)), "*"),
          "derived": ((0, (3, 1, 1, 1)), "X"), "triton": ((0, (1, 1)), "P")}
DPI = 110
MAX_PANELS = 6
FOOTER_SIZE = 8  # points
LEGEND_WIDTH = 1.5  # inches added to a figure whose legend stands beside its panels
NOISY_RING = "#d62728"


def _style(impl: str) -> dict:
    line, marker = STYLES.get(impl, ((0, (1, 3)), "x"))
    return {"linestyle": line, "marker": marker}


def _figure(panels: int, width: float = 5.2, height: float = 3.9, legend: bool = False
            ) -> tuple[Figure, list]:
    """Up to three panels a row, sized for a README column (wider by :data:`LEGEND_WIDTH`
    for a ``legend`` beside them); a bare Figure keeps no state. The constrained layout
    keeps titles, labels and legends inside the figure."""
    columns = min(panels, 3)
    rows = -(-panels // columns)
    fig = Figure(figsize=(max(width, 7.2 / columns) * columns + LEGEND_WIDTH * legend,
                          height * rows + 0.6), layout="constrained")
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for extra in axes[panels:]:
        extra.set_visible(False)
    return fig, axes[:panels]


def wrap(text: str, width: float, size: float = FOOTER_SIZE) -> str:
    """``text`` broken before a `` · `` (or, for a longer piece, a space) so that no line is
    wider than ``width`` inches at ``size`` points; its own line breaks are kept."""
    measure = TextToPath()
    font = FontProperties(size=size)

    def fits(line: str) -> bool:
        return measure.get_text_width_height_descent(line, font, ismath=False)[0] / 72 <= width

    lines: list[str] = []
    for given in text.split("\n"):
        line = ""
        for piece in given.split(" · "):
            words = piece.split(" ")
            for i, word in enumerate(words):
                joint = (" · " if i == 0 else " ") if line else ""
                if line and not fits(line + joint + word):
                    lines.append(line + (" ·" if i == 0 else ""))
                    line, joint = "", ""
                line += joint + word
        lines.append(line)
    return "\n".join(lines)


def _save(fig: Figure, path: Path, title: str, footer: str) -> Path:
    fig.suptitle(title, fontsize=13, fontweight="bold")
    # a figure-wide x label is the one text below the panels the constrained layout makes room for
    fig.supxlabel(wrap(footer, fig.get_figwidth() - 0.3), fontsize=FOOTER_SIZE, color="#444444")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def footer(run: Run) -> str:
    dtypes = ", ".join(sorted({r.case.dtype for r in run.cases})) or "?"
    threads = f" ({run.threads} threads)" if run.threads else ""
    return (f"{run.device_name}{threads} · {dtypes} · torch {run.torch_version} · {run.date}"
            f" · {run.path}")


def _legend(cells: Iterable[str], impls: Iterable[str], noisy: bool = False) -> list[Line2D]:
    """One entry per cell (its colour) and one per implementation (its line style), and the
    ring of a noisy point where one is drawn."""
    return ([Line2D([], [], color=colour(c), linewidth=3, label=label(c))
             for c in sorted(set(cells), key=order)]
            + [Line2D([], [], color="#333333", label=i, **_style(i))
               for i in sorted(set(impls), key=lambda i: order("", i))]
            + [Line2D([], [], linestyle="none", marker="o", markersize=10,
                      markerfacecolor="none", markeredgecolor=NOISY_RING, label="noisy")] * noisy)


def _log_axis(axis, ticks: Iterable[float] | None = None) -> None:
    """Log scale labelled with plain numbers (25, 100, 0.2), not powers of ten: at the
    given ``ticks``, or else at 1, 2 and 5 times each power of ten."""
    if ticks is not None:
        axis.set_ticks(sorted(set(ticks)))
    else:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def sweep(run: Run, vary: str, path: Path, title: str, ylabel: str,
          value: Callable[[Result], float | None], band: bool = False,
          noisy: Noisy = never_noisy) -> Path | None:
    """``value`` against ``T`` or ``B``, log-log, one panel per sweep, one line per cell/impl;
    ``band``: shade each line's interquartile range (``value`` is a time), ring its ``noisy``
    points."""
    found = []
    for name, lines in sweeps(run.cases, vary):
        lines = {k: [r for r in line if value(r) is not None] for k, line in lines.items()}
        lines = {k: line for k, line in lines.items() if len(line) >= 2}
        if lines:
            found.append((name, lines))
    if not found:
        return None
    shown = found[:MAX_PANELS]
    fig, axes = _figure(len(shown), legend=True)
    rings = False
    for ax, (name, lines) in zip(axes, shown, strict=True):
        for (cell, impl), line in lines.items():
            xs, ys = [getattr(r.case, vary) for r in line], [value(r) for r in line]
            ax.plot(xs, ys, color=colour(cell), markersize=5, linewidth=1.6, **_style(impl))
            if band:
                low, high = zip(*(_quartiles(r, y) for r, y in zip(line, ys, strict=True)),
                                strict=True)
                ax.fill_between(xs, low, high, color=colour(cell), alpha=0.15, linewidth=0)
            rough = [(x, y) for r, x, y in zip(line, xs, ys, strict=True) if noisy(r)]
            if rough:
                rings = True
                ax.plot(*zip(*rough, strict=True), linestyle="none", marker="o", markersize=10,
                        markerfacecolor="none", markeredgecolor=NOISY_RING)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_axis(ax.xaxis, [getattr(r.case, vary) for line in lines.values() for r in line])
        _log_axis(ax.yaxis)
        ax.set_xlabel({"T": "sequence length T (steps)", "B": "batch size B"}[vary])
        ax.set_ylabel(ylabel)
        ax.set_title(name, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    keys = [key for _, lines in shown for key in lines]
    fig.legend(handles=_legend(*zip(*keys, strict=True), noisy=rings), fontsize=8,
               loc="outside right upper")
    note = f" (first {len(shown)} of {len(found)} sweeps)" if len(found) > len(shown) else ""
    spread = " · band: interquartile range of the rounds" if band else ""
    return _save(fig, path, title + note, footer(run) + spread)


def _quartiles(result: Result, shown: float) -> tuple[float, float]:
    """The first and third quartile of ``result``'s rounds, in the unit ``shown`` is in (the
    median's value on the plot); median ± IQR/2 where the file has no quartiles."""
    q1, q3 = result.quartiles or (result.median - result.iqr / 2, result.median + result.iqr / 2)
    scale = shown / result.median
    return max(q1, result.median / 1e3) * scale, q3 * scale


def ratio_dots(points: list[tuple[Case, float]], path: Path, title: str, xlabel: str,
               note: str) -> Path:
    """One row per shape, one dot per cell (colour) and impl (marker) at its ratio; 1 marked."""
    labels = list(dict.fromkeys(shape_label(case) for case, _ in points))
    cells = sorted({case.cell for case, _ in points}, key=order)
    fig, (ax,) = _figure(1, width=9.5, height=max(2.8, 0.42 * len(labels) + 1.4), legend=True)
    step = 0.6 / len(cells)
    for case, value in points:
        offset = (cells.index(case.cell) - (len(cells) - 1) / 2) * step
        ax.plot(value, labels.index(shape_label(case)) + offset, linestyle="none",
                color=colour(case.cell), marker=_style(case.impl)["marker"], markersize=6)
    ax.axvline(1.0, color="#333333", linewidth=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    values = [v for _, v in points] + [1.0]
    if max(values) / min(values) > 10:  # a narrower range reads better on a linear axis
        ax.set_xscale("log")
        _log_axis(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(handles=_legend(cells, {case.impl for case, _ in points}), fontsize=8,
               loc="outside right upper")
    return _save(fig, path, title, note)


METRICS = {"val_accuracy": "validation accuracy", "eval_accuracy": "held-out accuracy",
           "eval_loss": "held-out loss", "train_loss": "training loss (mean over the epoch)"}


def curves(conv: Convergence, path: Path) -> Path | None:
    """The task's primary metric and the training loss against epochs (IMDB) or steps:
    the mean over seeds as a line, min–max over seeds as a band; for IMDB the article's best
    accuracy as a dotted line."""
    x = "epoch" if conv.task == "imdb" else "step"
    metrics = [m for m in (PRIMARY.get(conv.task, "val_accuracy"), "train_loss")
               if any(number(e.get(m)) for t in conv.runs for e in t.epochs)]
    if not metrics:
        return None
    fig, axes = _figure(len(metrics), width=5.6, height=4.0, legend=True)
    for ax, metric in zip(axes, metrics, strict=True):
        for cell in sorted({t.cell for t in conv.runs}, key=order):
            runs = [t for t in conv.runs if t.cell == cell]
            at: dict[float, list[float]] = defaultdict(list)
            for t in runs:
                for e in t.epochs:
                    if number(e.get(metric)) and number(e.get(x)):
                        at[e[x]].append(e[metric])
            if not at:
                continue
            xs = sorted(at)
            ax.plot(xs, [statistics.fmean(at[i]) for i in xs], color=colour(cell),
                    linewidth=1.8, marker="o", markersize=3,
                    label=f"{label(cell)} ({len(runs)} seed{'s' * (len(runs) > 1)})")
            ax.fill_between(xs, [min(at[i]) for i in xs], [max(at[i]) for i in xs],
                            color=colour(cell), alpha=0.18, linewidth=0)
            if metric == "val_accuracy" and conv.task == "imdb" and cell in article.IMDB:
                ax.axhline(article.IMDB[cell].best_accuracy, color=colour(cell),
                           linestyle=":", linewidth=1.2)
        low, high = ax.get_ylim()
        if metric.endswith("loss") and low > 0 and high / low > 10:
            ax.set_yscale("log")
            _log_axis(ax.yaxis)
        elif metric.endswith("accuracy"):
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.4g}%"))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.set_xlabel("epoch" if x == "epoch" else "training step")
        ax.set_title(METRICS.get(metric, metric), fontsize=10)
        ax.grid(True, alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="outside right upper")
    env = conv.environment
    note = (f"{conv.device_name} ({env.get('device', '?')}, threads={env.get('threads', '?')}) · "
            f"torch {env.get('torch', '?')} · {conv.date} · {conv.path.as_posix()} · line: mean "
            "over seeds, band: min–max" + (", dotted: the article's best accuracy"
                                           if conv.task == "imdb" else ""))
    return _save(fig, path, f"Learning curves: {task_name(conv)}", note)


#: The number each run ends with, by task: (summary key, axis label).
FINAL = {"adding": ("final_loss", "final held-out loss (MSE)"),
         "copy": ("final_accuracy", "final held-out accuracy"),
         "imdb": ("best_val_accuracy", "best validation accuracy")}


def ablation(convergence: Sequence[Convergence], cells: Sequence[str], path: Path
             ) -> Path | None:
    """One panel per convergence file: each seed's final number as a dot per cell, the mean
    over seeds as a bar."""
    panels = [c for c in convergence if c.task in FINAL and any(t.cell in cells for t in c.runs)]
    if not panels:
        return None
    fig, axes = _figure(len(panels), width=5.2, height=3.6)
    for ax, conv in zip(axes, panels, strict=True):
        key, ylabel = FINAL[conv.task]
        for x, cell in enumerate(cells):  # a cell keeps its place in every panel
            ys = values(conv.counted(cell), key)
            if ys:
                ax.plot([x] * len(ys), ys, linestyle="none", marker="o", markersize=6,
                        color=colour(cell), alpha=0.8)
                ax.hlines(statistics.fmean(ys), x - 0.3, x + 0.3, color=colour(cell),
                          linewidth=2)
        ax.set_xticks(range(len(cells)), [label(c) for c in cells], rotation=30, ha="right",
                      fontsize=8)
        ax.set_xlim(-0.6, len(cells) - 0.4)
        if key.endswith("loss"):
            ax.set_yscale("log")
            _log_axis(ax.yaxis)
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.4g}%"))
        ax.set_ylabel(ylabel)
        ax.set_title(f"{task_name(conv)} ({conv.path.name})", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path, "Gating ablation: where each cell ends, per seed",
                 "dot: one seed (its last epoch run; IMDB: its best epoch) · bar: mean over "
                 "seeds · steps and accuracies do not depend on the machine")
