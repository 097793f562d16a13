"""``rnnbench report``: tables, plots and a selection guide from result JSONs.

``rnnbench report [RESULTS.json ...] --out reports/`` writes ``README.md`` and PNGs;
``rnnbench report --compare A.json B.json --out DIR`` writes a comparison page instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnbench.report import compare, readme
from rnnbench.report.load import load_bench

HELP = "README tables, plots and a selection guide from benchmark and convergence results"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", nargs="*", type=Path, metavar="RESULTS.json",
        help="benchmark (pytest-benchmark) or convergence JSON files; default: "
             f"{readme.DEFAULT_DIR}/*.json and {readme.DEFAULT_DIR}/convergence/*.json")
    parser.add_argument("--out", type=Path, default=readme.DEFAULT_DIR, metavar="DIR",
                        help=f"where README.md and the PNGs go (default: {readme.DEFAULT_DIR})")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                        help="write DIR/NAME.md comparing two benchmark files (B relative to A)")
    parser.add_argument("--name", default="compare",
                        help="file name (no extension) of the comparison page and its PNG")


def run(args: argparse.Namespace) -> int:
    if args.compare:
        if args.results:
            raise ValueError("--compare takes exactly two files: do not also pass RESULTS.json "
                             f"({', '.join(map(str, args.results))})")
        old, new = (load_bench(path) for path in args.compare)
        page = compare.write(old, new, args.out, args.name)
        print(page)
        return 0
    explicit = bool(args.results)
    paths = args.results if explicit else readme.default_inputs()
    inputs = readme.load_inputs(paths, strict=explicit)
    for path in inputs.ignored:
        print(f"rnnbench report: note: {path} is not a results file, ignored", file=sys.stderr)
    if not paths:
        print(f"rnnbench report: note: no result files in {readme.DEFAULT_DIR}/; the report "
              "says 'no data yet' for speed and convergence", file=sys.stderr)
    command = "rnnbench report"
    if explicit:
        command += " " + " ".join(path.as_posix() for path in paths)
    if args.out != readme.DEFAULT_DIR:
        command += f" --out {args.out.as_posix()}"
    print(readme.generate(inputs, args.out, command))
    return 0
