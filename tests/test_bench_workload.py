"""One benchmark call does what the grid says: random inputs, fresh gradients every call."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence

from rnnbench.bench import workload as workload_module
from rnnbench.bench.grid import Case
from rnnbench.bench.workload import Workload, make_workload
from rnnbench.model.build import build


def grads(workload: Workload) -> list[torch.Tensor | None]:
    packed = isinstance(workload.inputs, PackedSequence)
    leaf = workload.inputs.data if packed else workload.inputs
    return [p.grad for p in workload.model.parameters()] + [leaf.grad]


@pytest.mark.parametrize("impl", ["native", "eager"])
@pytest.mark.parametrize("layout", ["padded", "packed"])
def test_fwdbwd_gives_the_same_fresh_gradients_every_call(impl: str, layout: str) -> None:
    workload = make_workload(Case("bilstm", impl, "cpu", "f32", 9, 4, 6, 5, 2, layout))
    workload()
    first = [g.clone() for g in grads(workload)]
    workload()
    second = grads(workload)
    assert all(g is not None and g.abs().sum() > 0 for g in second)
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b)  # reset, not accumulated


def test_fwd_is_inference() -> None:
    workload = make_workload(Case("gru", "eager", "cpu", "f32", 9, 4, 6, 5, 1, pass_="fwd"))
    workload()
    assert all(g is None for g in grads(workload))


def test_inputs_are_random_and_seeded() -> None:
    case = Case("gru", "native", "cpu", "f32", 9, 4, 6, 5, 1)
    one, two = make_workload(case, seed=1), make_workload(case, seed=1)
    assert one.inputs.abs().min() > 0 and one.inputs.std() > 0.5
    torch.testing.assert_close(one.inputs, two.inputs)
    assert not torch.equal(one.inputs, make_workload(case, seed=2).inputs)


def test_packed_lengths_are_random_and_the_longest_spans_t() -> None:
    workload = make_workload(Case("lstm", "eager", "cpu", "f32", 30, 16, 6, 5, 1, "packed"))
    batch_sizes = workload.inputs.batch_sizes
    assert len(batch_sizes) == 30  # the longest sequence is T steps long
    assert 30 <= workload.tokens == int(batch_sizes.sum()) < 30 * 16
    assert workload.grad_output.shape == (workload.tokens, 5)


def test_dtype_and_shapes_follow_the_case() -> None:
    workload = make_workload(Case("bigru", "eager", "cpu", "f32", 7, 3, 6, 5, 1))
    assert workload.inputs.shape == (7, 3, 6) and workload.inputs.dtype == torch.float32
    assert workload.grad_output.shape == (7, 3, 10)  # both directions
    assert workload.tokens == 21


def test_inputs_do_not_follow_how_much_randomness_the_builder_draws(monkeypatch) -> None:
    """A refactored builder that draws more (or fewer) random numbers must not change the
    inputs, nor the packed lengths that set the native case's op count and peak memory."""
    case = Case("lstm", "native", "cpu", "f32", 12, 4, 6, 5, 1, "packed")
    before = make_workload(case)

    def greedy_build(*args, **kwargs):
        torch.randn(1000)
        return build(*args, **kwargs)

    monkeypatch.setattr(workload_module, "build", greedy_build)
    after = make_workload(case)
    assert torch.equal(after.inputs.batch_sizes, before.inputs.batch_sizes)
    torch.testing.assert_close(after.inputs.data, before.inputs.data)
    torch.testing.assert_close(after.grad_output, before.grad_output)
