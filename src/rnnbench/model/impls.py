"""How the time loop runs: one registry from implementation name to a scan factory.

A *scan* runs one direction of one layer over a whole sequence::

    scan(gi, state, weights, reverse, mask) -> (outputs (T, B, H), final state)

where ``gi (T, B, G*H)`` is the precomputed input projection, ``weights`` the step's
(:mod:`rnnbench.model.cells`), and ``mask (T, B, 1)``, if given, marks the real (unpadded)
steps of variable-length sequences. Implementations:

- ``eager``: the loop in Python, every op dispatched one by one;
- ``script``: the same loop compiled by TorchScript (``torch.jit.script``);
- ``derived``: one ``torch.autograd.Function`` per scan for every cell, derived from its step:
  per step the recurrent matmul and one compiled kernel each way, the recurrent weight
  gradient in one matmul (:mod:`rnnbench.model.derived`);
- ``triton``: hand-written LSTM and GRU scans with each step's pointwise work in one Triton
  kernel, on CUDA (:mod:`rnnbench.model.kernels`);
- ``parallel``: a log-space scan over the whole sequence at once, for the cells whose gates
  see only the input (:mod:`rnnbench.model.parallel`);
- ``compiled``: the loop in Python around a ``torch.compile``-d *step*. The loop itself is
  never traced, so the graph (and compile time) does not grow with the sequence length.

The loop reads steps with ``unbind`` rather than ``gi[t]``: the backward of ``unbind`` is one
``stack``, whereas the backward of each ``gi[t]`` writes a full-size zero tensor, which makes
a naive loop quadratic in ``T``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Optional

import torch
from torch import Tensor, nn

from rnnbench.model import cells, derived
from rnnbench.model.cells import Cell
from rnnbench.model.errors import ImplUnavailable


class Scan(nn.Module):
    """Runs a step module over the time axis (see the module docstring)."""

    def __init__(self, step: nn.Module) -> None:
        super().__init__()
        self.step = step

    def forward(
        self,
        gi: Tensor,
        state: list[Tensor],
        weights: list[Tensor],
        reverse: bool,
        mask: Optional[Tensor],
    ) -> tuple[Tensor, list[Tensor]]:
        steps = gi.unbind(0)
        masks = mask.unbind(0) if mask is not None else steps  # placeholder list when unmasked
        n = len(steps)
        outputs: list[Tensor] = []
        for k in range(n):
            t = n - 1 - k if reverse else k
            new = self.step(steps[t], state, weights)
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


def _script(cell: Cell) -> nn.Module:
    if not hasattr(torch.jit, "script"):
        raise ImplUnavailable(
            f"impl='script' needs TorchScript, which torch {torch.__version__} no longer has; "
            "use impl='compiled' or 'eager'"
        )
    try:
        with warnings.catch_warnings():  # deprecated, not removed: still worth measuring
            warnings.filterwarnings("ignore", ".*jit.*deprecated", DeprecationWarning)
            return torch.jit.script(Scan(cell.step()))
    except Exception as error:  # TorchScript reports unsupported features in many ways
        raise ImplUnavailable(
            f"impl='script' is not available: TorchScript in torch {torch.__version__} "
            f"could not compile the {cell.name} scan ({type(error).__name__}: {error}); "
            "use impl='compiled' or 'eager'"
        ) from error


def _compiled(cell: Cell) -> nn.Module:
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        raise ImplUnavailable(
            f"impl='compiled' is not available: torch.compile does not support this Python "
            f"or platform (torch {torch.__version__}); use impl='eager' or 'script'"
        )
    # dynamic=None: specialise on the first shape, go dynamic once a second one is seen,
    # so a benchmark sweep over batch sizes does not hit the recompile limit.
    return Scan(torch.compile(cell.step(), fullgraph=True))


#: The loops and the scan every cell has, from its step. ``native`` is handled by
#: :mod:`rnnbench.model.build`; the rest (``triton``, ``parallel``) are whole-sequence scans of
#: the cells that have them.
LOOPS = {"eager": lambda cell: Scan(cell.step()), "script": _script, "compiled": _compiled,
         "derived": lambda cell: derived.scan_of(cell.step)}
#: Every implementation that runs a scan (all but ``native``), in the order reports list them.
SCAN_NAMES: tuple[str, ...] = (*LOOPS, *dict.fromkeys(
    impl for cell in cells.CELLS.values() for impl in cell.scans))


def check_impl(cell: Cell, impl: str, native: bool = True) -> None:
    """A ``ValueError`` unless ``cell`` has ``impl`` (and, with ``native=False``, it is a scan)."""
    if impl not in cell.impls or (impl == "native" and not native):
        raise ValueError(f"impl={impl!r} is not accepted for cell {cell.name!r}: it has "
                         f"{', '.join(cell.impls)}")


@functools.cache
def scan_for(cell: Cell, impl: str) -> cells.Scan:
    """The (shared, stateless) scan of one cell and implementation: a module or a function."""
    check_impl(cell, impl, native=False)
    return LOOPS[impl](cell) if impl in LOOPS else cell.scans[impl]
