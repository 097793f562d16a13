"""``rnnbench converge --workers N``: the (cell, seed) runs in N processes at once.

Each job is a ``rnnbench converge`` child with the parent's arguments plus ``--job CELL:SEED``
and ``--threads`` (the CPUs shared out, at least 1, so that N children do not oversubscribe
the cores). Children share ``--out`` (writes locked and merged by the store) and each resumes
its own checkpoint, so an interrupted ``--workers`` run resumes like a sequential one. Jobs
start seed-major, so a run cut short still has one seed of each cell.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

#: How often the parent looks at its children, seconds.
POLL_S = 0.2
#: ``--launcher``: this machine's process pool, or Ray tasks (:mod:`.ray_launcher`), which
#: each train one job through :func:`job_args` as well.
LAUNCHERS = ("local", "ray")


@dataclass(frozen=True)
class Job:
    cell: str
    seed: int

    @property
    def option(self) -> str:
        return f"{self.cell}:{self.seed}"


def jobs(cells: Sequence[str], seeds: int) -> list[Job]:
    """Seed-major: every cell's seed 0, then every cell's seed 1, ..."""
    return [Job(cell, seed) for seed in range(seeds) for cell in cells]


def parse_job(text: str) -> Job:
    cell, _, seed = text.partition(":")
    if not cell or not seed.isdigit():
        raise ValueError(f"job={text!r} is not accepted: expected CELL:SEED, e.g. lstm:0")
    return Job(cell, int(seed))


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    return max(1, (cpus or os.cpu_count() or 1) // workers)


def job_args(argv: Sequence[str], job: Job, threads: int) -> list[str]:
    """The parent's ``converge`` arguments without ``--workers``/``--restart``, plus the job.

    The CLI refuses abbreviated options (``allow_abbrev=False``), so the exact spellings are
    the only ones to strip; anything after ``--`` is kept as it is.
    """
    kept: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            kept += [arg, *args]
        elif arg in ("--workers", "--threads"):
            next(args, None)  # and its value
        elif not (arg.startswith(("--workers=", "--threads=")) or arg == "--restart"):
            kept.append(arg)
    return [*kept, "--job", job.option, "--threads", str(threads)]


def child_args(argv: Sequence[str], job: Job, threads: int) -> list[str]:
    """The command line of the local child process that trains ``job``."""
    return [sys.executable, "-m", "rnnbench", "converge", *job_args(argv, job, threads)]


def run_all(argv: Sequence[str], all_jobs: Sequence[Job], workers: int, threads: int,
            quiet: bool = False) -> int:
    """Runs the jobs, at most ``workers`` at a time; 0 if all succeeded, else the worst code.

    Ctrl-C (or SIGTERM to the parent) stops every child with SIGTERM, and returns 130 once
    they have stopped. Each child keeps its last finished epoch, since results and checkpoints
    are replaced atomically; SIGINT would not do, because a run started in the background
    (``cmd &``) ignores it, and so do its children.
    """
    log = (lambda line: None) if quiet else functools.partial(print, flush=True)
    waiting = list(all_jobs)
    running: dict[Job, subprocess.Popen[bytes]] = {}
    failed: dict[Job, int] = {}
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                job = waiting.pop(0)
                log(f"converge: starting {job.cell} seed {job.seed} "
                    f"({len(all_jobs) - len(waiting)}/{len(all_jobs)}, {threads} threads)")
                running[job] = subprocess.Popen(child_args(argv, job, threads))
            for job, process in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[job]
                if code:
                    failed[job] = code
                    log(f"converge: {job.cell} seed {job.seed} failed ({_why(code)})")
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        for process in running.values():
            process.terminate()
        for process in running.values():
            process.wait()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if failed:
        log("converge: failed: " + ", ".join(f"{j.cell} seed {j.seed} ({_why(c)})"
                                            for j, c in failed.items()))
        return max(map(exit_status, failed.values()))
    return 0


def exit_status(code: int) -> int:
    """A child's return code in the CLI's policy: killed by SIGINT or SIGTERM is an
    interruption (130), by another signal (e.g. the kernel's out-of-memory SIGKILL) an
    unusable environment (2); ``subprocess`` gives minus the signal number, which the parent's
    own exit would wrap to 256 - N."""
    if code >= 0:
        return code
    return 130 if -code in (signal.SIGINT, signal.SIGTERM) else 2


def _why(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"
