"""The comparison page between two benchmark results files (CPU vs GPU, before vs after).

Cases are matched by everything but the device (:attr:`Case.label`), so a CPU run and a GPU
run of the same grid line up; cases in only one file are listed as added or removed.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rnnbench.report.analysis import shape_label
from rnnbench.report.load import BenchResults, Case
from rnnbench.report.plots import legend_handles
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
from rnnbench.report.tables import markdown_table, ratio, seconds


@dataclass(frozen=True)
class Pair:
    old: Case
    new: Case

    @property
    def ratio(self) -> float:
        """New median over old: < 1 means the second file is faster."""
        return self.new.median / self.old.median


@dataclass(frozen=True)
class Comparison:
    old: BenchResults
    new: BenchResults
    pairs: tuple[Pair, ...]
    removed: tuple[Case, ...]
    added: tuple[Case, ...]


def _order(case: Case) -> tuple:
    return (sort_key_cell(case.cell), sort_key_impl(case.impl), case.pass_, case.layout,
            case.input_size, case.hidden_size, case.num_layers, case.T, case.B, case.dtype)


def compare(old: BenchResults, new: BenchResults) -> Comparison:
    """Match the two files' cases; a label that repeats within one file is an error."""
    tables = []
    for results in (old, new):
        by_label: dict[str, Case] = {}
        for case in results.cases:
            if case.label in by_label:
                raise ValueError(
                    f"results file {str(results.path)!r} has two cases labelled "
                    f"{case.label!r} (devices {by_label[case.label].device} and {case.device}):"
                    " expected one device per file"
                )
            by_label[case.label] = case
        tables.append(by_label)
    first, second = tables
    pairs = [Pair(first[k], second[k]) for k in first if k in second]
    return Comparison(
        old, new, tuple(sorted(pairs, key=lambda p: _order(p.old))),
        removed=tuple(sorted((c for k, c in first.items() if k not in second), key=_order)),
        added=tuple(sorted((c for k, c in second.items() if k not in first), key=_order)),
    )


def geometric_mean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def plot(comparison: Comparison, path: Path) -> Path | None:
    """New/old ratio, one row per shape, one dot per cell and implementation, log scale."""
    pairs = comparison.pairs
    if not pairs:
        return None
    labels = list(dict.fromkeys(shape_label(p.old) for p in sorted(
        pairs, key=lambda p: _shape(p.old))))
    cells = sorted({p.old.cell for p in pairs}, key=sort_key_cell)
    fig, (ax,) = new_figure(1, width=9.5, height=max(2.8, 0.42 * len(labels) + 1.4))
    step = 0.6 / max(len(cells), 1)
    for pair in pairs:
        row = labels.index(shape_label(pair.old))
        offset = (cells.index(pair.old.cell) - (len(cells) - 1) / 2) * step
        ax.plot(pair.ratio, row + offset, linestyle="none", color=cell_colour(pair.old.cell),
                marker=impl_style(pair.old.impl)["marker"], markersize=6)
    ax.axvline(1.0, color="#333333", linewidth=1)
    values = [p.ratio for p in pairs] + [1.0]
    if max(values) / min(values) > 4:  # a narrow range reads better on a linear axis
        ax.set_xscale("log")
        plain_log(ax.xaxis)
    else:
        pad = 0.05 * (max(values) - min(values))
        ax.set_xlim(min(values) - pad, max(values) + pad)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    for row in range(len(labels) - 1):
        ax.axhline(row + 0.5, color="#dddddd", linewidth=0.6)
    ax.set_xlabel(f"median time {comparison.new.path.as_posix()} / "
                  f"{comparison.old.path.as_posix()} (×; < 1: second file faster)")
    ax.grid(True, axis="x", alpha=0.3)
    impls = {p.old.impl for p in pairs}
    ax.legend(handles=legend_handles(cells, impls), fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    footer = f"first: {_footer(comparison.old)}\nsecond: {_footer(comparison.new)}"
    return finish(fig, path, "Second results file relative to the first", footer)


def _footer(results: BenchResults) -> str:
    """The plot footer with the file's whole path: two files may share a name."""
    return results.footer.replace(results.path.name, results.path.as_posix())


def _shape(case: Case) -> tuple:
    return (case.dtype, case.pass_ != "fwdbwd", case.layout != "padded", case.input_size,
            case.hidden_size, case.num_layers, case.T, case.B)


def page(comparison: Comparison, figure: Path | None, command: str | None = None) -> str:
    """The markdown page: the two files, a summary per cell and impl, every case, the rest."""
    old, new = comparison.old, comparison.new
    parts = [
        f"# Comparison: `{old.path.as_posix()}` → `{new.path.as_posix()}`",
        *([f"Generated by `{command}`."] if command else []),
        markdown_table(
            ["", "first (old)", "second (new)"],
            [["file", f"`{old.path.as_posix()}`", f"`{new.path.as_posix()}`"],
             ["device", old.device_name, new.device_name],
             ["torch", old.torch_version, new.torch_version],
             ["CPU threads", str(old.threads or "?"), str(new.threads or "?")],
             ["timer", old.timer or "?", new.timer or "?"],
             ["date", old.date, new.date],
             ["cases", str(len(old.cases)), str(len(new.cases))]],
        ),
        *_warnings(old, new),
        f"{len(comparison.pairs)} cases in both files, {len(comparison.removed)} only in the "
        f"first, {len(comparison.added)} only in the second. Ratio = second / first median "
        "time: below 1 the second file is faster.",
    ]
    if not comparison.pairs:
        parts.append("_No common cases: the files measured different grids, so there is "
                     "nothing to set side by side._")
    else:
        if figure is not None:
            parts.append(f"![ratio per case]({figure.name})")
        groups: dict[tuple[str, str], list[float]] = defaultdict(list)
        for pair in comparison.pairs:
            groups[(pair.old.cell, pair.old.impl)].append(pair.ratio)
        parts.append("### Summary per cell and implementation")
        parts.append(markdown_table(
            ["cell", "impl", "cases", "geometric mean ratio", "min", "max"],
            [[cell_name(c), i, str(len(v)), ratio(geometric_mean(v)), ratio(min(v)),
              ratio(max(v))] for (c, i), v in groups.items()],
            right=(2, 3, 4, 5)))
        parts.append("### Every common case")
        parts.append(markdown_table(
            ["case", "first", "second", "ratio"],
            [[p.old.label, seconds(p.old.median), seconds(p.new.median), ratio(p.ratio)]
             for p in comparison.pairs], right=(1, 2, 3)))
    for title, cases in (("Only in the first file (removed)", comparison.removed),
                         ("Only in the second file (added)", comparison.added)):
        if cases:
            parts.append(f"### {title}")
            parts.append("\n".join(f"- `{c.label}`: {seconds(c.median)}" for c in cases))
    return "\n\n".join(parts) + "\n"


def _warnings(old: BenchResults, new: BenchResults) -> list[str]:
    """What makes the ratios mean something other than "the code got faster or slower"."""
    notes = []
    if old.device_name != new.device_name:
        notes.append(f"different devices ({old.device_name} vs {new.device_name}): the ratios "
                     "compare hardware, not code")
    if old.timer and new.timer and old.timer != new.timer:
        notes.append(f"different timers ({old.timer} vs {new.timer}): process_time counts CPU "
                     "time of this process only, perf_counter wall time, so the ratios mix "
                     "the two")
    if old.threads and new.threads and old.threads != new.threads:
        notes.append(f"different CPU thread counts ({old.threads} vs {new.threads})")
    if old.torch_version != new.torch_version:
        notes.append(f"different torch versions ({old.torch_version} vs {new.torch_version})")
    return [f"**Note:** {note}." for note in notes]


def write(old: BenchResults, new: BenchResults, out: Path, name: str = "compare",
          command: str | None = None) -> Path:
    """Write ``out/NAME.md`` and ``out/NAME.png``; returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    comparison = compare(old, new)
    figure = plot(comparison, out / f"{name}.png")
    path = out / f"{name}.md"
    path.write_text(page(comparison, figure, command), encoding="utf-8")
    return path
