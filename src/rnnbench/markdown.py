"""The markdown table every printed or generated table is written as (targets, reports)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Iterable[int] = ()
          ) -> str:
    """A GitHub markdown table; the columns in ``right`` (indices) are right-aligned."""
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells: expected "
                             f"{len(headers)} like the headers")
    right = set(right)
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    return "\n".join("| " + " | ".join(map(str, line)) + " |"
                     for line in [headers, rule, *rows])
