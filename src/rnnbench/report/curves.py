"""Learning curves of one convergence file: the mean over seeds as a line, the min–max over
seeds as a band, one colour per cell (the same as in the speed figures)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import FuncFormatter, MaxNLocator

from rnnbench.report import seed
from rnnbench.report.convergence import ConvergenceResults, band
from rnnbench.report.style import cell_colour, cell_name, finish, new_figure, plain_log

METRIC_LABELS = {
    "val_accuracy": "validation accuracy",
    "eval_accuracy": "held-out accuracy (recalled symbols)",
    "eval_loss": "held-out loss",
    "val_loss": "validation loss",
    "train_loss": "training loss (mean over the epoch)",
}


def _panel(ax, results: ConvergenceResults, metric: str) -> None:
    x = results.x_name
    seed_lines = False
    drawn: list[float] = []
    for cell, runs in results.by_cell().items():
        b = band(runs, metric, x)
        if not b.x:
            continue
        drawn += [*b.low, *b.high]
        colour = cell_colour(cell)
        ax.plot(b.x, b.mean, color=colour, linewidth=1.8, marker="o", markersize=3,
                label=f"{cell_name(cell)} ({b.seeds} seed{'s' * (b.seeds > 1)})")
        if b.seeds > 1:
            ax.fill_between(b.x, b.low, b.high, color=colour, alpha=0.18, linewidth=0)
        if results.task == "imdb" and metric == "val_accuracy" and cell in seed.IMDB_TABLE:
            ax.axhline(seed.IMDB_TABLE[cell].best_accuracy, color=colour, linestyle=":",
                       linewidth=1.2)
            seed_lines = True
    if seed_lines:
        ax.plot([], [], color="#555555", linestyle=":", label="seed article's best")
    threshold = results.threshold
    if threshold and threshold[0] == metric:
        drawn.append(threshold[1])
        ax.axhline(threshold[1], color="#2ca02c", linestyle="--", linewidth=1,
                   label=f"solved: {results.data.get('solved_when')}")
    baseline = results.data.get("baseline_loss")
    if metric.endswith("loss") and metric != "train_loss" and isinstance(baseline, float):
        ax.axhline(baseline, color="#555555", linestyle="-.", linewidth=1,
                   label="no-memory baseline")
    if metric.endswith("loss") and drawn and min(drawn) > 0 and max(drawn) / min(drawn) > 10:
        ax.set_yscale("log")
        plain_log(ax.yaxis)
    elif metric.endswith("accuracy"):
        ax.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.4g}%"))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.set_xlabel("epoch" if x == "epoch" else "training step")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(True, alpha=0.3)


def curves(results: ConvergenceResults, path: Path) -> Path | None:
    """Primary metric and training loss against epochs (IMDB) or steps, mean and min–max."""
    metric = results.metric
    if metric is None or not results.runs:
        return None
    metrics = [metric] + (["train_loss"] if metric != "train_loss" else [])
    fig, axes = new_figure(len(metrics), width=5.6, height=4.0)
    for ax, name in zip(axes, metrics, strict=True):
        _panel(ax, results, name)
        ax.set_title(METRIC_LABELS.get(name, name), fontsize=10)
    axes[-1].legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="upper left",
                    bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    note = "line: mean over seeds, band: min–max"
    if results.task == "imdb" and metric == "val_accuracy":
        note += ", dotted: seed article's best accuracy"
    return finish(fig, path, f"Learning curves: {task_title(results)}",
                  f"{results.footer} · {note}")


def task_title(results: ConvergenceResults) -> str:
    s = results.settings
    if results.task == "imdb":
        return "IMDB sentiment"
    if "seq_len" in s:
        return f"{results.task} problem, T={s['seq_len']}"
    return results.task
