"""What is specific to this suite; the pytest glue (options, the ``bench_case`` parameter,
progress, machine info, the summary) is the package's plugin, :mod:`rnnbench.bench.plugin`.

The ``slow`` convergence cases run only when a ``-m`` expression asks for marks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = [item for item in items
            if item.get_closest_marker("slow") and HERE in item.path.parents]
    if slow and not config.getoption("markexpr"):
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]
        from rnnbench.bench.plugin import not_collected

        not_collected(config, f"{len(slow)} convergence cases (minutes each): "
                              "select them with -m slow")
