"""Argument checks whose errors name the parameter, the value and what is accepted."""

from __future__ import annotations

from collections.abc import Iterable


def check_positive(name: str, value: object) -> None:
    """Reject anything but a positive ``int`` (``bool`` included, since ``True == 1``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}={value!r} is not accepted: expected a positive integer")


def check_choice(name: str, value: object, accepted: Iterable[str]) -> None:
    accepted = list(accepted)
    if value not in accepted:
        raise ValueError(
            f"{name}={value!r} is not accepted: expected one of {', '.join(map(repr, accepted))}"
        )


def check_dropout(dropout: object) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout={dropout!r} is not accepted: expected a number in [0, 1)")
