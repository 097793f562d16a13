"""Results are written per epoch; an interrupted run resumes exactly where it stopped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from rnnbench.cli import main
from rnnbench.converge import store as store_module
from rnnbench.converge import train as train_module

ADDING = ["converge", "--task", "adding", "--cells", "lstm,bigru", "--seeds", "1", "--seq-len",
          "12", "--hidden-size", "6", "--steps-per-epoch", "5", "--eval-size", "32",
          "--dropout", "0", "--quiet"]


def converge(out: Path, *extra: str) -> int:
    return main([*ADDING, "--out", str(out), *extra])


def curves(path: Path) -> list[tuple[str, int, list[float]]]:
    document = json.loads(path.read_text())
    return [(r["cell"], r["seed"], [(e["train_loss"], e["eval_loss"], e["eval_accuracy"])
                                    for e in r["epochs"]]) for r in document["runs"]]


def test_an_interrupted_run_resumes_to_the_same_numbers(tmp_path, monkeypatch) -> None:
    assert converge(tmp_path / "straight.json", "--epochs", "3") == 0

    original = train_module.train_epoch

    def dies_in_epoch_2_of_bigru(experiment, model, optimizer, seed, epoch, *args):
        result = original(experiment, model, optimizer, seed, epoch, *args)
        if model.stack.config.bidirectional and epoch == 2:
            raise KeyboardInterrupt  # the work of epoch 2 is lost, as in a real crash
        return result

    monkeypatch.setattr(train_module, "train_epoch", dies_in_epoch_2_of_bigru)
    out = tmp_path / "resumed.json"
    assert converge(out, "--epochs", "3") == 130
    document = json.loads(out.read_text())  # complete JSON, never half-written
    interrupted = next(r for r in document["runs"] if r["cell"] == "bigru")
    assert interrupted["status"] == "running" and len(interrupted["epochs"]) == 1
    assert all(r["status"] == "done" for r in document["runs"] if r is not interrupted)

    monkeypatch.setattr(train_module, "train_epoch", original)
    assert converge(out, "--epochs", "3") == 0
    assert curves(out) == curves(tmp_path / "straight.json")
    assert all(r["status"] == "done" for r in json.loads(out.read_text())["runs"])


def test_more_epochs_extend_finished_runs(tmp_path) -> None:
    out = tmp_path / "r.json"
    assert converge(out, "--epochs", "1") == 0
    assert converge(out, "--epochs", "2") == 0
    assert converge(tmp_path / "straight.json", "--epochs", "2") == 0
    assert curves(out) == curves(tmp_path / "straight.json")
    steps = [e["step"] for e in json.loads(out.read_text())["runs"][0]["epochs"]]
    assert steps == [5, 10]


def test_checkpoints_load_with_weights_only(tmp_path, monkeypatch) -> None:
    out = tmp_path / "r.json"
    assert converge(out, "--epochs", "1", "--checkpoints", str(tmp_path / "ck")) == 0
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "bigru-seed0.pt", "lstm-seed0.pt"]
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(store_module.torch, "load", spy)
    assert converge(out, "--epochs", "2", "--checkpoints", str(tmp_path / "ck")) == 0
    assert calls == [True] * 2


def test_other_settings_are_refused_unless_restarted(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    assert converge(out, "--epochs", "1") == 0
    capsys.readouterr()
    assert converge(out, "--epochs", "1", "--lr", "0.05") == 2
    err = capsys.readouterr().err
    assert "rnnbench converge: error: out=" in err and "other settings" in err
    assert "--restart" in err
    assert converge(out, "--epochs", "1", "--lr", "0.05", "--restart") == 0
    restarted = json.loads(out.read_text())
    assert restarted["settings"]["lr"] == 0.05
    assert all(len(r["epochs"]) == 1 and r["summary"] for r in restarted["runs"])


def test_restart_and_other_settings_never_resume_an_old_checkpoint(tmp_path) -> None:
    assert converge(tmp_path / "a.json", "--epochs", "2") == 0
    ck = ["--checkpoints", str(tmp_path / "a.checkpoints")]
    # the same checkpoints, other settings, no results file: train from scratch
    assert converge(tmp_path / "b.json", "--epochs", "2", "--lr", "0.05", *ck) == 0
    assert converge(tmp_path / "c.json", "--epochs", "2", "--lr", "0.05") == 0
    assert curves(tmp_path / "b.json") == curves(tmp_path / "c.json")
    assert curves(tmp_path / "b.json") != curves(tmp_path / "a.json")
    # --restart trains from scratch even where a matching 2-epoch checkpoint is there
    assert converge(tmp_path / "c.json", "--epochs", "1", "--lr", "0.05", "--restart") == 0
    assert curves(tmp_path / "c.json") == [
        (cell, seed, curve[:1]) for cell, seed, curve in curves(tmp_path / "b.json")]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"schema": "other/1"})])
def test_a_file_that_is_not_our_results_is_refused(tmp_path, capsys, content) -> None:
    out = tmp_path / "r.json"
    out.write_text(content)
    assert converge(out, "--epochs", "1") == 2
    assert "is not accepted" in capsys.readouterr().err
    assert out.read_text() == content  # left alone


def test_results_json_documents_every_epoch(tmp_path) -> None:
    out = tmp_path / "r.json"
    assert converge(out, "--epochs", "2", "--seeds", "2") == 0
    document = json.loads(out.read_text())
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it
    assert document["schema"] == store_module.SCHEMA and document["task"] == "adding"
    assert document["environment"]["flush_denormal"] in (True, False)
    run = document["runs"][0]
    assert run["params"]["total"] == run["params"]["module"] > 0
    epoch = run["epochs"][1]
    for key in ("epoch", "step", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy",
                "train_seconds", "train_cpu_seconds", "eval_seconds", "tokens", "padded_tokens",
                "tokens_per_second", "peak_memory_mib", "peak_memory_method", "finished"):
        assert key in epoch, key
    assert epoch["device_name"] == document["environment"]["device_name"]
    assert epoch["tokens"] == epoch["padded_tokens"] == 5 * 64 * 12
    assert epoch["train_cpu_seconds"] > 0 and run["summary"]["cpu_seconds_per_epoch"] > 0
    for key in ("solved", "steps_to_solve", "final_loss", "seconds_per_epoch",
                "tokens_per_second", "peak_memory_mib"):
        assert key in run["summary"], key
    assert document["cells"]["lstm"]["seeds"] == [0, 1]
    assert document["cells"]["lstm"]["final_loss"]["n"] == 2


def test_denormals_are_flushed_only_while_training(tmp_path) -> None:
    tiny = 1e-310  # a denormal double
    assert tiny > 0
    assert converge(tmp_path / "r.json", "--epochs", "1", "--cells", "lstm", "--seeds", "1") == 0
    assert tiny * 1.0 > 0  # the process-wide mode is off again
