"""A/B mode: timings are compared only between runs of one machine; a baseline from another
machine makes the gate measure the baseline's commit here, interleaved with the current tree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from test_gate_synthetic import run_cli, suite, write

from rnnbench.bench.grid import Case
from rnnbench.bench.slowdown import ENV as SLOWDOWN_ENV
from rnnbench.gate import ab, worker
from rnnbench.gate.compare import UnusableInput, load_run, parse_run
from rnnbench.gate.rerun import CPU_ARGS

ROOT = Path(__file__).resolve().parents[1]
EPYC = {"cpu": "AMD EPYC", "arch": "x86_64", "cpu_flags": "avx2 fma"}


def fake_pair(eager_ms: float = 47.0) -> ab.Pair:
    return ab.Pair(parse_run(suite(seed=11), "a.json", "A/B baseline"),
                   parse_run(suite(eager_ms=eager_ms, seed=12), "b.json", "A/B current"))


@pytest.fixture
def xeon_baseline(tmp_path: Path) -> Path:
    """A baseline whose machine_info says Intel Xeon, measured at this repo's HEAD."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    document = suite()
    document["commit_info"] = {"id": head, "dirty": True}
    return write(tmp_path / "baseline.json", document)


def test_a_baseline_from_another_cpu_model_triggers_ab_mode(xeon_baseline, tmp_path,
                                                              monkeypatch, capsys) -> None:
    measured = []

    def fake_measure(tree: Path, commit: str, folder: Path, pytest_args: str,
                     cases=(), label: str = "") -> ab.Pair:
        assert (tree / "src" / "rnnbench" / "gate" / "compare.py").exists()  # commit's tree
        measured.append((commit, pytest_args, tuple(cases)))
        pair = fake_pair()
        write(folder / "current.json", suite(seed=12))
        write(folder / "baseline.json", suite(seed=11))
        return pair

    monkeypatch.setattr("rnnbench.commands.gate.this_machine", lambda: EPYC)
    monkeypatch.setattr("rnnbench.gate.ab.measure", fake_measure)
    monkeypatch.setattr("rnnbench.gate.ab.check_builds", lambda tree, commit: None)
    monkeypatch.setattr("rnnbench.commands.gate.run_suite", pytest.fail)  # never direct
    current = tmp_path / "current.json"
    status, out = run_cli(capsys, "gate", xeon_baseline, current, "--run")
    assert status == 0, out
    assert "mode A/B: the baseline was measured on another machine" in out
    assert "CPU model: baseline 'Intel(R) Xeon(R) Processor', here 'AMD EPYC'" in out
    assert "measured with uncommitted changes" in out
    commit = load_run(xeon_baseline).commit
    assert measured == [(commit, f"{CPU_ARGS} --rnnbench-profile=quick", ())]
    assert load_run(current).by_name().keys() == {"lstm-native", "lstm-eager"}
    assert "Fails at ratio >= 1.05" in out  # the A/B threshold


def test_the_same_machine_is_judged_directly(xeon_baseline, tmp_path, monkeypatch,
                                             capsys) -> None:
    monkeypatch.setattr("rnnbench.commands.gate.this_machine",
                        lambda: load_run(xeon_baseline).machine)
    monkeypatch.setattr("rnnbench.gate.ab.measure", pytest.fail)

    def fake_suite(output: Path, pytest_args: str, cases=()) -> int:
        write(Path(output), suite(seed=5))
        return 0

    monkeypatch.setattr("rnnbench.commands.gate.run_suite", fake_suite)
    status, out = run_cli(capsys, "gate", xeon_baseline, tmp_path / "now.json", "--run")
    assert status == 0 and "mode direct" in out and "Fails at ratio >= 1.20" in out


def test_ab_confirms_suspects_on_both_sides(xeon_baseline, tmp_path, monkeypatch,
                                            capsys) -> None:
    calls = []

    def fake_measure(tree, commit, folder, pytest_args, cases=(), label=""):
        calls.append((tuple(cases), label))
        for side in ("current", "baseline"):
            write(folder / f"{side}.json", suite())
        return fake_pair(eager_ms=70.0)  # reproduces: a real regression

    monkeypatch.setattr("rnnbench.commands.gate.this_machine", lambda: EPYC)
    monkeypatch.setattr("rnnbench.gate.ab.measure", fake_measure)
    monkeypatch.setattr("rnnbench.gate.ab.check_builds", lambda tree, commit: None)
    status, out = run_cli(capsys, "gate", xeon_baseline, tmp_path / "now.json", "--run",
                          "--confirm", "1")
    assert status == 1 and "reproduced in all 2 runs" in out
    assert calls[1] == (("lstm-eager", "lstm-native"), "-confirm1")


def test_a_baseline_without_a_commit_from_another_machine_is_unusable(tmp_path, monkeypatch,
                                                                      capsys) -> None:
    document = suite()
    document["commit_info"] = {"id": "unknown", "dirty": False}
    monkeypatch.setattr("rnnbench.commands.gate.this_machine", lambda: EPYC)
    status, out = run_cli(capsys, "gate", write(tmp_path / "b.json", document),
                          tmp_path / "now.json", "--run")
    assert status == 2 and "records no commit" in out and "--against" in out


def test_an_unreachable_commit_says_how_to_fetch_it(tmp_path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(UnusableInput, match=r"not in the repository.*git fetch"):
        ab.resolve_commit("1" * 40, tmp_path)


def test_the_temporary_tree_is_removed_after_an_interruption() -> None:
    head = ab.resolve_commit("HEAD", ROOT)
    with pytest.raises(KeyboardInterrupt), ab.checkout(head, ROOT) as tree:
        kept = tree
        assert (tree / "pyproject.toml").exists() and not (tree / ".git").exists()
        raise KeyboardInterrupt
    assert not kept.parent.exists()


def test_a_tree_that_is_not_rnnbench_is_refused(tmp_path) -> None:
    with pytest.raises(UnusableInput, match="no src/rnnbench/"):
        ab.check_builds(tmp_path, "abc")
    (tmp_path / "src" / "rnnbench").mkdir(parents=True)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "src" / "rnnbench" / "__init__.py").write_text("raise ImportError('broken')\n")
    with pytest.raises(UnusableInput, match=r"does not import.*broken"):
        ab.check_builds(tmp_path, "abc")


def test_shapes_keep_native_and_custom_cases_together() -> None:
    ids = [f"{cell}-{impl}-cpu-f32-I256-H128-L1-T{t}-B64-fwdbwd"
           for t in (100, 800) for cell in ("lstm", "gru")
           for impl in ("native", "eager", "script", "compiled")]
    groups = ab.shapes(ids)
    assert len(groups) == 4 and sorted(c for g in groups for c in g) == sorted(ids)
    assert [g[0].split("-")[0] for g in groups] == ["gru", "gru", "lstm", "lstm"]
    for group in groups:
        assert len({case.replace(case.split("-")[1] + "-", "", 1) for case in group}) == 1


class FakeWorker:
    """Records what the coordinator asks, in order; every call takes half a second."""

    calls: ClassVar[list[tuple[str, str, str | None, str | None]]] = []
    refuse: ClassVar[set[tuple[str, str]]] = set()
    started: ClassVar[list[FakeWorker]] = []

    def __init__(self, side: str, tree: Path, env: dict, threads: int) -> None:
        self.side, self.switch, self.timed = side, env.get(SLOWDOWN_ENV), 0
        FakeWorker.started.append(self)

    def ask(self, op: str, case: str | None = None) -> dict:
        FakeWorker.calls.append((self.side, op, case, self.switch))
        self.timed += op == "time"
        if op == "load" and (self.side, case) in FakeWorker.refuse:
            return {"ok": False, "error": "ImplUnavailable: not here"}
        if op == "describe":
            cell, impl = case.split("-")[:2]
            info = Case(cell, impl, "cpu", "f32", 100, 64, 256, 128, 1).info()
            return {"ok": True, "info": {**info, "threads": 1}}
        return {"ok": True, "seconds": 0.5}

    def close(self) -> None:
        pass


def test_both_sides_are_timed_in_lockstep_and_the_switch_stays_on_the_current_side(
        tmp_path, monkeypatch) -> None:
    native, eager, fused = (f"lstm-{impl}-cpu-f32-I256-H128-L1-T100-B64-fwdbwd"
                            for impl in ("native", "eager", "derived"))
    FakeWorker.calls, FakeWorker.refuse, FakeWorker.started = [], {("baseline", fused)}, []
    monkeypatch.setenv(SLOWDOWN_ENV, "lstm:eager:1.5")
    monkeypatch.setattr("rnnbench.gate.ab.Worker", FakeWorker)
    ids = [native, eager, fused]
    pair = ab.measure(tmp_path, "c" * 40, tmp_path, CPU_ARGS, ids)
    timed = [(side, case) for side, op, case, _ in FakeWorker.calls if op == "time"]
    assert timed[:6] == [("baseline", native), ("current", native), ("current", eager),
                         ("baseline", eager), ("current", fused),  # derived: current only
                         ("current", native)]  # the next round starts the other way round
    assert len(timed) == 5 * ab.MIN_ROUNDS  # 0.5 s a call: the fewest rounds
    switches = {(side, switch) for side, _, _, switch in FakeWorker.calls}
    assert switches == {("baseline", None), ("current", "lstm:eager:1.5")}
    assert pair.baseline.commit == "c" * 40 and pair.baseline.paired
    assert sorted(pair.current.by_name()) == sorted(ids)
    assert sorted(pair.baseline.by_name()) == [eager, native]
    assert all(len(r.data) == ab.MIN_ROUNDS for r in pair.current.cases)
    # each side's worker processes take turns, round by round
    assert sorted(w.side for w in FakeWorker.started) == sorted(
        ["baseline", "current"] * ab.WORKERS_PER_SIDE)
    assert [w.timed for w in FakeWorker.started] == [2 * ab.MIN_ROUNDS // ab.WORKERS_PER_SIDE] * (
        ab.WORKERS_PER_SIDE) + [3 * ab.MIN_ROUNDS // ab.WORKERS_PER_SIDE] * ab.WORKERS_PER_SIDE


def test_a_case_the_current_tree_cannot_run_is_unusable(tmp_path, monkeypatch) -> None:
    FakeWorker.calls, FakeWorker.refuse = [], {("current", "lstm-eager-x")}
    monkeypatch.setattr("rnnbench.gate.ab.Worker", FakeWorker)
    with pytest.raises(UnusableInput, match="lstm-eager-x does not run in the current tree"):
        ab.measure(tmp_path, "c" * 40, tmp_path, CPU_ARGS, ["lstm-native-x", "lstm-eager-x"])


def test_ab_end_to_end_on_the_real_suite_names_the_slowed_case(tmp_path, monkeypatch,
                                                               capsys) -> None:
    """HEAD's suite against the working tree with the slowdown switch on: only the current
    side is slowed, so the deterministic ATen-op count of the slowed case grows (no timing is
    asserted)."""
    native = "lstm-native-cpu-f32-I256-H128-L1-T100-B64-fwd"
    eager = "lstm-eager-cpu-f32-I256-H128-L1-T100-B64-fwd"
    monkeypatch.setenv(SLOWDOWN_ENV, "lstm:eager:1.5")
    monkeypatch.chdir(ROOT)
    args = f"{CPU_ARGS} -k '[{native}] or [{eager}]'"
    status, out = run_cli(capsys, "gate", "--against", "HEAD", tmp_path / "now.json",
                          "--pytest-args", args)
    assert status == 1, out[-3000:]
    assert "mode A/B (--against HEAD)" in out
    regressions = out.split("REGRESSION in 1 case(s):\n")[1]
    assert regressions.startswith(f"  {eager}:") and "aten_ops grew" in regressions


@pytest.mark.parametrize("rev", [worker.OLDEST_TREE, "HEAD"], ids=["oldest", "HEAD"])
def test_the_worker_measures_every_tree_of_its_api(rev, tmp_path, monkeypatch, capsys) -> None:
    """The worker script of this tree drives the oldest tree that its API names, and HEAD's:
    both sides time and describe the cases (the verdict, a matter of timing, is not asserted)."""
    known = subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=ROOT,
                           capture_output=True, check=False)
    if known.returncode != 0:
        pytest.skip(f"{rev} is not in this clone (shallow?): `git fetch --unshallow`")
    cases = [f"lstm-{impl}-cpu-f32-I256-H128-L1-T100-B64-fwd" for impl in ("native", "eager")]
    monkeypatch.delenv(SLOWDOWN_ENV, raising=False)
    monkeypatch.chdir(ROOT)
    args = f"{CPU_ARGS} -k '{' or '.join(f'[{case}]' for case in cases)}'"
    status, out = run_cli(capsys, "gate", "--against", rev, tmp_path / "now.json",
                          "--pytest-args", args)
    assert status in (0, 1), out[-3000:]
    assert "in 2 common case(s)" in out or "REGRESSION in" in out, out[-3000:]
    for case in cases:  # both medians, base and now, in the verdict table
        assert re.search(rf"^{case}\s+\d+\.\d+\s+\d+\.\d+\s", out, re.MULTILINE), out[-3000:]
    assert sorted(load_run(tmp_path / "now.json").by_name()) == sorted(cases)


def test_the_temporary_tree_is_removed_when_the_gate_is_terminated(tmp_path) -> None:
    """SIGTERM (a CI timeout) is turned into an interruption while the tree exists."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from rnnbench.gate import ab\n"
        f"root = Path({str(ROOT)!r})\n"
        "try:\n"
        "    with ab.checkout(ab.resolve_commit('HEAD', root), root) as tree:\n"
        f"        Path({str(tmp_path / 'tree.txt')!r}).write_text(str(tree))\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 130, done.stderr
    assert not Path((tmp_path / "tree.txt").read_text()).exists()
