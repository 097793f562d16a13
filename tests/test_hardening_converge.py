"""``rnnbench converge`` hardened: diverged runs, corrupt state, unwritable outputs, a shared
``--out``, resume semantics and the ``--data`` checks. Each test reproduces one item."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from test_converge_imdb import layout, make_directory

from rnnbench.cli import main
from rnnbench.converge import imdb
from rnnbench.converge import train as train_module
from rnnbench.converge.store import ResultsStore

TINY = ["converge", "--task", "adding", "--cells", "lstm", "--seeds", "1", "--seq-len", "8",
        "--hidden-size", "4", "--steps-per-epoch", "2", "--eval-size", "16", "--batch-size",
        "8", "--quiet"]


def converge(capsys: pytest.CaptureFixture[str], out: Path, *extra: str | Path) -> tuple[int, str]:
    status = main([*TINY, "--out", str(out), *map(str, extra)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def strict(path: Path) -> dict:
    """The file as a strict JSON parser reads it: NaN and Infinity are errors."""
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path} holds {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("trained")

    monkeypatch.setattr(train_module, "train_epoch", fail)


# item 2: non-finite numbers ---------------------------------------------------------------

def test_an_infinite_lr_is_refused(tmp_path, capsys) -> None:
    status, err = converge(capsys, tmp_path / "r.json", "--lr", "inf")
    assert status == 2 and "lr=inf is not accepted" in err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(("lr", "reason"), [("1e30", "train_loss is"), ("1e300", "overflowed")])
def test_a_diverging_run_is_recorded_as_diverged_and_reported(tmp_path, capsys, monkeypatch,
                                                             lr, reason) -> None:
    out = tmp_path / "r.json"
    status, _ = converge(capsys, out, "--epochs", "3", "--lr", lr, "--grad-clip", "0")
    assert status == 0
    run = strict(out)["runs"][0]
    assert run["status"] == "diverged" and run["diverged"]["epoch"] == 1
    assert reason in run["diverged"]["reason"]
    assert run["epochs"] == []  # only finite epochs are kept

    no_training(monkeypatch)  # a rerun keeps the diverged run
    assert converge(capsys, out, "--epochs", "3", "--lr", lr, "--grad-clip", "0")[0] == 0
    assert strict(out)["runs"] == [run]

    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "README.md").read_text()
    assert "Diverged" in text and "seed 0 in epoch 1" in text


def test_a_report_of_a_file_holding_nan_names_the_file(tmp_path, capsys) -> None:
    old = tmp_path / "old.json"  # as main at bccb543 wrote a diverged run
    old.write_text('{"schema": "rnnbench.converge/1", "task": "adding", "runs": [{"cell": '
                   '"lstm", "seed": 0, "epochs": [{"epoch": 1, "step": 2, "eval_loss": NaN}]}]}')
    status = main(["report", str(old), "--out", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert status == 2 and str(old) in err and "NaN" in err and "Traceback" not in err


# item 3: corrupt state -----------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncate", "list", "garbage"])
def test_a_corrupt_checkpoint_is_exit_2_naming_it(tmp_path, capsys, damage) -> None:
    out = tmp_path / "r.json"
    assert converge(capsys, out, "--epochs", "1")[0] == 0
    checkpoint = tmp_path / "r.checkpoints" / "lstm-seed0.pt"
    if damage == "truncate":
        checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    elif damage == "list":
        torch.save([1, 2, 3], checkpoint)
    else:
        checkpoint.write_bytes(b"not a checkpoint")
    status, err = converge(capsys, out, "--epochs", "2")
    assert status == 2 and f"checkpoint {str(checkpoint)!r}" in err and "--restart" in err
    assert converge(capsys, out, "--epochs", "2", "--restart")[0] == 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("runs"), "'runs' is NoneType, expected list"),
    (lambda d: d["runs"][0].update(seed="0"), "runs[0].seed is '0', expected int"),
    (lambda d: d["runs"][0].update(status="weird"), "runs[0].status is 'weird'"),
    (lambda d: d["runs"][0]["epochs"].append(3), "runs[0].epochs holds an entry"),
])
def test_a_mangled_results_file_is_exit_2_naming_it(tmp_path, capsys, change, message) -> None:
    out = tmp_path / "r.json"
    assert converge(capsys, out, "--epochs", "1")[0] == 0
    document = json.loads(out.read_text())
    change(document)
    out.write_text(json.dumps(document))
    status, err = converge(capsys, out, "--epochs", "1")
    assert status == 2 and f"out={str(out)!r} is not accepted" in err and message in err
    assert "--restart" in err


# item 4: unwritable outputs are found before training ---------------------------------------

@pytest.mark.parametrize("option", ["--out", "--checkpoints"])
def test_outputs_under_a_file_are_refused_before_training(tmp_path, capsys, monkeypatch,
                                                         option) -> None:
    no_training(monkeypatch)
    afile = tmp_path / "afile"
    afile.write_text("x")
    if option == "--out":
        status, err = converge(capsys, afile / "x.json", "--epochs", "1")
        assert f"--out {str(afile / 'x.json')!r}: its folder {str(afile)!r} is a file" in err
    else:
        status, err = converge(capsys, tmp_path / "r.json", "--epochs", "1", "--checkpoints",
                               afile)
        assert f"--checkpoints {str(afile)!r} is a file" in err
    assert status == 2


# item 5: two runs sharing one --out -----------------------------------------------------------

def test_two_stores_writing_one_file_keep_both_runs(tmp_path) -> None:
    out = tmp_path / "r.json"
    settings, data, env = {"lr": 0.01}, {"eval": 16}, {"device": "cpu"}
    first = ResultsStore(out, "adding", settings, data, env)
    second = ResultsStore(out, "adding", settings, data, env)  # opened before any write
    first.run("lstm", 0)["epochs"].append({"epoch": 1, "step": 2})
    second.run("gru", 0)["epochs"].append({"epoch": 1, "step": 2})
    first.write()
    second.write()
    first.write()
    runs = {(r["cell"], len(r["epochs"])) for r in strict(out)["runs"]}
    assert runs == {("lstm", 1), ("gru", 1)}
    assert (tmp_path / "r.json.lock").exists()


def test_a_second_converge_during_the_first_loses_nothing(tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "r.json"
    real_run = train_module.run
    started = []

    def with_a_second_process(experiment, cell, *args, **kwargs):
        if not started:  # while the first invocation trains lstm, a second one trains gru
            started.append(cell)
            assert main([*TINY, "--cells", "gru", "--epochs", "1", "--out", str(out)]) == 0
        return real_run(experiment, cell, *args, **kwargs)

    monkeypatch.setattr(train_module, "run", with_a_second_process)
    monkeypatch.setattr("rnnbench.commands.converge.train_run", with_a_second_process)
    assert converge(capsys, out, "--epochs", "1")[0] == 0
    assert sorted(r["cell"] for r in strict(out)["runs"]) == ["gru", "lstm"]


# item 6: resume semantics ---------------------------------------------------------------------

def test_finished_runs_are_kept_when_the_checkpoints_are_gone(tmp_path, capsys,
                                                              monkeypatch) -> None:
    out = tmp_path / "r.json"
    assert converge(capsys, out, "--epochs", "2")[0] == 0
    before = strict(out)["runs"]
    shutil.rmtree(tmp_path / "r.checkpoints")
    no_training(monkeypatch)
    assert converge(capsys, out, "--epochs", "2")[0] == 0
    assert strict(out)["runs"] == before


def test_fewer_epochs_than_the_file_holds_are_refused(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    assert converge(capsys, out, "--epochs", "2")[0] == 0
    before = out.read_text()
    status, err = converge(capsys, out, "--epochs", "1")
    assert status == 2 and "epochs=1 is not accepted" in err
    assert "trained to epoch 2" in err and "--epochs 2" in err and "--restart" in err
    assert out.read_text() == before
    assert converge(capsys, out, "--epochs", "1", "--restart")[0] == 0
    assert [len(r["epochs"]) for r in strict(out)["runs"]] == [1]


# item 7: --data --------------------------------------------------------------------------------

def test_data_that_is_not_a_file_or_directory_is_refused(tmp_path, capsys) -> None:
    status = main(["converge", "--task", "imdb", "--data", "/dev/zero", "--out",
                   str(tmp_path / "r.json"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and "data='/dev/zero' is not accepted: not a regular file" in err


def test_a_directory_refuses_reviews_linked_from_outside(tmp_path) -> None:
    root = make_directory(tmp_path / "data", layout(per_class=2))
    outside = tmp_path / "secret.txt"
    outside.write_text("not a review")
    review = next((root / "aclImdb" / "train" / "pos").glob("*.txt"))
    review.unlink()
    review.symlink_to(outside)
    with pytest.raises(ValueError, match="reached through a symbolic link"):
        imdb.load(root)
