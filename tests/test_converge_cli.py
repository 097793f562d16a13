"""``rnnbench converge`` end to end on a tiny made-up IMDB archive, and its bad-input exits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from test_converge_imdb import POSITIVE, layout, make_archive

from rnnbench.cli import main

TINY = ["--embed-dim", "8", "--hidden-size", "8", "--num-layers", "1", "--vocab-size", "40",
        "--batch-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("data") / "aclImdb_v1.tar.gz", layout(40))


def converge(capsys, *args: str | Path) -> tuple[int, str, str]:
    status = main(["converge", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_imdb_end_to_end_records_the_run_and_no_text(archive, tmp_path, capsys) -> None:
    out = tmp_path / "imdb.json"
    status, printed, _ = converge(capsys, "--task", "imdb", "--cells", "lstm,bilstm", "--epochs",
                                  "2", "--data", archive, "--out", out, *TINY)
    assert status == 0
    assert "| lstm | 1 |" in printed and "| bilstm | 1 |" in printed
    text = out.read_text()
    assert not any(word in text for word in POSITIVE)  # sizes and scores only, never text
    document = json.loads(text)
    assert document["data"]["train"] == 64 and document["data"]["val"] == 16
    assert document["data"]["test"] == 80 and document["data"]["vocab_size"] <= 40
    for run in document["runs"]:
        assert run["status"] == "done" and len(run["epochs"]) == 2
        assert run["params"]["total"] == run["params"]["module"]
        assert run["params"]["breakdown"]["embedding"] == document["data"]["vocab_size"] * 8
        epoch = run["epochs"][-1]
        assert 0 <= epoch["val_accuracy"] <= 1
        # The test split is scored only on an epoch that beats every earlier val accuracy.
        for k, row in enumerate(run["epochs"]):
            improved = all(row["val_accuracy"] > e["val_accuracy"] for e in run["epochs"][:k])
            assert ("test_accuracy" in row) == improved, row
        assert epoch["padded_tokens"] >= epoch["tokens"] > 0
        summary = run["summary"]
        assert summary["best_epoch"] in (1, 2) and summary["converged_epoch"] in (1, 2)
        best = run["epochs"][summary["best_epoch"] - 1]
        assert summary["test_accuracy_at_best"] == best["test_accuracy"]  # chosen on val


def test_imdb_model_learns_the_made_up_sentiment(archive, tmp_path, capsys) -> None:
    out = tmp_path / "learn.json"
    status, _, _ = converge(capsys, "--task", "imdb", "--cells", "gru", "--epochs", "6",
                            "--data", archive, "--out", out, "--lr", "0.02", *TINY)
    assert status == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["summary"]["test_accuracy_at_best"] >= 0.9  # chance is 0.5


def test_the_environment_variable_points_at_the_data(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RNNBENCH_IMDB", str(archive))
    status, _, _ = converge(capsys, "--task", "imdb", "--cells", "gru", "--epochs", "1",
                            "--limit", "20", "--out", tmp_path / "env.json", *TINY)
    assert status == 0
    data = json.loads((tmp_path / "env.json").read_text())["data"]
    assert (data["train"] + data["val"], data["test"]) == (20, 20)


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "speech"], "task='speech' is not accepted: expected one of 'adding', 'copy'"),
    (["--cells", "lstm,tcn"], "cell='tcn' is not accepted: expected one of 'rnn', 'lstm'"),
    (["--cells", ","], "cells=',' is not accepted"),
    (["--seeds", "0"], "seeds=0 is not accepted: expected a positive integer"),
    (["--epochs", "-1"], "epochs=-1 is not accepted"),
    (["--device", "tpu"], "device='tpu' is not accepted"),
    (["--impl", "cudnn"], "impl='cudnn' is not accepted"),
    (["--seq-len", "0"], "seq_len=0 is not accepted"),
    (["--hidden-size", "0"], "hidden_size=0 is not accepted"),
    (["--lr", "0"], "lr=0.0 is not accepted: expected a positive, finite number"),
    (["--dropout", "1.5"], "dropout=1.5 is not accepted"),
    (["--grad-clip", "-1"], "grad_clip=-1.0 is not accepted"),
    (["--limit", "10"], "--limit is not accepted with --task adding"),
])
def test_bad_synthetic_input_exits_2_with_a_clear_message(tmp_path, capsys, args, message):
    status, _, err = converge(capsys, *args, "--out", tmp_path / "x.json", "--quiet")
    assert status == 2
    assert f"rnnbench converge: error: {message}" in err
    assert "Traceback" not in err and not (tmp_path / "x.json").exists()


def test_cuda_without_cuda_exits_2(tmp_path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: --device cuda is valid input")
    status, _, err = converge(capsys, "--device", "cuda", "--out", tmp_path / "x.json")
    assert status == 2 and "CUDA is not available here" in err


@pytest.mark.parametrize(("data", "message"), [
    ("missing.tar.gz", "data='.*missing.tar.gz' is not accepted: no such file or directory"),
    ("corrupt.tar.gz", "not a readable tar archive"),
])
def test_bad_data_exits_2(tmp_path, capsys, data, message) -> None:
    (tmp_path / "corrupt.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    status, _, err = converge(capsys, "--task", "imdb", "--data", tmp_path / data,
                              "--out", tmp_path / "x.json", "--quiet")
    assert status == 2
    assert re.search(message, err), err


def test_no_data_anywhere_exits_2_naming_the_options(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("RNNBENCH_IMDB", raising=False)
    monkeypatch.chdir(tmp_path)
    status, _, err = converge(capsys, "--task", "imdb", "--quiet")
    assert status == 2 and "--data PATH" in err and "RNNBENCH_IMDB" in err


def test_limit_larger_than_the_data_exits_2(archive, tmp_path, capsys) -> None:
    status, _, err = converge(capsys, "--task", "imdb", "--data", archive, "--limit", "81",
                              "--out", tmp_path / "x.json", *TINY)
    assert status == 2
    assert "limit=81 is not accepted: the train split" in err and "has only 80 reviews" in err


def test_threads_apply_to_the_run_only(tmp_path, capsys) -> None:
    before = torch.get_num_threads()
    status, _, _ = converge(capsys, "--cells", "gru", "--seeds", "1", "--epochs", "1",
                            "--steps-per-epoch", "2", "--seq-len", "5", "--threads", "1",
                            "--out", tmp_path / "t.json", "--quiet")
    assert status == 0 and torch.get_num_threads() == before
    assert json.loads((tmp_path / "t.json").read_text())["environment"]["threads"] == 1
