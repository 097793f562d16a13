"""``converge --launcher ray``: bad input without a cluster, and a real local Ray cluster.

The cluster tests start Ray only inside a private network namespace (``unshare -n``, where
only loopback exists), so that every Ray process binds to 127.0.0.1 and no traffic leaves
the machine: a helper script runs there, and reports back as JSON on its last line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import cache
from pathlib import Path

import pytest

from rnnbench.cli import main
from rnnbench.commands.converge import run_job
from rnnbench.converge import ray_launcher
from rnnbench.converge.workers import Job

#: A grid of 4 short adding-task runs (2 cells x 2 seeds), each a few seconds.
GRID = ["--task", "adding", "--cells", "lstm,gru", "--seeds", "2", "--epochs", "8",
        "--seq-len", "20", "--steps-per-epoch", "30", "--eval-size", "64",
        "--hidden-size", "16", "--threads", "1"]
#: Fields of an epoch row that must not depend on where or when it was trained.
NUMBERS = ("epoch", "step", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy")


@cache
def _cluster_unavailable() -> str | None:
    if importlib.util.find_spec("ray") is None:
        return f"Ray is not installed ({ray_launcher.INSTALL})"
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return "needs root and unshare(1) to keep Ray inside a private network namespace"
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"],
                           capture_output=True, check=False)
    if probe.returncode:
        return f"unshare -n refused here: {probe.stderr.decode().strip()}"
    return None


needs_cluster = pytest.mark.skipif(_cluster_unavailable() is not None,
                                   reason=str(_cluster_unavailable()))

#: Runs in the namespace: a head and two worker nodes of 1 CPU each, the grid on them with
#: the driver as a separate process; once a run on a worker node has finished one to three of
#: its epochs, its process and its node are killed. Prints {"exit", "victim", "attempts"} as
#: its last line.
CLUSTER_SCRIPT = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    from pathlib import Path
    from ray.cluster_utils import Cluster

    out, argv = Path(sys.argv[1]), sys.argv[2:]
    storage = out.with_name(out.stem + ".storage")
    fast = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
            "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 1, "_system_config": fast})
    nodes = {node.node_id: node for node in [cluster.add_node(num_cpus=1) for _ in range(2)]}
    cluster.wait_for_nodes()
    driver = subprocess.Popen([sys.executable, "-m", "rnnbench", "converge", *argv,
                               "--launcher", "ray", "--address", cluster.address,
                               "--out", str(out), "--quiet"])
    victim = None
    while victim is None and driver.poll() is None:
        for log in storage.glob("*.attempts"):
            start = log.read_text().split()[:3]  # node, host, pid of its first attempt
            results = log.with_suffix(".json")
            if start and start[0] in nodes and results.exists():
                run = json.loads(results.read_text())["runs"][0]
                if run["status"] == "running" and 1 <= len(run["epochs"]) <= 3:
                    victim = log.stem
                    # its process first: a run this short could finish while its node goes down
                    os.kill(int(start[2]), signal.SIGKILL)
                    cluster.remove_node(nodes[start[0]], allow_graceful=False)
                    break
        time.sleep(0.05)
    code = driver.wait(timeout=100)
    attempts = {log.stem: len(log.read_text().splitlines())
                for log in storage.glob("*.attempts")}
    cluster.shutdown()
    print(json.dumps({"exit": code, "victim": victim, "attempts": attempts}))
""")

#: Runs in the namespace: ``converge --launcher ray`` on a Ray the driver starts itself (no
#: address); with STOP > 0, Ctrl-C once a run has finished STOP epochs. Prints {"exit",
#: "epochs" (per run, in --out), "attempts" (per run)} as its last line.
DRIVER_SCRIPT = textwrap.dedent("""
    import json, signal, subprocess, sys, time
    from pathlib import Path

    out, stop, argv = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    storage = out.with_name(out.stem + ".storage")
    driver = subprocess.Popen([sys.executable, "-m", "rnnbench", "converge", *argv,
                               "--launcher", "ray", "--out", str(out), "--quiet"])
    def most():
        runs = [json.loads(f.read_text())["runs"][0] for f in storage.glob("*.json")]
        return max((len(r["epochs"]) for r in runs), default=0)
    while stop and driver.poll() is None and most() < stop:
        time.sleep(0.05)
    if stop:
        driver.send_signal(signal.SIGINT)
    code = driver.wait(timeout=90)
    document = json.loads(out.read_text()) if out.exists() else {"runs": []}
    print(json.dumps({"exit": code,
                      "epochs": {f"{r['cell']}-seed{r['seed']}": len(r["epochs"])
                                 for r in document["runs"]},
                      "attempts": {log.stem: len(log.read_text().splitlines())
                                   for log in storage.glob("*.attempts")}}))
""")


def _in_namespace(script: str, tmp_path: Path, *args: str, timeout: float) -> dict:
    """Run ``script`` in a new network namespace with only loopback up; its JSON report.

    Ray's files go to a private folder (``RAY_TMPDIR``; short, as it holds Unix sockets), so
    that no other ``ray.init()`` on this machine finds the test's cluster as the latest one.
    """
    path = tmp_path / "script.py"
    path.write_text(script)
    command = " ".join(["ip link set lo up &&", sys.executable, str(path), *args])
    private = tempfile.mkdtemp(prefix="rnnbench-ray-")
    try:
        done = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True,
                              text=True, timeout=timeout, check=False, cwd=tmp_path,
                              env={**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
                                   "RAY_TMPDIR": private})
    finally:
        shutil.rmtree(private, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "log": done.stderr[-3000:]}


def _curves(path: Path) -> dict[str, list[tuple]]:
    runs = json.loads(path.read_text())["runs"]
    return {f"{r['cell']}-seed{r['seed']}": [tuple(e[k] for k in NUMBERS) for e in r["epochs"]]
            for r in runs}


def _local(tmp_path: Path) -> dict[str, list[tuple]]:
    out = tmp_path / "local.json"
    assert main(["converge", *GRID, "--out", str(out), "--quiet"]) == 0
    return _curves(out)


@pytest.mark.ray
@needs_cluster
def test_ray_cluster_survives_a_killed_node_with_identical_results(tmp_path: Path) -> None:
    report = _in_namespace(CLUSTER_SCRIPT, tmp_path, str(tmp_path / "ray.json"), *GRID,
                           timeout=115)
    assert report["exit"] == 0, report["log"]
    assert report["victim"] is not None, "no run was on a worker node mid-way to kill it"
    assert report["attempts"][report["victim"]] >= 2  # the killed node's run started again
    assert len(report["attempts"]) == 4
    ray_curves = _curves(tmp_path / "ray.json")
    assert all(len(curve) == 8 for curve in ray_curves.values())
    assert ray_curves == _local(tmp_path)  # bit for bit: floats compared exactly


@pytest.mark.ray
@needs_cluster
def test_ray_interrupt_keeps_finished_epochs_and_exits_130(tmp_path: Path) -> None:
    report = _in_namespace(DRIVER_SCRIPT, tmp_path, str(tmp_path / "ray.json"), "2", *GRID,
                           timeout=100)
    assert report["exit"] == 130, report["log"]
    assert max(report["epochs"].values()) >= 2
    assert min(report["epochs"].values(), default=0) < 8  # stopped before the end
    local = _local(tmp_path)
    curves = _curves(tmp_path / "ray.json")
    assert all(curve == local[run][:len(curve)] for run, curve in curves.items())


@pytest.mark.ray
@needs_cluster
def test_ray_run_failing_for_its_own_reason_is_not_retried_and_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "ray.storage" / "checkpoints" / "lstm-seed0.pt"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a checkpoint")  # refused by the run on its node, not the driver
    report = _in_namespace(DRIVER_SCRIPT, tmp_path, str(tmp_path / "ray.json"), "0", *GRID,
                           "--cells", "lstm", "--seeds", "1", timeout=100)
    assert report["exit"] == 2
    assert report["attempts"] == {"lstm-seed0": 1}
    assert (f"rnnbench converge: error: lstm seed 0: checkpoint {str(broken)!r} cannot be read"
            in report["log"])


def test_ray_missing_exits_2_with_the_install_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["converge", *GRID, "--launcher", "ray", "--out", str(tmp_path / "r.json")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rnnbench converge: error: launcher='ray'")
    assert 'pip install "rnnbench[ray]"' in error


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")
def test_unreachable_address_exits_2_within_30_s_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    assert main(["converge", *GRID, "--launcher", "ray", "--address", address,
                 "--out", str(tmp_path / "r.json")]) == 2
    assert time.monotonic() - start < 30
    error = capsys.readouterr().err
    assert f"address={address!r} is not accepted: no Ray head answers there" in error
    assert not (tmp_path / "r.json").exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:  # bound, never listening: a connection is refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("options", "named"), [
    (["--launcher", "slurm"], "launcher='slurm' is not accepted"),
    (["--address", "127.0.0.1:6379"], "--address is not accepted with --launcher local"),
    (["--storage", "s"], "--storage is not accepted with --launcher local"),
    (["--launcher", "ray", "--checkpoints", "c"], "--checkpoints is not accepted with --launcher "
     "ray"),
    (["--launcher", "ray", "--workers", "2"], "--workers is not accepted with --launcher ray"),
])
def test_options_of_the_other_launcher_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str],
        named: str) -> None:
    assert main(["converge", *GRID, "--out", str(tmp_path / "r.json"), *options]) == 2
    assert named in capsys.readouterr().err


def test_a_run_failing_for_its_own_reason_returns_its_message(tmp_path: Path) -> None:
    """What a Ray task returns instead of raising, so that Ray does not retry it elsewhere."""
    why = run_job([*GRID, "--lr", "-1", "--job", "lstm:0", "--out", str(tmp_path / "r.json")])
    assert why is not None and "lr=-1.0 is not accepted" in why
    assert run_job(["--no-such-option"]) == "its arguments were refused: --no-such-option"


def test_check_address_refuses_a_malformed_address() -> None:
    with pytest.raises(ValueError, match="expected HOST:PORT of the Ray head"):
        ray_launcher.check_address("head-without-port")


def test_the_driver_merges_a_run_into_an_out_that_holds_another_drivers_runs(
        tmp_path: Path) -> None:
    out, storage = tmp_path / "out.json", tmp_path / "out.storage"
    short = [*GRID, "--epochs", "2", "--seeds", "1", "--quiet"]
    assert main(["converge", *short, "--cells", "gru", "--out", str(out)]) == 0  # the other
    job = Job("lstm", 0)
    assert main(["converge", *short, "--cells", "lstm", "--job", "lstm:0",
                 "--out", str(ray_launcher.run_file(storage, job)),
                 "--checkpoints", str(ray_launcher.checkpoints(storage))]) == 0  # the task
    settings = json.loads(out.read_text())["settings"]
    assert ray_launcher.Merger(out, storage, [job], 2, "copy", settings).poll() == 0  # not ours
    assert ray_launcher.Merger(out, storage, [job], 2, "adding", settings).poll() == 2
    merged, task = _curves(out), _curves(ray_launcher.run_file(storage, job))
    assert sorted(merged) == ["gru-seed0", "lstm-seed0"]  # the other driver's run is kept
    assert merged["lstm-seed0"] == task["lstm-seed0"] and len(task["lstm-seed0"]) == 2
