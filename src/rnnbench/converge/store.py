"""Results of ``rnnbench converge``: one JSON file, rewritten atomically after every epoch.

A rerun with the same settings resumes: finished runs are kept, an unfinished run goes on
from its last checkpoint (model, optimizer and RNG state, written before the JSON and
loaded with ``torch.load(weights_only=True)``), so the interrupted and the uninterrupted
run give the same numbers. Asking for more epochs than a finished run has extends it.
Settings that differ from the file's are refused (use another ``--out`` or ``--restart``).

Schema ``rnnbench.converge/1`` (all accuracies are fractions, times seconds, memory MiB)::

    {
      "schema": "rnnbench.converge/1",
      "task": "imdb" | "adding" | "copy",
      "settings": {...},          # the experiment's settings dataclass (experiments.py)
      "data": {...},              # imdb: source file name, train/val/test sizes,
                                  #   vocab_size, mean_tokens (before truncation),
                                  #   mean_tokens_kept, truncated_share, positive_share;
                                  #   synthetic: eval size,
                                  #   baseline_loss, solved_when
      "environment": {"device", "device_name", "torch", "python", "platform", "threads"},
      "created": ISO-8601, "updated": ISO-8601,
      "runs": [{
        "cell": "lstm", "seed": 0, "impl": "native", "status": "running" | "done",
        "epochs_requested": 20, "started": ISO-8601, "finished": ISO-8601 | null,
        "params": {"breakdown": {"embedding", "recurrent", "head"},  # rnnbench.params
                   "total": int,           # closed form
                   "module": int},         # sum of p.numel() over the real module
        "epochs": [{                       # one per epoch, in order: the learning curve
          "epoch": 1, "step": 313,         # step: optimizer steps so far
          "train_loss", "train_accuracy",  # means over the epoch, dropout on
          "<split>_loss", "<split>_accuracy",   # split: val and test (imdb) or eval
          "train_seconds", "eval_seconds",  # wall clock
          "train_cpu_seconds",             # process CPU time (all threads): with one
                                           #   thread, robust to other jobs on the machine
          "tokens", "padded_tokens",
          "tokens_per_second",             # real (unpadded) training tokens per second
          "peak_memory_mib", "peak_memory_method",   # see metrics.py
          "finished": ISO-8601}],
        "summary": {"epochs_run", "seconds_per_epoch" (median train_seconds),
                    "cpu_seconds_per_epoch" (median train_cpu_seconds),
                    "tokens_per_second" (median), "peak_memory_mib" (max),
                    # imdb:
                    "best_val_accuracy", "best_epoch", "test_accuracy_at_best",
                    "converged_epoch",
                    # adding / copy:
                    "steps_run", "solved", "steps_to_solve", "final_loss",
                    "final_accuracy", "best_loss", "wall_seconds"}}],
      "cells": {"lstm": {"<summary key>": {"n", "mean", "std", "min", "max"}}}
    }

``cells`` aggregates each numeric summary field over the seeds of a cell (``std`` is the
sample standard deviation; ``solved`` becomes the share of seeds that solved the task).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from rnnbench.converge.metrics import spread

SCHEMA = "rnnbench.converge/1"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _default_mode() -> int:
    """What ``open()`` would give a new file (mkstemp's files are private, 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _default_mode())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _normal(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


class ResultsStore:
    """The results file of one ``rnnbench converge`` invocation and its checkpoints."""

    def __init__(self, path: Path, task: str, settings: dict[str, Any], data: dict[str, Any],
                 environment: dict[str, Any], checkpoints: Path | None = None,
                 restart: bool = False) -> None:
        self.path = Path(path)
        self.checkpoints = checkpoints or self.path.with_name(self.path.stem + ".checkpoints")
        self.restart = restart
        # A checkpoint is only resumed from if it was made with exactly these settings.
        self.identity = _normal({"task": task, "settings": settings, "data": data})
        document = None if restart else self._read()
        if document is not None:
            for key, wanted in (("task", task), ("settings", settings), ("data", data)):
                if document.get(key) != _normal(wanted):
                    raise ValueError(
                        f"out={str(self.path)!r} is not accepted: it holds results for other "
                        f"{key} ({document.get(key)!r}, now {_normal(wanted)!r}); use another "
                        "--out, or --restart to overwrite it"
                    )
            document["environment"] = _normal(environment)
        else:
            document = {"schema": SCHEMA, "task": task, "settings": _normal(settings),
                        "data": _normal(data), "environment": _normal(environment),
                        "created": now(), "updated": now(), "runs": [], "cells": {}}
        self.document = document

    def _read(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            document = json.loads(self.path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"out={str(self.path)!r} is not accepted: not a results JSON "
                             f"({error}); use another --out or --restart") from error
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise ValueError(f"out={str(self.path)!r} is not accepted: not a {SCHEMA} file; "
                             "use another --out or --restart")
        return document

    def run(self, cell: str, seed: int) -> dict[str, Any]:
        """The record of ``(cell, seed)``, created empty if it is not there yet."""
        for record in self.document["runs"]:
            if record["cell"] == cell and record["seed"] == seed:
                return record
        record = {"cell": cell, "seed": seed, "status": "running", "started": now(),
                  "finished": None, "epochs": [], "summary": {}}
        self.document["runs"].append(record)
        return record

    def write(self) -> None:
        self.document["updated"] = now()
        self.document["cells"] = aggregate(self.document["runs"])
        text = json.dumps(self.document, indent=1) + "\n"
        atomic_write_bytes(self.path, text.encode())

    def checkpoint_path(self, cell: str, seed: int) -> Path:
        return self.checkpoints / f"{cell}-seed{seed}.pt"

    def save_checkpoint(self, cell: str, seed: int, state: dict[str, Any]) -> None:
        state = {**state, "identity": json.dumps(self.identity, sort_keys=True)}
        path = self.checkpoint_path(cell, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(handle)
        try:
            torch.save(state, temporary)
            os.chmod(temporary, _default_mode())
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def load_checkpoint(self, cell: str, seed: int) -> dict[str, Any] | None:
        """The last checkpoint of ``(cell, seed)``, loaded without unpickling code.

        ``None`` (train from scratch) after ``--restart``, without a checkpoint, or when
        the checkpoint was made with other settings or data.
        """
        path = self.checkpoint_path(cell, seed)
        if self.restart or not path.exists():
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("identity") != json.dumps(self.identity, sort_keys=True):
            return None
        return state


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
