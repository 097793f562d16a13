"""On CUDA, every custom impl computes what cuDNN computes: outputs, states and gradients.

Marked ``gpu`` (``pytest -m gpu``, which scripts/gpu_run.py runs first on a lent GPU); on a
machine without CUDA every case is skipped with the reason.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnbench import build
from rnnbench.bench import grid
from rnnbench.bench.workload import make_workload

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CUSTOM = ["eager", "script", "compiled", "derived", "triton"]
F64 = torch.float64


def run(model, x, hx, packed: bool):
    """Outputs, final states and every gradient of one forward and backward."""
    leaf = x.clone().requires_grad_()
    inputs = pack_padded_sequence(leaf, torch.tensor([6, 4, 1]), enforce_sorted=False) \
        if packed else leaf
    output, state = model(inputs, hx)
    data = output.data if packed else output
    states = list(state) if isinstance(state, tuple) else [state]
    (data.sum() + sum(s.square().sum() for s in states)).backward()
    return [data, *states, leaf.grad, *(p.grad for p in model.parameters())]


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("impl", CUSTOM)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_custom_matches_cudnn_in_float64(cell: str, impl: str, packed: bool) -> None:
    torch.manual_seed(0)
    kwargs = dict(input_size=5, hidden_size=4, num_layers=2, bidirectional=True)
    native = build(cell, "native", **kwargs).to("cuda", F64)
    custom = build(cell, impl, **kwargs).to("cuda", F64)
    custom.load_state_dict(native.state_dict())
    x = torch.randn(6, 3, 5, dtype=F64, device="cuda")
    h0 = torch.randn(4, 3, 4, dtype=F64, device="cuda")
    hx = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    for got, want in zip(run(custom, x, hx, packed), run(native, x, hx, packed), strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dtype", ["bf16", "f16"])
@pytest.mark.parametrize("impl", ["native", *CUSTOM])
def test_half_precision_stays_close_to_float32(impl: str, dtype: str) -> None:
    """Every impl in half precision is within half-precision rounding of float32 cuDNN."""
    torch.manual_seed(0)
    half = getattr(torch, grid.DTYPES[dtype])
    reference = build("lstm", "native", 64, 64).cuda()
    model = build("lstm", impl, 64, 64).cuda()
    model.load_state_dict(reference.state_dict())
    x = torch.randn(50, 8, 64, device="cuda")
    want, _ = reference(x)
    got, _ = model.to(half)(x.to(half))
    assert got.dtype == half
    error = (got.float() - want).norm() / want.norm()
    assert error < (2e-2 if dtype == "bf16" else 5e-3), error


def test_every_quick_cuda_case_builds_and_runs_once() -> None:
    """The benchmark grid's CUDA cases (one of each shape) run and give finite outputs."""
    seen = set()
    for case in grid.cases("quick", ["cuda"]):
        if case.impl != "eager" or case.shape_key in seen:
            continue
        seen.add(case.shape_key)
        workload = make_workload(case)
        workload()
        if case.pass_ == "fwdbwd":
            inputs = workload.inputs
            leaf = inputs.data if isinstance(inputs, PackedSequence) else inputs
            assert torch.isfinite(leaf.grad).all(), case.id
    assert seen
