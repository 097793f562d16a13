"""``rnnbench history``: commits measured in lockstep into pytest-benchmark's storage, read
back as series, and the steps in them."""

from __future__ import annotations

import json
import random
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from history_cases import CASES, ROOT, SLOWED
from test_gate_synthetic import run_cli

from rnnbench.bench import grid, results
from rnnbench.gate import ab
from rnnbench.history import run as history
from rnnbench.history.series import Machine, load, ordered
from rnnbench.history.steps import steps

SHAPE = {case.id: case for case in grid.cases("full")}


def head(n: int = 0) -> str:
    return subprocess.run(["git", "rev-parse", f"HEAD~{n}"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


def stored(number: int, commit: str, rounds: dict[str, list[float]], session: str = "s",
           when: str = "2026-01-01T00:00:00+00:00") -> dict[str, Any]:
    """A storage file as ``history run`` writes it: ``rounds`` maps case id -> seconds."""
    return {
        "machine_info": {"cpu": {"brand_raw": "AMD EPYC", "arch": "x86_64"}},
        "commit_info": {"id": commit, "dirty": False, "time": when},
        "datetime": when, "rnnbench": {"runner": "lockstep", "session": session},
        "benchmarks": [{"name": f"test_speed[{case}]",
                        "extra_info": SHAPE[case].info(),
                        "stats": {"median": sorted(data)[len(data) // 2], "data": data,
                                  "rounds": len(data)}}
                       for case, data in rounds.items()],
    }


def noisy(ms: float, rounds: int, rng: random.Random) -> list[float]:
    return [ms / 1e3 * rng.uniform(0.97, 1.03) for _ in range(rounds)]


def machine(eager: list[float], tmp_path: Path, session: str = "s", rounds: int = 10,
            lucky: float = 1.0) -> Machine:
    """A machine whose commits' eager LSTM runs at these multiples of native (40 ms); the
    odd rounds of the last commit (its second worker's) run ``lucky`` times as fast."""
    rng = random.Random(0)
    folder = tmp_path / "m"
    folder.mkdir(parents=True)
    for i, factor in enumerate(eager):
        speed = rng.uniform(0.8, 1.2)  # the machine's wandering speed, same for the pair
        native = noisy(40 * speed, rounds, rng)
        custom = [x * factor * rng.uniform(0.99, 1.01) for x in native]
        if i == len(eager) - 1:
            custom[1::2] = [x * lucky for x in custom[1::2]]
        path = folder / f"{i + 1:04d}_{i:040x}_20260101_000000.json"
        document = stored(i + 1, f"{i:040x}", {CASES[0]: native, SLOWED: custom}, session,
                          f"2026-01-0{i + 1}T00:00:00+00:00")
        document["rnnbench"]["workers"] = 2
        path.write_text(json.dumps(document))
    machines, _ = load([folder])
    return machines[0]


def test_a_slowdown_on_the_newest_commit_is_its_step_and_nothing_else_moves(tmp_path) -> None:
    found = steps(machine([1.5, 1.5, 1.51, 1.49, 2.0], tmp_path).series()[SLOWED])
    assert [(s.commit[-1], round(s.before, 1), round(s.after, 1)) for s in found] == [
        ("4", 1.5, 2.0)]
    assert found[0].paired and 1.3 < found[0].size < 1.4 and found[0].p < 0.01


def test_a_move_in_the_rounds_of_one_worker_process_alone_is_no_step(tmp_path) -> None:
    assert steps(machine([1.5, 1.5, 1.5], tmp_path, lucky=0.7).series()[SLOWED]) == []
    assert len(steps(machine([1.5, 1.5, 1.5], tmp_path / "b", lucky=1.2).series()[SLOWED])) == 0
    assert len(steps(machine([1.5, 1.5, 2.0], tmp_path / "c", lucky=1.1).series()[SLOWED])) == 1


def test_a_move_below_the_minimum_effect_or_a_speedup_is_judged_both_ways(tmp_path) -> None:
    assert steps(machine([1.5, 1.53, 1.56], tmp_path).series()[SLOWED]) == []  # 1.02x each
    faster = steps(machine([1.5, 1.0], tmp_path / "b").series()[SLOWED])
    assert len(faster) == 1 and faster[0].size < 0.7


def test_runs_of_separate_sessions_are_judged_unpaired(tmp_path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    rng = random.Random(1)
    for i, (factor, session) in enumerate([(1.5, "a"), (2.0, "b")]):
        native = noisy(40, 10, rng)
        (folder / f"{i + 1:04d}_{i:040x}_x.json").write_text(json.dumps(stored(
            i + 1, f"{i:040x}", {CASES[0]: native, SLOWED: [x * factor for x in native]},
            session, f"2026-01-0{i + 1}")))
    found = steps(load([folder])[0][0].series()[SLOWED])
    assert len(found) == 1 and not found[0].paired and found[0].size > 1.2


def test_the_newest_file_of_a_commit_counts_and_commits_go_by_their_date(tmp_path) -> None:
    def run(name: str, commit: str, when: str) -> results.Run:
        return results.parse(stored(1, commit, {CASES[0]: [0.04] * 8}, when=when), name)

    runs = ordered([run("0003_b", "b" * 40, "2026-01-01"), run("0001_a", "a" * 40, "2026-01-02"),
                    run("0002_b", "b" * 40, "2026-01-01")])
    assert [Path(r.path).name for r in runs] == ["0003_b", "0001_a"]


def test_history_run_stores_one_file_per_commit_and_show_marks_the_step(slowed_history,
                                                                         capsys) -> None:
    files = sorted((slowed_history / "here").iterdir())
    ids = [head(2), head(1), head(0)]
    assert [re.sub(r"_\d{8}_\d{6}\.json$", "", f.name) for f in files] == [
        f"{n:04d}_{c}" for n, c in zip((1, 2, 3), ids, strict=True)]
    runs = [results.load(f) for f in files]
    assert all(r.paired and sorted(r.by_name()) == sorted(CASES) for r in runs)
    assert len({r.suite["session"] for r in runs}) == 1 and all(r.commit_time for r in runs)
    assert len({len(r.by_name()[SLOWED].data) for r in runs}) == 1  # every round, every commit
    found = steps(load([slowed_history])[0][0].series()[SLOWED])
    # the factor 2 doubles the scan, not the input projection: about 1.5x of the whole call
    assert found and found[-1].commit == ids[2] and found[-1].size > 1.3, found
    status, out = run_cli(capsys, "history", "show", "--storage", slowed_history, "-k", "eager")
    assert status == 0, out
    assert re.search(rf"^\| {ids[2][:10]} \| .* \| STEP \d\.\d\dx", out, re.MULTILINE), out
    assert CASES[0] not in out  # -k


def test_bad_revs_exit_2_naming_them(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(ROOT)
    for args, says in [(["no-such-rev"], "commit 'no-such-rev' is not in the repository"),
                       (["HEAD..HEAD"], "range 'HEAD..HEAD' holds no commits"),
                       (["HEAD", head(0)], f"{head(0)[:12]} named twice")]:
        status, out = run_cli(capsys, "history", "run", *args, "--storage", tmp_path)
        assert status == 2 and says in out, out


@pytest.mark.parametrize("rev, says", [
    ("0417974", "is not a commit of this project"),  # the first commit: no benchmarks/
    ("97109e6", "does not import here, or lacks the worker's tree API")])  # no reset()
def test_a_tree_that_cannot_be_measured_exits_2_naming_it(rev, says, capsys, monkeypatch,
                                                          tmp_path) -> None:
    known = subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=ROOT,
                           capture_output=True, check=False)
    if known.returncode != 0:
        pytest.skip(f"{rev} is not in this clone (shallow?): `git fetch --unshallow`")
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(history, "select", lambda expression, repo: CASES)
    status, out = run_cli(capsys, "history", "run", rev, "HEAD", "--storage", tmp_path)
    commit = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert status == 2 and f"commit {commit[:12]}" in out and says in out, out
    assert not list(tmp_path.rglob("*.json"))


class FakeWorker:
    """A worker that answers at once; the second shape's timing is interrupted (Ctrl-C)."""

    def __init__(self, side: str, tree: Path, env: dict[str, str], threads: int) -> None:
        assert (tree / "src" / "rnnbench").is_dir()
        self.side = side

    def ask(self, op: str, case: str | None = None) -> dict[str, Any]:
        if op == "time" and "T800" in str(case):
            raise KeyboardInterrupt
        return {"ok": True, "seconds": 0.01, "info": SHAPE[str(case)].info()}

    def close(self) -> None:
        pass


def test_ctrl_c_removes_the_trees_and_keeps_the_shapes_finished(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(ab, "Worker", FakeWorker)
    monkeypatch.setattr(history, "check_tree", lambda tree, commit: None)
    before = set(Path(tempfile.gettempdir()).glob("rnnbench-ab-*"))
    first = [case.replace("lstm", "gru") for case in CASES]
    cases = [*first, "gru-native-cpu-f32-I256-H128-L1-T800-B64-fwd"]
    with pytest.raises(KeyboardInterrupt):
        history.measure([head(1), head(0)], ROOT, cases, tmp_path, "here")
    assert set(Path(tempfile.gettempdir()).glob("rnnbench-ab-*")) == before
    kept = [results.load(path) for path in sorted((tmp_path / "here").iterdir())]
    assert [r.commit for r in kept] == [head(1), head(0)]
    assert all(sorted(r.by_name()) == sorted(first) for r in kept)


def test_a_corrupt_storage_file_stops_show_naming_it(slowed_history, tmp_path, capsys) -> None:
    folder = tmp_path / "storage" / "here"
    folder.mkdir(parents=True)
    for path in (slowed_history / "here").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "0009_broken.json").write_text("{not json")
    status, out = run_cli(capsys, "history", "show", "--storage", tmp_path / "storage")
    assert status == 2 and "0009_broken.json" in out and "not valid JSON" in out, out
