"""CI smoke run of the convergence part (about 1.5 minutes on a 2-core CPU).

One thread each, on purpose: on a shared 2-core machine two OpenMP threads wait on each
other and the same run took over 10 minutes.

Selected only explicitly (``pytest -m smoke tests/test_converge_smoke.py``): it trains real
models and reads the real IMDB archive (``--data`` default, ``$RNNBENCH_IMDB`` or
``../shared/data/aclImdb_v1_labeled.tar.gz`` beside the repository). A missing archive is
a failure here, not a skip: CI must have it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rnnbench.cli import main
from rnnbench.converge import imdb

pytestmark = [pytest.mark.smoke, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def only_when_selected(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("markexpr"):
        pytest.skip("smoke run: select it with -m smoke")


def runs(path: Path) -> dict[str, dict]:
    return {r["cell"]: r for r in json.loads(path.read_text())["runs"]}


def test_gated_cells_solve_the_adding_problem_where_the_vanilla_rnn_does_not(tmp_path) -> None:
    out = tmp_path / "adding.json"
    assert main(["converge", "--task", "adding", "--cells", "rnn,lstm,gru", "--seeds", "1",
                 "--seq-len", "50", "--hidden-size", "32", "--lr", "0.01", "--epochs", "8",
                 "--steps-per-epoch", "100", "--threads", "1", "--out", str(out),
                 "--quiet"]) == 0
    result = runs(out)
    assert not result["rnn"]["summary"]["solved"]
    assert result["rnn"]["summary"]["best_loss"] > 0.1  # no better than predicting 1.0
    for cell in ("lstm", "gru"):
        assert result[cell]["summary"]["solved"], cell  # MSE < 0.01 within 800 steps
        assert result[cell]["summary"]["final_loss"] < 0.01


def test_an_lstm_learns_imdb_from_a_few_thousand_reviews(tmp_path) -> None:
    data = imdb.resolve_path(os.environ.get(imdb.ENV_VAR), base=REPO)
    out = tmp_path / "imdb.json"
    assert main(["converge", "--task", "imdb", "--cells", "lstm", "--data", str(data),
                 "--limit", "6000", "--max-len", "200", "--embed-dim", "64", "--hidden-size",
                 "64", "--num-layers", "1", "--lr", "0.003", "--epochs", "4",
                 "--threads", "1", "--out", str(out), "--quiet"]) == 0
    document = json.loads(out.read_text())
    assert document["data"]["test"] >= 2000
    summary = runs(out)["lstm"]["summary"]
    assert summary["test_accuracy_at_best"] >= 0.60, summary  # chance: 0.50
