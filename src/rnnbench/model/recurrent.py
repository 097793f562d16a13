"""A recurrent layer of any registered cell: for a cell with a ``torch.nn`` twin, a drop-in
twin of it (same arguments, parameters, results and ``state_dict``).

The module owns the parameters (named and initialised as PyTorch does) and the plumbing
that every recurrent layer shares: layers, directions, dropout between layers,
``batch_first``, unbatched input, initial states and ``PackedSequence``. The recurrence
itself comes from the cell registry (:mod:`rnnbench.model.cells`) and the time loop from
:mod:`rnnbench.model.impls`, so a changed gate is measured under every implementation alike.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from rnnbench.model import cells
from rnnbench.model.cells import Cell
from rnnbench.model.impls import scan_for
from rnnbench.validate import check_dropout, check_positive

State = Tensor | tuple[Tensor, ...]


def check_layer(input_size: object, hidden_size: object, num_layers: object,
                dropout: object) -> None:
    """A ``ValueError`` for a size or dropout that no recurrent layer accepts (``nn.LSTM``
    accepts some silently, e.g. ``hidden_size=True``)."""
    check_positive("input_size", input_size)
    check_positive("hidden_size", hidden_size)
    check_positive("num_layers", num_layers)
    check_dropout(dropout)


class Recurrent(nn.Module):
    """A layer of the registered ``cell`` (its name or its :class:`~rnnbench.model.cells.Cell`)
    computed by ``impl``.

    Call it exactly like the ``torch.nn`` module: ``output, h_n`` for a one-tensor state
    (GRU, RNN) and ``output, (h_n, c_n)`` for a two-tensor state (LSTM), with
    ``load_state_dict`` working in both directions.
    """

    def __init__(
        self,
        cell: str | Cell,
        impl: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.spec = cell if isinstance(cell, Cell) else cells.get(cell)
        check_layer(input_size, hidden_size, num_layers, dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(  # the same advice nn.LSTM gives
                f"dropout={dropout} has no effect with num_layers=1: dropout is applied "
                "between layers, not after the last one",
                UserWarning,
                stacklevel=2,
            )
        self.cell, self.impl = self.spec.name, impl
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.scan = scan_for(self.spec, impl)  # fails now, not at the first call, if it cannot run

        # Per (layer, direction), in nn.LSTM's order: the cell's tensor names -> full names.
        self._names: list[dict[str, str]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else self.directions * hidden_size
            for direction in range(self.directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = self.spec.shapes(layer_input, hidden_size, bias)
                for name, shape in shapes.items():
                    self.register_parameter(name + suffix, nn.Parameter(torch.empty(shape)))
                self._names.append({name: name + suffix for name in shapes})
        self.reset_parameters()

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every tensor uniform in ``±1/sqrt(hidden_size)``, then the
        cell's own ``init`` (:class:`rnnbench.model.cells.Cell`) on each layer and direction."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)
        self.spec.initialise(self)

    def extra_repr(self) -> str:
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False}
        return f"{self.input_size}, {self.hidden_size}, impl={self.impl!r}" + "".join(
            f", {name}={getattr(self, name)}" for name, default in defaults.items()
            if getattr(self, name) != default)

    def forward(
        self, input: Tensor | PackedSequence, hx: State | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        packed = input if isinstance(input, PackedSequence) else None
        if packed is not None:
            x, lengths = pad_packed_sequence(packed)  # (T, B, I), batch in caller's order
            mask = torch.arange(x.shape[0]).unsqueeze(1) < lengths.unsqueeze(0)  # (T, B)
            mask = mask.unsqueeze(2).to(x.device)  # (T, B, 1)
            unbatched = False
        else:
            x, mask = input, None
            if x.dim() not in (2, 3):
                raise ValueError(
                    f"input.dim()={x.dim()} is not accepted: expected a 2-D (unbatched, "
                    f"(T, {self.input_size})) or 3-D (batched) tensor"
                )
            unbatched = x.dim() == 2
            x = x.unsqueeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"input feature size {x.shape[-1]} is not accepted: expected "
                f"input_size={self.input_size}"
            )
        states = self._initial_states(x, hx, unbatched)

        finals: list[list[Tensor]] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                params = {name: getattr(self, full) for name, full in self._names[index].items()}
                gi, weights = self.spec.projection(layer_input, params)  # (T, B, G*H)
                out, final = self.scan(gi, [s[index] for s in states], weights, bool(direction),
                                       mask)
                outputs.append(out)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)

        final_states = [torch.stack([f[k] for f in finals]) for k in range(len(states))]
        output: Tensor | PackedSequence = layer_input
        if packed is not None:
            output = _repack(layer_input, packed)
        elif unbatched:
            output = layer_input.squeeze(1)
            final_states = [s.squeeze(1) for s in final_states]
        elif self.batch_first:
            output = layer_input.transpose(0, 1)
        if len(final_states) > 1:
            return output, tuple(final_states)
        return output, final_states[0]

    def _initial_states(self, x: Tensor, hx: State | None, unbatched: bool) -> list[Tensor]:
        """``hx`` as a list of ``(L*D, B, H)`` tensors (``[h]`` or ``[h, c]``), zeros if absent."""
        count = len(self.spec.state)
        expected = (self.num_layers * self.directions, x.shape[1], self.hidden_size)
        if hx is None:
            zeros = x.new_zeros(expected)
            return [zeros] * count
        given = list(hx) if isinstance(hx, (tuple, list)) else [hx]
        if len(given) != count:
            what = (f"a tuple ({', '.join(f'{name}_0' for name in self.spec.state)})"
                    if count > 1 else "a single tensor h_0")
            raise ValueError(f"hx with {len(given)} tensor(s) is not accepted: expected {what}")
        if unbatched:
            given = [s.unsqueeze(1) for s in given]
        for state in given:
            if tuple(state.shape) != expected:
                got = state.squeeze(1).shape if unbatched else state.shape
                want = (expected[0], expected[2]) if unbatched else expected
                raise ValueError(
                    f"hx shape {tuple(got)} is not accepted: expected {want}"
                )
        return given


def _repack(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Packs ``padded (T, B, F)`` with exactly the batch sizes and order of ``like``."""
    batch_sizes = like.batch_sizes
    order = (
        like.sorted_indices
        if like.sorted_indices is not None
        else torch.arange(int(batch_sizes[0]), device=padded.device)
    )
    times = torch.repeat_interleave(torch.arange(len(batch_sizes)), batch_sizes)
    starts = torch.cumsum(batch_sizes, 0) - batch_sizes
    rank = torch.arange(len(times)) - torch.repeat_interleave(starts, batch_sizes)
    data = padded[times.to(padded.device), order[rank.to(order.device)]]
    return PackedSequence(data, batch_sizes, like.sorted_indices, like.unsorted_indices)
