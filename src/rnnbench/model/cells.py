"""The cell registry: what each recurrent cell is, stated once.

Everything else derives from :data:`CELLS`: the parameter counts (:mod:`~rnnbench.model.params`),
``build`` and the layer (:mod:`~rnnbench.model.recurrent`), the time loops
(:mod:`~rnnbench.model.impls`),
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

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnbench.model import kernels, parallel
from rnnbench.validate import check_choice

Shapes = dict[str, tuple[int, ...]]
#: ``(x (T, B, I), {name: tensor}) -> (gi (T, B, G*H), step weights)``
Projection = Callable[[Tensor, dict[str, Tensor]], tuple[Tensor, list[Tensor]]]
#: ``(gi, state, step weights, reverse, mask) -> (outputs (T, B, H), final state)``
Scan = Callable[[Tensor, list[Tensor], list[Tensor], bool, Optional[Tensor]],
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


def peephole_shapes(layer_input: int, hidden: int, bias: bool,
                    recurrent: int | None = None) -> Shapes:
    """nn.LSTM's four tensors plus the diagonal peepholes ``weight_c{i,f,o}`` ``(H,)``."""
    return {**gated_shapes(4, layer_input, hidden, bias, recurrent),
            "weight_ci": (hidden,), "weight_cf": (hidden,), "weight_co": (hidden,)}


def peephole_count(layer_input: int, hidden: int, bias: bool,
                   recurrent: int | None = None) -> int:
    """``4*H*(I + H + 2b) + 3*H``."""
    return gated_count(4, layer_input, hidden, bias, recurrent) + 3 * hidden


def input_only_shapes(gates: int, layer_input: int, hidden: int, bias: bool,
                      recurrent: int | None = None) -> Shapes:
    """Gates from the input alone: ``weight_ih (G*H, I)`` and one bias ``bias_ih (G*H,)``."""
    shapes: Shapes = {"weight_ih": (gates * hidden, layer_input)}
    if bias:
        shapes["bias_ih"] = (gates * hidden,)
    return shapes


def input_only_count(gates: int, layer_input: int, hidden: int, bias: bool,
                     recurrent: int | None = None) -> int:
    """``G*H*(I + b)``: no recurrent matrix at all."""
    return gates * hidden * (layer_input + int(bias))


@dataclass(frozen=True, eq=False)  # one object per cell: hashed and compared by identity
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
    #: Whole-sequence scans beyond the step loops and the derived scan, by impl name:
    #: ``triton`` (hand-written CUDA kernels), ``parallel`` (a scan over T for cells whose
    #: gates see only the input).
    scans: dict[str, Scan] = field(default_factory=dict)
    #: Tensors of one layer and direction and their closed-form count, when not PyTorch's four.
    layout: Callable[[int, int, bool, int | None], Shapes] | None = None
    size: Callable[[int, int, bool, int | None], int] | None = None
    #: Adjusts one layer and direction's freshly initialised tensors in place (by their names
    #: without suffix), after PyTorch's uniform ``±1/sqrt(H)``: zero peepholes, a forget bias.
    init: Callable[[dict[str, Tensor]], None] | None = None
    projects: bool = False  # accepts proj_size (nn.LSTM's projection)
    colour: str = "#7f7f7f"

    def shapes(self, layer_input: int, hidden: int, bias: bool,
               recurrent: int | None = None) -> Shapes:
        """The parameter tensors of one layer and direction, names without the suffix."""
        if self.layout:
            return self.layout(layer_input, hidden, bias, recurrent)
        return gated_shapes(self.gates, layer_input, hidden, bias, recurrent)

    def count(self, layer_input: int, hidden: int, bias: bool,
              recurrent: int | None = None) -> int:
        """Closed-form parameters of one layer and direction (checked against shapes)."""
        if self.size:
            return self.size(layer_input, hidden, bias, recurrent)
        return gated_count(self.gates, layer_input, hidden, bias, recurrent)

    def initialise(self, layer: nn.Module) -> nn.Module:
        """``layer`` (this cell's twin or its own layer) with :attr:`init` applied to each
        layer and direction's tensors, grouped by their suffix (``weight_ih_l0_reverse``)."""
        if self.init is not None:
            groups: dict[str, dict[str, Tensor]] = {}
            for name, param in layer.named_parameters():
                stem, _, suffix = name.rpartition("_l")
                groups.setdefault(suffix, {})[stem] = param
            with torch.no_grad():
                for params in groups.values():
                    self.init(params)
        return layer

    @property
    def default_impl(self) -> str:
        """What a model of this cell runs by default: its twin, else the scan derived from
        its step (:mod:`rnnbench.model.derived`)."""
        return "native" if self.native else "derived"

    @property
    def impls(self) -> tuple[str, ...]:
        """The implementations this cell has, ``native`` (its twin) first; every cell has the
        loops over its step and the scan derived from it (``derived``)."""
        return (*(("native",) if self.native else ()), "eager", "script", "compiled", "derived",
                *self.scans)

    def impls_on(self, device: str) -> tuple[str, ...]:
        """The implementations that run on ``device`` (``cpu``, ``cuda``): a scan may name
        its devices (``scan.devices``), as the Triton kernels do."""
        return tuple(impl for impl in self.impls
                     if device in getattr(self.scans.get(impl), "devices", (device,)))


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


def _peephole_projection(x: Tensor, p: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
    gi, weights = _folded(x, p)
    return gi, [*weights, p["weight_ci"], p["weight_cf"], p["weight_co"]]


def _input_only(x: Tensor, p: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
    return F.linear(x, p["weight_ih"], p.get("bias_ih")), []


class PeepholeStep(nn.Module):
    """LSTM with diagonal peepholes: ``i, f`` see ``c_{t-1}``, ``o`` sees ``c_t``."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        h, c = state[0], state[1]
        i, f, g, o = torch.addmm(gi_t, h, weights[0].t()).chunk(4, 1)
        c_new = (torch.sigmoid(f + weights[2] * c) * c
                 + torch.sigmoid(i + weights[1] * c) * torch.tanh(g))
        return [torch.sigmoid(o + weights[3] * c_new) * torch.tanh(c_new), c_new]


class CIFGStep(nn.Module):
    """Coupled input and forget gate, ``i = 1 - f``; blocks ``f, g, o``."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        h, c = state[0], state[1]
        f, g, o = torch.addmm(gi_t, h, weights[0].t()).chunk(3, 1)
        f = torch.sigmoid(f)
        c = f * c + (1 - f) * torch.tanh(g)
        return [torch.sigmoid(o) * torch.tanh(c), c]


class MGUStep(nn.Module):
    """Minimal gated unit; blocks ``f, h``; the gate scales ``h`` before its matmul."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        h = state[0]
        u_f, u_h = weights[0].chunk(2, 0)  # (H, H) each
        gi_f, gi_h = gi_t.chunk(2, 1)
        f = torch.sigmoid(torch.addmm(gi_f, h, u_f.t()))
        candidate = torch.tanh(torch.addmm(gi_h, f * h, u_h.t()))
        return [h + f * (candidate - h)]  # == (1 - f) ⊙ h + f ⊙ candidate


def _zero_peepholes(p: dict[str, Tensor]) -> None:
    """Peepholes start at zero: the cell then computes exactly what nn.LSTM does."""
    for name in ("weight_ci", "weight_cf", "weight_co"):
        p[name].zero_()


def _forget_bias_one(p: dict[str, Tensor]) -> None:
    """Forget-gate bias 1 (Jozefowicz et al. 2015): ``b_if = 1``, ``b_hf = 0``."""
    if "bias_ih" in p:
        hidden = p["bias_ih"].shape[0] // 4
        p["bias_ih"][hidden : 2 * hidden] = 1.0
        p["bias_hh"][hidden : 2 * hidden] = 0.0


def _g(x: Tensor) -> Tensor:
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


class MinGRUStep(nn.Module):
    """``h' = (1 - z) ⊙ h + z ⊙ g(k_h)``, ``z = σ(k_z)``: the gates see ``x_t`` only."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        k_z, k_h = gi_t.chunk(2, 1)
        z = torch.sigmoid(k_z)
        return [state[0] + z * (_g(k_h) - state[0])]


class MinLSTMStep(nn.Module):
    """``h' = f' ⊙ h + i' ⊙ g(k_h)`` with ``f' = f/(f+i)``, ``i' = i/(f+i)``."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        k_f, k_i, k_h = gi_t.chunk(3, 1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        return [(f * state[0] + i * _g(k_h)) / (f + i)]


CELLS: dict[str, Cell] = {cell.name: cell for cell in (
    Cell("rnn", "RNN", "h' = tanh(W_ih x + b_ih + W_hh h + b_hh)",
         "Elman 1990, Finding structure in time", gates=1, state=("h",),
         projection=_folded, step=RNNStep, native=nn.RNN,
         native_kwargs={"nonlinearity": "tanh"}, colour="#2ca02c"),
    Cell("lstm", "LSTM", "i,f,o = σ(W x + U h + b); g = tanh(W x + U h + b); "
         "c' = f⊙c + i⊙g; h' = o⊙tanh(c')",
         "Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000", gates=4,
         state=("h", "c"), projection=_folded, step=LSTMStep, native=nn.LSTM,
         scans={"triton": kernels.lstm_scan}, projects=True,
         colour="#1f77b4"),
    Cell("gru", "GRU", "r,z = σ(W x + U h + b); n = tanh(W_n x + b_in + r⊙(U_n h + b_hn)); "
         "h' = (1-z)⊙n + z⊙h", "Cho et al. 2014", gates=3, state=("h",),
         projection=_gru_projection, step=GRUStep, native=nn.GRU,
         scans={"triton": kernels.gru_scan}, colour="#ff7f0e"),
    Cell("peephole", "Peephole LSTM", "LSTM with i,f += w_c{i,f}⊙c; o += w_co⊙c'",
         "Gers, Schraudolph & Schmidhuber 2002", gates=4, state=("h", "c"),
         projection=_peephole_projection, step=PeepholeStep, layout=peephole_shapes,
         size=peephole_count, init=_zero_peepholes,
         colour="#9467bd"),
    Cell("cifg", "CIFG", "f,o = σ(W x + U h + b); g = tanh(W x + U h + b); c' = f⊙c + (1-f)⊙g; "
         "h' = o⊙tanh(c')", "Greff et al. 2017 (coupled input-forget gate)", gates=3,
         state=("h", "c"), projection=_folded, step=CIFGStep, colour="#8c564b"),
    Cell("mgu", "MGU", "f = σ(W_f x + U_f h + b_f); ĥ = tanh(W_h x + U_h (f⊙h) + b_h); "
         "h' = (1-f)⊙h + f⊙ĥ", "Zhou et al. 2016, Minimal gated unit", gates=2,
         state=("h",), projection=_folded, step=MGUStep, colour="#e377c2"),
    Cell("mingru", "minGRU", "z = σ(W_z x + b_z); h' = (1-z)⊙h + z⊙g(W_h x + b_h)",
         "Feng et al. 2024, Were RNNs All We Needed?", gates=2, state=("h",),
         projection=_input_only, step=MinGRUStep, scans={"parallel": parallel.mingru_scan},
         layout=functools.partial(input_only_shapes, 2),
         size=functools.partial(input_only_count, 2), colour="#17becf"),
    Cell("minlstm", "minLSTM", "f,i = σ(W x + b); h' = (f⊙h + i⊙g(W_h x + b_h)) / (f+i)",
         "Feng et al. 2024, Were RNNs All We Needed?", gates=3, state=("h",),
         projection=_input_only, step=MinLSTMStep, scans={"parallel": parallel.minlstm_scan},
         layout=functools.partial(input_only_shapes, 3),
         size=functools.partial(input_only_count, 3), colour="#bcbd22"),
)}
#: A control for the article's IMDB table: the LSTM with its forget-gate bias initialised to 1.
CELLS["lstmfb"] = dataclasses.replace(
    CELLS["lstm"], name="lstmfb", title="LSTM (forget bias 1)",
    equations="the LSTM, its forget-gate bias initialised to 1",
    paper="Jozefowicz, Zaremba & Sutskever 2015 (PyTorch initialises it like every bias)",
    init=_forget_bias_one, colour="#aec7e8")

#: The cell every other cell's cost is expressed against ("what does this gate cost").
BASELINE = "lstm"

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
