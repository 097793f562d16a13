"""The cell registry: what each recurrent cell is, stated once.

Everything else derives from :data:`CELLS`: the parameter counts (:mod:`rnnbench.params`),
``build`` and the layer (:mod:`rnnbench.recurrent`), the time loops (:mod:`rnnbench.impls`),
the benchmark grid, the convergence models, the command line's choices and the report's
labels and colours. **Adding a cell is one** :class:`Cell` **entry here plus its tests.**

A cell is split in two, as cuDNN does it: a *projection* that sees the whole sequence at once
(one large matmul, ``W_ih x_t + biases`` for every ``t``) and a *step* that does only the work
that depends on the previous state. A step is an ``nn.Module`` without parameters::

    step(gi_t (B, G*H), state [h, (c)], weights [W_hh, ...]) -> new state

so one step serves the eager loop, TorchScript and ``torch.compile`` alike; ``weights`` are
what the projection hands over (the recurrent matrix and whatever bias or peephole vectors
cannot be folded into the projection). Parameters use PyTorch's layout and names, per layer
``k`` and direction: ``weight_ih_l{k}`` ``(G*H, I)``, ``weight_hh_l{k}`` ``(G*H, H)``,
``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(G*H,)``, suffix ``_reverse`` for the reverse direction.

Bidirectional is an axis, not a cell: ``bilstm`` names the LSTM with two directions
(:func:`parse`, :func:`case_name`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnbench import fused
from rnnbench.validate import check_choice

Shapes = dict[str, tuple[int, ...]]
#: ``(x (T, B, I), {name: tensor}) -> (gi (T, B, G*H), step weights)``
Projection = Callable[[Tensor, dict[str, Tensor]], tuple[Tensor, list[Tensor]]]
#: ``(gi, state, step weights, reverse, mask) -> (outputs (T, B, H), final state)``
FusedScan = Callable[[Tensor, list[Tensor], list[Tensor], bool, Optional[Tensor]],
                     tuple[Tensor, list[Tensor]]]


def gated_shapes(gates: int, layer_input: int, hidden: int, bias: bool,
                 recurrent: int | None = None) -> Shapes:
    """PyTorch's four tensors of one layer and direction with ``gates`` blocks.

    ``recurrent`` is the size of the state fed back (``proj_size`` when projecting, else
    ``hidden``).
    """
    shapes: Shapes = {"weight_ih": (gates * hidden, layer_input),
                      "weight_hh": (gates * hidden, recurrent or hidden)}
    if bias:
        shapes.update(bias_ih=(gates * hidden,), bias_hh=(gates * hidden,))
    return shapes


def gated_count(gates: int, layer_input: int, hidden: int, bias: bool,
                recurrent: int | None = None) -> int:
    """``G*H*(I + R + 2b)``: the two weight matrices and PyTorch's two bias vectors."""
    return gates * hidden * (layer_input + (recurrent or hidden) + 2 * int(bias))


@dataclass(frozen=True)
class Cell:
    """One recurrent cell: its gates, state, parameters, maths and implementations."""

    name: str
    title: str  # as the report prints it
    equations: str  # one line
    paper: str
    gates: int  # G: blocks stacked in the weight matrices
    state: tuple[str, ...]  # ("h",) or ("h", "c")
    projection: Projection
    step: type[nn.Module]
    native: type[nn.RNNBase] | None = None  # the torch.nn twin, if there is one
    native_kwargs: dict[str, object] = field(default_factory=dict)
    fused: FusedScan | None = None  # a scan with a hand-written backward, if there is one
    projects: bool = False  # accepts proj_size (nn.LSTM's projection)
    colour: str = "#7f7f7f"

    def shapes(self, layer_input: int, hidden: int, bias: bool,
               recurrent: int | None = None) -> Shapes:
        """The parameter tensors of one layer and direction, names without the suffix."""
        return gated_shapes(self.gates, layer_input, hidden, bias, recurrent)

    def count(self, layer_input: int, hidden: int, bias: bool,
              recurrent: int | None = None) -> int:
        """Closed-form parameters of one layer and direction (checked against shapes)."""
        return gated_count(self.gates, layer_input, hidden, bias, recurrent)

    @property
    def impls(self) -> tuple[str, ...]:
        """The implementations this cell has, ``native`` (its twin) first."""
        return (*(("native",) if self.native else ()), "eager", "script", "compiled",
                *(("fused",) if self.fused else ()))


def _folded(x: Tensor, p: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
    """Both biases folded into the projection; the step needs only ``W_hh``."""
    b_ih, b_hh = p.get("bias_ih"), p.get("bias_hh")
    bias = None if b_ih is None or b_hh is None else b_ih + b_hh
    return F.linear(x, p["weight_ih"], bias), [p["weight_hh"]]


def _gru_projection(x: Tensor, p: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
    """``b_hr, b_hz`` folded in; ``b_hn`` goes to the step (the reset gate multiplies it)."""
    b_ih, b_hh = p.get("bias_ih"), p.get("bias_hh")
    if b_ih is None or b_hh is None:
        return F.linear(x, p["weight_ih"]), [p["weight_hh"]]
    hidden = b_hh.shape[0] // 3
    folded = b_ih + torch.cat([b_hh[: 2 * hidden], b_hh.new_zeros(hidden)])
    return F.linear(x, p["weight_ih"], folded), [p["weight_hh"], b_hh[2 * hidden :]]


class RNNStep(nn.Module):
    """``h' = tanh(gi_t + W_hh h)``; ``gi_t`` holds ``W_ih x_t + b_ih + b_hh``."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        return [torch.tanh(torch.addmm(gi_t, state[0], weights[0].t()))]


class LSTMStep(nn.Module):
    """One LSTM step, gate blocks ``i, f, g, o``; ``gi_t (B, 4H)`` holds both biases."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        h, c = state[0], state[1]
        gates = torch.addmm(gi_t, h, weights[0].t())  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return [h, c]


class GRUStep(nn.Module):
    """One GRU step, gate blocks ``r, z, n``; ``weights`` are ``[W_hh]`` or ``[W_hh, b_hn]``."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        h = state[0]
        gh = torch.mm(h, weights[0].t())  # (B, 3H)
        gi_r, gi_z, gi_n = gi_t.chunk(3, 1)
        gh_r, gh_z, gh_n = gh.chunk(3, 1)
        if len(weights) > 1:
            gh_n = gh_n + weights[1]
        r = torch.sigmoid(gi_r + gh_r)
        z = torch.sigmoid(gi_z + gh_z)
        n = torch.tanh(gi_n + r * gh_n)
        return [n + z * (h - n)]  # == (1 - z) * n + z * h, one op fewer


CELLS: dict[str, Cell] = {cell.name: cell for cell in (
    Cell("rnn", "RNN", "h' = tanh(W_ih x + b_ih + W_hh h + b_hh)",
         "Elman 1990, Finding structure in time", gates=1, state=("h",),
         projection=_folded, step=RNNStep, native=nn.RNN,
         native_kwargs={"nonlinearity": "tanh"}, colour="#2ca02c"),
    Cell("lstm", "LSTM", "i,f,o = σ(W x + U h + b); g = tanh(W x + U h + b); "
         "c' = f⊙c + i⊙g; h' = o⊙tanh(c')",
         "Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000", gates=4,
         state=("h", "c"), projection=_folded, step=LSTMStep, native=nn.LSTM,
         fused=fused.lstm_scan, projects=True, colour="#1f77b4"),
    Cell("gru", "GRU", "r,z = σ(W x + U h + b); n = tanh(W_n x + b_in + r⊙(U_n h + b_hn)); "
         "h' = (1-z)⊙n + z⊙h", "Cho et al. 2014", gates=3, state=("h",),
         projection=_gru_projection, step=GRUStep, native=nn.GRU, fused=fused.gru_scan,
         colour="#ff7f0e"),
)}

#: The prefix of a case name with two directions: ``bilstm``.
BIDIRECTIONAL = "bi"
#: Darker shades for two directions, so a cell and its bidirectional twin read as a pair.
_SHADE = 0.55


def get(name: str) -> Cell:
    """The registered cell ``name``; a ``ValueError`` names the accepted ones otherwise."""
    check_choice("cell", name, CELLS)
    return CELLS[name]


def case_name(cell: str, directions: int = 1) -> str:
    """``lstm`` with two directions is ``bilstm``."""
    return (BIDIRECTIONAL if directions == 2 else "") + cell


def names(directions: tuple[int, ...] = (1, 2)) -> list[str]:
    """Every case name: each cell with each direction count."""
    return [case_name(cell, d) for d in directions for cell in CELLS]


def parse(name: str) -> tuple[Cell, int]:
    """``bilstm`` -> (the LSTM, 2 directions); a ``ValueError`` for unknown names."""
    if name not in CELLS and name.startswith(BIDIRECTIONAL) and name[2:] in CELLS:
        return CELLS[name[2:]], 2
    check_choice("cell", name, names())
    return CELLS[name], 1


def label(name: str) -> str:
    """``bilstm`` -> ``BiLSTM``."""
    cell, directions = parse(name)
    return ("Bi" if directions == 2 else "") + cell.title


def colour(name: str) -> str:
    """The cell's colour, darker with two directions."""
    cell, directions = parse(name)
    if directions == 1:
        return cell.colour
    rgb = (int(cell.colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * _SHADE):02x}" for c in rgb)
