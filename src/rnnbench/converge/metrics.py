"""What a convergence run reports: convergence epoch, steps to solve, peak memory, spread.

**Converged at epoch N** (IMDB): the first epoch whose validation accuracy is within
:data:`CONVERGENCE_TOLERANCE` (0.5 percentage points) of the best validation accuracy of
the run. It is relative to the epochs that ran: a run cut short converges no later than
its last epoch, which the report says beside the number.

**Steps to solve** (synthetic tasks): the training steps done at the first evaluation
that meets the task's threshold (:mod:`rnnbench.converge.tasks`); ``None`` if none did.
Evaluations happen once per epoch, so this is exact to one epoch's steps.

**Peak memory**: on CUDA ``torch.cuda.max_memory_allocated`` per epoch (tensors only).
On CPU the process's peak resident set (``VmHWM``), which covers everything the process
holds (Python, the data, the allocator's cache): on Linux it is reset at each epoch's start
by writing 5 to ``/proc/self/clear_refs``, so it is that epoch's peak; elsewhere
``getrusage``'s ``ru_maxrss``, the peak since the process started. (``tracemalloc`` would
miss torch's allocations, which are not made through Python's allocator.)
"""

from __future__ import annotations

import contextlib
import math
import re
import resource
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

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


_CLEAR_REFS, _STATUS = Path("/proc/self/clear_refs"), Path("/proc/self/status")
_VMHWM = re.compile(r"^VmHWM:\s+(\d+) kB", re.MULTILINE)


def reset_peak_memory(device: torch.device) -> bool:
    """Start a new peak-memory window; ``False`` where only the process-wide peak exists."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        _CLEAR_REFS.write_text("5")  # Linux: reset the peak resident set (VmHWM)
    except OSError:
        return False
    return True


def peak_memory(device: torch.device, since_reset: bool = True) -> tuple[float, str]:
    """Peak memory in MiB and how it was measured (see the module docstring)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "torch.cuda.max_memory_allocated"
    if since_reset:
        with contextlib.suppress(OSError):
            match = _VMHWM.search(_STATUS.read_text())
            if match:
                return int(match.group(1)) / 1024, "VmHWM: process peak RSS in the epoch"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return rss * scale / 2**20, "getrusage ru_maxrss: process peak RSS since it started"


def spread(values: Iterable[float | int | None]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation, min, max and count of the values that are not None."""
    present = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not present:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    return {"n": len(present), "mean": statistics.fmean(present),
            "std": statistics.stdev(present) if len(present) > 1 else 0.0,
            "min": min(present), "max": max(present)}
