"""impl ``derived``: the scan derived from a cell's step is exact, compiled kernels and all.

Against ``nn.LSTM`` / ``nn.GRU`` in float64 to 1e-10 (outputs, final states, every parameter
gradient, the input's and the initial states' gradients), ``torch.autograd.gradcheck`` on the
``autograd.Function`` of every cell, and a cell that exists only in this file. The zoo cells
are checked against their papers' equations in ``tests/test_zoo.py``, and
``tests/test_cells.py`` runs its hypothesis twins on ``derived``'s traced graphs.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import Tensor, nn
from torch.autograd import gradcheck
from torch.nn.utils.rnn import pack_padded_sequence

from rnnbench import build
from rnnbench.model import derived
from rnnbench.model.cells import CELLS, Cell
from rnnbench.model.derived import DerivedScan

F64 = torch.float64


def run(model: nn.Module, x: Tensor | nn.utils.rnn.PackedSequence, hx: list[Tensor],
        cell: str) -> list[Tensor]:
    """Results and gradients of a fixed random linear functional of every result."""
    hx = [h.detach().clone().requires_grad_() for h in hx]
    leaf = x.detach().clone().requires_grad_() if isinstance(x, Tensor) else None
    state = None if not hx else (tuple(hx) if cell == "lstm" else hx[0])
    output, final = model(leaf if leaf is not None else x, state)
    if isinstance(output, nn.utils.rnn.PackedSequence):
        output = output.data
    results = [output, *(final if isinstance(final, tuple) else (final,))]
    generator = torch.Generator().manual_seed(1)
    loss = sum((r * torch.randn(r.shape, dtype=r.dtype, generator=generator)).sum()
               for r in results)
    loss.backward()
    grads = [p.grad for p in model.parameters()] + [h.grad for h in hx]
    return results + grads + ([leaf.grad] if leaf is not None else [])


def assert_twin(cell: str, x: Tensor | nn.utils.rnn.PackedSequence, with_state: bool,
                dtype: torch.dtype = F64, tol: float = 1e-10, **kwargs: object) -> None:
    torch.manual_seed(0)
    native = build(cell, "native", **kwargs).to(dtype)
    custom = build(cell, "derived", **kwargs).to(dtype)
    custom.load_state_dict(native.state_dict())
    layers = native.num_layers * (2 if native.bidirectional else 1)
    data = x.data if isinstance(x, nn.utils.rnn.PackedSequence) else x
    batch = (int(x.batch_sizes[0]) if isinstance(x, nn.utils.rnn.PackedSequence)
             else None if data.dim() == 2 else data.shape[0 if native.batch_first else 1])
    shape = (layers, native.hidden_size) if batch is None else (layers, batch, native.hidden_size)
    hx = [torch.randn(shape, dtype=dtype) for _ in range(2 if cell == "lstm" else 1)]
    want = run(native, x, hx if with_state else [], cell)
    got = run(custom, x, hx if with_state else [], cell)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(g, w, atol=tol, rtol=tol, msg=f"result {k}")


CONFIGS = {
    "one-layer": dict(num_layers=1),
    "two-layers-bidirectional": dict(num_layers=2, bidirectional=True),
    "three-layers-no-bias": dict(num_layers=3, bias=False),
    "batch-first-bidirectional": dict(num_layers=2, bidirectional=True, batch_first=True),
}


@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_matches_native_in_float64(cell: str, config: str, with_state: bool) -> None:
    kwargs = dict(input_size=5, hidden_size=4, **CONFIGS[config])
    x = torch.randn(3, 6, 5, dtype=F64) if kwargs.get("batch_first") else torch.randn(6, 3, 5,
                                                                                      dtype=F64)
    assert_twin(cell, x, with_state, **kwargs)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_unbatched_and_float32(cell: str) -> None:
    assert_twin(cell, torch.randn(6, 5, dtype=F64), True, input_size=5, hidden_size=3)
    assert_twin(cell, torch.randn(6, 2, 5), True, torch.float32, 1e-5, input_size=5,
                hidden_size=3, num_layers=2, bidirectional=True)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_packed_sequences_match_native(cell: str) -> None:
    x = torch.randn(7, 4, 5, dtype=F64)
    packed = pack_padded_sequence(x, torch.tensor([3, 7, 1, 5]), enforce_sorted=False)
    assert_twin(cell, packed, True, input_size=5, hidden_size=4, num_layers=2,
                bidirectional=True)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forward_without_autograd(cell: str) -> None:
    native, custom = build(cell, "native", 5, 4), build(cell, "derived", 5, 4)
    custom.load_state_dict(native.state_dict())
    x = torch.randn(6, 3, 5)
    with torch.no_grad():
        torch.testing.assert_close(custom(x)[0], native(x)[0])


def leaves(*shapes: tuple[int, ...]) -> list[Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(s, dtype=F64, generator=generator).requires_grad_() for s in shapes]


def some_padding(T: int, B: int) -> Tensor:
    """A mask (T, B, 1) with padded steps at the end, in the middle and at the start."""
    mask = torch.ones(T, B, 1, dtype=torch.bool)
    mask[-1, 0] = mask[1, 1] = mask[0, 1] = False
    return mask


def scan_arguments(cell: str, T: int = 4, B: int = 2, H: int = 3) -> tuple[Cell, list[Tensor]]:
    """A cell's step weights and ``gi``, ``state``: random float64 leaves of one scan."""
    spec = CELLS[cell]
    shapes = spec.shapes(2, H, True)
    params = dict(zip(shapes, leaves(*shapes.values()), strict=True))
    gi, weights = spec.projection(leaves((T, B, 2))[0], params)
    state = leaves(*[(B, H)] * len(spec.state))
    return spec, [gi.detach().requires_grad_(), *state, *weights]


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell", [c for c in CELLS if c != "lstmfb"])
def test_function_gradcheck(cell: str, reverse: bool, masked: bool) -> None:
    """The derived backward of every cell, each result alone and all together."""
    spec, args = scan_arguments(cell)
    mask = some_padding(*args[0].shape[:2]) if masked else None
    n = len(spec.state)

    def scan(gi: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        state, weights = list(rest[:n]), list(rest[n:])
        plan = derived._plan_for(spec.step, gi, state, weights, mask)
        return DerivedScan.apply(plan, reverse, mask, gi, *state, *weights,
                                 *plan.prep(*weights))

    assert gradcheck(scan, args)
    for k in range(1 + n):  # only some results used: the backward gets None for the others
        assert gradcheck(lambda *a, k=k: scan(*a)[k], args)


class NoOutputGateStep(nn.Module):
    """The LSTM without its output gate: ``h' = tanh(c')``; blocks ``i, f, g``."""

    def forward(self, gi_t: Tensor, state: list[Tensor], weights: list[Tensor]) -> list[Tensor]:
        i, f, g = torch.addmm(gi_t, state[0], weights[0].t()).chunk(3, 1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        return [torch.tanh(c), c]


def test_a_new_cell_gets_the_derived_scan_from_its_entry_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry walk-through's cell: one ``Cell(...)`` entry, and ``derived`` is exact."""
    toy = dataclasses.replace(CELLS["cifg"], name="nog", title="LSTM without output gate",
                              step=NoOutputGateStep)
    monkeypatch.setitem(CELLS, "nog", toy)
    assert "derived" in toy.impls and toy.default_impl == "derived"
    torch.manual_seed(0)
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    eager = build("nog", "eager", **kwargs).double()
    custom = build("nog", "derived", **kwargs).double()
    custom.load_state_dict(eager.state_dict())
    x = pack_padded_sequence(torch.randn(5, 3, 3, dtype=F64), torch.tensor([5, 2, 4]),
                             enforce_sorted=False)
    hx = [torch.randn(4, 3, 4, dtype=F64) for _ in range(2)]
    for got, want in zip(run(custom, x, hx, "lstm"), run(eager, x, hx, "lstm"), strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)
