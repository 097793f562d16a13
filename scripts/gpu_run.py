"""The prepared GPU run everything a lent H100/H200 should measure, in one go.

    python3 scripts/gpu_run.py OUT [--imdb ARCHIVE] [--budget SECONDS] [--commit SHA]
    python3 scripts/gpu_run.py OUT --dry-run      # tiny sizes on the CPU (tests/test_gpu_run.py)

Phases, each a child process with its own time limit cut from one wall-clock budget, so a
slow or failing phase costs only its own results (each phase's output goes to OUT/log.txt):

1. install the project (``pip install --no-deps --no-build-isolation -e .``) and record
   torch, CUDA, cuDNN, the GPU and its NVML clocks (``environment.json``);
2. the CUDA tests (``pytest -m gpu``);
3. the quick CUDA benchmark suite, f32, bf16 and f16 (the suite's shape and fastrnns'
   T100 B64 I=H=512 for every impl), all impls but ``compiled``;
4. the CUDA-graph experiment (``scripts/cuda_graphs.py``);
5. IMDB at the article's configuration, LSTM, GRU, BiLSTM and the LSTM with forget-gate
   bias 1 (a control), 20 epochs, 3 seeds, three runs at a time (seed 0 of every
   cell first), resumable and rewritten after every epoch;
6. the ``compiled`` impl's benchmark cases with whatever time is left;
7. the bundle: ``gpu-quick.json`` (3 and 6 merged), at most 8 files in OUT.

A phase stopped at its limit gets SIGINT, so pytest and ``rnnbench converge`` still write
what they finished (marked interrupted). Nothing here changes the GPU's settings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
#: The project's source first on the path, should the editable install fail.
SOURCE = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
#: Seconds kept back at the end for the bundle.
RESERVE_S = 15
IMDB = ["--task", "imdb", "--cells", "lstm,gru,bilstm,lstmfb", "--seeds", "3",
        "--epochs", "20", "--workers", "3"]
#: Warnings are shown, not errors (pyproject's default): one-shot runs on another torch
#: version must not lose a case to a new deprecation notice.
PYTEST = ["-m", "pytest", "-p", "no:cacheprovider", "-W", "default"]
BENCH = [*PYTEST, "benchmarks/test_speed.py", "-q",
         "--benchmark-max-time=0.25", "--benchmark-min-rounds=5"]


class Budget:
    """The budget, the log and the phases' outcomes."""

    def __init__(self, out: Path, budget: float, dry_run: bool) -> None:
        self.out, self.dry_run = out, dry_run
        self.deadline = time.monotonic() + budget
        self.log_path = out / "log.txt"
        self.phases: list[dict[str, object]] = []

    def left(self) -> float:
        return self.deadline - time.monotonic() - RESERVE_S

    def say(self, line: str) -> None:
        print(line, flush=True)
        with self.log_path.open("a") as log:
            log.write(line + "\n")

    def phase(self, name: str, command: list[str], limit: float, **env: str) -> int | None:
        """Runs ``command`` for at most ``limit`` seconds (less if the budget is shorter)."""
        limit = min(limit, self.left())
        if limit < 5:
            self.say(f"== {name}: skipped, {self.left():.0f} s of budget left")
            self.phases.append({"phase": name, "status": "skipped (no time left)"})
            return None
        shown = " ".join(arg if "\n" not in arg else "<script>" for arg in command)
        self.say(f"== {name} (limit {limit:.0f} s): {shown}")
        start = time.monotonic()
        with self.log_path.open("a") as log:
            process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1",
                                            "PYTHONPATH": SOURCE, **env})
            try:
                code = process.wait(timeout=limit)
                status = "ok" if code == 0 else f"exit {code}"
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGINT)  # pytest and converge save what they have
                try:
                    code = process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    code = process.wait()
                status = f"stopped at its limit (exit {code})"
        seconds = time.monotonic() - start
        self.say(f"== {name}: {status} after {seconds:.0f} s")
        self.phases.append({"phase": name, "status": status, "seconds": round(seconds, 1)})
        return code


def environment(out: Path) -> list[str]:
    code = f"""
import json, platform, torch
from rnnbench.bench import machine
info = {{"python": platform.python_version(), **machine.library_versions(),
        "cuda_available": torch.cuda.is_available(),
        "device_name": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "gpus": machine.nvml_gpus(), "cpu": machine.cpu_model(),
        "cpu_count": __import__("os").cpu_count()}}
json.dump(info, open({str(out / 'environment.json')!r}, "w"), indent=1)
print(json.dumps(info, indent=1))
"""
    return [PY, "-c", code]


def merge_bench(parts: list[Path], target: Path, commit: str | None) -> None:
    """One pytest-benchmark file from the runs of one machine (the compiled cases apart).

    Where ``.git`` did not travel, pytest-benchmark records no commit; the one given with
    ``--commit`` (run from a clean checkout) is recorded instead, and says where it came from.
    """
    documents = [json.loads(p.read_text()) for p in parts if p.exists() and p.stat().st_size]
    if not documents:
        return
    merged = documents[0]
    recorded = (merged.get("commit_info") or {}).get("id")
    if recorded in (None, "", "unknown", "unversioned") and commit:
        merged["commit_info"] = {"id": commit, "dirty": False,
                                 "source": "scripts/gpu_run.py --commit (no .git here)"}
    for extra in documents[1:]:
        merged["benchmarks"] += extra["benchmarks"]
        codes = [d.get("rnnbench", {}).get("exitstatus") for d in (merged, extra)]
        merged["rnnbench"]["exitstatus"] = max((c for c in codes if c is not None), default=None)
        merged["rnnbench"]["wall_s"] += extra.get("rnnbench", {}).get("wall_s", 0)
    merged["rnnbench"]["parts"] = [p.name for p in parts if p.exists()]
    target.write_text(json.dumps(merged, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for every result (created)")
    parser.add_argument("--imdb", type=Path, help="the aclImdb archive (default: rnnbench's)")
    parser.add_argument("--budget", type=float, default=570, help="wall seconds in all")
    parser.add_argument("--commit", help="the commit being run, for when .git did not travel")
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny sizes on the CPU: checks that every phase runs")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    run = Budget(out, args.budget, args.dry_run)
    dry = args.dry_run
    device = "cpu" if dry else "cuda"
    imdb_data = ["--data", str(args.imdb.resolve())] if args.imdb else []
    run.say(f"gpu_run: budget {args.budget:.0f} s, out {out}, dry run {dry}")

    if not dry:
        run.phase("install", [PY, "-m", "pip", "install", "-q", "--no-deps",
                              "--no-build-isolation", "-e", "."], 120)
        run.phase("nvidia-smi", ["nvidia-smi"], 20)
    run.phase("environment", environment(out), 60)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or args.commit
    run.say(f"commit: {commit} ({'git' if commit != args.commit else '--commit'})")

    run.phase("cuda tests", [PY, *PYTEST, "tests", "-m", "gpu", "-q", "-rs",
                             f"--junitxml={out / 'cuda-tests.xml'}"], 90)

    main_json, compiled_json = out / "bench-main.json", out / "bench-compiled.json"
    if dry:
        select = ["--rnnbench-device=cpu", "-k", "gru and I256-H128-L1-T100-B8 and not compiled"]
    else:
        select = ["--rnnbench-device=cuda", "-k", "not compiled"]
    run.phase("benchmarks", [PY, *BENCH, *select,
                             f"--benchmark-json={main_json}"], 200)
    run.phase("cuda graphs", [PY, "scripts/cuda_graphs.py", "--json",
                              str(out / "cuda-graphs.json")], 60)

    imdb_out = out / "imdb-cuda.json"
    imdb = [PY, "-m", "rnnbench", "converge", *IMDB, "--device", device, "--out", str(imdb_out),
            *imdb_data]
    if dry:
        imdb += ["--limit", "64", "--epochs", "2", "--seeds", "1", "--embed-dim", "8",
                 "--hidden-size", "8", "--vocab-size", "50"]
    run.phase("imdb", imdb, max(30.0, run.left() - 75))

    if dry:
        select = ["--rnnbench-device=cpu", "-k",
                  "gru and compiled and I256-H128-L1-T100-B64-fwd and not fwdbwd"]
    else:
        select = ["--rnnbench-device=cuda", "-k", "compiled"]
    run.phase("benchmarks (compiled)", [PY, *BENCH, *select,
                                        f"--benchmark-json={compiled_json}"], run.left())

    merge_bench([main_json, compiled_json], out / "gpu-quick.json", commit)
    for part in (main_json, compiled_json):
        part.unlink(missing_ok=True)
    checkpoints = out / "imdb-cuda.checkpoints"
    shutil.rmtree(checkpoints, ignore_errors=True)  # models: not results, and over the limits
    for lock in out.glob("*.lock"):
        lock.unlink()
    (out / "phases.json").write_text(json.dumps({"commit": commit, "phases": run.phases},
                                                indent=1))
    files = sorted(p.name for p in out.iterdir())
    run.say(f"gpu_run: done; {len(files)} files: {', '.join(files)}")
    for phase in run.phases:
        run.say(f"  {phase['phase']:24} {phase['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
