"""impl ``fused``: the hand-written backward is exact.

Against ``nn.LSTM`` / ``nn.GRU`` in float64 to 1e-10 (outputs, final states, every parameter
gradient, the input's and the initial states' gradients), and ``torch.autograd.gradcheck`` on
the two ``autograd.Function``s themselves. ``tests/test_cells.py`` runs its hypothesis twins
on ``fused`` too.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.autograd import gradcheck
from torch.nn.utils.rnn import pack_padded_sequence

from rnnbench import build
from rnnbench.model.fused import GRUScan, LSTMScan

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
    fused = build(cell, "fused", **kwargs).to(dtype)
    fused.load_state_dict(native.state_dict())
    layers = native.num_layers * (2 if native.bidirectional else 1)
    data = x.data if isinstance(x, nn.utils.rnn.PackedSequence) else x
    batch = (int(x.batch_sizes[0]) if isinstance(x, nn.utils.rnn.PackedSequence)
             else None if data.dim() == 2 else data.shape[0 if native.batch_first else 1])
    shape = (layers, native.hidden_size) if batch is None else (layers, batch, native.hidden_size)
    hx = [torch.randn(shape, dtype=dtype) for _ in range(2 if cell == "lstm" else 1)]
    want = run(native, x, hx if with_state else [], cell)
    got = run(fused, x, hx if with_state else [], cell)
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
    native, fused = build(cell, "native", 5, 4), build(cell, "fused", 5, 4)
    fused.load_state_dict(native.state_dict())
    x = torch.randn(6, 3, 5)
    with torch.no_grad():
        torch.testing.assert_close(fused(x)[0], native(x)[0])


def leaves(*shapes: tuple[int, ...]) -> list[Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(s, dtype=F64, generator=generator).requires_grad_() for s in shapes]


def some_padding(T: int, B: int) -> Tensor:
    """A mask (T, B, 1) with padded steps at the end, in the middle and at the start."""
    mask = torch.ones(T, B, 1, dtype=torch.bool)
    mask[-1, 0] = mask[1, 1] = mask[0, 1] = False
    return mask


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_function_gradcheck(reverse: bool, masked: bool) -> None:
    T, B, H = 4, 2, 3
    args = leaves((T, B, 4 * H), (B, H), (B, H), (4 * H, H))
    mask = some_padding(T, B) if masked else None
    assert gradcheck(lambda *a: LSTMScan.apply(*a, reverse, mask), args)
    # Only some results used: the backward gets None for the others.
    assert gradcheck(lambda *a: LSTMScan.apply(*a, reverse, mask)[0], args)
    assert gradcheck(lambda *a: LSTMScan.apply(*a, reverse, mask)[2], args)


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_gru_function_gradcheck(reverse: bool, with_bias: bool, masked: bool) -> None:
    T, B, H = 4, 2, 3
    args = leaves((T, B, 3 * H), (B, H), (3 * H, H), (H,))
    if not with_bias:
        args = [*args[:3], None]
    mask = some_padding(T, B) if masked else None
    assert gradcheck(lambda *a: GRUScan.apply(*a, reverse, mask), args)
    assert gradcheck(lambda *a: GRUScan.apply(*a, reverse, mask)[0], args)
    assert gradcheck(lambda *a: GRUScan.apply(*a, reverse, mask)[1], args)
