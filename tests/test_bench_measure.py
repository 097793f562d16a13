"""What the benchmarks record besides time: the FLOP formula, op counts, peak memory."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

from rnnbench.bench.grid import PASSES, Case
from rnnbench.bench.measure import matmul_flops, profile_call, throughput
from rnnbench.bench.workload import make_workload
from rnnbench.model import cells


@st.composite
def small_cases(draw: st.DrawFn, impl: str = "eager", layout: str = "padded") -> Case:
    return Case(
        cell=draw(st.sampled_from(cells.names())), impl=impl, device="cpu", dtype="f32",
        T=draw(st.integers(1, 6)), B=draw(st.integers(1, 5)),
        input_size=draw(st.integers(1, 9)), hidden_size=draw(st.integers(1, 9)),
        num_layers=draw(st.integers(1, 3)), layout=layout, pass_=draw(st.sampled_from(PASSES)),
    )


@settings(max_examples=30)
@given(small_cases())
def test_formula_matches_pytorchs_flop_counter(case: Case) -> None:
    workload = make_workload(case)
    grad = case.pass_ == "fwdbwd"
    # An initial state that needs a gradient, so autograd skips no recurrent matmul.
    shape = (case.num_layers * (2 if case.bidirectional else 1), case.B, case.hidden_size)
    hx = [torch.zeros(shape, requires_grad=grad) for _ in cells.get(case.base_cell).state]
    with FlopCounterMode(display=False) as counter:  # its module hooks need autograd on
        out, _ = workload.model(workload.inputs, tuple(hx) if len(hx) > 1 else hx[0])
        if grad:
            (out.data if isinstance(out, PackedSequence) else out).backward(workload.grad_output)
    assert matmul_flops(case, workload.tokens) == counter.get_total_flops()


def test_formula_for_the_seed_layer() -> None:
    # 2 * 4H * (I + H) per token = 2 * 512 * 384 = 393,216; 6,400 tokens; x3 with backward.
    case = Case("lstm", "native", "cpu", "f32", 100, 64, 256, 128, 1)
    assert matmul_flops(case, 6400) == 3 * 6400 * 393_216


def test_packed_input_is_credited_with_its_real_tokens_only() -> None:
    padded = Case("gru", "eager", "cpu", "f32", 20, 8, 16, 8, 2)
    packed = Case("gru", "eager", "cpu", "f32", 20, 8, 16, 8, 2, layout="packed")
    tokens = make_workload(packed).tokens
    assert 20 <= tokens < 20 * 8
    assert matmul_flops(packed, tokens) * 160 == matmul_flops(padded, 160) * tokens


@pytest.mark.parametrize("impl", ["native", "eager"])
@pytest.mark.parametrize("pass_", PASSES)
def test_op_count_is_deterministic(impl: str, pass_: str) -> None:
    workload = make_workload(Case("lstm", impl, "cpu", "f32", 12, 3, 5, 4, 1, pass_=pass_))
    workload()
    counts = [profile_call(workload, "cpu").aten_ops for _ in range(3)]
    assert counts[0] > 0 and counts == [counts[0]] * 3


def test_eager_dispatches_ops_per_step_native_does_not() -> None:
    def ops(impl: str, T: int) -> int:
        workload = make_workload(Case("lstm", impl, "cpu", "f32", T, 3, 5, 4, 1))
        workload()
        return profile_call(workload, "cpu").aten_ops

    assert ops("eager", 20) - ops("eager", 10) >= 10 * 5  # several ops per extra step
    assert ops("native", 20) == ops("native", 10)  # one fused kernel call per layer


def test_peak_memory_covers_the_activations_and_grows_with_length() -> None:
    def peak(T: int) -> int:
        workload = make_workload(Case("gru", "eager", "cpu", "f32", T, 16, 32, 64, 1))
        workload()
        workload.reset()
        return profile_call(workload, "cpu").peak_memory_bytes

    short, long = peak(50), peak(200)
    assert short >= 50 * 16 * 64 * 4  # at least the output (T, B, H) in float32
    assert 3 * short < long < 5 * short


def test_throughput_divides_by_the_time() -> None:
    assert throughput(6400, 3_000_000, 0.5) == {"tokens_per_s": 12800.0,
                                                "flops_per_s": 6_000_000.0}
