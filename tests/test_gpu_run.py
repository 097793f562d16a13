"""scripts/gpu_run.py --dry-run: every phase of the prepared GPU run works, on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_converge_imdb import layout, make_archive

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_run.py"


def test_dry_run_runs_every_phase_and_bundles_the_results(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "aclImdb_v1.tar.gz", layout(40))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(SCRIPT), str(out), "--dry-run", "--imdb",
                           str(archive), "--commit", "0" * 40], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    phases = json.loads((out / "phases.json").read_text())["phases"]
    assert [p["phase"] for p in phases] == ["environment", "cuda tests", "benchmarks",
                                           "cuda graphs", "imdb", "benchmarks (compiled)"]
    assert all(p["status"] == "ok" for p in phases), phases
    bench = json.loads((out / "gpu-quick.json").read_text())
    impls = {b["extra_info"]["impl"] for b in bench["benchmarks"]}
    assert impls == {"native", "eager", "script", "derived", "compiled"}
    assert bench["rnnbench"]["exitstatus"] == 0 and bench["commit_info"]["id"]
    runs = json.loads((out / "imdb-cuda.json").read_text())["runs"]
    assert {r["cell"] for r in runs} == {"lstm", "gru", "bilstm", "lstmfb"}
    assert all(r["status"] == "done" for r in runs)
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and not any(name.endswith((".lock", ".checkpoints")) for name in files)
