"""One builder for every (cell, implementation) pair the benchmarks compare."""

from __future__ import annotations

from torch import nn

from rnnbench.model import cells
from rnnbench.model.impls import SCAN_NAMES, check_impl
from rnnbench.model.recurrent import Recurrent, check_layer
from rnnbench.validate import check_choice

#: ``native`` is the cell's ``torch.nn`` twin (cuDNN on CUDA, oneDNN/ATen on CPU).
IMPL_NAMES: tuple[str, ...] = ("native", *SCAN_NAMES)


def build(
    cell: str,
    impl: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bias: bool = True,
    batch_first: bool = False,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> nn.Module:
    """A recurrent layer of the registered ``cell`` (:mod:`rnnbench.model.cells`) computed by
    ``impl``.

    Every implementation takes the same arguments as ``nn.LSTM`` / ``nn.GRU``, returns the
    same values and has the same parameters, so weights move between them with
    ``load_state_dict`` and speed comparisons measure only the implementation.
    Raises ``ValueError`` for bad arguments, or for an ``impl`` the cell lacks (``native``
    without a ``torch.nn`` twin, ``parallel`` for a cell whose gates see the state), and
    :class:`rnnbench.ImplUnavailable` when ``impl`` cannot run here (e.g. no TorchScript).
    """
    spec = cells.get(cell)
    check_choice("impl", impl, IMPL_NAMES)
    arguments = dict(
        input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, bias=bias,
        batch_first=batch_first, dropout=dropout, bidirectional=bidirectional,
    )
    if impl != "native":
        return Recurrent(spec, impl, **arguments)  # its scan checks the impl against the cell
    check_impl(spec, impl)
    check_layer(input_size, hidden_size, num_layers, dropout)
    return spec.initialise(spec.native(**arguments, **spec.native_kwargs))
