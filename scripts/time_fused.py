"""Times the custom implementations against native, interleaved in one process.

Not a test and not the benchmark suite: a quick, fair look at one question, *how close does
each implementation come to native?* Every round runs every (shape, impl) once, in turn, so
that load from other work and drift hit all implementations alike; each entry is the median
of the rounds, in milliseconds of **process CPU time** (``time.process_time``) on one thread,
forward and backward (the benchmark suite's ``fwdbwd`` workload). Prints a markdown table with
each implementation's ratio to native: the median over the rounds of its time divided by native's
time *in the same round*, which drift between rounds does not bias.

    python scripts/time_fused.py                    # all shapes, 15 rounds (a few minutes)
    python scripts/time_fused.py --rounds 5 --impls native,eager,fused --shapes lstm-B64
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

#: Shape name -> (grid cell, input size, hidden size, layers, T, B).
SHAPES: dict[str, tuple[str, int, int, int, int, int]] = {
    "lstm-B64": ("lstm", 256, 128, 1, 100, 64),
    "lstm-B8": ("lstm", 256, 128, 1, 100, 8),
    "gru-B64": ("gru", 256, 128, 1, 100, 64),
    "gru-B8": ("gru", 256, 128, 1, 100, 8),
    "seed-lstm-L2-B64": ("lstm", 256, 128, 2, 100, 64),
    "seed-bilstm-L2-B64": ("bilstm", 256, 128, 2, 100, 64),
}
IMPLS = ("native", "eager", "script", "compiled", "fused")
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


def table(times: dict[tuple[str, str], list[float]], shapes: list[str], impls: list[str]) -> str:
    """Median ms, and the median per-round ratio to native in brackets."""
    lines = ["| shape | " + " | ".join(impls) + " |", "| --- |" + " ---: |" * len(impls)]
    for shape in shapes:
        native = times.get((shape, "native"))
        cells = []
        for impl in impls:
            ms = times[(shape, impl)]
            ratio = ""
            if native and impl != "native":
                per_round = [a / b for a, b in zip(ms, native, strict=True)]
                ratio = f" ({statistics.median(per_round):.2f}x)"
            cells.append(f"{statistics.median(ms):.1f}{ratio}")
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    impls, shapes = args.impls.split(","), args.shapes.split(",")
    calls = {}
    for shape in shapes:
        cell, inputs, hidden, layers, steps, batch = SHAPES[shape]
        for impl in impls:
            case = Case(cell, impl, "cpu", "f32", steps, batch, inputs, hidden, layers)
            calls[(shape, impl)] = make_workload(case)
    load = os.getloadavg()[0]
    times = interleaved(calls, args.rounds)
    print(table(times, shapes, impls))
    print(f"\nms of process CPU time per fwd+bwd call, median of {args.rounds} interleaved "
          f"rounds, 1 thread, torch {torch.__version__}; load average {load:.2f} at the "
          f"start, {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
