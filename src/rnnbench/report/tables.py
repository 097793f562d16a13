"""Markdown tables and the number formats every section shares."""

from __future__ import annotations

import math
from collections.abc import Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                   right: Sequence[int] = ()) -> str:
    """A GitHub markdown table; columns listed in ``right`` (indices) are right-aligned."""
    if not rows:
        raise ValueError("rows=[] is not accepted: a table needs at least one row")
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(
                f"row {list(row)!r} has {len(row)} cells: expected {len(headers)} like the headers"
            )
    rule = ["---:" if index in right else "---" for index in range(len(headers))]
    lines = [headers, rule, *[[str(cell) for cell in row] for row in rows]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def count(value: float) -> str:
    """``197632`` -> ``197,632``; non-integers keep one decimal."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def millions(value: float) -> str:
    return f"{value / 1e6:.2f}M"


def seconds(value: float) -> str:
    """A duration with three significant digits in a unit that keeps it readable."""
    if value >= 1:
        return f"{plain(value)} s"
    if value >= 1e-3:
        return f"{plain(value * 1e3)} ms"
    return f"{plain(value * 1e6)} µs"


def plain(value: float) -> str:
    """About three significant digits, never in exponent form: 0.123, 12.3, 1,234."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    if value == 0:
        return "0"
    # Three significant digits as a decimal, down to 1e-6: a table never shows 2.4e-05.
    decimals = min(6, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def ms(value: float) -> str:
    """Seconds shown as milliseconds, the unit of the speed tables."""
    return plain(value * 1e3)


def ratio(value: float) -> str:
    return f"{value:.2f}×"


def percent(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def no_data(what: str, why: str) -> str:
    """The line a section shows instead of its content when its inputs are missing."""
    return f"_No data yet for {what}: {why}._"
