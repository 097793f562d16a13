"""Property: the files-mode gate, given any subset or superset of a baseline's cases (missing,
added and duplicated cases and shapes, new shapes without a native reference), exits with a
code of the policy (0, 1 only for a regression, 2 with one error line), never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gate_synthetic import document, entry, timings

from rnnbench.cli import main

#: (name, cell, impl, T): two cells, two lengths, native and custom of each.
CASES = [(f"{cell}-{impl}-T{T}", cell, impl, T) for cell in ("lstm", "gru")
         for impl in ("native", "eager") for T in (100, 200)]
#: Shapes no baseline has.
NEW = [("lstm-eager-T300", "lstm", "eager", 300), ("gru-native-T400", "gru", "native", 400),
       ("gru-eager-T400", "gru", "eager", 400)]


def _entry(case: tuple[str, str, str, int], slower: float, seed: int) -> dict:
    name, _, impl, T = case
    return entry(name, timings(40.0 * slower, rounds=8, seed=seed), impl=impl, T=T)


current_cases = st.lists(st.tuples(st.sampled_from(CASES + NEW),
                                   st.sampled_from([0.5, 1.0, 1.02, 3.0])), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chosen=current_cases, allow_missing=st.booleans())
def test_any_subset_or_superset_of_the_baseline(chosen, allow_missing: bool) -> None:
    baseline = document(*(_entry(case, 1.0, index) for index, case in enumerate(CASES)))
    current = document(*(_entry(case, slower, 100 + index)
                         for index, (case, slower) in enumerate(chosen)))
    with tempfile.TemporaryDirectory() as folder:
        base, now = Path(folder) / "base.json", Path(folder) / "now.json"
        base.write_text(json.dumps(baseline))
        now.write_text(json.dumps(current))
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = main(["gate", str(base), str(now),
                           *(["--allow-missing"] if allow_missing else [])])
    message = err.getvalue()
    assert status in (0, 1, 2), (status, message)
    assert "Traceback" not in message and "error: unexpected" not in message, message
    assert "could not finish" not in message, message
    if status == 2:
        assert message.startswith("rnnbench gate: error:") and message.count("\n") == 1, message
    names = [case[0] for case, _ in chosen]
    whole = {case[0] for case in CASES} <= set(names)
    if whole and len(set(names)) == len(names) and all(s <= 1.02 for _, s in chosen):
        assert status == 0, message  # every case, none slower: must pass
