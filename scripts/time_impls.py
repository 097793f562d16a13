"""Times the custom implementations against native, interleaved in one process.

Not a test and not the benchmark suite: a quick, fair look at one question, *how close does
each implementation come to native?* Every round runs every (shape, impl) once, in turn, so
that load from other work and drift hit all implementations alike; each entry is the median
of the rounds, in milliseconds of **process CPU time** (``time.process_time``) on one thread,
forward and backward (the benchmark suite's ``fwdbwd`` workload). Prints a markdown table with
each implementation's ratio to native: the median over the rounds of its time divided by native's
time *in the same round*, which drift between rounds does not bias.

    python scripts/time_impls.py                    # all shapes, 15 rounds (a few minutes)
    python scripts/time_impls.py --rounds 5 --impls native,eager,derived --shapes lstm-B64
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from rnnbench.bench.grid import Case
from rnnbench.bench.workload import make_workload
from rnnbench.model import cells

#: Shape name -> (grid cell, input size, hidden size, layers, T, B).
SHAPES: dict[str, tuple[str, int, int, int, int, int]] = {
    **{f"{cell}-B{batch}": (cell, 256, 128, 1, 100, batch)
       for batch in (64, 8) for cell in cells.CELLS if cell != "lstmfb"},
    "seed-lstm-L2-B64": ("lstm", 256, 128, 2, 100, 64),
    "seed-bilstm-L2-B64": ("bilstm", 256, 128, 2, 100, 64),
}
DEFAULT_SHAPES = tuple(s for s in SHAPES if not s.startswith("seed") and not s.startswith("rnn"))
IMPLS = ("native", "eager", "script", "compiled", "derived", "parallel")
MIN_ROUND_S = 0.05  # a round repeats short calls up to this much CPU time


def interleaved(calls: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """ms per call of each callable in each round, timed round-robin; warmed up twice."""
    repeats = {}
    for name, call in calls.items():
        call(), call()  # warm-up (torch.compile compiles here)
        start = time.process_time()
        call()
        repeats[name] = max(1, round(MIN_ROUND_S / max(time.process_time() - start, 1e-6)))
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.process_time()
            for _ in range(repeats[name]):
                call()
            times[name].append((time.process_time() - start) / repeats[name] * 1e3)
    return times


def reference(shape: str, times: dict[tuple[str, str], list[float]]) -> list[float] | None:
    """The shape's native times, or native LSTM's at the same batch for a cell without one."""
    return times.get((shape, "native")) or times.get((f"lstm-B{SHAPES[shape][5]}", "native"))


def ratio(a: list[float], b: list[float]) -> float:
    """The median over the rounds of ``a / b`` in the same round."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def table(times: dict[tuple[str, str], list[float]], shapes: list[str], impls: list[str]) -> str:
    """Median ms, and in brackets the median per-round ratio to native (to native LSTM for a
    cell without a twin)."""
    lines = ["| shape | " + " | ".join(impls) + " |", "| --- |" + " ---: |" * len(impls)]
    for shape in shapes:
        native = reference(shape, times)
        row = []
        for impl in impls:
            ms = times.get((shape, impl))
            row.append("" if ms is None else f"{statistics.median(ms):.1f}" + (
                f" ({ratio(ms, native):.2f}x)" if native and impl != "native" else ""))
        lines.append(f"| {shape} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def targets(times: dict[tuple[str, str], list[float]], shapes: list[str]) -> str:
    """The speed targets of a fast scan for every cell, as measured."""
    lines = ["| shape | fastest impl / native LSTM | eager / derived |", "| --- | ---: | ---: |"]
    for shape in shapes:
        derived = times.get((shape, "derived"))
        if derived is None:
            continue
        lstm = times.get((f"lstm-B{SHAPES[shape][5]}", "native"))
        mine = {impl: ms for (s, impl), ms in times.items() if s == shape}
        fastest = min(mine, key=lambda impl: statistics.median(mine[impl]))
        eager = times.get((shape, "eager"))
        lines.append(f"| {shape} | "
                     + (f"{ratio(mine[fastest], lstm):.2f}x ({fastest})" if lstm else "")
                     + f" | {f'{ratio(eager, derived):.2f}x' if eager else ''} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--shapes", default=",".join(DEFAULT_SHAPES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    impls, shapes = args.impls.split(","), args.shapes.split(",")
    calls = {}
    for shape in shapes:
        cell, inputs, hidden, layers, steps, batch = SHAPES[shape]
        for impl in impls:
            if impl not in cells.parse(cell)[0].impls_on("cpu"):
                continue
            case = Case(cell, impl, "cpu", "f32", steps, batch, inputs, hidden, layers)
            calls[(shape, impl)] = make_workload(case)
    load = os.getloadavg()[0]
    times = interleaved(calls, args.rounds)
    print(table(times, shapes, impls))
    print()
    print(targets(times, shapes))
    print(f"\nms of process CPU time per fwd+bwd call, median of {args.rounds} interleaved "
          f"rounds, 1 thread, torch {torch.__version__}; load average {load:.2f} at the "
          f"start, {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
