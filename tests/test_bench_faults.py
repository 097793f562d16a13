"""A case that cannot run here is skipped with its reason; a broken case still fails."""

from __future__ import annotations

import torch
import torch._dynamo.exc

from rnnbench import ImplUnavailable
from rnnbench.bench.faults import RECOMPILE_LIMIT, compile_limits, skip_reason
from rnnbench.bench.grid import Case


def case(impl: str, device: str = "cpu") -> Case:
    return Case("lstm", impl, device, "f32", 100, 64, 512, 512, 1)


def test_cuda_out_of_memory_names_the_case_and_the_allocation() -> None:
    error = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.\nmore")
    reason = skip_reason(case("eager", "cuda"), error)
    assert reason == ("lstm-eager-cuda-f32-I512-H512-L1-T100-B64-fwdbwd: cuda out of memory "
                      "at this size: CUDA out of memory. Tried to allocate 2.00 GiB.")


def test_unavailable_impl_is_skipped_with_its_own_message() -> None:
    reason = skip_reason(case("script"), ImplUnavailable("TorchScript is gone"))
    assert reason is not None and reason.endswith(": TorchScript is gone")


def test_compile_failure_skips_only_the_compiled_impl() -> None:
    error = torch._dynamo.exc.FailOnRecompileLimitHit("recompile_limit reached")
    assert "torch.compile cannot run here (FailOnRecompileLimitHit: recompile_limit reached)" in (
        skip_reason(case("compiled"), error) or "")
    assert skip_reason(case("eager"), error) is None


def test_other_errors_are_failures() -> None:
    assert skip_reason(case("compiled"), RuntimeError("shape mismatch")) is None
    assert skip_reason(case("native"), ValueError("bad")) is None


def test_compile_limits_apply_inside_only() -> None:
    before = torch._dynamo.config.recompile_limit
    with compile_limits():
        assert torch._dynamo.config.recompile_limit == RECOMPILE_LIMIT
        assert torch._dynamo.config.fail_on_recompile_limit_hit
    assert torch._dynamo.config.recompile_limit == before
