"""Convergence epoch, best epoch and spread, as their docstrings define them."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnbench.converge.metrics import (
    CONVERGENCE_TOLERANCE,
    best_epoch,
    convergence_epoch,
    peak_memory,
    reset_peak_memory,
    spread,
)


def test_convergence_is_the_first_epoch_within_half_a_point_of_the_best() -> None:
    curve = [0.60, 0.80, 0.862, 0.865, 0.87, 0.866]
    assert best_epoch(curve) == 5
    assert convergence_epoch(curve) == 4  # 0.865 >= 0.87 - 0.005; 0.862 is not
    assert convergence_epoch([0.5]) == 1 and convergence_epoch([]) is None


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_convergence_epoch_properties(curve) -> None:
    epoch = convergence_epoch(curve)
    best = best_epoch(curve)
    assert 1 <= epoch <= best
    assert curve[epoch - 1] >= max(curve) - CONVERGENCE_TOLERANCE - 1e-12
    assert all(acc < max(curve) - CONVERGENCE_TOLERANCE for acc in curve[: epoch - 1])
    assert curve[best - 1] == max(curve) and max(curve) not in curve[: best - 1]


def test_spread_over_seeds() -> None:
    stats = spread([1.0, 2.0, 3.0, None])
    assert stats == {"n": 3, "mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0}
    assert spread([True, False, True, True])["mean"] == 0.75  # share of seeds
    assert spread([None])["mean"] is None and spread([4])["std"] == 0.0


def test_cpu_peak_memory_sees_a_tensor_and_forgets_it_after_a_reset() -> None:
    cpu = torch.device("cpu")
    windowed = reset_peak_memory(cpu)
    before, method = peak_memory(cpu, windowed)
    big = torch.ones(256 * 2**20 // 4)  # 256 MiB, touched
    during = peak_memory(cpu, windowed)[0]
    assert during >= before + 200
    del big
    if not windowed:
        assert "ru_maxrss" in method
        return
    assert "VmHWM" in method
    assert reset_peak_memory(cpu)
    assert peak_memory(cpu)[0] < during - 200  # the new window does not hold the old peak


def test_without_a_window_it_is_the_peak_since_the_process_started() -> None:
    mib, method = peak_memory(torch.device("cpu"), since_reset=False)
    assert mib > 10 and "ru_maxrss" in method


@pytest.mark.parametrize("tolerance", [0.0, 0.01])
def test_tolerance_is_a_parameter(tolerance) -> None:
    assert convergence_epoch([0.79, 0.805, 0.81], tolerance) == (3 if tolerance == 0 else 2)
