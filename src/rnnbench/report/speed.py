"""The speed and memory section of one benchmark results file: figures plus their tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rnnbench.report import plots
from rnnbench.report.analysis import (
    Family,
    find,
    forward_backward,
    native_ratios,
    reference_key,
    reference_shape,
    shape_label,
    sweeps,
)
from rnnbench.report.load import BenchResults, Case
from rnnbench.report.style import IMPL_ORDER, cell_name, sort_key_cell, sort_key_impl
from rnnbench.report.tables import markdown_table, ms, no_data, percent, plain, ratio


def figure_name(results: BenchResults, what: str) -> str:
    return f"{results.path.stem}-{what}.png"


def _figure(path: Path | None, alt: str, missing: str) -> str:
    if path is None:
        return no_data(alt, missing)
    return f"![{alt}]({path.name})"


def _sweep_table(family: Family, lines: dict[tuple[str, str], list[Case]],
                 value: Callable[[Case], float | None], fmt: Callable[[float], str],
                 growth: bool) -> str:
    vary = family.vary
    xs = sorted({getattr(c, vary) for line in lines.values() for c in line})
    rows = []
    for (cell, impl), line in lines.items():
        by_x = {getattr(c, vary): value(c) for c in line}
        row = [cell_name(cell), impl, *[fmt(by_x[x]) if by_x.get(x) is not None else "–"
                                        for x in xs]]
        if growth:
            first, last = by_x.get(xs[0]), by_x.get(xs[-1])
            row.append(ratio(last / first) if first and last else "–")
            native = {getattr(c, vary): value(c) for c in lines.get((cell, "native"), [])}
            if native.get(xs[0]) and native.get(xs[-1]) and first and last:
                row.append(ratio((last / first) / (native[xs[-1]] / native[xs[0]])))
            else:
                row.append("–")
        rows.append(row)
    headers = ["cell", "impl", *[f"{vary}={x}" for x in xs]]
    if growth:
        headers.append(f"growth {vary}={xs[0]}→{xs[-1]} ({xs[-1] / xs[0]:g}×)")
        headers.append("growth / native's growth")
    return markdown_table(headers, rows, right=range(2, len(headers)))


def _time_section(results: BenchResults, out: Path, vary: str) -> str:
    what = {"T": "sequence length", "B": "batch size"}[vary]
    figure = plots.time_vs(results, vary, out / figure_name(results, f"time-vs-{vary}"))
    body = _figure(figure, f"time vs {what}", f"no sweep over {vary} in {results.path.name}")
    parts = [f"### Time vs {what}", body]
    families = sweeps(results.cases, vary)
    if families:
        family, lines = next(iter(families.items()))
        parts.append(f"Median time per call in ms, {family.title}"
                     + (" (other sweeps: figure only)." if len(families) > 1 else "."))
        parts.append(_sweep_table(family, lines, lambda c: c.median, ms, growth=True))
    return "\n\n".join(parts)


def _memory_section(results: BenchResults, out: Path) -> str:
    figure = plots.memory_vs_t(results, out / figure_name(results, "memory-vs-T"))
    parts = ["### Peak memory vs sequence length",
             _figure(figure, "peak memory vs sequence length",
                     f"no case in {results.path.name} records peak_memory_bytes over a sweep "
                     "of T")]
    if figure is not None:
        family, lines = next(
            (f, ls) for f, ls in sweeps(results.cases, "T").items()
            if any(c.peak_memory_bytes is not None for line in ls.values() for c in line))
        sources = sorted({c.peak_memory_source for line in lines.values() for c in line
                          if c.peak_memory_source})
        how = f" Measured by: {'; '.join(sources)}." if sources else ""
        parts.append(f"Peak memory of one pass in MiB, {family.title}.{how}")
        parts.append(_sweep_table(family, lines, lambda c: c.peak_memory_bytes,
                                  lambda v: plain(v / 2**20), growth=True))
    return "\n\n".join(parts)


def _ratio_section(results: BenchResults, out: Path) -> str:
    figure = plots.custom_vs_native(results, out / figure_name(results, "custom-vs-native"))
    parts = ["### Custom implementations vs native",
             _figure(figure, "custom / native time ratio",
                     f"{results.path.name} has no custom case with a native case of the same "
                     "shape")]
    ratios = native_ratios(results.cases)
    if ratios:
        columns = sorted({(r.custom.cell, r.custom.impl) for r in ratios},
                         key=lambda k: (sort_key_cell(k[0]), sort_key_impl(k[1])))
        table: dict[str, dict[tuple[str, str], str]] = {}
        for r in ratios:
            table.setdefault(shape_label(r.custom), {})[(r.custom.cell, r.custom.impl)] = (
                ratio(r.value))
        rows = [[shape, *[cells.get(k, "–") for k in columns]] for shape, cells in table.items()]
        parts.append("Median time of each custom implementation over native's, same cell and "
                     "shape (< 1: faster than native):")
        parts.append(markdown_table(["shape", *[f"{cell_name(c)} {i}" for c, i in columns]],
                                    rows, right=range(1, 1 + len(columns))))
    return "\n\n".join(parts)


def _split_section(results: BenchResults, out: Path) -> str:
    figure = plots.forward_backward_share(results, out / figure_name(results, "fwd-bwd"))
    parts = ["### Forward vs backward",
             _figure(figure, "forward vs backward time",
                     f"{results.path.name} has no shape measured both forward-only and "
                     "forward+backward")]
    splits = forward_backward(results.cases)
    if splits:
        cells = sorted({s.both.cell for s in splits}, key=sort_key_cell)
        table: dict[str, dict[str, list]] = {}
        for s in splits:
            table.setdefault(shape_label(s.forward, with_pass=False), {}).setdefault(
                s.both.cell, []).append(s)
        rows = [[shape, *[_shares(by_cell.get(cell, [])) for cell in cells]]
                for shape, by_cell in table.items()]
        parts.append("Backward's share of forward+backward time, backward estimated as "
                     "(forward+backward) − forward medians; native first, then the range over "
                     "the custom implementations. The forward-only cases run without autograd "
                     "(inference), so the estimate slightly overstates backward:")
        parts.append(markdown_table(["shape", *map(cell_name, cells)], rows,
                                    right=range(1, 1 + len(cells))))
    return "\n\n".join(parts)


def _shares(splits: list) -> str:
    native = [s.backward_share for s in splits if s.both.impl == "native"]
    custom = [s.backward_share for s in splits if s.both.impl != "native"]
    text = percent(native[0], 0) if native else "–"
    if custom:
        low, high = percent(min(custom), 0), percent(max(custom), 0)
        text += f" ({low}–{high})" if low != high else f" ({low})"
    return text


def title(results: BenchResults) -> str:
    return f"Speed and memory: {results.device_name} ({results.path.name})"


def section(results: BenchResults, out: Path) -> str:
    """The README section for one benchmark file; writes its figures into ``out``."""
    head = [f"## {title(results)}",
            _summary(results)]
    if not results.cases:
        head.append(no_data("speed and memory",
                            f"{results.path.name} holds no benchmark case with rnnbench's "
                            "extra_info (cell, impl, T, B, pass)"))
        return "\n\n".join(head)
    return "\n\n".join([*head, _time_section(results, out, "T"),
                        _time_section(results, out, "B"), _ratio_section(results, out),
                        _split_section(results, out), _memory_section(results, out)])


def _summary(results: BenchResults) -> str:
    cells = sorted({c.cell for c in results.cases}, key=sort_key_cell)
    impls = sorted({c.impl for c in results.cases}, key=sort_key_impl)
    missing = [i for i in IMPL_ORDER if i not in impls]
    timer = {"perf_counter": "wall-clock time (perf_counter)",
             "process_time": "process CPU time (process_time)"}.get(results.timer or "",
                                                                    results.timer)
    threads = f", {results.threads} CPU thread{'s' * (results.threads != 1)}" if (
        results.threads) else ""
    line = (f"{len(results.cases)} cases measured {results.date}"
            f"{f' as {timer}' if timer else ''}{threads} with torch "
            f"{results.torch_version}, dtype {', '.join(results.dtypes) or '–'}, device "
            f"{', '.join(results.devices) or '–'}; cells {', '.join(map(cell_name, cells)) or '–'}"
            f"; implementations {', '.join(impls) or '–'}.")
    if missing and results.cases:
        line += f" Not measured in this file: {', '.join(missing)}."
    if results.skipped:
        line += (f" {len(results.skipped)} benchmark(s) without rnnbench's extra_info are left "
                 "out of this section.")
    reference = reference_shape(results.cases)
    if reference is not None:
        sample = next(c for c in results.cases if reference_key(c) == reference)
        n = len(find(results.cases, device=sample.device, dtype=sample.dtype,
                     input_size=sample.input_size, hidden_size=sample.hidden_size,
                     num_layers=sample.num_layers, layout=sample.layout, T=sample.T,
                     B=sample.B))
        line += (f" Reference shape (padded, nearest to T=100 and B=64; {n} cases): "
                 f"{shape_label(sample, with_pass=False)}.")
    return line
