"""Counts that do not depend on the machine's speed, so any growth is a real change.

The ATen operators dispatched per call are exact: one more fails the gate. The peak memory of a
pass may move a little with the allocator, so it gets a small relative tolerance. (FLOPs are
computed from the case's shape and cannot change with the code, so they are not gated.) A count
that shrank is reported as an improvement, never a failure; refresh the baseline to lock it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Signal -> relative growth tolerated before it counts as a regression.
TOLERANCES: Mapping[str, float] = {"aten_ops": 0.0, "peak_memory_bytes": 0.02}

#: Why growth of each signal matters, for the regression message.
MEANING: Mapping[str, str] = {
    "aten_ops": "more operators dispatched per call",
    "peak_memory_bytes": "higher peak memory per call",
}


@dataclass(frozen=True)
class SignalChange:
    """One deterministic count that differs between the baseline and the current run."""

    name: str
    baseline: float
    current: float
    tolerance: float

    @property
    def ratio(self) -> float:
        return self.current / self.baseline if self.baseline else float("inf")

    @property
    def grew(self) -> bool:
        """Growth beyond the tolerance: a regression whatever the timings say."""
        return self.current > self.baseline * (1 + self.tolerance)

    def describe(self) -> str:
        verb = "grew" if self.current > self.baseline else "shrank"
        text = f"{self.name} {verb} {self.baseline:,.0f} -> {self.current:,.0f} ({self.ratio:.3g}x)"
        if self.grew:
            allowed = f", tolerance {self.tolerance:.0%}" if self.tolerance else ""
            text += f": {MEANING.get(self.name, 'a deterministic count grew')}{allowed}"
        return text


def signal_changes(baseline: Mapping[str, float], current: Mapping[str, float],
                   tolerances: Mapping[str, float] = TOLERANCES) -> list[SignalChange]:
    """The signals both runs recorded whose values differ (growth and shrinkage alike)."""
    return [SignalChange(name, baseline[name], current[name], tolerances.get(name, 0.0))
            for name in sorted(baseline.keys() & current.keys()) if baseline[name] != current[name]]
