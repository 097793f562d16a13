"""``rnnbench targets FILE``: the speed suite's targets, measured in a results JSON, as markdown:
per forward+backward shape the best custom implementation's ratio to native (at most 1.3x on
CPU for one layer of the seed model at T=100, B=64; 2x of cuDNN for PyTorch's fastrnns shape),
each implementation's growth from T=100 to T=800 relative to native's (at most 1.5), and the
spread (IQR / median) of the cases slower than 1 ms. A figure that rests on a noisy case
(:func:`rnnbench.bench.results.noise`) is shown but not judged.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from rnnbench.bench import results
from rnnbench.bench.grid import ARTICLE_LAYER, FASTRNNS, GRID_CELLS, Case
from rnnbench.bench.results import Result, Run
from rnnbench.markdown import table

HELP = "print the speed targets (ratio to native, growth in T, spread) from a results JSON"

#: shape_key -> the most a custom impl may take, x native (f32, padded, one layer, T=100, B=64).
RATIO_TARGETS: dict[str, float] = {
    Case(cell, "native", device, "f32", 100, 64, model.input_size, model.hidden_size,
         model.num_layers).shape_key: limit
    for cell in GRID_CELLS
    for device, model, limit in (("cpu", ARTICLE_LAYER, 1.3), ("cuda", FASTRNNS, 2.0))
}
GROWTH = (100, 800)
GROWTH_TARGET = 1.5
SPREAD_FLOOR_S = 1e-3
NOT_JUDGED = "noisy: not judged"


def ratio_rows(run: Run) -> list[list[str]]:
    """Per forward+backward shape: native, the best custom impl and their ratio."""
    shapes: dict[str, list[tuple[Result, Result, float]]] = {key: [] for key in run.by_shape()}
    for custom, native, ratio in results.versus_native(run.cases):
        shapes[custom.shape_key].append((custom, native, ratio))
    rows = []
    for shape, ratios in shapes.items():
        if not ratios or ratios[0][1].case.pass_ != "fwdbwd":
            continue
        reference = ratios[0][1]
        best, _, ratio = min(ratios, key=lambda r: r[0].median)
        others = ", ".join(f"{r.impl} {value:.2f}x"
                           for r, _, value in sorted(ratios, key=lambda r: r[0].median))
        noisy = any(run.noise(r) for r in (reference, *(c for c, _, _ in ratios)))
        rows.append([shape, _ms(reference.median), best.impl, _ms(best.median),
                     f"{ratio:.2f}x", _verdict(ratio, RATIO_TARGETS.get(shape), noisy), others])
    return rows


def growth_rows(run: Run) -> list[list[str]]:
    """Per implementation and shape: time(T=800) / time(T=100), divided by native's."""
    by_id = {result.case.id: result for result in run.cases}
    rows = []
    for result in run.cases:
        case, short, long = result.case, *GROWTH
        if short != case.T:
            continue
        longer, native_short, native_long = (by_id.get(replace(case, **change).id) for change in (
            {"T": long}, {"impl": "native"}, {"impl": "native", "T": long}))
        if not (longer and native_short and native_long):
            continue
        growth = longer.median / result.median
        native_growth = native_long.median / native_short.median
        relative = growth / native_growth
        limit = None if case.impl == "native" else GROWTH_TARGET
        shape = case.shape_key.replace(f"-T{GROWTH[0]}-", "-T*-")
        noisy = any(run.noise(r) for r in (result, longer, native_short, native_long))
        rows.append([shape, case.impl, f"{growth:.2f}x", f"{native_growth:.2f}x",
                     f"{relative:.2f}", _verdict(relative, limit, noisy)])
    return rows


def spread(cases: Iterable[Result]) -> tuple[int, float, float, list[Result]]:
    """Cases over 1 ms: how many, median and max of IQR/median, the five widest."""
    timed = [r for r in cases if r.median > SPREAD_FLOOR_S]
    if not timed:
        return 0, float("nan"), float("nan"), []
    ratios = [r.iqr / r.median for r in timed]
    widest = sorted(timed, key=lambda r: r.iqr / r.median, reverse=True)[:5]
    return len(timed), statistics.median(ratios), max(ratios), widest


def render(run: Run) -> str:
    lines = [f"# Speed targets: {run.device_name or 'unknown device'}, "
             f"torch {run.torch_version or '?'}, {run.threads or '?'} threads, "
             f"profile {run.suite.get('profile', '?')}", "",
             "## Best custom implementation vs native, forward+backward", ""]
    lines += _table(["shape", "native ms", "best", "best ms", "ratio", "target", "all"],
                    ratio_rows(run))
    lines += ["", f"## Growth from T={GROWTH[0]} to T={GROWTH[1]}, relative to native's", ""]
    lines += _table(["shape", "impl", "growth", "native growth", "relative", "target"],
                    growth_rows(run))
    count, middle, widest_ratio, widest = spread(run.cases)
    lines += ["", f"## Spread of the {count} cases over 1 ms (IQR / median)", "",
              f"median {middle:.1%}, max {widest_ratio:.1%}; widest: "
              + ", ".join(f"{r.name} {r.iqr / r.median:.1%}" for r in widest)]
    lines += ["", f"## Noisy cases ({NOT_JUDGED})", "", *(noise_lines(
        [(r.name, r.median, r.iqr) for r in run.cases], run.load) or ["none"])]
    wall = run.suite.get("wall_s")
    if isinstance(wall, (int, float)) and not isinstance(wall, bool) and wall >= 0:
        lines += ["", f"Wall time of the run: {wall:.0f} s ({len(run.cases)} timed cases)."]
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def _verdict(value: float, limit: float | None, noisy: bool = False) -> str:
    if limit is None:
        return ""
    if noisy:
        return NOT_JUDGED
    return f"{'met' if value <= limit else 'MISSED'} (<= {limit})"


def noise_lines(timings: Iterable[tuple[str, float, float]],
                load: Mapping[str, Any] | None = None, shown: int = 8) -> list[str]:
    """Which cases are noisy (:func:`rnnbench.bench.results.noise`), one line each (the first
    ``shown``, then how many more) and a last line of what to do; ``[]`` when none is.

    ``timings``: each case's name, median and IQR (seconds); ``load``: the run's
    ``load_average_1m`` entry. The pytest plugin passes pytest-benchmark's statistics, the
    ``targets`` command a results file's.
    """
    timings = list(timings)
    noisy = [(name, why) for name, median, iqr in timings
             if (why := results.noise(median, iqr, load))]
    if not noisy:
        return []
    loaded = results.noise(1.0, 0.0, load)  # the run's load alone, which rules on every case
    lines = ([f"every case: {loaded}"] if loaded
             else [f"{name}: {why}" for name, why in noisy[:shown]])
    if len(noisy) > shown and not loaded:
        lines.append(f"... and {len(noisy) - shown} more")
    return [f"{len(noisy)} of {len(timings)} cases are noisy, so no report, target or gate "
            "judges them:", *(f"  {line}" for line in lines), f"  {results.WHAT_TO_DO}"]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [table(head, rows) if rows else "(no such cases in this file)"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="pytest-benchmark JSON from pytest benchmarks "
                                        "--benchmark-json=FILE")


def run(args: argparse.Namespace) -> int:
    print(render(results.load(args.results)))
    return 0
