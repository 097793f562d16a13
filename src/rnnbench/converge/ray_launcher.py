"""``rnnbench converge --launcher ray``: the (cell, seed) runs as Ray tasks, on a cluster.

One Ray task per run, ``num_cpus`` = its torch threads, retried up to :data:`MAX_RETRIES`
times when its worker or node is lost. Every task writes its own results file and checkpoint
under ``--storage`` after each epoch (a folder every node sees at the same path), so a retried
task resumes from its last checkpoint and gives the same numbers as an uninterrupted run. The
driver polls those files and merges the finished epochs into ``--out`` under the store's lock,
which is all the driver writes. A run that fails for its own reason (bad input on that node)
is not retried: the task returns the message instead of raising, and the driver exits 2 with
it once the other runs are done. Ray is imported here only, and only when this launcher runs.

``STORAGE`` holds, per run: ``CELL-seedS.json`` (its results, schema of
:mod:`rnnbench.converge.store`), ``checkpoints/CELL-seedS.pt`` and ``CELL-seedS.attempts``
(one line per start of its task in this driver session: Ray node id, host, pid, time).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rnnbench.converge.store import ResultsStore, checkpoint_file, now, reached
from rnnbench.converge.workers import Job
from rnnbench.files import BadFile, read_json

INSTALL = 'pip install "rnnbench[ray]" (from a checkout: pip install -e ".[ray]")'
#: How often a task is started again after its worker or node was lost.
MAX_RETRIES = 3
#: How long the driver waits for a cluster's address to answer, seconds.
CONNECT_TIMEOUT_S = 10
#: How often the driver looks for finished epochs, seconds.
POLL_S = 1.0

#: A run on a node: its ``converge`` arguments -> ``None``, or why it failed.
Train = Callable[[list[str]], "str | None"]


def default_storage(out: Path) -> Path:
    return out.with_name(out.stem + ".storage")


def run_file(storage: Path, job: Job) -> Path:
    return storage / f"{job.cell}-seed{job.seed}.json"


def attempts_file(storage: Path, job: Job) -> Path:
    return storage / f"{job.cell}-seed{job.seed}.attempts"


def checkpoints(storage: Path) -> Path:
    return storage / "checkpoints"


def forget(storage: Path, job: Job) -> None:
    """``--restart``: the run's results and checkpoint in the storage are removed."""
    run_file(storage, job).unlink(missing_ok=True)
    checkpoint_file(checkpoints(storage), job.cell, job.seed).unlink(missing_ok=True)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError(f"launcher='ray' is not accepted: Ray is not installed here; "
                         f"install it with {INSTALL}") from None
    return ray


def check_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse within ``timeout`` an address where nothing answers (``ray.init`` would hang)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    advice = ("start the cluster there (ray start --head), or give the head's HOST:PORT "
              "(--address or RAY_ADDRESS)")
    if not host or not port.isdigit():
        raise ValueError(f"address={address!r} is not accepted: expected HOST:PORT of the Ray "
                         f"head (e.g. 10.0.0.5:6379), or 'auto'; {advice}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        why = "timed out" if isinstance(error, TimeoutError) else error.strerror or str(error)
        raise ValueError(f"address={address!r} is not accepted: no Ray head answers there "
                         f"({why}); {advice}") from None


def connect(ray: Any, address: str | None) -> None:
    """Join the cluster at ``address`` (or ``$RAY_ADDRESS``); without one, start a local Ray.

    Started explicitly (``"local"``): left to itself, ``ray.init()`` joins the cluster last
    started on this machine, and waits forever if that one is gone or unreachable.
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_address(address)
        ray.init(address=address, logging_level="warning")
    else:
        ray.init(address="local", logging_level="warning", include_dashboard=False)


def _attempt(train: Train, argv: list[str], log: str) -> str | None:
    """The Ray task: note the start (node, host, pid), then train the run."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    with open(log, "a", encoding="utf-8") as file:
        file.write(f"{node} {platform.node()} {os.getpid()} {now()}\n")
    return train(argv)


class Merger:
    """Copies the runs' finished epochs from the storage into ``--out``.

    Only run files of this task and these settings: a stale one (other settings, no
    ``--restart``) is refused by its own run, which says so, and never reaches ``--out``.
    """

    def __init__(self, out: Path, storage: Path, jobs: Sequence[Job], epochs: int,
                 task: str, settings: dict[str, Any]) -> None:
        self.out, self.storage, self.jobs, self.epochs = out, storage, jobs, epochs
        self.identity = json.loads(json.dumps({"task": task, "settings": settings}))
        self.store: ResultsStore | None = None
        self.seen: dict[Job, tuple[int, str]] = {}

    def poll(self) -> int:
        """Merge what is new; the number of epochs finished over all runs."""
        changed, finished = False, 0
        for job in self.jobs:
            document, record = self._read(job)
            if record is None:
                continue
            key = (reached(record), record["status"])
            finished += self.epochs if record["status"] != "running" else key[0]
            if self.seen.get(job) == key:
                continue
            store = self._store(document)
            target = store.run(job.cell, job.seed)
            target.clear()
            target.update(record)
            self.seen[job], changed = key, True
        if changed and self.store is not None:
            self.store.write()
        return finished

    def _read(self, job: Job) -> tuple[dict[str, Any], dict[str, Any] | None]:
        try:
            document = read_json(run_file(self.storage, job), "results file")
        except BadFile:  # not there yet (a task's own store refuses a broken one)
            return {}, None
        if not isinstance(document, dict) or any(document.get(key) != value
                                                 for key, value in self.identity.items()):
            return {}, None
        runs = document.get("runs")
        return document, next((r for r in runs or [] if isinstance(r, dict)
                               and (r.get("cell"), r.get("seed")) == (job.cell, job.seed)), None)

    def _store(self, document: dict[str, Any]) -> ResultsStore:
        """``--out``, opened with the settings the first run file names (checked against it)."""
        if self.store is None:
            self.store = ResultsStore(self.out, document["task"], document["settings"],
                                      document["data"], document["environment"],
                                      checkpoints(self.storage))
            self.store.check_epochs(self.epochs)
        return self.store


def run_all(train: Train, job_argv: Callable[[Job], list[str]], all_jobs: Sequence[Job],
            merger: Merger, threads: int, address: str | None, quiet: bool = False) -> int:
    """Runs every job as a Ray task and merges its epochs (``merger``); 0, or 130 on Ctrl-C.

    A run that failed for its own reason, or lost its worker more than :data:`MAX_RETRIES`
    times, raises ``ValueError`` naming it once all runs are over. Ctrl-C (or SIGTERM) cancels
    the tasks; each run keeps its last finished epoch, merged before returning.
    """
    ray = import_ray()
    connect(ray, address)
    # Ctrl-C and SIGTERM only set a flag that the loop reads: raised inside ray.wait, a
    # KeyboardInterrupt can be lost in Ray's own code, and the run would end as if finished.
    stop: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    task = ray.remote(_attempt).options(num_cpus=threads, max_retries=MAX_RETRIES,
                                        retry_exceptions=False)
    pending: dict[Any, Job] = {}
    failed: list[str] = []
    storage = merger.storage
    bar = tqdm(total=len(all_jobs) * merger.epochs, unit="epoch", desc="converge",
               disable=quiet or not sys.stderr.isatty())  # a log gets a line per run instead
    try:
        for job in all_jobs:
            attempts_file(storage, job).unlink(missing_ok=True)
            pending[task.remote(train, job_argv(job), str(attempts_file(storage, job)))] = job
        while pending and not stop:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_S)
            for ref in ready:
                job = pending.pop(ref)
                why = _outcome(ray, ref)
                if why:
                    failed.append(f"{job.cell} seed {job.seed}: {why}")
                if not quiet:
                    bar.write(f"converge: {job.cell} seed {job.seed} "
                              + (f"failed: {why}" if why else "finished"), file=sys.stderr)
            _progress(bar, merger.poll(), storage, all_jobs, pending.values())
        if stop:
            raise KeyboardInterrupt
        _progress(bar, merger.poll(), storage, all_jobs, ())
    except KeyboardInterrupt:
        _cancel(ray, pending)
        merger.poll()
        return 130
    except BaseException:
        _cancel(ray, pending)
        raise
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        ray.shutdown()
    if failed:
        raise ValueError("; ".join(failed))
    return 0


def _outcome(ray: Any, ref: Any) -> str | None:
    """``None`` for a finished run, else why it failed (in one line)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:  # a bug: the traceback is in the task's log
        cause = error.cause if error.cause is not None else error
        return f"unexpected {type(cause).__name__}: {str(cause).splitlines()[0]}"
    except ray.exceptions.RayError as error:  # lost its worker or node every time
        return (f"its task was lost {MAX_RETRIES + 1} times ({type(error).__name__}); "
                "rerun to resume from its last checkpoint")


def _progress(bar: tqdm, finished: int, storage: Path, jobs: Sequence[Job],
              running: Any) -> None:
    running = set(running)
    starts = {job: _lines(attempts_file(storage, job)) for job in jobs}
    bar.set_postfix_str(f"{sum(1 for j in running if starts[j])} running, "
                        f"{sum(max(0, n - 1) for n in starts.values())} retried", refresh=False)
    bar.update(finished - bar.n)


def _lines(path: Path) -> int:
    try:
        return len(path.read_text(encoding="utf-8").splitlines())
    except OSError:
        return 0


def _cancel(ray: Any, pending: dict[Any, Job]) -> None:
    for ref in pending:
        ray.cancel(ref, force=True)
    if pending:  # until the workers are gone, so nothing writes after the driver returns
        ray.wait(list(pending), num_returns=len(pending), timeout=CONNECT_TIMEOUT_S)

