"""Run the benchmark suite in a subprocess: to record a baseline, or to rerun suspect cases.

The suite is ``pytest benchmarks`` (its options: :mod:`rnnbench.bench.plugin`), in the profile
of the baseline it is compared with. pytest-benchmark writes raw timings into ``--benchmark-json``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The suite as CI runs it; ``pytest_args`` add to it.
SUITE: tuple[str, ...] = ("-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider")
#: How the CPU baseline and CI runs are measured on a shared machine. One thread: with two,
#: OpenMP threads spin-wait on a busy machine and one call can take 50x its time. CPU time of
#: the process: the time other processes hold the CPU is not counted.
CPU_ARGS = "--rnnbench-device=cpu --rnnbench-threads=1 --benchmark-timer=time.process_time"


def check_pytest_args(text: str) -> list[str]:
    """``--pytest-args`` split like a shell line; a ``ValueError`` that says how to quote it."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise ValueError(f"--pytest-args {text!r} is not accepted: it is split like a shell "
                         f"command line, and {error}; quote it so that the shell passes it "
                         "whole, e.g. --pytest-args=\"-k 'lstm and T100'\"") from None


def with_profile(pytest_args: str, profile: object) -> str:
    """``pytest_args`` that measure ``profile`` (a baseline's), unless they name one: a run
    of another profile would lack the baseline's cases or hold others."""
    if not isinstance(profile, str) or "--rnnbench-profile" in pytest_args:
        return pytest_args
    return f"{pytest_args} --rnnbench-profile={profile}"


def selection(cases: Sequence[str]) -> str:
    """A ``-k`` expression that selects exactly these case ids (``[id]`` matches whole ids)."""
    return " or ".join(f"[{case}]" for case in cases)


def suite_command(output: str | Path | None, pytest_args: str = CPU_ARGS,
                  cases: Sequence[str] = ()) -> list[str]:
    """The command that runs the suite (``cases`` only, if given) into ``output`` (if any)."""
    json = [f"--benchmark-json={output}"] if output else []
    command = [sys.executable, *SUITE, *json, *shlex.split(pytest_args)]
    return [*command, "-k", selection(cases)] if cases else command


def run_suite(output: str | Path, pytest_args: str = CPU_ARGS,
              cases: Sequence[str] = ()) -> int:
    """Runs :func:`suite_command`, echoing it first; returns pytest's exit status.

    Interrupted (Ctrl-C, or SIGTERM, which the CLI turns into Ctrl-C), it stops pytest and
    waits for it before unwinding, so that pytest neither outlives it nor writes ``output``
    afterwards. pytest-benchmark before 5.3 creates ``output`` empty when it parses its
    options; an interrupted run leaves no such empty file behind.
    """
    command = suite_command(output, pytest_args, cases)
    print("running:", _short(command), flush=True)
    process = subprocess.Popen(command)
    try:
        return process.wait()
    except BaseException:
        stop(process)
        path = Path(output)
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()
        raise


def stop(process: subprocess.Popen[Any], grace_s: float = 10.0) -> None:
    """SIGTERM ``process``, then SIGKILL if it has not ended within ``grace_s``; reaped."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tree_env(tree: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this one) with ``tree/src`` first on ``PYTHONPATH``: a process run
    with it imports that tree's rnnbench, whatever is installed."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree / "src"),
                                                      env.get("PYTHONPATH", "")]))
    return env


def _short(command: list[str]) -> str:
    """The command as echoed: a long ``-k`` selection is summarised by its case count."""
    if "-k" in command:
        at = len(command) - command[::-1].index("-k")  # the last -k: the selection
        count = command[at].count(" or ") + 1
        command = [*command[:at], f"<{count} case(s)>", *command[at + 1:]]
    return shlex.join(command)
