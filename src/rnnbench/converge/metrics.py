"""What a convergence run reports: convergence epoch, steps to solve, peak memory, spread.

**Converged at epoch N** (IMDB): the first epoch whose validation accuracy is within
:data:`CONVERGENCE_TOLERANCE` (0.5 percentage points) of the best validation accuracy of
the run. It is relative to the epochs that ran: a run cut short converges no later than
its last epoch, which the report says beside the number.

**Steps to solve** (synthetic tasks): the training steps done at the first evaluation
that meets the task's threshold (:mod:`rnnbench.converge.tasks`); ``None`` if none did.
Evaluations happen once per epoch, so this is exact to one epoch's steps.

**Peak memory**: on CUDA ``torch.cuda.max_memory_allocated`` per epoch (tensors only);
on CPU the process's resident high-water mark (``ru_maxrss`` from ``getrusage``, the
kernel's ``VmHWM``), which covers everything the process holds (Python, data, the
allocator's cache) and never goes down, so per-epoch values are cumulative.
"""

from __future__ import annotations

import math
import resource
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence

import torch

#: Validation accuracy within this of the run's best counts as converged (0.5 pp).
CONVERGENCE_TOLERANCE = 0.005


def convergence_epoch(val_accuracy: Sequence[float],
                      tolerance: float = CONVERGENCE_TOLERANCE) -> int | None:
    """First epoch (1-based) with accuracy >= ``max(val_accuracy) - tolerance``."""
    if not val_accuracy:
        return None
    best = max(val_accuracy)
    return next(e for e, acc in enumerate(val_accuracy, 1) if acc >= best - tolerance - 1e-12)


def best_epoch(val_accuracy: Sequence[float]) -> int | None:
    """Epoch (1-based) of the best validation accuracy; the earliest one on a tie."""
    if not val_accuracy:
        return None
    return max(range(len(val_accuracy)), key=lambda i: (val_accuracy[i], -i)) + 1


def first_solved(values: Sequence[float], solved: Callable[[float], bool]) -> int | None:
    """Index (0-based) of the first value that ``solved(value)`` accepts, else ``None``."""
    return next((i for i, value in enumerate(values) if solved(value)), None)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> tuple[float, str]:
    """Peak memory in MiB and how it was measured (see the module docstring)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "torch.cuda.max_memory_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return rss * scale / 2**20, "getrusage ru_maxrss (process peak RSS, cumulative)"


def spread(values: Iterable[float | int | None]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation, min, max and count of the values that are not None."""
    present = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not present:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    return {
        "n": len(present),
        "mean": statistics.fmean(present),
        "std": statistics.stdev(present) if len(present) > 1 else 0.0,
        "min": min(present),
        "max": max(present),
    }
