"""Speed, memory and throughput of every case of the grid (``rnnbench.bench.grid``).

``pytest benchmarks`` times the quick profile; ``--rnnbench-profile=full`` the sweep;
``--benchmark-disable`` runs each case once as a plain test. pytest-benchmark times one
:class:`~rnnbench.bench.workload.Workload` call per round, after untimed warm-up calls that
absorb ``torch.compile`` compilation and cuDNN set-up; ``extra_info`` gets the case's
coordinates and what :mod:`rnnbench.bench.measure` counts.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from rnnbench import RecurrentConfig, count_parameters
from rnnbench.bench.faults import compile_limits, release_memory, skip_reason
from rnnbench.bench.grid import Case
from rnnbench.bench.machine import library_versions
from rnnbench.bench.measure import matmul_flops, profile_call, throughput
from rnnbench.bench.workload import make_workload

#: Untimed calls before timing: the first compiles (torch.compile) or sets up cuDNN; then
#: pytest-benchmark's own calibration call, also untimed, settles caches and allocators.
WARMUP_CALLS = 1


def test_speed(benchmark: Any, bench_case: Case) -> None:
    case = bench_case
    if case.device == "cuda" and not torch.cuda.is_available():
        pytest.skip(f"CUDA is not available (torch {torch.__version__})")
    try:
        with compile_limits():
            measure(benchmark, case)
        return
    except Exception as error:
        reason = skip_reason(case, error)
        if reason is None:
            raise
    release_memory()  # out of the except block: the traceback's tensors are gone
    pytest.skip(reason)


def measure(benchmark: Any, case: Case) -> None:
    benchmark.group = case.shape_key
    workload = make_workload(case)
    for _ in range(0 if benchmark.disabled else WARMUP_CALLS):
        workload()
    benchmark(workload)  # with --benchmark-disable: one plain call
    if benchmark.disabled:  # a correctness run: nothing is recorded, so nothing to count
        return
    workload.reset()
    counts = profile_call(workload, case.device)  # after compilation, so it is not counted

    config = RecurrentConfig(case.base_cell, case.input_size, case.hidden_size,
                             case.num_layers, bidirectional=case.bidirectional)
    flops = matmul_flops(case, workload.tokens)
    median = benchmark.stats.stats.median if benchmark.stats else None
    rates = throughput(workload.tokens, flops, median) if median else dict.fromkeys(
        ("tokens_per_s", "flops_per_s"))
    benchmark.extra_info.update(
        case.info(),
        params=count_parameters(config),
        tokens=workload.tokens,
        flops=flops,
        flops_source="analytic: rnnbench.bench.measure.matmul_flops",
        aten_ops=counts.aten_ops,
        peak_memory_bytes=counts.peak_memory_bytes,
        peak_memory_source=counts.peak_memory_source,
        threads=torch.get_num_threads(),
        **rates,
        **library_versions(),
    )
