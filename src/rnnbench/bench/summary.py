"""``rnnbench targets FILE``: the speed suite's targets, as measured in a results JSON.

Reads what ``pytest benchmarks --benchmark-json=FILE`` wrote and prints, as markdown:

- every forward+backward shape: native's median time, the best custom implementation and
  its ratio to native (targets: at most 1.3x on CPU for one layer of the seed model at
  T=100, B=64; at most 2x of cuDNN on CUDA for PyTorch's fastrnns shape);
- the growth of each implementation from T=100 to T=800 divided by native's own growth
  (target: at most 1.5);
- the spread (IQR / median) of the cases slower than 1 ms, and the run's wall time.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnbench.files import BadFile, read_json

HELP = "print the speed targets (ratio to native, growth in T, spread) from a results JSON"

#: (device, cell, input, hidden, layers, T, B) -> the most a custom impl may take, x native.
RATIO_TARGETS: dict[tuple[str, str, int, int, int, int, int], float] = {
    **{("cpu", cell, 256, 128, 1, 100, 64): 1.3 for cell in ("lstm", "gru")},
    **{("cuda", cell, 512, 512, 1, 100, 64): 2.0 for cell in ("lstm", "gru")},
}
GROWTH = (100, 800)
GROWTH_TARGET = 1.5
SPREAD_FLOOR_S = 1e-3


@dataclass(frozen=True)
class Result:
    """One case's coordinates and timing statistics (seconds)."""

    info: Mapping[str, Any]
    median: float
    iqr: float

    def __getitem__(self, key: str) -> Any:
        return self.info[key]

    def key(self, *without: str) -> tuple:
        """The case's coordinates without the named ones (e.g. ``impl`` or ``T``)."""
        names = ("cell", "impl", "device", "dtype", "input_size", "hidden_size", "num_layers",
                 "T", "B", "layout", "pass")
        return tuple(self.info.get(name) for name in names if name not in without)


#: ``extra_info`` keys every table reads (text, then integers), and the numbers ``stats`` holds.
TEXT_KEYS = ("shape_key", "case", "cell", "impl", "device", "dtype", "layout", "pass")
INT_KEYS = ("input_size", "hidden_size", "num_layers", "T", "B")
CASE_KEYS = TEXT_KEYS + INT_KEYS
STAT_KEYS = ("median", "iqr")


def load(path: str | Path) -> tuple[list[Result], dict[str, Any]]:
    """The rnnbench cases of a pytest-benchmark JSON file, and the whole document."""
    document = read_json(path, "results file")
    where = f"results file {str(path)!r}"
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise BadFile(f"{where} is not accepted: expected pytest-benchmark JSON, an object "
                      "with a 'benchmarks' list (written by pytest benchmarks "
                      "--benchmark-json=FILE)")
    for key in ("machine_info", "rnnbench"):
        if not isinstance(document.get(key, {}), dict):
            raise BadFile(f"{where} is not accepted: '{key}' is "
                          f"{type(document[key]).__name__}, expected an object")
    results = []
    for index, bench in enumerate(document["benchmarks"]):
        info = bench.get("extra_info") if isinstance(bench, dict) else None
        if not isinstance(info, dict) or "shape_key" not in info:
            continue
        stats = bench.get("stats")
        missing = [k for k in TEXT_KEYS if not isinstance(info.get(k), str)] + [
            k for k in INT_KEYS if not isinstance(info.get(k), int) or isinstance(info[k], bool)
        ] + (
            [f"stats.{k}" for k in STAT_KEYS if not _positive(stats.get(k))]
            if isinstance(stats, dict) else ["stats"])
        if not missing and not stats["median"] > 0:
            missing = ["a positive stats.median"]
        if missing:
            raise BadFile(f"{where} is not accepted: benchmarks[{index}] lacks or has no usable "
                          f"{', '.join(missing)}; regenerate it with pytest benchmarks "
                          "--benchmark-json=FILE")
        results.append(Result(info, float(stats["median"]), float(stats["iqr"])))
    if not results:
        raise BadFile(f"{where} is not accepted: it holds no rnnbench benchmark cases "
                      "(extra_info without shape_key); was it written by this project's "
                      "benchmarks?")
    return results, document


def _positive(value: Any) -> bool:
    """A finite number >= 0 (JSON reading already refused NaN and Infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def ratio_rows(results: Iterable[Result]) -> list[list[str]]:
    """Per forward+backward shape: native, the best custom impl and their ratio."""
    groups: dict[str, list[Result]] = {}
    for result in results:
        if result["pass"] == "fwdbwd":
            groups.setdefault(result["shape_key"], []).append(result)
    rows = []
    for shape, group in groups.items():
        native = [r for r in group if r["impl"] == "native"]
        custom = sorted((r for r in group if r["impl"] != "native"), key=lambda r: r.median)
        if not native or not custom:
            continue
        best, reference = custom[0], native[0]
        r = reference
        limit = RATIO_TARGETS.get((r["device"], r["cell"], r["input_size"], r["hidden_size"],
                                   r["num_layers"], r["T"], r["B"]))
        if r["layout"] != "padded" or r["dtype"] != "f32":
            limit = None
        ratio = best.median / reference.median
        others = ", ".join(f"{c['impl']} {c.median / reference.median:.2f}x" for c in custom)
        rows.append([shape, _ms(reference.median), best["impl"], _ms(best.median),
                     f"{ratio:.2f}x", _verdict(ratio, limit), others])
    return rows


def growth_rows(results: Iterable[Result]) -> list[list[str]]:
    """Per implementation and shape: time(T=800) / time(T=100), divided by native's."""
    by_key = {result.key(): result for result in results}
    rows = []
    for result in by_key.values():
        if result["T"] != GROWTH[0]:
            continue
        longer = by_key.get(_with(result, T=GROWTH[1]))
        native_short = by_key.get(_with(result, impl="native"))
        native_long = by_key.get(_with(result, impl="native", T=GROWTH[1]))
        if not (longer and native_short and native_long):
            continue
        growth = longer.median / result.median
        native_growth = native_long.median / native_short.median
        relative = growth / native_growth
        limit = None if result["impl"] == "native" else GROWTH_TARGET
        shape = result["shape_key"].replace(f"-T{GROWTH[0]}-", "-T*-")
        rows.append([shape, result["impl"], f"{growth:.2f}x", f"{native_growth:.2f}x",
                     f"{relative:.2f}", _verdict(relative, limit)])
    return rows


def spread(results: Iterable[Result]) -> tuple[int, float, float, list[Result]]:
    """Cases over 1 ms: how many, median and max of IQR/median, the five widest."""
    timed = [r for r in results if r.median > SPREAD_FLOOR_S]
    if not timed:
        return 0, float("nan"), float("nan"), []
    ratios = [r.iqr / r.median for r in timed]
    widest = sorted(timed, key=lambda r: r.iqr / r.median, reverse=True)[:5]
    return len(timed), statistics.median(ratios), max(ratios), widest


def render(results: list[Result], document: Mapping[str, Any]) -> str:
    machine = document.get("machine_info") or {}
    run = document.get("rnnbench") or {}
    lines = [f"# Speed targets: {machine.get('device_name', 'unknown device')}, "
             f"torch {machine.get('torch', '?')}, {machine.get('threads', '?')} threads, "
             f"profile {run.get('profile', '?')}", ""]
    lines += ["## Best custom implementation vs native, forward+backward", ""]
    lines += _table(["shape", "native ms", "best", "best ms", "ratio", "target", "all"],
                    ratio_rows(results))
    lines += ["", f"## Growth from T={GROWTH[0]} to T={GROWTH[1]}, relative to native's", ""]
    lines += _table(["shape", "impl", "growth", "native growth", "relative", "target"],
                    growth_rows(results))
    count, middle, widest_ratio, widest = spread(results)
    lines += ["", f"## Spread of the {count} cases over 1 ms (IQR / median)", "",
              f"median {middle:.1%}, max {widest_ratio:.1%}; widest: "
              + ", ".join(f"{r['case']} {r.iqr / r.median:.1%}" for r in widest)]
    if _positive(run.get("wall_s")):
        lines += ["", f"Wall time of the run: {run['wall_s']:.0f} s "
                      f"({len(results)} timed cases)."]
    return "\n".join(lines)


def _with(result: Result, **changes: Any) -> tuple:
    info = {**result.info, **changes}
    return Result(info, 0.0, 0.0).key()


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def _verdict(value: float, limit: float | None) -> str:
    if limit is None:
        return ""
    return f"{'met' if value <= limit else 'MISSED'} (<= {limit})"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(no such cases in this file)"]
    return ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
            *("| " + " | ".join(row) + " |" for row in rows)]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="pytest-benchmark JSON from pytest benchmarks "
                                        "--benchmark-json=FILE")


def run(args: argparse.Namespace) -> int:
    results, document = load(args.results)
    print(render(results, document))
    return 0
