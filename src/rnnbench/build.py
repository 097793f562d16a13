"""One builder for every (cell, implementation) pair the benchmarks compare."""

from __future__ import annotations

from torch import nn

from rnnbench.impls import IMPLS
from rnnbench.recurrent import Recurrent
from rnnbench.validate import check_choice

#: Cell name -> the ``torch.nn`` module that the hand-written twins must match.
NATIVE: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU}

#: ``native`` is the ``torch.nn`` module itself (cuDNN on CUDA, oneDNN/ATen on CPU).
IMPL_NAMES: tuple[str, ...] = ("native", *IMPLS)


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
    """A recurrent layer of ``cell`` (``lstm``, ``gru``) computed by ``impl``.

    Every implementation takes the same arguments as ``nn.LSTM`` / ``nn.GRU``, returns the
    same values and has the same parameters, so weights move between them with
    ``load_state_dict`` and speed comparisons measure only the implementation.
    Raises ``ValueError`` for bad arguments and :class:`rnnbench.ImplUnavailable` when
    ``impl`` cannot run here (e.g. no TorchScript).
    """
    check_choice("cell", cell, NATIVE)
    check_choice("impl", impl, IMPL_NAMES)
    arguments = dict(
        input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, bias=bias,
        batch_first=batch_first, dropout=dropout, bidirectional=bidirectional,
    )
    if impl == "native":
        # Validate first: nn.LSTM accepts some bad values (e.g. hidden_size=True) silently.
        Recurrent(cell, "eager", **arguments)
        return NATIVE[cell](**arguments)
    return Recurrent(cell, impl, **arguments)
