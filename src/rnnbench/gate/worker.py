"""One side of an A/B measurement: a process that times benchmark cases of *its own* tree.

Run as a script (``python .../gate/worker.py``) with the tree's ``src`` first on
``PYTHONPATH``, so that an old commit measures its own code. The script always comes from the
current tree; what it asks of the tree it measures is the **tree API**, version
:data:`API_VERSION`, the contract between this file and every commit it can measure:

- ``rnnbench.bench.grid.cases("full")``: the cases, each with ``id``, ``device`` and
  ``info()`` (the coordinates that go into ``extra_info``);
- ``rnnbench.bench.workload.make_workload(case)``: a call that runs the case once, with
  ``case`` and ``reset()`` (frees what the timed calls kept, before the profiled call);
- ``rnnbench.bench.measure.profile_call(call, device)``: ``aten_ops`` and
  ``peak_memory_bytes`` of one profiled call.

Every commit from :data:`OLDEST_TREE` on provides it, except the four from ``97109e6`` to
``f8e1187`` (they dropped ``Workload.reset``); :data:`CHECK` is the import check that refuses
a tree without it. A change to any of these names breaks ``rnnbench gate --against`` for
every older commit: keep them, or raise :data:`API_VERSION` and teach this file both.
``tests/test_gate_ab.py`` runs the gate against :data:`OLDEST_TREE` and against ``HEAD``.

The coordinator (:mod:`rnnbench.gate.ab`) sends one JSON command per line on stdin and reads
one JSON answer per line:

- ``{"op": "load", "case": ID}``: build the case's workload and run it twice (compilation,
  caches); answers ``{"ok": true, "seconds": ...}`` or ``{"ok": false, "error": ...}``;
- ``{"op": "time", "case": ID}``: one timed call, ``{"seconds": ...}`` (process CPU time, or
  wall clock with a CUDA synchronisation for CUDA cases);
- ``{"op": "describe", "case": ID}``: the case's ``extra_info`` (coordinates, ATen ops and
  peak memory from one profiled call, threads, versions), then frees the case;
- ``{"op": "quit"}``.

This file imports nothing of the current tree's package (it runs on the other tree's).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import sys
import time
from typing import Any

#: The version of the tree API above.
API_VERSION = 1
#: The oldest commit whose tree provides the tree API.
OLDEST_TREE = "82468fae87d01886248e803bd33298cd70c19987"
#: Imports what the tree API needs of a tree; fails (exit status 1) where the tree lacks it.
CHECK = ("from rnnbench.bench.grid import cases; "
         "from rnnbench.bench.workload import Workload, make_workload; "
         "from rnnbench.bench.measure import profile_call; Workload.reset")

if __name__ == "__main__":
    sys.path.pop(0)  # this file's folder: its modules must not shadow the tree's or stdlib's


def serve(threads: int) -> None:
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # anything the tree prints, at import too, must not corrupt answers
    import torch

    from rnnbench.bench.grid import cases
    from rnnbench.bench.workload import make_workload

    torch.set_num_threads(threads)
    known = {case.id: case for case in cases("full")}
    loaded: dict[str, Any] = {}
    for line in sys.stdin:
        command = json.loads(line)
        op, key = command["op"], command.get("case")
        try:
            if op == "quit":
                break
            if op == "load":
                if key not in known:
                    raise KeyError(f"{key} is not a case of this tree")
                workload = make_workload(known[key])
                workload()
                reply = {"ok": True, "seconds": _timed(workload)}
                loaded[key] = workload
            elif op == "time":
                reply = {"seconds": _timed(loaded[key])}
            elif op == "describe":
                reply = {"ok": True, "info": _describe(loaded.pop(key), threads)}
                gc.collect()
            else:
                raise ValueError(f"unknown command {op!r}")
        except Exception as error:  # reported to the coordinator, which decides
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        answer.write(json.dumps(reply) + "\n")


def _timed(workload: Any) -> float:
    cuda = workload.case.device == "cuda"
    if cuda:
        import torch

        torch.cuda.synchronize()
    clock = time.perf_counter if cuda else time.process_time
    start = clock()
    workload()
    return clock() - start


def _describe(workload: Any, threads: int) -> dict[str, Any]:
    import torch

    from rnnbench.bench.measure import profile_call

    workload.reset()
    counts = profile_call(workload, workload.case.device)
    return {**workload.case.info(), "aten_ops": counts.aten_ops,
            "peak_memory_bytes": counts.peak_memory_bytes, "threads": threads,
            "torch": torch.__version__, "python": platform.python_version()}


if __name__ == "__main__":
    try:
        serve(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the coordinator
        sys.exit(130)  # reports it, once
