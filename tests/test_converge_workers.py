"""``rnnbench converge --workers N``: parallel (cell, seed) runs give the sequential results."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import pytest

from rnnbench.cli import main
from rnnbench.converge import workers

ADDING = ["--task", "adding", "--cells", "lstm,gru", "--seeds", "2", "--epochs", "2",
          "--steps-per-epoch", "3", "--eval-size", "32", "--hidden-size", "8", "--quiet"]


def losses(path) -> dict[tuple[str, int], list[float]]:
    runs = json.loads(path.read_text())["runs"]
    return {(r["cell"], r["seed"]): [e["eval_loss"] for e in r["epochs"]] for r in runs}


def test_parallel_runs_equal_the_sequential_ones_and_resume(tmp_path, capsys) -> None:
    sequential, parallel = tmp_path / "seq.json", tmp_path / "par.json"
    assert main(["converge", *ADDING, "--threads", "1", "--out", str(sequential)]) == 0
    assert main(["converge", *ADDING, "--workers", "2", "--out", str(parallel)]) == 0
    assert "| lstm | 2 |" in capsys.readouterr().out  # the parent prints the whole table
    assert losses(parallel) == losses(sequential)  # same numbers, every (cell, seed) once
    # A rerun resumes: finished runs are kept, nothing retrained.
    before = parallel.read_text()
    assert main(["converge", *ADDING, "--workers", "2", "--out", str(parallel)]) == 0
    assert losses(parallel) == losses(sequential)
    assert json.loads(before)["runs"] == json.loads(parallel.read_text())["runs"]


def test_jobs_start_seed_major_and_children_get_the_job() -> None:
    assert [j.option for j in workers.jobs(["lstm", "gru"], 2)] == [
        "lstm:0", "gru:0", "lstm:1", "gru:1"]
    args = workers.child_args(["--workers", "3", "--restart", "--threads=4", "--cells", "gru"],
                              workers.Job("gru", 1), threads=2)
    assert args[:4] == [sys.executable, "-m", "rnnbench", "converge"]
    assert args[4:] == ["--cells", "gru", "--job", "gru:1", "--threads", "2"]
    assert workers.threads_per_worker(3, cpus=16) == 5
    assert workers.threads_per_worker(4, cpus=2) == 1


@pytest.mark.parametrize("bad", ["lstm", "lstm:x", ":1"])
def test_a_malformed_job_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="CELL:SEED"):
        workers.parse_job(bad)


def test_sigterm_stops_children_that_ignore_ctrl_c(monkeypatch) -> None:
    # A run started in the background ignores SIGINT, and so do its children.
    stubborn = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"
    monkeypatch.setattr(workers, "child_args", lambda argv, job, threads: [
        sys.executable, "-c", stubborn])
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    start = time.monotonic()
    try:
        assert workers.run_all([], workers.jobs(["lstm", "gru"], 1), 2, 1, quiet=True) == 130
    finally:
        timer.cancel()  # should run_all fail early, the signal must not reach pytest later
    assert time.monotonic() - start < 30
    assert signal.getsignal(signal.SIGTERM) is not signal.default_int_handler  # restored
