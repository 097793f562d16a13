"""``rnnbench dashboard [STORAGE...] --out DIR``: a static site of every storage's history,
the committed report's speed and convergence charts, and a comparison of two machines.

A storage file that cannot be read is skipped with a warning (one line each, on stderr); the
site opens from ``DIR/index.html`` without a server.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rnnbench.dashboard import build
from rnnbench.history import series
from rnnbench.report import readme
from rnnbench.report.load import read

HELP = "a static web page of the results over commits, per machine, with the report's charts"
DEFAULT_STORAGE = (Path("reports/history"), Path(".benchmarks"))
DEFAULT_OUT = Path("reports/dashboard")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("storages", nargs="*", type=Path, metavar="STORAGE",
                        help="pytest-benchmark storages (or machine folders of one); default: "
                        f"{', '.join(p.as_posix() for p in DEFAULT_STORAGE)} where they exist")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"the site's folder (default: {DEFAULT_OUT}); a folder that "
                        "exists must be empty or one this command built")
    parser.add_argument("--no-report", dest="report", action="store_false",
                        help="leave out the report's charts (from the committed results in "
                        f"{readme.DEFAULT_DIR}/)")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    build.check_out(args.out)
    storages = args.storages or [p for p in DEFAULT_STORAGE if p.is_dir()]
    machines, warnings = series.load(storages, warn=True)
    for warning in warnings:
        print(f"rnnbench dashboard: warning: {warning}", file=sys.stderr)
    inputs = read(readme.default_inputs(), strict=False) if args.report else read([])
    index = build.build(args.out, machines, inputs.bench, inputs.convergence)
    runs = sum(len(m.runs) for m in machines)
    print(f"rnnbench dashboard: {len(machines)} machine(s), {runs} run(s) in "
          f"{time.perf_counter() - started:.1f} s: open {index.resolve().as_uri()}")
    return 0
