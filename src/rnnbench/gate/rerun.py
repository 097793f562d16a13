"""Run the benchmark suite in a subprocess: to record a baseline, to rerun suspect cases, or
to measure another commit's tree (A/B).

The suite is ``pytest benchmarks`` (see ``benchmarks/conftest.py``) of a source tree, run from
that tree with its own ``src`` first on the path, so an old commit measures its own code on
this interpreter. The quick profile is what the committed CPU baseline holds. pytest-benchmark
writes raw timings into ``--benchmark-json``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The suite as CI runs it; ``pytest_args`` add to it.
SUITE: tuple[str, ...] = (
    "-m", "pytest", "benchmarks", "--rnnbench-profile=quick", "-q", "-p", "no:cacheprovider",
)
#: How the CPU baseline and CI runs are measured on a shared machine. One thread: with two,
#: OpenMP threads spin-wait on a busy machine and one call can take 50x its time. CPU time of
#: the process: the time other processes hold the CPU is not counted.
CPU_ARGS = "--rnnbench-device=cpu --rnnbench-threads=1 --benchmark-timer=time.process_time"


def selection(cases: Sequence[str]) -> str:
    """A ``-k`` expression that selects exactly these case ids (``[id]`` matches whole ids)."""
    return " or ".join(f"[{case}]" for case in cases)


def suite_command(output: str | Path, pytest_args: str = CPU_ARGS,
                  cases: Sequence[str] = ()) -> list[str]:
    """The command that runs the suite (``cases`` only, if given) into ``output``."""
    command = [sys.executable, *SUITE, f"--benchmark-json={output}", *shlex.split(pytest_args)]
    return [*command, "-k", selection(cases)] if cases else command


def run_suite(output: str | Path, pytest_args: str = CPU_ARGS, cases: Sequence[str] = (),
              tree: Path | None = None, env: Mapping[str, str] | None = None) -> int:
    """Runs :func:`suite_command` in ``tree`` (default: here), echoing it first; returns
    pytest's exit status. ``env``: the environment (default: this one) before ``tree/src`` is
    put first on ``PYTHONPATH``."""
    command = suite_command(Path(output).resolve(), pytest_args, cases)
    environment = dict(os.environ if env is None else env)
    if tree is not None:
        paths = [str(tree / "src"), environment.get("PYTHONPATH", "")]
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    where = f" (in {tree})" if tree is not None else ""
    print("running:", _short(command) + where, flush=True)
    return subprocess.run(command, cwd=tree, env=environment, check=False).returncode


def _short(command: list[str]) -> str:
    """The command as echoed: a long ``-k`` selection is summarised by its case count."""
    if "-k" in command:
        at = len(command) - command[::-1].index("-k")  # the last -k: the selection
        count = command[at].count(" or ") + 1
        command = [*command[:at], f"<{count} case(s)>", *command[at + 1:]]
    return shlex.join(command)
