"""The recurrent stack on padded batches equals PyTorch's modules on each unpadded sequence,
both directions included, and has exactly the closed-form number of parameters."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnbench.converge.models import (
    CASE_NAMES,
    RecurrentStack,
    classifier,
    parameter_record,
    reverse_padded,
)
from rnnbench.model import cells
from rnnbench.model.params import RecurrentConfig, count_parameters


def reference(stack: RecurrentStack) -> nn.Module:
    """The multi-layer torch.nn module holding the stack's weights under its own names."""
    config = stack.config
    spec = cells.get(config.cell)
    module = spec.native(config.input_size, config.hidden_size, config.num_layers,
                         batch_first=True, bidirectional=config.bidirectional,
                         **spec.native_kwargs)
    with torch.no_grad():
        for layer, directions in enumerate(stack.layers):
            for direction, one in enumerate(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for name, value in one.named_parameters():
                    getattr(module, name.replace("_l0", suffix)).copy_(value)
    return module


def padded_batch(lengths: list[int], features: int, seed: int) -> torch.Tensor:
    x = torch.randn(len(lengths), max(lengths), features,
                    generator=torch.Generator().manual_seed(seed))
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    return x


@settings(max_examples=15)
@given(cell=st.sampled_from([c for c in CASE_NAMES if cells.parse(c)[0].native]),
       layers=st.integers(1, 2),
       lengths=st.lists(st.integers(1, 9), min_size=1, max_size=5), seed=st.integers(0, 99))
def test_padded_stack_equals_torch_on_each_sequence_alone(cell, layers, lengths, seed) -> None:
    torch.manual_seed(seed)
    stack = RecurrentStack(cell, "native", 3, 4, layers, dropout=0.5).eval()
    module = reference(stack).eval()
    x = padded_batch(lengths, 3, seed)
    with torch.no_grad():
        outputs, finals = stack(x, torch.tensor(lengths))
        for b, n in enumerate(lengths):
            out, state = module(x[b:b + 1, :n])
            h_n = state[0] if isinstance(state, tuple) else state  # (L*D, 1, H)
            last_layer = h_n[-stack.config.directions:, 0]  # (D, H)
            torch.testing.assert_close(finals[b], last_layer.flatten())
            torch.testing.assert_close(outputs[b, :n], out[0])


def test_padding_content_changes_nothing_that_is_read() -> None:
    torch.manual_seed(0)
    stack = RecurrentStack("bilstm", "native", 3, 5, num_layers=2).eval()
    lengths = torch.tensor([6, 2, 4])
    x = padded_batch(lengths.tolist(), 3, 1)
    noisy = x.clone()
    for b, n in enumerate(lengths.tolist()):
        noisy[b, n:] = 100.0
    with torch.no_grad():
        (out_a, fin_a), (out_b, fin_b) = stack(x, lengths), stack(noisy, lengths)
    torch.testing.assert_close(fin_a, fin_b)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(out_a[b, :n], out_b[b, :n])


@pytest.mark.parametrize("cell", ["lstm", "bigru"])
def test_reference_impls_give_the_same_model(cell: str) -> None:
    torch.manual_seed(0)
    native = RecurrentStack(cell, "native", 3, 4, num_layers=2).eval()
    eager = RecurrentStack(cell, "eager", 3, 4, num_layers=2).eval()
    eager.load_state_dict(native.state_dict())
    x, lengths = padded_batch([5, 3], 3, 0), torch.tensor([5, 3])
    with torch.no_grad():
        torch.testing.assert_close(native(x, lengths)[1], eager(x, lengths)[1])
    assert eager.impl == "eager" and RecurrentStack("rnn", "eager", 3, 4).impl == "eager"
    assert RecurrentStack("mingru", "native", 3, 4).impl == "derived"  # no twin: its default
    assert RecurrentStack("mgu", "native", 3, 4).impl == "derived"


def test_reverse_padded_reverses_within_each_length_and_is_an_involution() -> None:
    x = torch.arange(8.0).reshape(2, 4, 1)
    lengths = torch.tensor([4, 2])
    assert reverse_padded(x, lengths)[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
    assert torch.equal(reverse_padded(reverse_padded(x, lengths), lengths), x)


@pytest.mark.parametrize("cell", list(CASE_NAMES))
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_parameters_match_the_closed_form(cell: str, layers: int) -> None:
    stack = RecurrentStack(cell, "native", 7, 5, layers)
    assert sum(p.numel() for p in stack.parameters()) == count_parameters(
        RecurrentConfig.named(cell, 7, 5, layers))
    model = classifier(cell, "native", vocab_size=50, embed_dim=7, hidden_size=5,
                       num_layers=layers, dropout=0.0)
    record = parameter_record(model)
    assert record["total"] == record["module"] == sum(p.numel() for p in model.parameters())


def test_seed_configuration_totals() -> None:
    """The seed's models with a 10,000-word vocabulary (its own totals imply other ones)."""
    totals = {cell: parameter_record(classifier(cell, "native", 10_000, 256, 128, 2, 0.5))
              for cell in ("lstm", "gru", "bilstm")}
    assert {c: r["breakdown"]["recurrent"] for c, r in totals.items()} == {
        "lstm": 329_728, "gru": 247_296, "bilstm": 790_528}
    assert totals["lstm"]["total"] == 2_560_000 + 329_728 + 258


def test_unknown_cell_is_named() -> None:
    with pytest.raises(ValueError, match="cell='tcn' is not accepted: expected one of 'rnn'"):
        RecurrentStack("tcn", "native", 3, 4)
