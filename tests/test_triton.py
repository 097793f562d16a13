"""impl ``triton`` on the CPU, under Triton's interpreter: exact twins of nn.LSTM / nn.GRU.

The kernels are timed on a GPU only (``tests/test_cuda.py``, the prepared GPU run); here the
interpreter runs the same kernels in float64, so the maths and the masking are checked
everywhere CI runs.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnnbench import ImplUnavailable, build
from rnnbench.model import cells, kernels

pytest.importorskip("triton", reason="impl 'triton' needs the triton package")


@pytest.fixture
def interpreted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The kernels defined afresh under ``TRITON_INTERPRET=1`` (and forgotten afterwards)."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.delitem(sys.modules, "rnnbench.model.triton_steps", raising=False)
    kernels._kernels.cache_clear()
    yield
    monkeypatch.delitem(sys.modules, "rnnbench.model.triton_steps", raising=False)
    kernels._kernels.cache_clear()


def _run(model: torch.nn.Module, x: torch.Tensor, lengths: list[int] | None,
         hx: object) -> list[torch.Tensor]:
    """Outputs, final states, and the gradients of the input and every parameter."""
    x = x.clone().requires_grad_()
    data = pack_padded_sequence(x, torch.tensor(lengths)) if lengths else x
    out, state = model(data, hx)
    out = out.data if lengths else out
    states = state if isinstance(state, tuple) else (state,)
    loss = (out * torch.linspace(-1, 1, out.shape[-1], dtype=out.dtype)).sum()
    (loss + sum((s * 1.7).sum() for s in states)).backward()
    return [out, *states, x.grad, *(p.grad for p in model.parameters())]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_triton_matches_the_twin_in_float64(interpreted: None, cell: str, bidirectional: bool,
                                            packed: bool) -> None:
    torch.manual_seed(0)
    native = build(cell, "native", 3, 4, num_layers=2, bidirectional=bidirectional).double()
    custom = build(cell, "triton", 3, 4, num_layers=2, bidirectional=bidirectional).double()
    custom.load_state_dict(native.state_dict())
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    h0 = torch.randn(4 if bidirectional else 2, 3, 4, dtype=torch.float64)
    hx = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    lengths = [5, 3, 1] if packed else None
    for want, got in zip(_run(native, x, lengths, hx), _run(custom, x, lengths, hx),
                         strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)


def test_triton_is_refused_on_the_cpu_without_the_interpreter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    model = build("lstm", "triton", 3, 4)
    with pytest.raises(ImplUnavailable, match=r"impl='triton' is not available: .*CUDA"):
        model(torch.randn(2, 1, 3))


def test_triton_is_registered_for_cuda_only() -> None:
    for name in ("lstm", "gru", "lstmfb"):
        spec = cells.get(name)
        assert "triton" in spec.impls and "triton" in spec.impls_on("cuda")
        assert "triton" not in spec.impls_on("cpu")
    assert all("triton" not in c.impls for c in cells.CELLS.values() if c.native is None)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("name", ["lstm_forward", "lstm_backward", "gru_forward",
                                  "gru_backward"])
def test_the_kernels_compile_for_an_h100(monkeypatch: pytest.MonkeyPatch, name: str,
                                         dtype: str) -> None:
    """Triton's own compiler (with its bundled ptxas) builds each kernel for sm_90 here, so
    a GPU session finds kernels that compile, not just kernels that interpret."""
    from triton.backends import backends

    if "nvidia" not in backends:
        pytest.skip("this Triton has no NVIDIA backend")
    from triton import compile as triton_compile
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setenv("TRITON_DEFAULT_FP_FUSION", "1")
    monkeypatch.delitem(sys.modules, "rnnbench.model.triton_steps", raising=False)
    steps = importlib.import_module("rnnbench.model.triton_steps")
    kernel = getattr(steps, name)
    constants = {"MASKED": True, "UPCAST": dtype == "bf16", "BLOCK": kernels.BLOCK,
                 **({"HAS_DY": True} if "backward" in name else {})}
    types = {"keep": "*i8", "hidden": "i32", "total": "i32"}
    signature = {arg: "constexpr" if arg in constants else types.get(arg, f"*{dtype}")
                 for arg in inspect.signature(kernel.fn).parameters}
    compiled = triton_compile(ASTSource(kernel, signature, constants),
                              target=GPUTarget("cuda", 90, 32))
    assert compiled.asm["cubin"] and ".entry " + name in compiled.asm["ptx"]
