"""The selection guide: for each question the article's advice (§4) answers, the table of
measurements that answers it here. No sentence depends on the data; the tables do."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from rnnbench.bench.results import Run
from rnnbench.model import cells
from rnnbench.model.params import RecurrentConfig, count_parameters
from rnnbench.report import article
from rnnbench.report.load import Convergence
from rnnbench.report.tables import (
    ABLATION_HIDDEN,
    ABLATION_INPUT,
    PRIMARY,
    best_table,
    epochs_run,
    label,
    mib,
    ms,
    order,
    percent,
    plain,
    table,
    task_name,
    values,
)

ADVICE = ("The article's advice (§4): LSTM for fine control of what is remembered, ample "
          "resources and long-range dependencies; GRU for fast prototyping, resource-limited "
          "settings and sequences shorter than 100; bidirectional when context matters, at 2× "
          "the compute or more. Below, what the measurements in this report say to each.")


def ranking(conv: Convergence) -> list[object]:
    """One row of the accuracy table: cells ranked by the task's primary metric."""
    cells = sorted({t.cell for t in conv.runs}, key=order)
    by_cell = {c: [t for t in conv.runs if t.cell == c] for c in cells}
    if conv.task == "imdb":
        means = {c: statistics.fmean(v) for c in cells
                 if (v := values(conv.counted(c), "best_val_accuracy"))}
        ranked = sorted(means, key=lambda c: -means[c])
        text = " > ".join(f"{label(c)} {percent(means[c])}" for c in ranked)
        metric = "best validation accuracy"
    else:
        accuracy = PRIMARY.get(conv.task) == "eval_accuracy"
        key = "final_accuracy" if accuracy else "final_loss"
        means = {c: statistics.fmean(v) for c in cells if (v := values(conv.counted(c), key))}
        solved = {c: sum(bool(t.summary.get("solved")) for t in by_cell[c]) for c in cells}
        ranked = sorted(means, key=lambda c: (-solved[c] / len(by_cell[c]),
                                              -means[c] if accuracy else means[c]))
        text = " > ".join(f"{label(c)} {solved[c]}/{len(by_cell[c])} solved, "
                          f"{percent(means[c]) if accuracy else plain(means[c])}"
                          for c in ranked)
        metric = f"seeds solved, then final held-out {'accuracy' if accuracy else 'loss'}"
    seeds = sorted({len(runs) for runs in by_cell.values()})
    return [task_name(conv), f"`{conv.path.name}`", metric, text or "–",
            "–".join(map(str, (seeds[0], seeds[-1]) if len(seeds) > 1 else seeds)) or "0",
            epochs_run(conv.runs) if conv.runs else "–"]


def rankable(d: article.Difference) -> list[object]:
    """One row of the IMDB ranking table."""
    low, high = d.interval or (math.nan, math.nan)
    return [f"{label(d.a)} − {label(d.b)}", f"{d.points:+.1f}", f"{low:+.1f} to {high:+.1f}",
            f"{d.seeds[0]} and {d.seeds[1]}", "yes" if d.ranks else "no"]


def lean(conv: Convergence) -> list[str]:
    """One row of the gates table: the one-direction cells that solved every finished seed,
    fewest parameters first, each with its parameters as a share of LSTM's."""
    def size(cell: str) -> int:
        return count_parameters(RecurrentConfig(cell, ABLATION_INPUT, ABLATION_HIDDEN))

    kept = {}
    for cell in {t.cell for t in conv.runs if cells.parse(t.cell)[1] == 1}:
        runs = [t for t in conv.runs if t.cell == cell]
        done = [t for t in runs if t.status != "running" or t.summary.get("solved")]
        if done and all(t.summary.get("solved") for t in done):
            kept[cell] = len(done)
    return [task_name(conv), ", ".join(
        f"{label(c)} {percent(size(c) / size(cells.BASELINE))} ({n}/{n})"
        for c, n in sorted(kept.items(), key=lambda k: (size(k[0]), order(k[0]))))
        or "none"]


def section(bench: Sequence[Run], convergence: Sequence[Convergence]) -> str:
    parts = ["## Selection guide", ADVICE]
    for run in bench:
        speed = best_table(run.cases, lambda r: r.median, ms, run.noise)
        memory = best_table(run.cases, lambda r: r.peak_memory_bytes, mib)
        if speed:
            parts += [f"### Speed on {run.device_name} (`{Path(run.path).name}`)",
                      "Median time per call in ms of the fastest implementation of each "
                      "cell, per measured shape; the last column names the fastest. A cell "
                      "with a noisy case at a shape (IQR over half the median, or a loaded "
                      "machine) shows `noisy` and is not ranked, nor is that shape.", speed]
        if memory:
            parts += [f"### Memory on {run.device_name} (`{Path(run.path).name}`)",
                      "Peak memory of one pass in MiB, the least over implementations.", memory]
    parts.append("### Accuracy and long-range memory")
    runs = [c for c in convergence if c.runs]
    parts.append(table(["task", "file", "ranked by", "cells, best first (mean over seeds)",
                        "seeds per cell", "epochs run / asked"], [ranking(c) for c in runs])
                 if runs else "_No convergence results yet._")
    for conv in (c for c in runs if c.task == "imdb"):
        known = [d for d in article.imdb_differences(conv) if d.interval]
        alone = ", ".join(map(label, article.one_seed(conv)))
        parts.append(f"What the seeds of `{conv.path.name}` can rank: the difference of mean "
                     "best validation accuracy, with Welch's 95 % interval over the finished "
                     "seeds; an interval that includes 0 ranks nothing."
                     + (f" One finished seed of {alone}: not ranked." if alone else ""))
        if known:
            parts.append(table(["pair", "difference (points)", "95 % interval", "seeds",
                                "ranked?"], [rankable(d) for d in known]))
    synthetic = [c for c in runs if c.task != "imdb"]
    if synthetic:
        parts += ["### Which gates can go",
                  "The cells (one direction) that solved every finished seed of a synthetic "
                  f"task, fewest parameters first, with their parameters at I={ABLATION_INPUT}, "
                  f"H={ABLATION_HIDDEN} as a share of {label(cells.BASELINE)}'s; see "
                  "[Gating ablation]"
                  "(#gating-ablation) for time and steps.",
                  table(["task", "solved every seed, fewest parameters first: share of "
                         f"{label(cells.BASELINE)}'s (seeds)"], [lean(c) for c in synthetic])]
    devices = sorted({r.device_name for r in bench if r.cases} | {c.device_name for c in runs})
    parts.append(f"Measured on: {', '.join(devices) or 'nothing yet'}. The article does not "
                 "state its device. Machine translation, pretrained embeddings and mobile "
                 "deployment (§4) are not measured by rnnbench.")
    return "\n\n".join(parts)
