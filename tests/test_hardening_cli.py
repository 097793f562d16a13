"""The CLI's error policy: exit 0 ok, 1 only a verdict, 2 unusable input, 130 Ctrl-C,
141 a closed pipe; never a traceback unless ``rnnbench --debug``."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbench import cli, files
from rnnbench.cli import main

DEEP = "[" * 100_000 + "]" * 100_000


def short(value: object) -> str | None:
    """Test ids of readable length (DEEP is 200,000 characters)."""
    return repr(value[:12]) if isinstance(value, str) else None


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    status = main([*map(str, args)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


@pytest.mark.parametrize("command", [
    ["report", "{f}", "--out", "{tmp}/out"],
    ["targets", "{f}"],
    ["gate", "{f}", "{f}"],
    ["converge", "--out", "{f}", "--epochs", "1", "--quiet"],
])
def test_deeply_nested_json_is_exit_2_naming_the_file(tmp_path, capsys, command) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    status, err = run(capsys, *(a.format(f=deep, tmp=tmp_path) for a in command))
    assert status == 2 and str(deep) in err


def test_an_unexpected_error_is_exit_2_with_the_traceback_only_under_debug(
        monkeypatch, capsys) -> None:
    from rnnbench.commands import params

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(params, "run", broken)
    argv = ["params", "lstm", "--input-size", "2", "--hidden-size", "2"]
    status, err = run(capsys, *argv)
    assert status == 2 and "rnnbench params: error: unexpected RuntimeError: boom" in err
    assert "--debug" in err
    assert main(["--debug", *argv]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_while_importing_a_command_exits_130(monkeypatch, capsys) -> None:
    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.importlib, "import_module", interrupted)
    status, err = run(capsys, "params", "lstm", "--input-size", "2", "--hidden-size", "2")
    assert status == 130 and "interrupted" in err


def test_the_cli_module_imports_no_torch() -> None:
    """So the heavy imports happen inside main's handler (Ctrl-C there is exit 130)."""
    code = "import sys, rnnbench.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_a_closed_pipe_exits_quietly() -> None:
    command = [sys.executable, "-m", "rnnbench", "params", "lstm", "--input-size", "4",
               "--hidden-size", "4", "--num-layers", "1000", "--bidirectional"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert err == ""


def test_params_num_layers_is_bounded(capsys) -> None:
    status, err = run(capsys, "params", "lstm", "--input-size", "2", "--hidden-size", "2",
                      "--num-layers", "10000000")
    assert status == 2 and "num_layers=10000000 is not accepted: expected 1..1000" in err


@pytest.mark.parametrize(("content", "message"), [
    ("", "is empty"), ("{}", "expected pytest-benchmark JSON"), ("NaN", "holds the number NaN"),
    (DEEP, "nested too deeply"),
    ('{"machine_info": {}, "benchmarks": [{"extra_info": {"shape_key": "k"}, "stats": {}}]}',
     "benchmarks[0] lacks or has no usable cell"),
], ids=short)
def test_targets_names_the_file(tmp_path, capsys, content, message) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    status, err = run(capsys, "targets", path)
    assert status == 2 and f"results file {str(path)!r}" in err and message in err


def test_report_out_under_a_file_is_refused_before_writing(tmp_path, capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"schema": "rnnbench.converge/1", "task": "adding",
                                   "runs": []}))
    status, err = run(capsys, "report", results, "--out", afile)
    assert status == 2 and f"--out {str(afile)!r} is a file" in err


def test_baseline_refresh_target_is_checked_before_anything_runs(tmp_path, capsys,
                                                                 monkeypatch) -> None:
    from rnnbench.commands import baseline

    monkeypatch.setattr(baseline, "run_suite", lambda *a: pytest.fail("the suite ran"))
    afile = tmp_path / "afile"
    afile.write_text("x")
    status, err = run(capsys, "baseline", "refresh", "--to", afile / "x.json")
    assert status == 2 and f"its folder {str(afile)!r} is a file" in err


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"), ("\xff", "is not valid JSON"), ("[1, 2", "is not valid JSON"),
    ("Infinity", "holds the number Infinity"), ('{"a": 1e999}', "holds the number 1e999"),
    (DEEP, "nested too deeply"), ("1" * 5000, "not usable JSON"),
], ids=short)
def test_read_json_names_the_file_and_the_problem(tmp_path, content, message) -> None:
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(files.BadFile, match=message) as error:
        files.read_json(path, "baseline file")
    assert f"baseline file {str(path)!r}" in str(error.value)


def test_read_json_refuses_a_device(tmp_path) -> None:
    with pytest.raises(files.BadFile, match="not a regular file"):
        files.read_json(os.devnull)


def test_the_one_writer_refuses_nan_and_leaves_the_old_file(tmp_path) -> None:
    path = tmp_path / "r.json"
    files.write_json(path, {"a": 1})
    with pytest.raises(ValueError, match="JSON compliant"):
        files.write_json(path, {"a": math.nan})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


def test_the_lazy_package_keeps_its_public_names() -> None:
    import rnnbench
    from rnnbench.model.build import build  # the submodule of the same name is imported first

    assert rnnbench.build is build and callable(rnnbench.build)
    assert all(hasattr(rnnbench, name) for name in rnnbench.__all__)
