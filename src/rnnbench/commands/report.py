"""``rnnbench report``: tables, plots and a selection guide from result JSONs.

``rnnbench report [RESULTS.json ...] --out reports/`` writes ``README.md`` and PNGs;
``rnnbench report --compare A.json B.json --out DIR`` writes a comparison page instead.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

from rnnbench.bench import results
from rnnbench.files import check_output_dir
from rnnbench.report import front, readme
from rnnbench.report.load import Inputs, read

HELP = "README tables, plots and a selection guide from benchmark and convergence results"
#: The page ``rnnbench dashboard`` builds beside the report, relative to it: linked whether built
#: or not, so the committed report does not depend on a build that is not committed.
DASHBOARD = "dashboard/index.html"


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
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if DIR/README.md differs from what the "
                             "inputs give now or a figure it links is missing (for CI)")


def run(args: argparse.Namespace) -> int:
    if args.compare:
        if args.results:
            raise ValueError("--compare takes exactly two files: do not also pass RESULTS.json "
                             f"({', '.join(map(str, args.results))})")
        if not args.name or args.name.startswith(".") or Path(args.name).name != args.name:
            raise ValueError(f"--name {args.name!r} is not accepted: expected a plain file name "
                             "without folders or a leading dot (the page is written into "
                             "--out), e.g. --name compare")
        old, new = (results.load(path) for path in args.compare)
        command = (f"rnnbench report --compare {' '.join(p.as_posix() for p in args.compare)} "
                   f"--out {args.out.as_posix()}"
                   + (f" --name {args.name}" if args.name != "compare" else ""))
        check_output_dir("--out", args.out)
        print(readme.compare(old, new, args.out, args.name, command))
        return 0
    explicit = bool(args.results)
    paths = args.results if explicit else readme.default_inputs()
    inputs = read(paths, strict=explicit)
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
    project = not explicit and args.out == readme.DEFAULT_DIR  # the committed report
    if args.check:
        status = _check(inputs, args.out, command)
        if project and front.redraw(inputs.bench, write=False):
            print(f"rnnbench report: the results table in {front.PROJECT_README} differs from "
                  f"{front.SOURCE}; run `{command}`", file=sys.stderr)
            return 1
        return status
    check_output_dir("--out", args.out)
    print(readme.generate(inputs, args.out, command, DASHBOARD))
    if project and front.redraw(inputs.bench):
        print(front.PROJECT_README)
    return 0


def _check(inputs: Inputs, out: Path, command: str) -> int:
    """0 if ``out`` holds the report the inputs give now; else 1 and what differs.

    Only the README text is compared: PNG bytes depend on the matplotlib and FreeType
    versions, the README does not.
    """
    with tempfile.TemporaryDirectory() as scratch:
        fresh = readme.generate(inputs, Path(scratch), command, DASHBOARD).read_text(
            encoding="utf-8")
    committed = out / readme.README
    if not committed.exists():
        print(f"rnnbench report: {committed} does not exist; run `{command}`", file=sys.stderr)
        return 1
    current = committed.read_text(encoding="utf-8")
    missing = [name for name in readme.figures(fresh) if not (out / name).exists()]
    if current == fresh and not missing:
        print(f"{committed} is up to date")
        return 0
    if current != fresh:
        diff = difflib.unified_diff(current.splitlines(), fresh.splitlines(), str(committed),
                                    "regenerated", n=0, lineterm="")
        print("\n".join(list(diff)[:40]), file=sys.stderr)
    for name in missing:
        print(f"missing figure: {out / name}", file=sys.stderr)
    print(f"rnnbench report: {committed} is out of date; run `{command}`", file=sys.stderr)
    return 1
