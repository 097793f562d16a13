"""How long ``rnnbench dashboard`` takes on a large storage: a synthetic one of FILES runs of
the quick profile's 80 CPU cases (one machine, one file a commit, 10 rounds a case, lockstep
sessions of 10 commits), with a slowdown injected every 100 commits, so the step finder has
work to do. Prints the build time and the steps found.

    python scripts/dashboard_scale.py                       # 1,000 files x 80 cases
    python scripts/dashboard_scale.py --files 200 --keep runs/scale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnbench.bench import grid


def storage(folder: Path, files: int, rounds: int = 10, seed: int = 0) -> None:
    """``files`` runs in ``folder/synthetic-machine``: native cases ~N(ms), each custom case a
    fixed multiple of native per round (every 100th commit 1.3x slower from then on)."""
    rng = random.Random(seed)
    cases = grid.cases("quick", ["cpu"])
    base = {c.shape_key: rng.uniform(5, 500) for c in cases}
    factor = {c.id: 1.0 if c.impl == "native" else rng.uniform(0.8, 3.0) for c in cases}
    machine = folder / "synthetic-machine"
    machine.mkdir(parents=True)
    for n in range(files):
        slow = 1.3 ** (n // 100)
        speed = [rng.uniform(0.8, 1.25) for _ in range(rounds)]  # the machine, per round
        entries = []
        for case in cases:
            scale = factor[case.id] * (slow if case.impl == "eager" else 1.0)
            data = [base[case.shape_key] / 1e3 * s * scale * rng.uniform(0.98, 1.02)
                    for s in speed]
            entries.append({"name": f"test_speed[{case.id}]",
                            "extra_info": {**case.info(), "aten_ops": 1000,
                                           "peak_memory_bytes": 2**24},
                            "stats": {"median": sorted(data)[rounds // 2], "data": data,
                                      "rounds": rounds}})
        commit = hashlib.sha1(str(n).encode()).hexdigest()
        when = f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00+00:00"  # a commit a minute
        document = {"machine_info": {"cpu": {"brand_raw": "Synthetic CPU"}},
                    "commit_info": {"id": commit, "time": when},
                    "datetime": "2026-01-01T00:00:00+00:00", "benchmarks": entries,
                    "rnnbench": {"runner": "lockstep", "session": f"s{n // 10}"}}
        (machine / f"{n + 1:04d}_{commit}_20260101_000000.json").write_text(json.dumps(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="write the storage and the site here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        storage(folder / "storage", args.files)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "rnnbench", "dashboard", "--no-report",
                               str(folder / "storage"), "--out", str(folder / "site")],
                              capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
        data = (folder / "site" / "data.js").read_text()
        steps = len(json.loads(data.removeprefix("window.RNNBENCH = ").rstrip(";\n"))["steps"])
    print(done.stdout.strip())
    print(f"{args.files} files x {len(grid.cases('quick', ['cpu']))} cases: dashboard built in "
          f"{seconds:.1f} s (whole command, interpreter start included); data.js "
          f"{len(data) / 1e6:.1f} MB; {steps} steps")


if __name__ == "__main__":
    main()
