"""Markdown tables from the measurements, the number formats they share, and the queries
behind them (sweeps over T or B, custom/native ratios, mean and spread over seeds, the
gating ablation's one row per cell).

Plots and the guide ask the same queries, so a number in a figure is the one in its table.
A time that rests on a noisy case (:meth:`rnnbench.bench.results.Run.noise`) is shown marked
:data:`NOISY` and never ranked.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rnnbench.bench.grid import Case
from rnnbench.bench.results import Result, Run, versus_native
from rnnbench.files import number
from rnnbench.markdown import table
from rnnbench.model import cells
from rnnbench.model.build import IMPL_NAMES
from rnnbench.model.params import RecurrentConfig, count_parameters
from rnnbench.report.load import Convergence, Training

PASSES = {"fwdbwd": "forward+backward", "fwd": "forward"}
#: What follows a time that rests on a noisy case.
NOISY = " (noisy)"
#: Where a ranking would rest on a noisy case.
NOT_RANKED = "not ranked (noisy)"
Noisy = Callable[[Result], object]  # truthy: the result's timing is noisy


def never_noisy(result: Result) -> bool:
    """The default :data:`Noisy` predicate, for values that noise does not touch (memory)."""
    return False


def noisy_or_reference(run: Run) -> Noisy:
    """Whether a result of ``run``, or the native case it is set beside, is noisy."""
    def noisy(result: Result) -> bool:
        reference = run.reference_for(result)
        return bool(run.noise(result) or (reference and run.noise(reference)))
    return noisy
#: The curve each convergence task is judged by.
PRIMARY = {"imdb": "val_accuracy", "adding": "eval_loss", "copy": "eval_accuracy"}


def _known(cell: str) -> bool:
    return cell in cells.names()


def label(cell: str) -> str:
    """The registry's label (``bilstm`` -> ``BiLSTM``); an unregistered name as it is."""
    return cells.label(cell) if _known(cell) else cell


def colour(cell: str) -> str:
    return cells.colour(cell) if _known(cell) else "#7f7f7f"


def order(cell: str, impl: str = "") -> tuple:
    """Sort key: cells in registry order, each before its bidirectional twin, then
    implementations in the registry's order (:data:`rnnbench.model.build.IMPL_NAMES`)."""
    spec, directions = cells.parse(cell) if _known(cell) else (None, 0)
    rank = list(cells.CELLS).index(spec.name) if spec else len(cells.CELLS)
    known = impl in IMPL_NAMES
    return (rank, directions, cell, IMPL_NAMES.index(impl) if known else len(IMPL_NAMES), impl)


def plain(value: float) -> str:
    """About three significant digits, never an exponent: 0.000123, 0.123, 12.3, 1,234."""
    size = abs(value)
    if size >= 100 or value == 0:
        return f"{value:,.0f}"
    if size >= 1:
        return f"{value:.{1 if size >= 10 else 2}f}"
    return f"{value:.{min(7, 2 - math.floor(math.log10(size)))}f}"


def count(value: float) -> str:
    return f"{value:,.0f}"


def ms(seconds: float) -> str:
    return plain(seconds * 1e3)


def ratio(value: float) -> str:
    return f"{value:.2f}×"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def mib(value: float) -> str:
    return plain(value / 2**20)


def points(value: float) -> str:
    """A difference of fractions in percentage points: ``0.0071`` -> ``0.7``."""
    return f"{value * 100:.1f}"


def spread(values: Sequence[float], fmt: Callable[[float], str] = plain,
           std: Callable[[float], str] = plain) -> str:
    """``mean ± sample std`` over seeds; one value alone shows no spread, none shows ``–``."""
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return fmt(mean) if len(values) == 1 else f"{fmt(mean)} ± {std(statistics.stdev(values))}"


def shape_label(case: Case, with_pass: bool = True) -> str:
    """A case's shape in a few characters, e.g. ``T100 B64 I256 H128 L1 fwd+bwd``."""
    parts = [f"T{case.T}", f"B{case.B}", f"I{case.input_size}", f"H{case.hidden_size}",
             f"L{case.num_layers}"]
    if with_pass:
        parts.append({"fwdbwd": "fwd+bwd"}.get(case.pass_, case.pass_))
    parts += [x for x in (case.layout, case.dtype, case.device) if x not in (
        "padded", "f32", "cpu")]
    return " ".join(parts)


def shape_order(case: Case) -> tuple:
    """Training step before inference, padded before packed, then by size."""
    return (case.device, case.dtype, case.pass_ != "fwdbwd", case.layout != "padded",
            case.input_size, case.hidden_size, case.num_layers, case.T, case.B)


def by_shape(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Results grouped by :func:`shape_label`, in :func:`shape_order`."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in sorted(results, key=lambda r: (shape_order(r.case), order(r.case.cell,
                                                                         r.case.impl))):
        groups[shape_label(r.case)].append(r)
    return dict(groups)


SweepLines = tuple[str, dict[tuple[str, str], list[Result]]]


def sweeps(results: Iterable[Result], vary: str) -> list[SweepLines]:
    """Families of results that differ only in ``vary`` (``T`` or ``B``), cell and impl,
    with at least two values of ``vary``: ``(title, {(cell, impl): results by vary})``,
    training step and padded first, then the most points."""
    other = {"T": "B", "B": "T"}[vary]
    groups: dict[tuple, dict[tuple[str, str], list[Result]]] = defaultdict(
        lambda: defaultdict(list))
    for r in results:
        c = r.case
        key = (*shape_order(c)[:7], getattr(c, other), c.pass_, c.layout)
        groups[key][(c.cell, c.impl)].append(r)
    found = []
    for key, lines in groups.items():
        xs = {getattr(r.case, vary) for line in lines.values() for r in line}
        if len(xs) >= 2:
            points = sum(map(len, lines.values()))
            c = next(iter(lines.values()))[0].case
            layout = "" if c.layout == "padded" else f", {c.layout}"
            title = (f"I={c.input_size} H={c.hidden_size} L={c.num_layers} {other}="
                     f"{getattr(c, other)}, {PASSES.get(c.pass_, c.pass_)}{layout}")
            found.append(((key[2], key[3], -points, key), title, {
                k: sorted(lines[k], key=lambda r: getattr(r.case, vary))
                for k in sorted(lines, key=lambda k: order(*k))}))
    return [(title, lines) for _, title, lines in sorted(found, key=lambda f: f[0])]


def sweep_table(sweep: SweepLines, vary: str, value: Callable[[Result], float | None],
                fmt: Callable[[float], str], noisy: Noisy = never_noisy) -> str:
    """One row per cell and impl, one column per value of ``vary``, and the growth (none
    where an end is ``noisy``)."""
    _, lines = sweep
    xs = sorted({getattr(r.case, vary) for line in lines.values() for r in line})
    rows = []
    for (cell, impl), line in lines.items():
        at = {getattr(r.case, vary): value(r) for r in line}
        rough = {getattr(r.case, vary) for r in line if noisy(r)}
        first, last = at.get(xs[0]), at.get(xs[-1])
        growth = ratio(last / first) if first and last else "–"
        rows.append([label(cell), impl, *(fmt(at[x]) + NOISY * (x in rough)
                                          if at.get(x) is not None else "–" for x in xs),
                     "noisy" if {xs[0], xs[-1]} & rough and growth != "–" else growth])
    headers = ["cell", "impl", *(f"{vary}={x}" for x in xs),
               f"growth {vary}={xs[0]}→{xs[-1]}"]
    return table(headers, rows, right=range(2, len(headers)))


def native_ratios(results: Iterable[Result]) -> list[tuple[Result, float]]:
    """Every custom result with its median over native's, same cell and shape."""
    return [(custom, ratio) for custom, _, ratio in versus_native(results)]


def ratio_table(ratios: list[tuple[Result, float]], noisy: Noisy = never_noisy) -> str:
    """Shapes down, ``cell impl`` across, custom/native time ratio in the cells (``noisy``:
    whether a ratio rests on a noisy case)."""
    columns = sorted({(r.case.cell, r.case.impl) for r, _ in ratios}, key=lambda k: order(*k))
    rows: dict[str, dict[tuple[str, str], str]] = {}
    for r, value in sorted(ratios, key=lambda p: shape_order(p[0].case)):
        rows.setdefault(shape_label(r.case), {})[(r.case.cell, r.case.impl)] = (
            ratio(value) + NOISY * bool(noisy(r)))
    return table(["shape", *(f"{label(c)} {i}" for c, i in columns)],
                 [[shape, *(cells.get(k, "–") for k in columns)] for shape, cells in rows.items()],
                 right=range(1, len(columns) + 1))


def best_table(results: Iterable[Result], value: Callable[[Result], float | None],
               fmt: Callable[[float], str], noisy: Noisy = never_noisy) -> str | None:
    """Per shape, the implementation of each cell with the least ``value``, and the winner.
    A cell with a ``noisy`` result at a shape is not ranked there, nor is that shape."""
    shapes = {}
    for shape, group in by_shape(results).items():
        group = [r for r in group if value(r) is not None]
        if group:
            best: dict[str, Result | None] = {}
            for r in group:
                if noisy(r) or best.get(r.case.cell, r) is None:
                    best[r.case.cell] = None
                elif r.case.cell not in best or value(r) < value(best[r.case.cell]):
                    best[r.case.cell] = r
            shapes[shape] = best
    if not shapes:
        return None
    cells = sorted({cell for best in shapes.values() for cell in best}, key=order)
    rows = []
    for shape, best in shapes.items():
        ranked = [r for r in best.values() if r is not None]
        win = min(ranked, key=value) if len(ranked) == len(best) else None
        rows.append([shape, *((f"{r.case.impl} {fmt(value(r))}" if (r := best[c]) else "noisy")
                              if c in best else "–" for c in cells),
                     f"{label(win.case.cell)} {win.case.impl}" if win else NOT_RANKED])
    return table(["shape", *map(label, cells), "least"], rows, right=range(1, len(cells) + 1))


def values(runs: Iterable[Training], key: str) -> list[float]:
    """``summary[key]`` of every run that holds a number there."""
    return [float(t.summary[key]) for t in runs if number(t.summary.get(key))]


def epochs_run(runs: Sequence[Training]) -> str:
    """Epochs run over epochs asked, e.g. ``3 / 20`` or ``3–5 / 20`` across seeds."""
    done = sorted({len(t.epochs) for t in runs})
    asked = max((t.epochs_requested for t in runs if t.epochs_requested), default=None)
    text = f"{done[0]}–{done[-1]}" if len(done) > 1 else str(done[0])
    return f"{text} / {asked}" if asked else text


def synthetic_table(conv: Convergence) -> str:
    """The adding and copy tasks: seeds solved, steps to solve, final held-out metrics."""
    rows = []
    for cell in sorted({t.cell for t in conv.runs}, key=order):
        runs, counted = [t for t in conv.runs if t.cell == cell], conv.counted(cell)
        solved = [t for t in runs if t.summary.get("solved")]
        params = [t.params for t in runs if t.params]
        rows.append([label(cell), count(params[0]) if params else "–",
                     f"{len(solved)} of {len(runs)}",
                     spread(values(solved, "steps_to_solve"), count),
                     spread(values(counted, "final_loss")),
                     spread(values(counted, "final_accuracy"), percent, points),
                     spread(values(counted, "seconds_per_epoch")), epochs_run(runs)])
    return table(["cell", "params", "seeds solved", "steps to solve (solved seeds)",
                  "final held-out loss", "final held-out accuracy", "s/epoch",
                  "epochs run / asked"], rows, right=range(1, 8))


#: The shape the gating ablation times every cell at, and the layer its parameters count.
ABLATION_SHAPE = "T100 B64 I256 H128 L1 fwd+bwd"
ABLATION_INPUT, ABLATION_HIDDEN = 256, 128


def versus_baseline(runs: Sequence[Run]) -> dict[str, tuple[float, str, str]]:
    """Per cell at :data:`ABLATION_SHAPE`: its fastest implementation's median over native
    LSTM's in the same file, that implementation and the file. A cell in several files takes
    the file that times the most cells at that shape (one machine for as many rows as can be).
    A file's noisy cases rank nothing: a cell with one there is left out of that file, and all
    its cells are when native LSTM's case is noisy."""
    found: list[tuple[int, dict[str, tuple[float, str, str]]]] = []
    for run in runs:
        at = [r for r in run.cases if shape_label(r.case) == ABLATION_SHAPE]
        rough = {r.case.cell for r in at if run.noise(r)}
        at = [r for r in at if r.case.cell not in rough]
        lstm = [r.median for r in at if (r.case.cell, r.case.impl) == (cells.BASELINE, "native")]
        if not lstm:
            continue
        best: dict[str, Result] = {}
        for r in at:
            if r.case.cell not in best or r.median < best[r.case.cell].median:
                best[r.case.cell] = r
        found.append((len(best), {c: (r.median / lstm[0], r.case.impl, Path(run.path).name)
                                  for c, r in best.items()}))
    ratios: dict[str, tuple[float, str, str]] = {}
    for _, by_cell in sorted(found, key=lambda f: -f[0]):
        for cell, value in by_cell.items():
            ratios.setdefault(cell, value)
    return ratios


def task_name(conv: Convergence) -> str:
    """``adding T=100``, ``imdb (4,000 reviews)``: the task and what sets its size."""
    length, limit = conv.settings.get("seq_len"), conv.settings.get("limit")
    if conv.task == "imdb":
        return f"imdb ({count(limit)} reviews)" if number(limit) else "imdb"
    return conv.task if length is None else f"{conv.task} T={length}"


def by_task(convergence: Sequence[Convergence]) -> list[Convergence]:
    """The files with runs, by task and then sequence length (adding T=100 before T=200)."""
    return sorted((c for c in convergence if c.runs),
                  key=lambda c: (c.task, c.settings.get("seq_len") or 0, c.path.name))


def seeds_solved(runs: Sequence[Training]) -> tuple[int, int]:
    """Seeds solved, of the seeds that finished or solved (a solve is final)."""
    done = [t for t in runs if t.status != "running" or t.summary.get("solved")]
    return sum(bool(t.summary.get("solved")) for t in done), len(done)


def solved(runs: Sequence[Training]) -> tuple[str, str]:
    """``solved / seeds`` (:func:`seeds_solved`) and the median steps to solve over the
    solved ones; ``–`` where there are none."""
    won, done = seeds_solved(runs)
    steps = values([t for t in runs if t.summary.get("solved")], "steps_to_solve")
    return (f"{won} / {done}" if done else "–",
            count(statistics.median(steps)) if steps else "–")


def ablation_cells(runs: Sequence[Run], convergence: Sequence[Convergence]) -> list[str]:
    """The registered one-direction cells with a time ratio or a training run."""
    have = set(versus_baseline(runs)) | {t.cell for c in convergence for t in c.runs}
    return [c for c in cells.names((1,)) if c in have]


def ablation_table(runs: Sequence[Run], convergence: Sequence[Convergence]) -> str | None:
    """One row per cell: parameters, time over native LSTM, each synthetic task's seeds
    solved and median steps to solve, each IMDB file's best validation accuracy (mean over
    seeds)."""
    rows_for = ablation_cells(runs, convergence)
    if not rows_for:
        return None
    ratios = versus_baseline(runs)
    synthetic = [c for c in by_task(convergence) if c.task != "imdb"]
    imdb = [c for c in by_task(convergence) if c.task == "imdb"]
    headers = ["cell", f"params (I={ABLATION_INPUT}, H={ABLATION_HIDDEN})",
               f"time / native {label(cells.BASELINE)}", "fastest impl"]
    for conv in synthetic:
        headers += [f"{task_name(conv)}: solved", f"{task_name(conv)}: median steps"]
    headers += [f"{task_name(conv)}: best val acc" for conv in imdb]
    rows = []
    for cell in rows_for:
        timed = ratios.get(cell)
        row = [label(cell), count(count_parameters(RecurrentConfig(
            cell, ABLATION_INPUT, ABLATION_HIDDEN))),
            ratio(timed[0]) if timed else "–", timed[1] if timed else "–"]
        for conv in synthetic:
            row += solved([t for t in conv.runs if t.cell == cell])
        for conv in imdb:
            accuracy = values(conv.counted(cell), "best_val_accuracy")
            row.append(percent(statistics.fmean(accuracy)) if accuracy else "–")
        rows.append(row)
    return table(headers, rows, right=[i for i in range(1, len(headers)) if i != 3])


#: The literature's findings on gates, each as (finding, variant, reference): the variant is
#: the cheaper cell that the finding says loses little against the reference.
CLAIMS = (
    ("Greff et al. 2017: coupling the input and forget gates costs little", "cifg", "lstm"),
    ("Greff et al. 2017: peepholes add little", "lstm", "peephole"),
    ("Zhou et al. 2016: one gate is enough", "mgu", "gru"),
    ("Feng et al. 2024: gates from the input alone are competitive", "mingru", "gru"),
    ("Feng et al. 2024: gates from the input alone are competitive", "minlstm", "lstm"),
)


def claims_table(convergence: Sequence[Convergence]) -> str | None:
    """Per finding, the variant beside its reference on every task, and a verdict: *agrees*
    where the variant solves at least the reference's share of seeds on every synthetic task
    the reference solves at all (tasks neither solves do not count), *disagrees* otherwise."""
    runs = by_task(convergence)
    synthetic = [c for c in runs if c.task != "imdb"]
    rows = []
    for finding, variant, reference in CLAIMS:
        row: list[object] = [finding, f"{label(variant)} vs {label(reference)}"]
        verdicts = []
        for conv in runs:
            a, b = ([t for t in conv.runs if t.cell == c] for c in (variant, reference))
            if conv.task == "imdb":
                va, vb = (values(conv.counted(c), "best_val_accuracy")
                          for c in (variant, reference))
                diff = (statistics.fmean(va) - statistics.fmean(vb)) * 100 if va and vb else None
                row.append("–" if diff is None else f"{diff:+.1f} points")
                continue
            (won_a, n_a), (won_b, n_b) = seeds_solved(a), seeds_solved(b)
            row.append(f"{won_a}/{n_a} vs {won_b}/{n_b}" if n_a and n_b else "–")
            if n_a and n_b and won_b:
                verdicts.append(won_a / n_a >= won_b / n_b)
        row.append("no test" if not verdicts else "agrees" if all(verdicts) else "disagrees")
        rows.append(row)
    if not synthetic or all(r[-1] == "no test" for r in rows):
        return None
    headers = ["finding", "variant vs reference",
               *(f"{task_name(c)}: {'Δ best val' if c.task == 'imdb' else 'solved'}"
                 for c in runs), "on this data"]
    return table(headers, rows, right=range(2, len(headers) - 1))
