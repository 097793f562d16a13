"""Synthetic pytest-benchmark results for the gate's tests, checked against the real format."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnbench.bench.grid import Case
from rnnbench.cli import main

CPU = "Intel(R) Xeon(R) Processor"


def timings(median_ms: float, rounds: int = 20, spread: float = 0.03, seed: int = 0) -> list[float]:
    """Seeded log-normal round timings (seconds) around ``median_ms``."""
    rng = np.random.default_rng(seed)
    return (rng.lognormal(math.log(median_ms / 1e3), spread, rounds)).tolist()


def entry(case: str, data: list[float], impl: str = "eager", T: int = 100, device: str = "cpu",
          **extra: Any) -> dict[str, Any]:
    """One ``benchmarks[]`` item as pytest-benchmark writes it (stats abridged), named ``case``;
    its cell is the name's first word where that is one (else ``lstm``)."""
    ordered = sorted(data)
    cell = case.split("-")[0] if case.split("-")[0] in ("lstm", "gru") else "lstm"
    info = {**Case(cell, impl, device, "f32", T, 64, 256, 128, 1).info(), "case": case, **extra}
    return {
        "group": None, "name": f"test_speed[{case}]", "fullname": f"benchmarks/x.py::test[{case}]",
        "params": {"case": case}, "param": case, "extra_info": info, "options": {},
        "stats": {
            "min": ordered[0], "max": ordered[-1], "mean": sum(data) / len(data),
            "median": float(np.median(data)), "rounds": len(data), "iterations": 1,
            "data": data,
        },
    }


def document(*entries: dict[str, Any], device_name: str = CPU) -> dict[str, Any]:
    """A whole pytest-benchmark JSON document."""
    return {
        "machine_info": {"node": "vm", "machine": "x86_64", "device_name": device_name,
                         "cpu": {"brand_raw": CPU, "count": 2}},
        "commit_info": {"id": "0" * 40, "dirty": False},
        "benchmarks": list(entries),
        "rnnbench": {"profile": "quick", "exitstatus": 0},
        "datetime": "2026-01-01T00:00:00+00:00",
        "version": "5.2.3",
    }


def suite(native_ms: float = 40.0, eager_ms: float = 47.0, seed: int = 0, rounds: int = 20,
          spread: float = 0.03, **extra: Any) -> dict[str, Any]:
    """A run with a native and an eager LSTM case of one shape (``extra``: eager's extra_info)."""
    return document(
        entry("lstm-native", timings(native_ms, rounds, spread, seed), impl="native"),
        entry("lstm-eager", timings(eager_ms, rounds, spread, seed + 1), **extra),
    )


def whole(native_ms: float = 40.0, custom_ms: float = 47.0, seed: int = 0,
          rounds: int = 8) -> dict[str, Any]:
    """A run of every case of the quick CPU profile: what a baseline must hold."""
    from rnnbench.bench import grid

    entries = []
    for index, case in enumerate(grid.cases("quick", ["cpu"])):
        ms = native_ms if case.impl == "native" else custom_ms
        item = entry(case.id, timings(ms, rounds, seed=seed + index), impl=case.impl)
        item["extra_info"] = case.info()
        entries.append(item)
    return document(*entries)


def write(path: Path, content: dict[str, Any] | str) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """``rnnbench ARGS`` in this process: its exit status and everything it printed."""
    status = main([*map(str, args)])
    out, err = capsys.readouterr()
    return status, out + err


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, in ``folder`` with its own ini file (not this repo's)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True, text=True, cwd=folder, check=False,
    )


def test_synthetic_results_have_the_keys_pytest_benchmark_writes(tmp_path: Path) -> None:
    (tmp_path / "test_tiny.py").write_text(
        "def test_tiny(benchmark):\n"
        "    benchmark.extra_info['case'] = 'tiny'\n"
        "    benchmark(sum, range(10))\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    out = tmp_path / "real.json"
    run_pytest(tmp_path, f"--benchmark-json={out}", "--benchmark-max-time=0.01")
    assert out.exists()
    real = json.loads(out.read_text())
    fake = suite()
    assert fake.keys() - {"rnnbench"} == real.keys()  # "rnnbench": benchmarks/conftest.py
    real_case, fake_case = real["benchmarks"][0], fake["benchmarks"][0]
    assert fake_case.keys() == real_case.keys()
    assert fake_case["stats"].keys() <= real_case["stats"].keys()
    assert all(isinstance(x, float) for x in real_case["stats"]["data"])
