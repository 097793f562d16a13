"""The CLI's error policy under new benchmark shapes, partial baselines, hostile arguments,
signals and closed pipes: exit 0 ok, 1 only a verdict, 2 unusable input, 130 interrupted,
141 a closed pipe; never a traceback unless ``rnnbench --debug``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from test_gate_synthetic import entry, run_cli, suite, timings, whole, write

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


def test_a_new_shape_in_the_current_run_is_listed_not_an_error(tmp_path, capsys) -> None:
    base = write(tmp_path / "base.json", suite())
    now = suite()
    now["benchmarks"].append(entry("gru-eager-T200", timings(50), impl="eager", T=200))
    now["benchmarks"].append(entry("lstm-eager-T300", timings(50), impl="eager", T=300))
    status, out = run_cli(capsys, "gate", base, write(tmp_path / "now.json", now))
    assert status == 0, out
    assert "added (not in the baseline, not judged): gru-eager-T200, lstm-eager-T300" in out


def test_refresh_refuses_a_partial_run(tmp_path, capsys) -> None:
    target = write(tmp_path / "cpu-quick.json", whole())
    before = target.read_bytes()
    subset = whole()
    subset["benchmarks"] = subset["benchmarks"][:2]  # `-k` selected two cases
    status, out = run_cli(capsys, "baseline", "refresh", write(tmp_path / "k.json", subset),
                          "--to", target)
    assert status == 2 and "lacks 78 of the 80 cases of profile 'quick'" in out, out
    assert target.read_bytes() == before


def test_the_gate_never_writes_over_its_baseline(tmp_path, capsys) -> None:
    base = write(tmp_path / "base.json", suite())
    before = base.read_bytes()
    for argv in (["gate", base, base, "--run"], ["gate", base, tmp_path / "now.json", "--run",
                                                 "--json", base],
                 ["gate", "--against", "HEAD", tmp_path / "baselines" / "cpu-quick.json"]):
        status, out = run_cli(capsys, *argv)
        assert status == 2 and "rnnbench gate: error:" in out, out
        assert "is also BASELINE" in out or "lies in a baselines/ folder" in out
    assert base.read_bytes() == before


@pytest.mark.parametrize(("status", "why"), [(1, "tests failed"), (4, "usage error"),
                                             (5, "no case selected")])
def test_refresh_never_passes_pytests_status_through(tmp_path, monkeypatch, capsys, status,
                                                      why) -> None:
    monkeypatch.setattr("rnnbench.commands.baseline.run_suite", lambda *a: status)
    code, out = run_cli(capsys, "baseline", "refresh", "--to", tmp_path / "b.json")
    assert code == 2 and f"pytest exit {status}: {why}" in out


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize(("commit", "expected"), [
    ({"id": "f" * 40, "dirty": False}, "not in the repository"),
    ({"id": "HEAD", "dirty": False}, "not a git commit id"),
    ({"dirty": "true"}, "commit_info.dirty is 'true', not false"),
    ({"dirty": None}, "commit_info.dirty is None"),
])
def test_refresh_checks_the_commit_it_records(tmp_path, capsys, commit, expected) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
         "-m", "x")
    run = whole()
    run["commit_info"] = {"id": _git(repo, "rev-parse", "HEAD"), "dirty": False}
    target = repo / "baselines" / "cpu-quick.json"
    assert run_cli(capsys, "baseline", "refresh", write(tmp_path / "ok.json", run),
                   "--to", target)[0] == 0
    before = target.read_bytes()
    run["commit_info"].update(commit)
    status, out = run_cli(capsys, "baseline", "refresh", write(tmp_path / "bad.json", run),
                          "--to", target)
    assert status == 2 and expected in out, out
    assert target.read_bytes() == before


FAKE_SUITE = '''
import os, time
def test_slow():
    with open(os.environ["MARK"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
'''


def _terminated(argv: list[str], cwd: Path, mark: Path, env: dict[str, str]) -> tuple[int, str]:
    """``rnnbench ARGV`` in a subprocess, sent SIGTERM once ``mark`` exists."""
    with subprocess.Popen([sys.executable, "-m", "rnnbench", *argv], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        deadline = time.monotonic() + 180
        while not mark.exists() or not mark.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the suite run never started: {process.communicate()}")
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    return process.returncode, out + err


@pytest.fixture
def ctrl_c_reaches_children():
    """Children inherit an ignored SIGINT (a shell's background job has one), and Python
    then never raises KeyboardInterrupt: give them the interactive default."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("command", ["refresh", "gate --run"])
def test_sigterm_stops_the_suite_run_and_cleans_up(tmp_path, command) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "test_fake.py").write_text(FAKE_SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    temporary, mark = tmp_path / "tmp", tmp_path / "pid"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary), "MARK": str(mark)}
    if command == "refresh":
        argv = ["baseline", "refresh", "--to", str(tmp_path / "b.json")]
    else:
        import cpuinfo

        base = whole()
        base["machine_info"]["cpu"] = cpuinfo.get_cpu_info()  # measured here: direct mode
        argv = ["gate", str(write(tmp_path / "b.json", base)), str(tmp_path / "now.json"),
                "--run"]
    status, output = _terminated(argv, tmp_path, mark, env)
    assert status == 130 and "interrupted" in output and "Traceback" not in output, output
    with pytest.raises(ProcessLookupError):  # pytest was stopped, not left running
        os.kill(int(mark.read_text()), 0)
    assert list(temporary.iterdir()) == []
    assert not (tmp_path / "now.json").exists()


def test_sigterm_interrupts_converge(tmp_path) -> None:
    out = tmp_path / "c.json"
    process = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "rnnbench",
                                "converge", "--epochs", "50", "--cells", "lstm", "--seeds", "1",
                                "--out", str(out), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not (tmp_path / "c.checkpoints").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # where it hangs: faulthandler prints every thread
        process.send_signal(signal.SIGABRT)
        pytest.fail(f"no exit 60 s after SIGTERM; its stacks:\n{process.communicate()[1]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # 130, or death by SIGINT, which a shell reports as 130 too: CPython may end the process
    # with SIGINT although the CLI caught the KeyboardInterrupt (seen in 1 of 20 runs here; its
    # flag for an unhandled interrupt is also set by C-level evaluation the interrupt crosses)
    assert process.returncode in (130, -signal.SIGINT), (process.returncode, err)
    assert err == "rnnbench converge: interrupted\n", err


def test_a_closed_pipe_ends_the_gate_quietly(tmp_path) -> None:
    base = write(tmp_path / "b.json", suite())
    command = f"{sys.executable} -m rnnbench gate {base} {base} | true"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 141 and done.stderr == "", done.stderr


@pytest.mark.parametrize("option", [["--alpha", "5"], ["--min-ratio", "0"],
                                    ["--min-ratio", "0.5"], ["--raw-min-ratio", "1"],
                                    ["--pytest-args", "-k 'oops"]])
def test_bad_options_are_refused_before_the_suite_runs(tmp_path, monkeypatch, capsys,
                                                       option) -> None:
    monkeypatch.setattr("rnnbench.commands.gate.run_suite", pytest.fail)
    monkeypatch.setattr("rnnbench.commands.gate.this_machine", lambda: {})
    base = write(tmp_path / "b.json", suite())
    status, out = run_cli(capsys, "gate", base, tmp_path / "now.json", "--run", *option)
    assert status == 2 and "is not accepted" in out, out
    if "--pytest-args" in option:
        assert "No closing quotation" in out and "split like a shell command line" in out


def test_pytest_args_may_start_with_a_dash(tmp_path, monkeypatch, capsys) -> None:
    asked = []
    monkeypatch.setattr("rnnbench.commands.baseline.run_suite",
                        lambda output, args: asked.append(args) or 5)
    run_cli(capsys, "baseline", "refresh", "--to", tmp_path / "b.json",
            "--pytest-args", "--rnnbench-device=cuda")
    assert asked == ["--rnnbench-device=cuda --rnnbench-profile=quick"]


def test_empty_cells_are_refused(tmp_path, capsys) -> None:
    status, out = run_cli(capsys, "converge", "--cells", "", "--out", tmp_path / "c.json")
    assert status == 2 and "cells='' is not accepted" in out


@pytest.mark.parametrize("switch", ["lstm:eagr:3", "LSTM:eager:3", " lstm:eager:3",
                                    "lstm:native:2"])
def test_a_slowdown_typo_fails_before_anything_runs(tmp_path, monkeypatch, capsys,
                                                    switch) -> None:
    monkeypatch.setenv("RNNBENCH_SLOWDOWN", switch)
    monkeypatch.setattr("rnnbench.commands.gate.run_suite", pytest.fail)
    monkeypatch.setattr("rnnbench.commands.gate.this_machine", lambda: {})
    base = write(tmp_path / "b.json", suite())
    status, out = run_cli(capsys, "gate", base, tmp_path / "now.json", "--run")
    assert status == 2 and "RNNBENCH_SLOWDOWN" in out and "eager" in out and "gru" in out, out


def test_a_cell_slowdown_slows_both_directions(monkeypatch) -> None:
    from rnnbench.bench import slowdown

    monkeypatch.setenv(slowdown.ENV, "lstm:eager:3")
    assert slowdown.factor("bilstm", "eager") == slowdown.factor("lstm", "eager") == 3
    assert slowdown.factor("bigru", "eager") == 1


def _fake_worker(side: str, script: str):
    from rnnbench.gate import ab

    worker = ab.Worker.__new__(ab.Worker)
    worker.side = side
    worker.process = subprocess.Popen([sys.executable, "-c", script], text=True, bufsize=1,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return worker


def test_a_hung_ab_worker_is_exit_2_naming_side_and_step(monkeypatch) -> None:
    from rnnbench.gate import ab

    monkeypatch.setattr(ab, "STEP_TIMEOUT_S", 0.5)
    worker = _fake_worker("baseline", "import time; time.sleep(60)")
    start = time.monotonic()
    with pytest.raises(ab.UnusableInput, match=r"baseline side's worker did not answer 'load' "
                       r"of lstm-x within 0\.5 s"):
        worker.ask("load", "lstm-x")
    assert time.monotonic() - start < 10
    worker.close()


def test_a_hung_import_check_is_exit_2_naming_side_and_step(tmp_path, monkeypatch) -> None:
    from rnnbench.gate import ab

    (tmp_path / "src" / "rnnbench" / "bench").mkdir(parents=True)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "src" / "rnnbench" / "__init__.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setattr(ab, "STEP_TIMEOUT_S", 1.0)
    with pytest.raises(ab.UnusableInput, match="the baseline side did not finish the import "
                       "check within 1 s"):
        ab.check_builds(tmp_path, "0" * 40)


def test_an_ab_worker_that_prints_is_a_clear_error() -> None:
    from rnnbench.gate import ab

    worker = _fake_worker("baseline", "print('hello from the tree'); import time; time.sleep(5)")
    with pytest.raises(ab.UnusableInput, match="answered 'hello from the tree' instead of JSON"):
        worker.ask("load", "lstm-x")
    worker.close()


def test_a_tree_that_prints_at_import_still_answers_and_ctrl_c_is_quiet(
        tmp_path, ctrl_c_reaches_children) -> None:
    import shutil

    from rnnbench.bench import grid
    from rnnbench.gate import ab

    source = Path(ab.__file__).parents[1]
    shutil.copytree(source, tmp_path / "src" / "rnnbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    init = tmp_path / "src" / "rnnbench" / "__init__.py"
    init.write_text(init.read_text() + "\nprint('imported')\n")
    worker = ab.Worker("baseline", tmp_path, dict(os.environ), 1)
    case = grid.cases("quick", ["cpu"])[0].id
    assert worker.ask("load", case)["ok"] is True
    worker.process.send_signal(signal.SIGINT)  # Ctrl-C reaches the workers too
    assert worker.process.wait(120) == 130
    worker.close()


def test_ab_worker_ctrl_c_prints_no_traceback(ctrl_c_reaches_children) -> None:
    from rnnbench.gate import ab

    script = Path(ab.__file__).with_name("worker.py")
    process = subprocess.Popen([sys.executable, str(script), "1"], text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdin.write('{"op": "load", "case": "nothing"}\n')
    process.stdin.flush()
    assert "not a case of this tree" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    process.wait(120)  # before communicate() closes its input, which would end it too
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in err, err


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "", ".hidden", "a/b"])
def test_a_comparison_page_stays_in_out(tmp_path, capsys, name) -> None:
    base = write(tmp_path / "b.json", suite())
    status, out = run_cli(capsys, "report", "--compare", base, base,
                          "--out", tmp_path / "out", "--name", name)
    assert status == 2 and f"--name {name!r} is not accepted" in out, out
    assert not (tmp_path / "x.md").exists() and not (tmp_path / "out").exists()


def test_writing_through_a_symlink_updates_its_target(tmp_path) -> None:
    from rnnbench.files import write_atomic

    target = write(tmp_path / "real.json", "old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def _converge_file(tmp_path: Path) -> Path:
    out = tmp_path / "c.json"
    assert main(["converge", "--cells", "rnn", "--seeds", "1", "--epochs", "1", "--seq-len", "5",
                 "--steps-per-epoch", "2", "--eval-size", "8", "--hidden-size", "4",
                 "--batch-size", "4", "--out", str(out), "--quiet"]) == 0
    return out


def test_a_checkpoint_that_is_a_fifo_is_refused_not_waited_on(tmp_path, capsys) -> None:
    out = _converge_file(tmp_path)
    checkpoint = tmp_path / "c.checkpoints" / "rnn-seed0.pt"
    checkpoint.unlink()
    os.mkfifo(checkpoint)
    status, err = run_cli(capsys, "converge", "--cells", "rnn", "--seeds", "1", "--epochs", "2",
                          "--seq-len", "5", "--steps-per-epoch", "2", "--eval-size", "8",
                          "--hidden-size", "4", "--batch-size", "4", "--out", out, "--quiet")
    assert status == 2 and "is not a regular file" in err, err


def test_a_results_file_with_a_run_twice_is_refused(tmp_path, capsys) -> None:
    import json

    out = _converge_file(tmp_path)
    document = json.loads(out.read_text())
    document["runs"].append(document["runs"][0])
    write(out, document)
    status, err = run_cli(capsys, "converge", "--cells", "rnn", "--seeds", "1", "--epochs", "2",
                          "--seq-len", "5", "--steps-per-epoch", "2", "--eval-size", "8",
                          "--hidden-size", "4", "--batch-size", "4", "--out", out, "--quiet")
    assert status == 2 and "runs[1] is rnn seed 0 again (as runs[0])" in err, err


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_absurd_timings_are_refused_not_overflowed(tmp_path, capsys, scale) -> None:
    now = suite()
    for item in now["benchmarks"]:
        item["stats"]["data"] = [x * scale for x in item["stats"]["data"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings included
        status, out = run_cli(capsys, "gate", write(tmp_path / "b.json", suite()),
                              write(tmp_path / "n.json", now), "--json", tmp_path / "v.json")
    assert status == 2 and "no call of a case takes that long or that little" in out, out
    assert not (tmp_path / "v.json").exists()


@pytest.mark.parametrize("option", [["--seq-len", "1000000000"], ["--hidden-size", str(10**12)]])
def test_sizes_that_cannot_fit_in_memory_are_refused_before_allocating(tmp_path, capsys,
                                                                         option) -> None:
    status, out = run_cli(capsys, "converge", "--task", "adding", "--cells", "lstm", *option,
                          "--epochs", "1", "--out", tmp_path / "c.json")
    assert status == 2 and "GiB of memory and this machine has" in out, out
    assert not (tmp_path / "c.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="impl 'triton' can run here")
def test_an_impl_that_cannot_run_here_is_unusable_input_not_a_bug(tmp_path, capsys) -> None:
    status, out = run_cli(capsys, "converge", "--task", "adding", "--cells", "lstm", "--impl",
                          "triton", "--epochs", "1", "--out", tmp_path / "c.json")
    assert status == 2 and "not available" in out and "bug" not in out, out
