"""Convergence cases for pytest-benchmark, marked ``slow``: ``pytest benchmarks -m slow``.

Each case trains one cell on one task (seed 0) for a fixed budget through
``rnnbench converge``. pytest-benchmark times the whole run (one round), and ``extra_info``
carries what the run learned: steps to solve, final loss and accuracy (adding, copy), or
best validation accuracy, test accuracy at that epoch and the convergence epoch (IMDB),
plus seconds per epoch and parameters. So convergence travels in the same JSON as the
speed timings. ``--benchmark-disable`` runs each case once, untimed.

The IMDB cases read the archive from ``$RNNBENCH_IMDB`` or ``../shared/data/`` and are
skipped, saying so, where it is not there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rnnbench.cli import main
from rnnbench.converge import imdb

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_CELLS = ("rnn", "lstm", "gru", "bilstm", "bigru")
IMDB_CELLS = ("lstm", "gru", "bilstm")


@dataclass(frozen=True)
class ConvergenceCase:
    """One cell on one task with its budget; ``options`` are ``rnnbench converge`` flags."""

    task: str
    cell: str
    label: str
    options: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.task}-{self.cell}-{self.label}-converge"


#: The grid: every cell on the adding problem at T=100 and the copy task at T=20 (2,000
#: steps each), and the IMDB models at smoke size (6,000 reviews, 4 epochs).
CASES = [
    *(ConvergenceCase("adding", cell, "T100", (
        "--seq-len", "100", "--hidden-size", "64", "--lr", "0.01", "--epochs", "20",
        "--steps-per-epoch", "100")) for cell in SYNTHETIC_CELLS),
    *(ConvergenceCase("copy", cell, "T20", (
        "--seq-len", "20", "--hidden-size", "64", "--lr", "0.01", "--epochs", "20",
        "--steps-per-epoch", "100")) for cell in SYNTHETIC_CELLS),
    *(ConvergenceCase("imdb", cell, "limit6000", (
        "--limit", "6000", "--max-len", "200", "--embed-dim", "64", "--hidden-size", "64",
        "--num-layers", "1", "--lr", "0.003", "--epochs", "4")) for cell in IMDB_CELLS),
]


@pytest.fixture(autouse=True)
def only_when_selected(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("markexpr"):
        pytest.skip("convergence case (minutes): select it with -m slow")


def converge(case: ConvergenceCase, out: Path, data: Path | None) -> dict[str, Any]:
    extra = ["--data", str(data)] if data else []
    argv = ["converge", "--task", case.task, "--cells", case.cell, "--seeds", "1",
            *case.options, *extra, "--out", str(out), "--restart", "--quiet"]
    assert main(argv) == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_convergence(benchmark: Any, case: ConvergenceCase, tmp_path: Path) -> None:
    data = None
    if case.task == "imdb":
        try:
            data = imdb.resolve_path(os.environ.get(imdb.ENV_VAR), base=REPO)
        except FileNotFoundError as error:
            pytest.skip(f"no IMDB data: {error}")
    benchmark.group = f"convergence-{case.task}"
    document = benchmark.pedantic(converge, args=(case, tmp_path / "run.json", data),
                                  rounds=1, iterations=1)
    run = document["runs"][0]
    assert run["status"] == "done" and run["params"]["total"] == run["params"]["module"]
    benchmark.extra_info.update(
        case=case.id, kind="convergence", task=case.task, cell=case.cell,
        settings=document["settings"], params=run["params"]["total"], **run["summary"],
    )
