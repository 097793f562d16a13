"""pytest side of the speed suite: grid options, the ``bench_case`` parameter, and the
pytest-benchmark hooks that describe the machine and guard comparisons.

Options: ``--rnnbench-profile {quick,full}``, ``--rnnbench-device``/``--rnnbench-dtype``
filters (repeatable) and ``--rnnbench-threads N`` (default: torch's own choice; recorded
either way). Raw timings are always saved (``--benchmark-save-data`` is switched on), since
the regression gate tests significance on them.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import pytest
import torch

from rnnbench.bench import grid, machine


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: expected a positive integer")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rnnbench", "rnnbench speed suite")
    group.addoption("--rnnbench-profile", choices=tuple(grid.PROFILES), default="quick",
                    help="which grid to run: quick (CI, default) or full (the sweep)")
    group.addoption("--rnnbench-device", choices=grid.DEVICES, action="append",
                    help="only cases on this device (repeatable; default: all, CUDA cases are "
                         "skipped without CUDA)")
    group.addoption("--rnnbench-dtype", choices=tuple(grid.DTYPES), action="append",
                    help="only cases of this dtype (repeatable; default: all)")
    group.addoption("--rnnbench-threads", type=_positive_int, metavar="N",
                    help="CPU threads for the whole run (default: torch's default)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    threads = config.getoption("rnnbench_threads", None)
    if threads:
        torch.set_num_threads(threads)
    # Before pytest-benchmark reads it: the gate needs every round's timing.
    config.option.benchmark_save_data = True
    # pytest-benchmark warns when the compared run's machine_info differs; with
    # filterwarnings=error that warning would crash --benchmark-compare instead of showing.
    config.addinivalue_line("filterwarnings",
                            "default::pytest_benchmark.logger.PytestBenchmarkWarning")
    config.stash[_STARTED] = time.monotonic()


_STARTED = pytest.StashKey[float]()


def _devices(config: pytest.Config) -> list[str]:
    return config.getoption("rnnbench_device") or list(grid.DEVICES)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_case" in metafunc.fixturenames:
        config = metafunc.config
        cases = grid.cases(config.getoption("rnnbench_profile"), _devices(config),
                           config.getoption("rnnbench_dtype"))
        metafunc.parametrize("bench_case", cases, ids=[case.id for case in cases])


def pytest_benchmark_update_machine_info(config: pytest.Config,
                                         machine_info: dict[str, Any]) -> None:
    cpu = machine_info.get("cpu")
    cpu_model = cpu.get("brand_raw") if isinstance(cpu, dict) else None
    machine_info.update(machine.machine_info(_devices(config), cpu_model))
    machine_info["rnnbench_profile"] = config.getoption("rnnbench_profile")


@pytest.hookimpl(wrapper=True)
def pytest_benchmark_compare_machine_info(config: pytest.Config, benchmarksession: Any,
                                          machine_info: dict[str, Any],
                                          compared_benchmark: dict[str, Any]) -> Any:
    """Refuses results of another device; ignores readings that vary on one machine."""
    saved = compared_benchmark.get("machine_info") or {}
    try:
        machine.check_comparable(machine_info, saved)
    except ValueError as error:
        raise pytest.UsageError(f"--benchmark-compare: {error}") from None
    for info in (machine_info, saved):
        machine.drop_volatile(info)
    return (yield)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any,
                                 output_json: dict[str, Any]) -> None:
    output_json["rnnbench"] = {
        "profile": config.getoption("rnnbench_profile"),
        "wall_s": time.monotonic() - config.stash[_STARTED],
    }
