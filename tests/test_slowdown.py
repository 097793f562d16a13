"""The test-only slowdown switch adds work without changing any result."""

import pytest
import torch

from rnnbench import build, impls


@pytest.fixture
def slowed_lstm(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(impls.SLOWDOWN_ENV, "lstm:eager:1.5")
    impls.scan_for.cache_clear()
    yield
    impls.scan_for.cache_clear()


def test_slowdown_changes_no_result(slowed_lstm: None) -> None:
    assert isinstance(impls.scan_for("lstm", "eager"), impls.Slowed)
    assert not isinstance(impls.scan_for("gru", "eager"), impls.Slowed)
    torch.manual_seed(0)
    native, slowed = build("lstm", "native", 3, 4), build("lstm", "eager", 3, 4)
    slowed.load_state_dict(native.state_dict())
    x = torch.randn(6, 2, 3)
    for model in (native, slowed):
        model(x)[0].pow(2).sum().backward()
    torch.testing.assert_close(slowed(x)[0], native(x)[0])
    for a, b in zip(slowed.parameters(), native.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad)


def test_slowdown_really_runs_extra_steps(slowed_lstm: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    step = impls.scan_for("lstm", "eager").scan.step
    monkeypatch.setattr(step, "forward", lambda *a: calls.append(1) or type(step).forward(step, *a))
    build("lstm", "eager", 3, 4)(torch.randn(10, 2, 3))
    assert len(calls) == 15  # 10 steps plus half of them again


def test_malformed_slowdown_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(impls.SLOWDOWN_ENV, "lstm-eager-1.5")
    with pytest.raises(ValueError, match="CELL:IMPL:FACTOR"):
        impls.slowdown_factor("lstm", "eager")


@pytest.mark.parametrize("factor", ["inf", "nan", "-3", "0.5", "1e9"])
def test_a_slowdown_factor_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                   factor: str) -> None:
    monkeypatch.setenv(impls.SLOWDOWN_ENV, f"lstm:eager:{factor}")
    with pytest.raises(ValueError, match="factor from 1 to 100"):
        impls.slowdown_factor("lstm", "eager")
