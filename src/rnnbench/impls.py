"""How the time loop runs: one registry from implementation name to a scan factory.

A *scan* runs one direction of one layer over a whole sequence::

    scan(gi, state, w_hh, b_step, reverse, mask) -> (outputs (T, B, H), final state)

where ``gi (T, B, G*H)`` is the precomputed input projection and ``mask (T, B, 1)``, if
given, marks the real (unpadded) steps of variable-length sequences. Implementations:

- ``eager``: the loop in Python, every op dispatched one by one;
- ``script``: the same loop compiled by TorchScript (``torch.jit.script``);
- ``fused``: one ``torch.autograd.Function`` per scan with a hand-written backward
  (:mod:`rnnbench.fused`): preallocated buffers, whole-sequence weight gradients;
- ``compiled``: the loop in Python around a ``torch.compile``-d *step*. The loop itself is
  never traced, so the graph (and compile time) does not grow with the sequence length.

The loop reads steps with ``unbind`` rather than ``gi[t]``: the backward of ``unbind`` is one
``stack``, whereas the backward of each ``gi[t]`` writes a full-size zero tensor, which makes
a naive loop quadratic in ``T``.
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Optional

import torch
from torch import Tensor, nn

from rnnbench.cells import GRUStep, LSTMStep
from rnnbench.fused import fused

STEPS: dict[str, type[nn.Module]] = {"lstm": LSTMStep, "gru": GRUStep}


class ImplUnavailable(RuntimeError):
    """This implementation cannot run in this environment; the message says why."""


class Scan(nn.Module):
    """Runs a step module over the time axis (see the module docstring)."""

    def __init__(self, step: nn.Module) -> None:
        super().__init__()
        self.step = step

    def forward(
        self,
        gi: Tensor,
        state: list[Tensor],
        w_hh: Tensor,
        b_step: Optional[Tensor],
        reverse: bool,
        mask: Optional[Tensor],
    ) -> tuple[Tensor, list[Tensor]]:
        steps = gi.unbind(0)
        masks = mask.unbind(0) if mask is not None else steps  # placeholder list when unmasked
        n = len(steps)
        outputs: list[Tensor] = []
        for k in range(n):
            t = n - 1 - k if reverse else k
            new = self.step(steps[t], state, w_hh, b_step)
            if mask is not None:
                # Padded steps keep the old state, so each sequence ends with its own last state.
                keep = masks[t]
                new = [torch.where(keep, s_new, s_old) for s_new, s_old in zip(new, state)]
                outputs.append(new[0] * keep)
            else:
                outputs.append(new[0])
            state = new
        if reverse:
            outputs.reverse()
        return torch.stack(outputs), state


def _eager(cell: str) -> nn.Module:
    return Scan(STEPS[cell]())


def _script(cell: str) -> nn.Module:
    if not hasattr(torch.jit, "script"):
        raise ImplUnavailable(
            f"impl='script' needs TorchScript, which torch {torch.__version__} no longer has; "
            "use impl='compiled' or 'eager'"
        )
    try:
        with warnings.catch_warnings():  # deprecated, not removed: still worth measuring
            warnings.filterwarnings("ignore", ".*jit.*deprecated", DeprecationWarning)
            return torch.jit.script(Scan(STEPS[cell]()))
    except Exception as error:  # TorchScript reports unsupported features in many ways
        raise ImplUnavailable(
            f"impl='script' is not available: TorchScript in torch {torch.__version__} "
            f"could not compile the {cell} scan ({type(error).__name__}: {error}); "
            "use impl='compiled' or 'eager'"
        ) from error


def _compiled(cell: str) -> nn.Module:
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        raise ImplUnavailable(
            f"impl='compiled' is not available: torch.compile does not support this Python "
            f"or platform (torch {torch.__version__}); use impl='eager' or 'script'"
        )
    # dynamic=None: specialise on the first shape, go dynamic once a second one is seen,
    # so a benchmark sweep over batch sizes does not hit the recompile limit.
    return Scan(torch.compile(STEPS[cell](), fullgraph=True))


#: Implementation name -> scan factory. ``native`` is handled by :mod:`rnnbench.build`.
IMPLS = {"eager": _eager, "script": _script, "compiled": _compiled, "fused": fused}

#: Test-only switch that proves the regression gate works: ``CELL:IMPL:FACTOR`` entries,
#: comma-separated (e.g. ``lstm:eager:1.5``), make that scan do real extra work.
SLOWDOWN_ENV = "RNNBENCH_SLOWDOWN"


class Slowed(nn.Module):
    """Runs ``scan`` and then again over a ``factor - 1`` share of the steps.

    The extra result is added with weight zero, so the outputs are unchanged but the extra
    steps cost real time in the forward *and* the backward pass.
    """

    def __init__(self, scan: nn.Module, factor: float) -> None:
        super().__init__()
        self.scan, self.factor = scan, factor

    def forward(self, gi: Tensor, state: list[Tensor], w_hh: Tensor, b_step: Optional[Tensor],
                reverse: bool, mask: Optional[Tensor]) -> tuple[Tensor, list[Tensor]]:
        out, final = self.scan(gi, state, w_hh, b_step, reverse, mask)
        extra = round((self.factor - 1) * gi.shape[0])
        if extra > 0:
            part = None if mask is None else mask[:extra]
            again, _ = self.scan(gi[:extra], state, w_hh, b_step, reverse, part)
            out = out + 0.0 * again.sum()
        return out, final


def slowdown_factor(cell: str, impl: str) -> float:
    """The factor that ``RNNBENCH_SLOWDOWN`` asks for this cell and impl (1.0: none)."""
    for entry in filter(None, os.environ.get(SLOWDOWN_ENV, "").split(",")):
        try:
            entry_cell, entry_impl, factor = entry.split(":")
            value = float(factor)
            if not 1 <= value <= 100:  # also refuses nan and inf
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{SLOWDOWN_ENV}={entry!r} is not accepted: expected CELL:IMPL:FACTOR with a "
                "factor from 1 to 100, e.g. lstm:eager:1.5"
            ) from None
        if (entry_cell, entry_impl) == (cell, impl):
            return value
    return 1.0


@functools.cache
def scan_for(cell: str, impl: str) -> nn.Module:
    """The (shared, stateless) scan module of one cell and implementation."""
    scan = IMPLS[impl](cell)
    factor = slowdown_factor(cell, impl)
    return Slowed(scan, factor) if factor > 1 else scan
