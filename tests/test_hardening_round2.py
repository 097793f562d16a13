"""The CLI's error policy under new benchmark shapes, partial baselines, hostile arguments,
signals and closed pipes: exit 0 ok, 1 only a verdict, 2 unusable input, 130 interrupted,
141 a closed pipe; never a traceback unless ``rnnbench --debug``."""

from __future__ import annotations

import sys

import pytest

from rnnbench.cli import main
from rnnbench.converge import workers


def test_abbreviated_options_are_refused(capsys) -> None:
    """``--resta`` would be argparse's abbreviation of ``--restart``, which children kept."""
    with pytest.raises(SystemExit) as exit_:
        main(["converge", "--workers", "2", "--resta"])
    assert exit_.value.code == 2 and "unrecognized arguments: --resta" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["gate", "a.json", "b.json", "--allow-miss"])


def test_children_never_restart_and_keep_what_follows_a_double_dash() -> None:
    args = workers.child_args(["--restart", "--cells", "lstm", "--", "--restart"],
                              workers.Job("lstm", 0), threads=1)
    assert args[4:] == ["--cells", "lstm", "--", "--restart", "--job", "lstm:0", "--threads", "1"]


@pytest.mark.parametrize(("script", "status"), [
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 2),
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", 2),
    ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 130),
    ("raise SystemExit(2)", 2),
])
def test_a_child_killed_by_a_signal_gives_a_status_of_the_policy(monkeypatch, capsys, script,
                                                                 status) -> None:
    monkeypatch.setattr(workers, "child_args", lambda argv, job, threads: [
        sys.executable, "-c", script])
    assert workers.run_all([], workers.jobs(["lstm"], 1), 1, 1) == status
    out = capsys.readouterr().out
    assert "lstm seed 0 failed (" in out
    assert ("killed by SIG" in out) == ("kill" in script)
