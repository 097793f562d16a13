"""``rnnbench gate`` and ``rnnbench baseline refresh`` from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_gate_synthetic import run_cli, suite, whole, write

from rnnbench import files
from rnnbench.commands import baseline as baseline_module
from rnnbench.gate import load_run


def test_self_comparison_exits_0(tmp_path, capsys) -> None:
    run = write(tmp_path / "run.json", suite())
    status, out = run_cli(capsys, "gate", run, run)
    assert status == 0 and "no regression in 2 common case(s)" in out


def test_a_regression_exits_1_naming_the_case_old_new_ratio_and_why(tmp_path, capsys) -> None:
    base = write(tmp_path / "base.json", suite(aten_ops=1200))
    now = write(tmp_path / "now.json", suite(eager_ms=47 * 1.5, seed=3, aten_ops=1800))
    status, out = run_cli(capsys, "gate", base, now, "--json", tmp_path / "verdicts.json")
    assert status == 1
    report = out.split("REGRESSION in 1 case(s):")[1]
    assert "lstm-eager: 47" in report and "-> 70" in report  # old and new ms
    assert "slower relative to lstm-native" in report and "Mann-Whitney U p=" in report
    assert "aten_ops grew 1,200 -> 1,800" in report
    assert "lstm-native" not in report.split("\n")[1]
    verdicts = json.loads((tmp_path / "verdicts.json").read_text())
    assert verdicts["regressed"] == ["lstm-eager"]
    eager = next(c for c in verdicts["cases"] if c["case"] == "lstm-eager")
    assert eager["timing_regressed"] and eager["signal_regressed"]
    assert eager["ratio"] == pytest.approx(1.5, rel=0.05)


def test_added_and_removed_cases_are_listed(tmp_path, capsys) -> None:
    base, now = suite(), suite()
    now["benchmarks"][1]["extra_info"]["case"] = "lstm-script"
    status, out = run_cli(capsys, "gate", write(tmp_path / "b.json", base),
                          write(tmp_path / "n.json", now), "--allow-missing")
    assert status == 0
    assert "added (not in the baseline, not judged): lstm-script" in out
    assert "removed (in the baseline only): lstm-eager" in out


def test_refresh_adopts_a_result_atomically(tmp_path, capsys) -> None:
    target = tmp_path / "baselines" / "cpu-quick.json"
    source = write(tmp_path / "run.json", whole())
    status, out = run_cli(capsys, "baseline", "refresh", source, "--to", target)
    assert status == 0 and f"{len(whole()['benchmarks'])} cases" in out
    assert load_run(target).by_name().keys() == load_run(source).by_name().keys()
    assert os.listdir(target.parent) == ["cpu-quick.json"]


def test_refresh_refuses_an_unusable_result_and_keeps_the_old_baseline(tmp_path, capsys) -> None:
    target = write(tmp_path / "cpu-quick.json", suite())
    before = target.read_bytes()
    bad = write(tmp_path / "bad.json", "{not json")
    status, out = run_cli(capsys, "baseline", "refresh", bad, "--to", target)
    assert status == 2 and "is not valid JSON" in out
    assert target.read_bytes() == before


@pytest.mark.parametrize("interruption", [OSError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_refresh_leaves_the_old_baseline_whole(tmp_path, monkeypatch,
                                                               interruption) -> None:
    target = write(tmp_path / "cpu-quick.json", suite())
    before = target.read_bytes()
    real_fsync = os.fsync

    def fail_mid_write(fd: int) -> None:  # the new content is half on disk when this runs
        real_fsync(fd)
        raise interruption

    monkeypatch.setattr(files.os, "fsync", fail_mid_write)
    with pytest.raises(type(interruption)):
        baseline_module.refresh(write(tmp_path / "new.json", whole(custom_ms=60)), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu-quick.json", "new.json"]


def test_refresh_without_a_result_runs_the_suite_and_keeps_the_baseline_if_it_fails(
        tmp_path, monkeypatch, capsys) -> None:
    target = write(tmp_path / "cpu-quick.json", suite())
    before = target.read_bytes()
    commands = []

    class Failed:
        def __init__(self, command: list[str]) -> None:
            commands.append(command)

        def wait(self) -> int:
            return 3

    monkeypatch.setattr("subprocess.Popen", Failed)
    status, out = run_cli(capsys, "baseline", "refresh", "--to", target,
                          "--pytest-args=-k lstm")
    assert status == 2 and "pytest exit 3: internal error" in out and "left as it was" in out
    assert target.read_bytes() == before
    # the profile of the baseline it replaces
    assert commands[0][-3:] == ["-k", "lstm", "--rnnbench-profile=quick"]
    assert any(arg.startswith("--benchmark-json=") for arg in commands[0])


def test_confirm_reruns_only_the_suspects_and_fails_when_they_reproduce(tmp_path, monkeypatch,
                                                                        capsys) -> None:
    base = write(tmp_path / "base.json", suite())
    now = write(tmp_path / "now.json", suite(eager_ms=70, seed=1))
    asked = []

    def fake_suite(output: Path, pytest_args: str, cases: tuple[str, ...]) -> int:
        asked.append((pytest_args, cases))
        write(Path(output), suite(eager_ms=70, seed=len(asked) + 1))
        return 0

    monkeypatch.setattr("rnnbench.commands.gate.run_suite", fake_suite)
    status, out = run_cli(capsys, "gate", base, now, "--confirm", "2", "--pytest-args=-x")
    assert status == 1 and "reproduced in all 3 runs" in out
    assert asked == [("-x --rnnbench-profile=quick", ("lstm-eager", "lstm-native"))] * 2


def test_confirm_stops_when_the_rerun_is_clean(tmp_path, monkeypatch, capsys) -> None:
    base = write(tmp_path / "base.json", suite())
    now = write(tmp_path / "now.json", suite(eager_ms=70, seed=1))
    asked = []

    def fake_suite(output: Path, pytest_args: str, cases: tuple[str, ...]) -> int:
        asked.append(cases)
        write(Path(output), suite(seed=9))
        return 0

    monkeypatch.setattr("rnnbench.commands.gate.run_suite", fake_suite)
    status, out = run_cli(capsys, "gate", base, now, "--confirm", "3")
    assert status == 0 and len(asked) == 1 and "best of 2 runs" in out


def test_reruns_can_be_given_as_files(tmp_path, capsys) -> None:
    base = write(tmp_path / "base.json", suite())
    now = write(tmp_path / "now.json", suite(eager_ms=70, seed=1))
    calm = write(tmp_path / "rerun.json", suite(seed=2))
    assert run_cli(capsys, "gate", base, now)[0] == 1
    assert run_cli(capsys, "gate", base, now, calm)[0] == 0


def test_the_rerun_command_selects_whole_case_ids() -> None:
    from rnnbench.gate.rerun import selection, suite_command

    assert selection(["lstm-eager", "lstm-native"]) == "[lstm-eager] or [lstm-native]"
    command = suite_command("out.json", "--rnnbench-threads=1", ["lstm-eager"])
    assert command[-3:] == ["--rnnbench-threads=1", "-k", "[lstm-eager]"]
    assert "--benchmark-json=out.json" in command and "benchmarks" in command


def test_pytest_selects_exactly_the_named_cases(tmp_path) -> None:
    from test_gate_synthetic import run_pytest

    from rnnbench.gate.rerun import selection

    write(tmp_path / "pytest.ini", "[pytest]\n")
    write(tmp_path / "test_ids.py", "import pytest\n\n"
          "@pytest.mark.parametrize('case', ['lstm-a-fwd', 'bilstm-a-fwd', 'lstm-a-fwdbwd'])\n"
          "def test_speed(case):\n    pass\n")
    result = run_pytest(tmp_path, "--collect-only", "-k", selection(["lstm-a-fwd"]))
    assert "1/3 tests collected" in result.stdout, result.stdout


def test_a_refreshed_baseline_keeps_the_usual_file_mode(tmp_path) -> None:
    target = tmp_path / "cpu-quick.json"
    baseline_module.refresh(write(tmp_path / "run.json", whole()), target)
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    baseline_module.refresh(write(tmp_path / "run.json", whole(seed=3)), target)
    assert target.stat().st_mode & 0o777 == 0o640


def test_run_measures_current_first_with_the_cpu_settings(tmp_path, monkeypatch, capsys) -> None:
    from rnnbench.gate.rerun import CPU_ARGS

    base = write(tmp_path / "base.json", suite())
    asked = []

    def fake_suite(output: Path, pytest_args: str, cases: tuple[str, ...] = ()) -> int:
        asked.append((str(output), pytest_args, cases))
        write(Path(output), suite(seed=5))
        return 0

    monkeypatch.setattr("rnnbench.commands.gate.run_suite", fake_suite)
    monkeypatch.setattr("rnnbench.commands.gate.this_machine", lambda: load_run(base).machine)
    current = tmp_path / "current.json"
    status, out = run_cli(capsys, "gate", base, current, "--run")
    # in the baseline's profile
    assert status == 0 and asked == [(str(current), f"{CPU_ARGS} --rnnbench-profile=quick", ())]
    assert "mode direct: the baseline was measured on this machine" in out
    assert "--rnnbench-threads=1" in CPU_ARGS and "process_time" in CPU_ARGS

    monkeypatch.setattr("rnnbench.commands.gate.run_suite", lambda *a: 1)
    status, out = run_cli(capsys, "gate", base, tmp_path / "other.json", "--run")
    assert status == 2 and "benchmark run failed" in out
