"""The convergence section: its figures (:mod:`.curves`), the seed-style table, and the
accuracy items of the selection guide."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from rnnbench.report import seed
from rnnbench.report.convergence import ConvergenceResults, Run, summary_values
from rnnbench.report.curves import curves, task_title
from rnnbench.report.style import cell_name
from rnnbench.report.tables import count, markdown_table, no_data, percent, plain, ratio


def _spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    if not values:
        return "–"
    if len(values) == 1 or min(values) == max(values):
        return fmt(values[0])
    return f"{fmt(statistics.fmean(values))} ({fmt(min(values))}–{fmt(max(values))})"


def _epochs_run(runs: Sequence[Run]) -> str:
    done = sorted({len(r.epochs) for r in runs})
    asked = sorted({r.epochs_requested for r in runs if r.epochs_requested})
    text = "–".join(map(str, (done[0], done[-1]) if len(done) > 1 else done)) or "0"
    if asked and asked[-1] != done[-1]:
        text += f" of {asked[-1]}"
    return text


def imdb_table(results: ConvergenceResults) -> str:
    rows = []
    cpu = any(summary_values(r, "cpu_seconds_per_epoch") for r in results.by_cell().values())
    for cell, runs in results.by_cell().items():
        params = [r.params for r in runs if r.params]
        quoted = seed.IMDB_TABLE.get(cell)
        rows.append([
            cell_name(cell), count(params[0]) if params else "–",
            _spread(summary_values(runs, "seconds_per_epoch"), plain),
            *([_spread(summary_values(runs, "cpu_seconds_per_epoch"), plain)] if cpu else []),
            _spread(summary_values(runs, "tokens_per_second"), lambda v: f"{v:,.0f}"),
            _spread(summary_values(runs, "best_val_accuracy"), percent),
            _spread(summary_values(runs, "best_epoch"), lambda v: f"{v:g}"),
            _spread(summary_values(runs, "test_accuracy_at_best"), percent),
            _spread(summary_values(runs, "converged_epoch"), lambda v: f"{v:g}")
            + ("*" if _still_improving(runs) else ""),
            _epochs_run(runs), str(len(runs)),
            (f"{quoted.params.text} · {quoted.seconds_per_epoch:g} s · "
             f"{percent(quoted.best_accuracy)} · epoch {quoted.converged_epoch}")
            if quoted else "",
        ])
    headers = ["cell", "params", "s/epoch", *(["CPU s/epoch"] if cpu else []), "tokens/s",
               "best val acc", "best epoch", "test acc at best val", "converged at epoch",
               "epochs run", "seeds",
               f"seed article (params · s/epoch · best acc · converged; {seed.IMDB_EPOCHS} "
               "epochs)"]
    return markdown_table(headers, rows, right=range(1, len(headers) - 1))


def _still_improving(runs: Sequence[Run]) -> bool:
    """Whether a run's best validation accuracy came at its last epoch: not yet converged."""
    return any(r.epochs and r.summary.get("best_epoch") == len(r.epochs) for r in runs)


def synthetic_table(results: ConvergenceResults) -> str:
    rows = []
    for cell, runs in results.by_cell().items():
        params = [r.params for r in runs if r.params]
        solved = [r for r in runs if r.summary.get("solved")]
        rows.append([
            cell_name(cell), count(params[0]) if params else "–",
            f"{len(solved)} of {len(runs)}",
            _spread(summary_values(solved, "steps_to_solve"), lambda v: f"{v:,.0f}"),
            _spread(summary_values(runs, "final_loss"), plain),
            _spread(summary_values(runs, "final_accuracy"), percent),
            _spread(summary_values(runs, "seconds_per_epoch"), plain),
            _epochs_run(runs),
        ])
    return markdown_table(
        ["cell", "params", "seeds solved", "steps to solve (solved seeds)",
         "final held-out loss", "final held-out accuracy", "s/epoch", "epochs run"],
        rows, right=range(1, 8),
    )


def _settings_line(results: ConvergenceResults) -> str:
    s, d = results.settings, results.data
    keys = ("seq_len", "embed_dim", "hidden_size", "num_layers", "dropout", "lr",
            "batch_size", "max_len", "vocab_size", "limit", "steps_per_epoch", "impl")
    shown = [f"{k}={s[k]}" for k in keys if k in s and s[k] is not None]
    if "vocab_size" in d:
        shown.append(f"vocabulary used {d['vocab_size']:,}")
    for split in ("train", "val", "test"):
        if isinstance(d.get(split), int):
            shown.append(f"{split} {d[split]:,}")
    if d.get("solved_when"):
        shown.append(f"solved when {d['solved_when']}")
    return f"Settings: {', '.join(shown) or 'not recorded'}. Measured on {results.footer}."


def file_section(results: ConvergenceResults, out: Path) -> str:
    parts = [f"### {task_title(results)} (`{results.path.name}`)"]
    if not results.runs:
        parts.append(no_data("this task", f"{results.path.name} holds no runs yet"))
        return "\n\n".join(parts)
    parts.append(_settings_line(results))
    figure = curves(results, out / f"{results.path.stem}-curves.png")
    parts.append(f"![learning curves]({figure.name})" if figure else no_data(
        "learning curves", f"no run in {results.path.name} has a finished epoch"))
    parts.append(imdb_table(results) if results.task == "imdb" else synthetic_table(results))
    diverged = sorted(f"{cell_name(r.cell)} seed {r.seed} in epoch {r.diverged_epoch or '?'}"
                      for r in results.runs if r.status == "diverged")
    if diverged:
        parts.append(f"Diverged (a loss or metric stopped being a finite number; the run was "
                     f"stopped and its finite epochs are shown): {', '.join(diverged)}.")
    unfinished = sorted({f"{cell_name(r.cell)} seed {r.seed}" for r in results.runs
                         if r.status not in ("done", "diverged")})
    if unfinished:
        parts.append(f"Still running or interrupted when the file was written: "
                     f"{', '.join(unfinished)}.")
    if results.task == "imdb":
        if any(_still_improving(runs) for runs in results.by_cell().values()):
            parts.append("\\* The best validation accuracy came at the last epoch run: that "
                         "run was still improving, so its convergence epoch is a lower bound.")
        parts.append(_imdb_params_note(results))
        parts.append("Best val acc: the highest validation accuracy over the epochs run; test "
                     "accuracy is read at that epoch (never selected on test). Converged at "
                     "epoch: the first epoch within 0.5 points of the run's best validation "
                     "accuracy, so a run cut short converges no later than its last epoch.")
    return "\n\n".join(parts)


def _imdb_params_note(results: ConvergenceResults) -> str:
    """The measured parameter split, and what the seed's totals would need instead."""
    splits = []
    for cell, runs in results.by_cell().items():
        parts = runs[0].breakdown
        if parts:
            splits.append(f"{cell_name(cell)} " + " + ".join(
                f"{count(parts[k])} {k}" for k in ("embedding", "recurrent", "head") if k in parts))
    vocab = results.data.get("vocab_size")
    if not splits:
        return ""
    text = f"Parameters (`rnnbench.params.classifier_breakdown`): {'; '.join(splits)}."
    if isinstance(vocab, int):
        text += (f" The embedding holds the vocabulary of {vocab:,} tokens, so the totals differ "
                 "from the seed's, whose three totals imply three different vocabularies (see "
                 "[Parameters](#parameters)).")
    return text


def accuracy_items(files: Sequence[ConvergenceResults]) -> list[str]:
    """The guide's "accuracy first" and "long-range" statements, one per task file."""
    items = []
    for results in sorted(files, key=lambda f: (f.task != "imdb", f.path.name)):
        if results.task == "imdb":
            items.extend(_imdb_items(results))
        elif results.runs:
            items.append(_synthetic_item(results))
    return [item for item in items if item]


def _imdb_items(results: ConvergenceResults) -> list[str]:
    by_cell = results.by_cell()
    best = {c: summary_values(r, "best_val_accuracy") for c, r in by_cell.items()}
    best = {c: v for c, v in best.items() if v}
    items = []
    if len(best) >= 2:
        ranked = sorted(best, key=lambda c: -statistics.fmean(best[c]))
        top, second = ranked[0], ranked[1]
        margin = statistics.fmean(best[top]) - statistics.fmean(best[second])
        seeds = min(len(v) for v in best.values())
        epochs = max(len(r.epochs) for runs in by_cell.values() for r in runs)
        if seeds < 2:
            spread = "one seed per cell, so seed-to-seed variation is not measured"
        elif min(best[top]) > max(best[second]):
            spread = "every seed of the first beats every seed of the second"
        else:
            spread = "the seeds of the first two overlap, so their order is not settled"
        order = " > ".join(f"{cell_name(c)} {percent(statistics.fmean(best[c]))}"
                           for c in ranked)
        seed_order = " > ".join(
            f"{cell_name(c)} {percent(seed.IMDB_TABLE[c].best_accuracy)}"
            for c in sorted(seed.IMDB_TABLE, key=lambda c: -seed.IMDB_TABLE[c].best_accuracy))
        same = [c for c in ranked if c in seed.IMDB_TABLE]
        seed_ranked = sorted(same, key=lambda c: -seed.IMDB_TABLE[c].best_accuracy)
        agrees = "the same order as" if same == seed_ranked else "a **different** order from"
        items.append(
            f"- **Accuracy first, IMDB** (`{results.path.name}`, {epochs} epoch"
            f"{'s' * (epochs > 1)} vs the seed's {seed.IMDB_EPOCHS}): best validation "
            f"accuracy {order}; {cell_name(top)} leads by {margin * 100:.1f} points; "
            f"{spread}. That is {agrees} the seed's {seed_order}."
            + (" Runs were still improving at their last epoch, so this ranks early training, "
               "not converged models." if any(_still_improving(r) for r in by_cell.values())
               else ""))
    # Process CPU time is robust to other jobs on the machine; use it where every cell has it.
    key = ("cpu_seconds_per_epoch" if all(summary_values(r, "cpu_seconds_per_epoch")
                                          for r in by_cell.values()) else "seconds_per_epoch")
    seconds = {c: summary_values(r, key) for c, r in by_cell.items()}
    seconds = {c: statistics.fmean(v) for c, v in seconds.items() if v}
    pairs = [(a, b) for a, b in (("lstm", "gru"), ("bilstm", "lstm")) if a in seconds and
             b in seconds]
    if pairs:
        measured = ", ".join(
            f"{cell_name(a)}/{cell_name(b)} {ratio(seconds[a] / seconds[b])} (seed: "
            f"{ratio(seed.IMDB_TABLE[a].seconds_per_epoch / seed.IMDB_TABLE[b].seconds_per_epoch)})"
            for a, b in pairs)
        runs = min(len(r) for r in by_cell.values())
        clock = ("process CPU seconds" if key == "cpu_seconds_per_epoch" else
                 "wall-clock seconds")
        items.append(f"- **Training time per epoch, IMDB**: {measured}; {clock} of "
                     f"{'one run' if runs == 1 else f'{runs} runs'} per cell"
                     + (", as noisy as the machine was while they ran" if key ==
                        "seconds_per_epoch" else "")
                     + " (the speed benchmarks above are the controlled comparison).")
    return items


def _synthetic_item(results: ConvergenceResults) -> str:
    """Which cells solved a long-range task, how fast, and how close the others came."""
    by_cell = results.by_cell()
    threshold = results.threshold
    by_accuracy = bool(threshold and "accuracy" in threshold[0])
    final_key, final_name = (("final_accuracy", "accuracy") if by_accuracy
                             else ("final_loss", "loss"))

    def final(cell: str) -> float | None:
        values = summary_values(by_cell[cell], final_key)
        return statistics.fmean(values) if values else None

    def score(cell: str) -> tuple[float, float, float]:
        """Share of seeds solved, then fewer steps, then the better final metric."""
        runs = by_cell[cell]
        solved = [r for r in runs if r.summary.get("solved")]
        steps = summary_values(solved, "steps_to_solve")
        value = final(cell)
        last = float("-inf") if value is None else (value if by_accuracy else -value)
        return (len(solved) / len(runs), -statistics.fmean(steps) if steps else float("-inf"),
                last)

    parts = []
    for cell, runs in by_cell.items():
        solved = [r for r in runs if r.summary.get("solved")]
        steps = summary_values(solved, "steps_to_solve")
        parts.append(f"{cell_name(cell)} {len(solved)}/{len(runs)}"
                     + (f" (mean {statistics.fmean(steps):,.0f} steps)" if steps else ""))
    text = (f"- **Long-range memory, {task_title(results)}** (`{results.path.name}`): seeds "
            f"that solved it: {', '.join(parts)}.")
    nobody = all(score(cell)[0] == 0 for cell in by_cell)
    if nobody:
        fmt = percent if by_accuracy else plain
        ranked = sorted((c for c in by_cell if final(c) is not None), key=score, reverse=True)
        text += " No cell reached the threshold in the steps run"
        if ranked:
            text += (f"; by the final held-out {final_name} (mean over seeds): "
                     + " > ".join(f"{cell_name(c)} {fmt(final(c))}" for c in ranked))
        text += "."
    how = f" (judged by the final held-out {final_name}, as none solved it)" if nobody else ""
    if "lstm" in by_cell and "gru" in by_cell:
        if score("lstm") > score("gru"):
            text += (f" LSTM does better than GRU here{how}, as the seed's LSTM-for-long-range "
                     "advice expects.")
        else:
            text += (f" GRU does as well as LSTM or better here{how}: the data do not support "
                     "the seed's preference for LSTM on long-range dependencies at this length.")
    if "rnn" in by_cell and len(by_cell) > 1:
        gated = [c for c in by_cell if c != "rnn"]
        ahead = [c for c in gated if score(c) > score("rnn")]
        if len(ahead) == len(gated):
            text += " The vanilla RNN falls behind every gated cell."
        elif ahead:
            text += (f" The vanilla RNN falls behind {', '.join(map(cell_name, ahead))} but not "
                     f"{', '.join(cell_name(c) for c in gated if c not in ahead)}.")
        else:
            text += " The vanilla RNN keeps up with the gated cells at this length."
    return text


def section(files: Sequence[ConvergenceResults], out: Path) -> tuple[str, list[str]]:
    """The README section and the guide's accuracy items; writes the figures into ``out``."""
    parts = ["## Convergence"]
    if not files:
        parts.append(no_data("convergence", "no convergence results file was given (write one "
                             "with `rnnbench converge ... --out reports/convergence/TASK.json`)"))
        return "\n\n".join(parts), []
    parts.extend(file_section(results, out) for results in files)
    return "\n\n".join(parts), accuracy_items(files)
