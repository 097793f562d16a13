"""Property: ``report``, ``targets`` and ``gate`` fed arbitrary bytes or arbitrary JSON
(plain, or shaped like the files they read) exit with a code of the policy and a message,
never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnbench.bench.grid import Case
from rnnbench.cli import main

CODES = {"report": {0, 2}, "targets": {0, 2}, "gate": {0, 1, 2}}
CASE_KEYS = list(Case("lstm", "native", "cpu", "f32", 1, 1, 1, 1, 1).info())  # extra_info keys
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=8)
           | st.floats(allow_nan=False, allow_infinity=False))
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _shaped(keys: list[str]) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from(keys), anything, max_size=len(keys))


stats = _shaped(["median", "iqr", "mean", "rounds", "data", "min", "max"])
case = st.fixed_dictionaries({}, optional={
    "name": anything, "extra_info": _shaped([*CASE_KEYS, "params", "flops", "tokens_per_s"]),
    "stats": stats, "options": anything})
bench = st.fixed_dictionaries({"benchmarks": st.lists(case, max_size=3)}, optional={
    "machine_info": anything, "datetime": anything, "rnnbench": anything, "commit_info": anything})
run = st.fixed_dictionaries({}, optional={
    "cell": anything, "seed": anything, "status": anything, "summary": anything,
    "params": anything, "diverged": anything, "epochs": st.lists(anything, max_size=3)})
convergence = st.fixed_dictionaries({"schema": st.just("rnnbench.converge/1"),
                                     "runs": st.lists(run, max_size=3)}, optional={
    "task": anything, "settings": anything, "data": anything, "environment": anything})
documents = anything | bench | convergence


def _invoke(command: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.json"
        path.write_bytes(content)
        argv = {"report": ["report", str(path), "--out", f"{folder}/out"],
                "targets": ["targets", str(path)],
                "gate": ["gate", str(path), str(path)]}[command]
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = main(argv)
    message = err.getvalue()
    assert status in CODES[command], (status, message)
    assert "Traceback" not in message, message
    if status == 2:
        assert f"rnnbench {command}: error:" in message
    if command != "gate":  # the gate's own messages are its owner's; see the hand-over note
        assert "error: unexpected " not in message, message


@SETTINGS
@given(command=st.sampled_from(sorted(CODES)), content=st.binary(max_size=200))
def test_arbitrary_bytes(command: str, content: bytes) -> None:
    _invoke(command, content)


@SETTINGS
@given(command=st.sampled_from(sorted(CODES)), document=documents)
def test_arbitrary_json(command: str, document: object) -> None:
    _invoke(command, json.dumps(document).encode())
