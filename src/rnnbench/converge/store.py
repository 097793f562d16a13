"""Results of ``rnnbench converge``: one JSON file, rewritten atomically after every epoch.

A rerun of the same command resumes. A run recorded ``done`` with as many epochs as asked, or
``diverged``, is kept as it is, even without its checkpoint; an unfinished run, or a ``done``
run given more epochs, goes on from its last checkpoint (model, optimizer and RNG state,
written before the JSON, loaded with ``torch.load(weights_only=True)``; without one it is
retrained from the start), so interrupted and uninterrupted runs give the same numbers. Refused
with a message that names the file (exit 2), and never overwritten until ``--restart``: other
settings than the file's, fewer epochs than a run in it already has (never truncated
silently), a results file or checkpoint that cannot be read or has the wrong shape.

Schema ``rnnbench.converge/1`` (all accuracies are fractions, times seconds, memory MiB)::

    {
      "schema": "rnnbench.converge/1",
      "task": "imdb" | "adding" | "copy",
      "settings": {...},          # the experiment's settings dataclass (experiments.py)
      "data": {...},              # imdb: source file name, train/val/test sizes, vocab_size,
                                  #   mean_tokens (before truncation), mean_tokens_kept,
                                  #   truncated_share, positive_share;
                                  #   synthetic: eval size, baseline_loss, solved_when
      "environment": {"device", "device_name", "torch", "python", "platform", "threads"},
      "created": ISO-8601, "updated": ISO-8601,
      "runs": [{
        "cell": "lstm", "seed": 0, "impl": "native", "status": "running" | "done" | "diverged",
        "epochs_requested": 20, "started": ISO-8601, "finished": ISO-8601 | null,
        "diverged": {"epoch": 3, "reason": "train_loss is nan at step 17"},  # only if so
        "params": {"breakdown": {"embedding", "recurrent", "head"},  # rnnbench.model.params
                   "total": int,           # closed form
                   "module": int},         # sum of p.numel() over the real module
        "epochs": [{                       # one per epoch, in order: the learning curve
          "epoch": 1, "step": 313,         # step: optimizer steps so far
          "train_loss", "train_accuracy",  # means over the epoch, dropout on
          "<split>_loss", "<split>_accuracy",   # split: val (imdb) or eval, every epoch;
                                           #   imdb's test only on an epoch that beats
                                           #   every earlier val_accuracy
          "train_seconds", "eval_seconds",  # wall clock
          "train_cpu_seconds",             # process CPU time (all threads): with one
                                           #   thread, robust to other jobs on the machine
          "device_name",                   # the machine that trained this epoch: a resumed
                                           #   run may go on elsewhere (absent in old files)
          "tokens", "padded_tokens",
          "tokens_per_second",             # real (unpadded) training tokens per second
          "peak_memory_mib", "peak_memory_method",   # see metrics.py
          "finished": ISO-8601}],
        "summary": {"epochs_run", "seconds_per_epoch" (median train_seconds),
                    "cpu_seconds_per_epoch" (median train_cpu_seconds),
                    "tokens_per_second" (median), "peak_memory_mib" (max),
                    # imdb: "best_val_accuracy", "best_epoch", "test_accuracy_at_best",
                    #   "converged_epoch"; adding / copy: "steps_run", "solved",
                    #   "steps_to_solve", "final_loss", "final_accuracy", "best_loss",
                    #   "wall_seconds"
                    }}],
      "cells": {"lstm": {"<summary key>": {"n", "mean", "std", "min", "max"}}}
    }

``cells`` aggregates each numeric summary field over the seeds of a cell (``std`` is the
sample standard deviation; ``solved`` becomes the share of seeds that solved the task).

A run whose loss or a metric stops being a finite number is recorded as ``"status":
"diverged"`` with ``"diverged": {"epoch", "reason"}``; its ``epochs`` keep the finite epochs
before it, so the file never holds ``NaN`` or ``Infinity`` (the writer refuses them).

Several ``rnnbench converge`` processes may share one ``--out`` (e.g. one per cell): every
write holds ``OUT.lock`` and merges the runs the others wrote meanwhile, so none are lost
(give them different ``--cells``: the same cell and seed would be trained twice). The empty
lock file stays beside the results; delete it only when no run is going.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filelock
import torch

from rnnbench.converge.metrics import spread
from rnnbench.files import BadFile, read_json, write_atomic, write_json

SCHEMA = "rnnbench.converge/1"
STATUSES = ("running", "done", "diverged")
#: How long a write waits for another process's write to the same results file.
LOCK_TIMEOUT_S = 120


class StateError(BadFile):
    """A results file or checkpoint cannot be resumed from; the message says what to do."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_checkpoints(out: Path) -> Path:
    return out.with_name(out.stem + ".checkpoints")


def checkpoint_file(folder: Path, cell: str, seed: int) -> Path:
    """Where the checkpoint of ``(cell, seed)`` lives in a checkpoint folder."""
    return folder / f"{cell}-seed{seed}.pt"


def _normal(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def reached(record: Mapping[str, Any]) -> int:
    """The last epoch a run got to: its finished epochs, or the epoch it diverged in."""
    if record.get("status") == "diverged":
        return int(record["diverged"]["epoch"])
    return len(record["epochs"])


class ResultsStore:
    """The results file of one ``rnnbench converge`` invocation and its checkpoints."""

    def __init__(self, path: Path, task: str, settings: dict[str, Any], data: dict[str, Any],
                 environment: dict[str, Any], checkpoints: Path | None = None,
                 restart: bool = False) -> None:
        self.path = Path(path)
        self.checkpoints = checkpoints or default_checkpoints(self.path)
        self.restart = restart
        self._replace = restart  # the first write replaces the file instead of merging
        self.lock = filelock.FileLock(str(self.path.with_name(self.path.name + ".lock")),
                                      timeout=LOCK_TIMEOUT_S)
        # A checkpoint is only resumed from if it was made with exactly these settings.
        self.identity = _normal({"task": task, "settings": settings, "data": data})
        self.touched: set[tuple[str, int]] = set()  # the runs this process (re)trains
        with self._locked():
            document = None if restart else self._read()
        self.document = document or {"schema": SCHEMA, "task": task, "settings": _normal(settings),
                                     "data": _normal(data), "environment": None,
                                     "created": now(), "updated": now(), "runs": [], "cells": {}}
        self.document["environment"] = _normal(environment)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The results file's lock, or a :class:`StateError` that says who holds it."""
        try:
            self.lock.acquire()
        except filelock.Timeout:
            raise StateError(
                f"out={str(self.path)!r}: its lock {self.lock.lock_file!r} stayed taken for "
                f"{LOCK_TIMEOUT_S} s: another rnnbench converge is writing it; wait for it, or "
                "delete the lock file if no such process runs"
            ) from None
        except OSError as error:
            raise StateError(f"out={str(self.path)!r}: cannot create its lock file "
                             f"{self.lock.lock_file!r} ({error.strerror or error}); choose a "
                             "writable --out") from None
        try:
            yield
        finally:
            self.lock.release()

    def _read(self) -> dict[str, Any] | None:
        """The file's document, checked against this run's settings; ``None`` if absent."""
        if not self.path.exists():
            return None
        advice = "use another --out, or --restart to overwrite it"
        try:
            document = read_json(self.path, "results file")
        except BadFile as error:
            raise StateError(f"out={str(self.path)!r} is not accepted: {error}; {advice}") \
                from None
        _check_document(self.path, document, advice)
        for key in ("task", "settings", "data"):
            if document.get(key) != self.identity[key]:
                raise StateError(
                    f"out={str(self.path)!r} is not accepted: it holds results for other "
                    f"{key} ({document.get(key)!r}, now {self.identity[key]!r}); {advice}"
                )
        return document

    def check_epochs(self, epochs: int) -> None:
        """Refuse to report a run longer than ``epochs`` as if it were ``epochs`` long."""
        for record in self.document["runs"]:
            if reached(record) > epochs:
                raise StateError(
                    f"epochs={epochs} is not accepted: out={str(self.path)!r} already holds "
                    f"{record['cell']} seed {record['seed']} trained to epoch {reached(record)}, "
                    f"and a shorter run is never reported from a longer one; rerun with "
                    f"--epochs {reached(record)} (or more), use another --out, or --restart "
                    f"to train {epochs} epochs from the start"
                )

    def run(self, cell: str, seed: int) -> dict[str, Any]:
        """The record of ``(cell, seed)``, created empty if it is not there yet."""
        self.touched.add((cell, seed))
        for record in self.document["runs"]:
            if record["cell"] == cell and record["seed"] == seed:
                return record
        record = {"cell": cell, "seed": seed, "status": "running", "started": now(),
                  "finished": None, "epochs": [], "summary": {}}
        self.document["runs"].append(record)
        return record

    def write(self) -> None:
        """Merge in what other processes wrote to the file meanwhile, then replace it."""
        with self._locked():
            on_disk = None if self._replace else self._read()
            if on_disk is not None:
                mine = {(r["cell"], r["seed"]): r for r in self.document["runs"]
                        if (r["cell"], r["seed"]) in self.touched}
                merged = [mine.pop((r["cell"], r["seed"]), r) for r in on_disk["runs"]]
                self.document["runs"] = merged + list(mine.values())  # in the file's order
                self.document["created"] = on_disk.get("created", self.document["created"])
            self.document["updated"] = now()
            self.document["cells"] = aggregate(self.document["runs"])
            write_json(self.path, self.document)
        self._replace = False

    def save_checkpoint(self, cell: str, seed: int, state: dict[str, Any]) -> None:
        state = {**state, "identity": json.dumps(self.identity, sort_keys=True)}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_atomic(checkpoint_file(self.checkpoints, cell, seed), buffer.getvalue())

    def load_checkpoint(self, cell: str, seed: int) -> dict[str, Any] | None:
        """The last checkpoint of ``(cell, seed)``, loaded without unpickling code.

        ``None`` (train from scratch) after ``--restart``, without a checkpoint, or when
        the checkpoint was made with other settings or data. A checkpoint that cannot be
        read, or holds something else than a checkpoint, raises :class:`StateError`.
        """
        path = checkpoint_file(self.checkpoints, cell, seed)
        if self.restart or not path.exists():
            return None
        if not path.is_file():  # a FIFO or a device would block torch.load forever
            raise self.bad_checkpoint(cell, seed, "is not a regular file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated, not a torch file, unsafe pickle, ...
            first_line = str(error).splitlines()[0] if str(error) else ""
            raise self.bad_checkpoint(cell, seed, f"cannot be read ({type(error).__name__}: "
                                      f"{first_line})") from None
        if not isinstance(state, dict):
            raise self.bad_checkpoint(cell, seed, f"holds a {type(state).__name__}, not a "
                                      "checkpoint")
        if state.get("identity") != json.dumps(self.identity, sort_keys=True):
            return None
        shapes = {"model": dict, "optimizer": dict, "rng": torch.Tensor, "epochs": list}
        wrong = [key for key, kind in shapes.items() if not isinstance(state.get(key), kind)]
        if wrong or not all(isinstance(e, dict) and isinstance(e.get("step"), int)
                            for e in state["epochs"]):
            raise self.bad_checkpoint(cell, seed, "lacks or mangles "
                                      f"{', '.join(wrong) or 'its epochs'}")
        return state

    def bad_checkpoint(self, cell: str, seed: int, why: str) -> StateError:
        path = checkpoint_file(self.checkpoints, cell, seed)
        return StateError(f"checkpoint {str(path)!r} {why}: delete it to train {cell} seed "
                          f"{seed} from its first epoch, or pass --restart to start the whole "
                          f"file {str(self.path)!r} over")


def _check_document(path: Path, document: Any, advice: str) -> None:
    """Raise :class:`StateError` unless ``document`` has the shape resuming relies on."""
    def bad(what: str) -> StateError:
        return StateError(f"out={str(path)!r} is not accepted: {what}; {advice}")

    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise bad(f"not a {SCHEMA} results file")
    for key, kind in (("task", str), ("settings", dict), ("data", dict), ("runs", list)):
        if not isinstance(document.get(key), kind):
            raise bad(f"'{key}' is {type(document.get(key)).__name__}, expected {kind.__name__}")
    seen: dict[tuple[str, int], int] = {}
    for index, run in enumerate(document["runs"]):
        where = f"runs[{index}]"
        if not isinstance(run, dict):
            raise bad(f"{where} is {type(run).__name__}, expected an object")
        for key, kind in (("cell", str), ("seed", int), ("epochs", list), ("summary", dict)):
            value = run.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise bad(f"{where}.{key} is {value!r}, expected {kind.__name__}")
        if run.get("status") not in STATUSES:
            raise bad(f"{where}.status is {run.get('status')!r}, expected one of "
                      f"{', '.join(STATUSES)}")
        if not all(isinstance(e, dict) and isinstance(e.get("step"), int) for e in run["epochs"]):
            raise bad(f"{where}.epochs holds an entry without an integer 'step'")
        diverged = run.get("diverged")
        if run["status"] == "diverged" and not (isinstance(diverged, dict) and isinstance(
                diverged.get("epoch"), int) and not isinstance(diverged.get("epoch"), bool)):
            raise bad(f"{where} is diverged without an integer diverged.epoch")
        first = seen.setdefault((run["cell"], run["seed"]), index)
        if first != index:  # a resume would update one copy and keep the other
            raise bad(f"{where} is {run['cell']} seed {run['seed']} again (as runs[{first}]): "
                      "keep one of them")


def aggregate(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per cell, the spread over seeds of every numeric (or boolean) summary field."""
    cells: dict[str, dict[str, Any]] = {}
    for cell in dict.fromkeys(r["cell"] for r in runs):
        summaries = [r["summary"] for r in runs if r["cell"] == cell and r["summary"]]
        keys = dict.fromkeys(k for s in summaries for k, v in s.items()
                             if isinstance(v, (int, float)) or v is None)
        cells[cell] = {key: spread(s.get(key) for s in summaries) for key in keys}
        cells[cell]["seeds"] = sorted(r["seed"] for r in runs if r["cell"] == cell)
    return cells
