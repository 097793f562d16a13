"""The gating variants without a torch.nn twin, checked against plainly written references.

Each reference below is the paper's equation written out in float64 with explicit tensors
(not the registry's step), run step by step; the layer must give the same outputs, final
states and gradients of every parameter and the input. Layers, directions, ``batch_first``,
packed input and initial states are checked by consistency: every impl agrees with ``eager``,
and a packed batch gives each sequence what it gets alone.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_sequence

from rnnbench import build
from rnnbench.model.cells import CELLS

ZOO = [name for name, cell in CELLS.items() if cell.native is None]
F64 = torch.float64


def loops(cell: str) -> list[str]:
    """The impls to cross-check on many shapes; ``compiled`` (a compile per shape) is checked
    against the equations on one shape only."""
    return [impl for impl in CELLS[cell].impls if impl != "compiled"]


def g(x: Tensor) -> Tensor:
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def reference_step(cell: str, p: dict[str, Tensor], x: Tensor, h: Tensor,
                   c: Tensor | None) -> tuple[Tensor, Tensor | None]:
    sig, tanh = torch.sigmoid, torch.tanh
    if cell in ("mingru", "minlstm"):
        k = x @ p["weight_ih"].T + p["bias_ih"]
        if cell == "mingru":
            k_z, k_h = k.chunk(2, 1)
            return (1 - sig(k_z)) * h + sig(k_z) * g(k_h), None
        k_f, k_i, k_h = k.chunk(3, 1)
        f, i = sig(k_f), sig(k_i)
        return f / (f + i) * h + i / (f + i) * g(k_h), None
    w_ih, w_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
    if cell == "mgu":
        w_f, w_h = w_ih.chunk(2, 0)
        u_f, u_h = w_hh.chunk(2, 0)
        (b_if, b_ih_h), (b_hf, b_hh_h) = b_ih.chunk(2), b_hh.chunk(2)
        f = sig(x @ w_f.T + b_if + h @ u_f.T + b_hf)
        candidate = tanh(x @ w_h.T + b_ih_h + (f * h) @ u_h.T + b_hh_h)
        return (1 - f) * h + f * candidate, None
    z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    if cell == "cifg":
        f, gg, o = z.chunk(3, 1)
        c = sig(f) * c + (1 - sig(f)) * tanh(gg)
        return sig(o) * tanh(c), c
    assert cell == "peephole"
    i, f, gg, o = z.chunk(4, 1)
    c_new = sig(f + p["weight_cf"] * c) * c + sig(i + p["weight_ci"] * c) * tanh(gg)
    return sig(o + p["weight_co"] * c_new) * tanh(c_new), c_new


def randomised(model: nn.Module) -> nn.Module:
    """Every parameter random (peepholes too: they start at zero)."""
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-0.6, 0.6)
    return model


@pytest.mark.parametrize("cell", ZOO)
def test_each_impl_matches_the_papers_equations(cell: str) -> None:
    torch.manual_seed(0)
    spec = CELLS[cell]
    x = torch.randn(6, 3, 5, dtype=F64)
    h0 = torch.randn(1, 3, 4, dtype=F64)
    c0 = torch.randn(1, 3, 4, dtype=F64) if len(spec.state) == 2 else None
    for impl in spec.impls:
        model = randomised(build(cell, impl, 5, 4).to(F64))
        params = {name.removesuffix("_l0"): p for name, p in model.named_parameters()}
        leaf = x.clone().requires_grad_()
        out, state = model(leaf, h0 if c0 is None else (h0, c0))
        h, c = h0[0], None if c0 is None else c0[0]
        steps = []
        for t in range(6):
            h, c = reference_step(cell, params, leaf[t], h, c)
            steps.append(h)
        want = torch.stack(steps)
        torch.testing.assert_close(out, want, atol=1e-10, rtol=1e-10, msg=f"{cell} {impl}")
        final = state if c0 is None else state[0]
        torch.testing.assert_close(final[0], h, atol=1e-10, rtol=1e-10)
        grads = torch.autograd.grad((out * torch.linspace(-1, 1, 4, dtype=F64)).sum(),
                                    [leaf, *params.values()])
        wants = torch.autograd.grad((want * torch.linspace(-1, 1, 4, dtype=F64)).sum(),
                                    [leaf, *params.values()])
        for got, expected in zip(grads, wants, strict=True):
            torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10,
                                       msg=f"{cell} {impl} gradient")


def run(model: nn.Module, inputs, hx) -> list[Tensor]:
    out, state = model(inputs, hx)
    data = out.data if hasattr(out, "batch_sizes") else out
    states = list(state) if isinstance(state, tuple) else [state]
    loss = (data * data.new_tensor(range(data.shape[-1]))).sum() + sum(s.sum() for s in states)
    return [data, *states, *torch.autograd.grad(loss, list(model.parameters()))]


@pytest.mark.parametrize("cell", ZOO)
def test_every_impl_agrees_on_layers_directions_batch_first_and_state(cell: str) -> None:
    torch.manual_seed(1)
    spec = CELLS[cell]
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                  batch_first=True)
    eager = randomised(build(cell, "eager", **kwargs).to(F64))
    x = torch.randn(2, 5, 3, dtype=F64)
    hx = tuple(torch.randn(4, 2, 4, dtype=F64) for _ in spec.state)
    hx = hx if len(hx) > 1 else hx[0]
    want = run(eager, x, hx)
    for impl in loops(cell)[1:]:
        other = build(cell, impl, **kwargs).to(F64)
        other.load_state_dict(eager.state_dict())
        for got, expected in zip(run(other, x, hx), want, strict=True):
            torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10, msg=impl)


@pytest.mark.parametrize("cell", ZOO)
def test_a_packed_batch_gives_each_sequence_what_it_gets_alone(cell: str) -> None:
    torch.manual_seed(2)
    for impl in loops(cell):
        model = randomised(build(cell, impl, 3, 4, bidirectional=True).to(F64))
        sequences = [torch.randn(n, 3, dtype=F64) for n in (5, 2, 4)]
        out, state = model(pack_sequence(sequences, enforce_sorted=False))
        padded, _ = nn.utils.rnn.pad_packed_sequence(out)
        final = state[0] if isinstance(state, tuple) else state
        for b, sequence in enumerate(sequences):
            alone, alone_state = model(sequence.unsqueeze(1))
            alone_final = alone_state[0] if isinstance(alone_state, tuple) else alone_state
            torch.testing.assert_close(padded[: len(sequence), b], alone[:, 0], atol=1e-10,
                                       rtol=1e-10, msg=f"{cell} {impl}")
            torch.testing.assert_close(final[:, b], alone_final[:, 0], atol=1e-10, rtol=1e-10)


def test_peephole_at_zero_is_exactly_nn_lstm_and_loads_its_state_dict() -> None:
    torch.manual_seed(3)
    native = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    peephole = build("peephole", "eager", 3, 4, num_layers=2, bidirectional=True).double()
    result = peephole.load_state_dict(native.state_dict(), strict=False)
    assert sorted(result.missing_keys) == sorted(
        f"weight_c{g}_l{k}{s}" for g in "ifo" for k in (0, 1) for s in ("", "_reverse"))
    assert not result.unexpected_keys
    x = torch.randn(5, 2, 3, dtype=F64)
    for got, want in zip(run(peephole, x, None)[:3], run(native, x, None)[:3], strict=True):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_parallel_scan_matches_the_loop_at_length_300(cell: str) -> None:
    """Long sequences: the log-space scan stays within 1e-10 of the step loop (float64)."""
    torch.manual_seed(4)
    eager = randomised(build(cell, "eager", 3, 4).to(F64))
    fast = build(cell, "parallel", 3, 4).to(F64)
    fast.load_state_dict(eager.state_dict())
    x = torch.randn(300, 2, 3, dtype=F64)
    for got, want in zip(run(fast, x, None), run(eager, x, None), strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)
