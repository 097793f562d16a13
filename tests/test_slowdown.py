"""The test-only slowdown switch adds work without changing any result."""

import pytest
import torch

from rnnbench import build
from rnnbench.bench import slowdown


@pytest.fixture
def slowed_lstm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(slowdown.ENV, "lstm:eager:1.5")


def test_slowdown_changes_no_result(slowed_lstm: None) -> None:
    torch.manual_seed(0)
    native = build("lstm", "native", 3, 4)
    slowed = slowdown.apply(build("lstm", "eager", 3, 4), "lstm", "eager")
    assert isinstance(slowed.scan, slowdown.Slowed)
    other = slowdown.apply(build("gru", "eager", 3, 4), "gru", "eager")
    assert not isinstance(other.scan, slowdown.Slowed)
    assert not isinstance(build("lstm", "eager", 3, 4).scan, slowdown.Slowed)  # others untouched
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
    model = slowdown.apply(build("lstm", "eager", 3, 4), "lstm", "eager")
    step = model.scan.scan.step
    monkeypatch.setattr(step, "forward", lambda *a: calls.append(1) or type(step).forward(step, *a))
    model(torch.randn(10, 2, 3))
    assert len(calls) == 15  # 10 steps plus half of them again


def test_malformed_slowdown_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(slowdown.ENV, "lstm-eager-1.5")
    with pytest.raises(ValueError, match="CELL:IMPL:FACTOR"):
        slowdown.factor("lstm", "eager")


@pytest.mark.parametrize("factor", ["inf", "nan", "-3", "0.5", "1e9"])
def test_a_slowdown_factor_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                   factor: str) -> None:
    monkeypatch.setenv(slowdown.ENV, f"lstm:eager:{factor}")
    with pytest.raises(ValueError, match="factor from 1 to 100"):
        slowdown.factor("lstm", "eager")
