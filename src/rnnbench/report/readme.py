"""The pages: ``README.md`` from every results file, and the comparison of two benchmark files.

The output depends on the inputs only (no clock, no host name, PNGs without a timestamp), so
rerunning on the same files rewrites the same page.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from rnnbench.bench.grid import Case
from rnnbench.bench.results import SPREAD_LIMIT, WHAT_TO_DO, Result, Run
from rnnbench.model.cells import BASELINE
from rnnbench.report import article, guide, plots
from rnnbench.report.load import Convergence, Inputs
from rnnbench.report.tables import (
    ABLATION_SHAPE,
    NOISY,
    ablation_cells,
    ablation_table,
    claims_table,
    label,
    ms,
    native_ratios,
    never_noisy,
    noisy_or_reference,
    order,
    plain,
    ratio,
    ratio_table,
    shape_order,
    sweep_table,
    sweeps,
    synthetic_table,
    table,
    task_name,
    versus_baseline,
)

DEFAULT_DIR = Path("reports")
README = "README.md"
#: The sweeps each benchmark file is drawn and tabulated by: (swept variable, heading,
#: figure name, quantity, its value in that unit, whether it is a time: noise touches times,
#: not the memory a pass allocates).
SWEEPS: tuple[tuple[str, str, str, str, Callable[[Result], float | None], bool], ...] = (
    ("T", "Time vs sequence length", "time-vs-T", "median time per call (ms)",
     lambda r: r.median * 1e3, True),
    ("B", "Time vs batch size", "time-vs-B", "median time per call (ms)",
     lambda r: r.median * 1e3, True),
    ("T", "Peak memory vs sequence length", "memory-vs-T", "peak memory of one pass (MiB)",
     lambda r: None if r.peak_memory_bytes is None else r.peak_memory_bytes / 2**20, False),
)


def default_inputs(root: Path = DEFAULT_DIR) -> list[Path]:
    """``reports/*.json`` then ``reports/convergence/*.json``, sorted."""
    return sorted(root.glob("*.json")) + sorted((root / "convergence").glob("*.json"))


def anchor(heading: str) -> str:
    """The link target GitHub gives a heading: lower case, punctuation dropped, spaces to -."""
    return "#" + "".join(c for c in heading.lower() if c.isalnum() or c in " -_").replace(" ", "-")


def figures(text: str) -> list[str]:
    """The image files a page links, in order."""
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)


def _image(path: Path | None, alt: str, why: str) -> str:
    return f"![{alt}]({path.name})" if path else f"_No data for {alt}: {why}._"


def speed_title(run: Run) -> str:
    return f"Speed and memory: {run.device_name} ({Path(run.path).name})"


def speed_section(run: Run, out: Path) -> str:
    """One benchmark file: time vs T and B, custom/native ratios, peak memory vs T."""
    cells = sorted({r.case.cell for r in run.cases}, key=order)
    impls = sorted({r.case.impl for r in run.cases}, key=lambda i: order("", i))
    parts = [f"## {speed_title(run)}",
             f"{len(run.cases)} cases measured {run.date} with torch {run.torch_version}, "
             f"{run.threads or '?'} CPU threads; cells {', '.join(map(label, cells)) or '–'}; "
             f"implementations {', '.join(impls) or '–'}; benchmarks left out (no rnnbench "
             f"extra_info): {len(run.skipped)}.", noise_note(run)]
    stem = out / Path(run.path).stem
    for vary, heading, suffix, unit, value, timed in SWEEPS:
        figure = plots.sweep(run, vary, Path(f"{stem}-{suffix}.png"), heading, unit, value,
                             band=timed, noisy=run.noise if timed else never_noisy)
        parts += [f"### {heading}", _image(figure, heading.lower(), f"no sweep over {vary} "
                                           f"records {unit.split(' (')[0]}")]
        if figure:
            sweep = next(s for s in sweeps(run.cases, vary)
                         if any(value(r) is not None for line in s[1].values() for r in line))
            parts += [f"{unit[0].upper()}{unit[1:]}, {sweep[0]}.",
                      sweep_table(sweep, vary, value, plain,
                                  run.noise if timed else never_noisy)]
    ratios = native_ratios(run.cases)
    figure = plots.ratio_dots(
        [(r.case, v) for r, v in sorted(ratios, key=lambda p: shape_order(p[0].case))],
        Path(f"{stem}-custom-vs-native.png"), "Custom implementations relative to native",
        "custom median time / native median time (×; < 1: faster than native)",
        plots.footer(run)) if ratios else None
    parts += ["### Custom implementations vs native",
              _image(figure, "custom / native time ratio", "no custom case has a native case "
                     "of the same cell and shape")]
    if ratios:
        parts += ["Median time of each custom implementation over native's, same cell and "
                  "shape (< 1: faster than native).", ratio_table(ratios, noisy_or_reference(run))]
    return "\n\n".join(parts)


def noise_note(run: Run) -> str:
    """How many of a file's cases are noisy, and how the page treats them."""
    noisy = run.noisy()
    rule = (f"IQR over {SPREAD_LIMIT:.0%} of the median, or other work loading the machine "
            "during the run")
    if not noisy:
        return f"No case is noisy ({rule})."
    return (f"{len(noisy)} of {len(run.cases)} cases are noisy ({rule}): their times are marked "
            f"`{NOISY.strip()}` and rank nothing; to judge them, {WHAT_TO_DO}.")


def convergence_section(conv: Convergence, out: Path) -> str:
    """One convergence file: settings, learning curves, the task's table."""
    shown = {k: f"{v:g}" if isinstance(v, float) else v
             for k, v in {**conv.settings, **conv.data}.items()
             if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    env = conv.environment
    parts = [f"### {task_name(conv)} (`{conv.path.name}`)",
             f"Settings: {', '.join(f'{k}={v}' for k, v in shown.items()) or 'not recorded'}. "
             f"Measured on {conv.device_name} ({env.get('device', '?')}, "
             f"threads={env.get('threads', '?')}), torch {env.get('torch', '?')}, {conv.date}."]
    if not conv.runs:
        return "\n\n".join([*parts, "_No runs yet._"])
    figure = plots.curves(conv, out / f"{conv.path.stem}-curves.png")
    parts.append(_image(figure, "learning curves", "no run has a finished epoch"))
    if conv.task == "imdb":
        parts += [article.imdb_table(conv),
                  "Mean ± sample standard deviation over the seeds that finished (none shown "
                  "for one seed); a run still going is left out of them, and shown as running "
                  "under seeds, unless none of its cell's runs has finished. "
                  "Accuracies in %, their spread in points. Best val acc: the highest "
                  "validation accuracy over the epochs run; test accuracy is read at that epoch "
                  "only. Converged at: the first epoch within 0.5 points of the run's best. The "
                  f"article trained {article.IMDB_EPOCHS} epochs on a device it does not name.",
                  "\n".join(article.imdb_pairs(conv))]
    else:
        parts += [synthetic_table(conv), "Final held-out loss and accuracy, s/epoch: mean ± "
                  "sample standard deviation over the seeds that finished (over the runs still "
                  "going where none has)."]
    diverged = [f"{label(t.cell)} seed {t.seed} in epoch {t.diverged_epoch or '?'}"
                for t in conv.runs if t.status == "diverged"]
    if diverged:
        parts.append(f"Diverged (stopped; its finite epochs are shown): {', '.join(diverged)}.")
    return "\n\n".join(p for p in parts if p)


LITERATURE = (
    "The literature, to set beside the rows: Greff et al. 2017 (LSTM: A Search Space Odyssey) "
    "found the forget gate and the output activation the parts that matter most, and coupling "
    "the input and forget gates (CIFG) or dropping the peepholes cheap; Zhou et al. 2016 found "
    "one gate (MGU) enough on their tasks; Feng et al. 2024 (Were RNNs All We Needed?) found "
    "minGRU and minLSTM, gated by the input alone and trained with a parallel scan, "
    "competitive with LSTM and GRU.")


def ablation_section(inputs: Inputs, out: Path) -> str:
    """One row per cell: what its gates cost (parameters, time) and buy (the tasks)."""
    found = ablation_table(inputs.bench, inputs.convergence)
    if not found:
        return "## Gating ablation\n\n_No cell has a time at the ablation shape or a training run._"
    sources = sorted({file for _, _, file in versus_baseline(inputs.bench).values()})
    claims = claims_table(inputs.convergence)
    figure = plots.ablation(inputs.convergence, ablation_cells(inputs.bench, inputs.convergence),
                            out / "gating-ablation.png")
    return "\n\n".join([
        "## Gating ablation",
        "What each cell's gates cost and buy, one row per cell (one direction). Parameters: "
        "`rnnbench.params`, one layer. Time: the median of the cell's fastest implementation "
        f"over native {label(BASELINE)}'s at {ABLATION_SHAPE}, both from the same benchmark "
        "file. Solved: "
        "seeds solved of the seeds finished (a run still going counts once it solves); median "
        "steps to solve over the solved seeds. IMDB: best validation accuracy, mean over seeds. "
        "–: not measured, or measured only by noisy cases.",
        found,
        f"Times from: {', '.join(f'`{s}`' for s in sources) or 'no benchmark file'}.",
        LITERATURE,
        *(["Each finding beside this data: seeds solved (variant vs reference) per synthetic "
           "task, the difference in mean best validation accuracy on IMDB (points; the seed "
           "spread is in the IMDB section), and whether the variant solved at least the "
           "reference's share of seeds on every task the reference solves.", claims]
          if claims else []),
        _image(figure, "gating ablation", "no training run"),
    ])


def generate(inputs: Inputs, out: Path, command: str = "rnnbench report",
             dashboard: str | None = None) -> Path:
    """Write ``out/README.md`` and the PNGs it links; returns the README's path. ``dashboard``:
    the page of ``rnnbench dashboard`` to link, relative to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    speed = [speed_section(run, out) if run.cases else
             f"## {speed_title(run)}\n\n_No data: {run.path} holds no benchmark case with "
             "rnnbench's extra_info._" for run in inputs.bench]
    headings = ["Selection guide", "Parameters", *map(speed_title, inputs.bench),
                "Gating ablation", "Convergence", "Inputs"]
    files = [f"- `{r.path}`: benchmark results, {len(r.cases)} cases, "
             f"{r.device_name}, torch {r.torch_version}, {r.date}" for r in inputs.bench]
    files += [f"- `{c.path.as_posix()}`: convergence results, {len(c.runs)} runs ({c.task}), "
              f"{c.device_name}, {c.date}" for c in inputs.convergence]
    files += [f"- `{path}`: not a results file, ignored" for path in inputs.ignored]
    body = [
        "# rnnbench report",
        f"Generated by `{command}` from the files under [Inputs](#inputs); `{command} --check` "
        "tells whether this page is current. Every number is computed from those files and "
        "`rnnbench.params`, except the article's own figures.",
        "\n".join(f"- [{h}]({anchor(h)})" for h in headings),
        *([f"Results over commits, per machine, with the commits where a case moved: "
           f"[the dashboard]({dashboard}) (build it with `rnnbench dashboard`, then open the file "
           "in a browser, no server needed)."] if dashboard else []),
        guide.section(inputs.bench, inputs.convergence),
        article.section(),
        *(speed or ["_No benchmark results: run `mkdir -p runs && pytest benchmarks "
                    "--benchmark-json=runs/cpu-quick.json`, then `rnnbench report "
                    "runs/cpu-quick.json --out runs/my-report`._"]),
        ablation_section(inputs, out),
        "## Convergence",
        *([convergence_section(c, out) for c in inputs.convergence] or [
            "_No convergence results: run `rnnbench converge ... --out runs/TASK.json`, then "
            "`rnnbench report runs/TASK.json --out runs/my-report`._"]),
        "## Inputs",
        "\n".join(files) or "_No result files were given._",
    ]
    path = out / README
    path.write_text("\n\n".join(body).rstrip() + "\n", encoding="utf-8")
    return path


def case_id(case: Case) -> str:
    """A case's id without its device, so CPU and GPU runs of one case match."""
    layout = "" if case.layout == "padded" else f"-{case.layout}"
    return (f"{case.cell}-{case.impl}-{case.dtype}-I{case.input_size}-H{case.hidden_size}-"
            f"L{case.num_layers}-T{case.T}-B{case.B}-{case.pass_}{layout}")


def _by_id(run: Run) -> dict[str, Result]:
    found: dict[str, Result] = {}
    for r in sorted(run.cases, key=lambda r: (order(r.case.cell, r.case.impl),
                                              shape_order(r.case))):
        key = case_id(r.case)
        if key in found:
            raise ValueError(f"results file {str(run.path)!r} has two cases {key!r} (one per "
                             "device?): expected one device per file")
        found[key] = r
    return found


def compare(old: Run, new: Run, out: Path, name: str = "compare",
            command: str | None = None) -> Path:
    """Write ``out/NAME.md`` (and ``NAME.png``): the second file's medians over the first's."""
    by_first, by_second = _by_id(old), _by_id(new)
    first = {k: r.median for k, r in by_first.items()}
    second = {k: r.median for k, r in by_second.items()}
    common = [k for k in first if k in second]
    noisy = {k for k in common if old.noise(by_first[k]) or new.noise(by_second[k])}
    cases = {case_id(r.case): r.case for r in old.cases}
    parts = [f"# Comparison: `{old.path}` → `{new.path}`",
             *([f"Generated by `{command}`."] if command else []),
             table(["", "first", "second"], [
                 ["file", f"`{old.path}`", f"`{new.path}`"],
                 ["device", old.device_name, new.device_name],
                 ["torch", old.torch_version, new.torch_version],
                 ["CPU threads", old.threads or "?", new.threads or "?"],
                 ["date", old.date, new.date], ["cases", len(old.cases), len(new.cases)]]),
             f"{len(common)} cases in both files, {len(first) - len(common)} only in the first, "
             f"{len(second) - len(common)} only in the second. Ratio: second / first median "
             "time (< 1: the second is faster). Ratios across devices, torch versions or "
             "thread counts compare machines, not code.",
             f"{len(noisy)} common cases are noisy in either file (IQR over "
             f"{SPREAD_LIMIT:.0%} of the median, or a loaded machine): marked `{NOISY.strip()}`, "
             f"left out of the summary; to judge them, {WHAT_TO_DO}." if noisy else
             "No common case is noisy in either file."]
    if common:
        out.mkdir(parents=True, exist_ok=True)
        figure = plots.ratio_dots(
            [(cases[k], second[k] / first[k]) for k in sorted(
                common, key=lambda k: shape_order(cases[k]))], out / f"{name}.png",
            "Second results file relative to the first",
            f"median time {new.path} / {old.path} (×)",
            f"first: {plots.footer(old)}\nsecond: {plots.footer(new)}")
        groups: dict[tuple[str, str], list[float]] = defaultdict(list)
        for k in common:
            if k not in noisy:
                groups[(cases[k].cell, cases[k].impl)].append(second[k] / first[k])
        parts += [f"![ratio per case]({figure.name})", "### Summary per cell and implementation",
                  table(["cell", "impl", "cases", "geometric mean ratio", "min", "max"],
                        [[label(c), i, len(v), ratio(math.exp(statistics.fmean(map(math.log, v)))),
                          ratio(min(v)), ratio(max(v))] for (c, i), v in groups.items()],
                        right=(2, 3, 4, 5)),
                  "### Every common case",
                  table(["case", "first (ms)", "second (ms)", "ratio"],
                        [[k, ms(first[k]), ms(second[k]),
                          ratio(second[k] / first[k]) + NOISY * (k in noisy)]
                         for k in common], right=(1, 2, 3))]
    for title, only, medians in (("Only in the first file (removed)", first.keys() - second,
                                  first), ("Only in the second file (added)",
                                           second.keys() - first, second)):
        if only:
            parts += [f"### {title}", "\n".join(f"- `{k}`: {ms(medians[k])} ms"
                                                for k in medians if k in only)]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.md"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path
