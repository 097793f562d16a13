"""Fault injection for the regression gate's own tests: make one implementation slower.

``RNNBENCH_SLOWDOWN=CELL:IMPL:FACTOR[,...]`` (e.g. ``lstm:eager:1.5``) makes every benchmark
workload of that cell (both directions) and custom implementation do real extra work, so a
test can prove the gate catches a slowdown. It lives with the benchmark support, not in the
cells or impls: :func:`rnnbench.bench.workload.make_workload` applies it, in the pytest
suite and in the gate's A/B worker alike.
"""

from __future__ import annotations

import math
import os

from torch import Tensor, nn

ENV = "RNNBENCH_SLOWDOWN"


class Slowed(nn.Module):
    """Runs ``scan`` and then again over a ``factor - 1`` share of the steps.

    The extra result is added with weight zero, so the outputs are unchanged but the extra
    steps cost real time in the forward *and* the backward pass.
    """

    def __init__(self, scan: nn.Module, factor: float) -> None:
        super().__init__()
        self.scan, self.factor = scan, factor

    def forward(self, gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
                mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        out, final = self.scan(gi, state, weights, reverse, mask)
        extra = round((self.factor - 1) * gi.shape[0])
        if extra > 0:
            part = None if mask is None else mask[:extra]
            again, _ = self.scan(gi[:extra], state, weights, reverse, part)
            out = out + 0.0 * again.sum()
        return out, final


def check() -> dict[tuple[str, str], float]:
    """``RNNBENCH_SLOWDOWN`` as (cell, impl) -> factor; a ``ValueError`` for any entry that is
    not ``CELL:IMPL:FACTOR`` with a registered cell, a custom implementation and a factor from
    1 to 100, so that a typo fails before anything runs instead of slowing nothing."""
    from rnnbench.model.build import IMPL_NAMES
    from rnnbench.model.cells import CELLS

    custom = [impl for impl in IMPL_NAMES if impl != "native"]
    asked = {}
    for entry in filter(None, os.environ.get(ENV, "").split(",")):
        cell, impl, text = entry.split(":") if entry.count(":") == 2 else ("", "", "")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if cell not in CELLS or impl not in custom or not 1 <= value <= 100:  # nan, inf too
            raise ValueError(
                f"{ENV}={entry!r} is not accepted: expected CELL:IMPL:FACTOR, e.g. "
                f"lstm:eager:1.5, with CELL one of {', '.join(CELLS)} (it slows both "
                f"directions), IMPL one of {', '.join(custom)} and a factor from 1 to 100")
        asked[cell, impl] = value
    return asked


def factor(cell: str, impl: str) -> float:
    """The factor that ``RNNBENCH_SLOWDOWN`` asks for this cell (``bilstm`` counts as ``lstm``)
    and impl (1.0: none)."""
    from rnnbench.model.cells import parse

    return check().get((parse(cell)[0].name, impl), 1.0)


def apply(model: nn.Module, cell: str, impl: str) -> nn.Module:
    """``model`` with its scan slowed as ``RNNBENCH_SLOWDOWN`` asks (unchanged if not)."""
    slow = factor(cell, impl)
    if slow > 1 and hasattr(model, "scan"):
        model.scan = Slowed(model.scan, slow)
    return model
