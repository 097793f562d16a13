"""Adopt a benchmark run as the committed baseline: validated, then written atomically
(:func:`rnnbench.files.write_atomic`: a reader sees the old file or the new one, never a torn
one)."""

from __future__ import annotations

import json
from pathlib import Path

from rnnbench.files import write_atomic
from rnnbench.gate.compare import UnusableInput, load_run
from rnnbench.results import Run

#: The committed baseline of the CPU quick profile.
CPU_QUICK = Path("baselines/cpu-quick.json")


def refresh(source: str | Path, target: str | Path = CPU_QUICK) -> Run:
    """Validate the result ``source`` like the gate would, then make it the baseline ``target``.

    Validating first means an unusable file (no raw timings, too few rounds, an interrupted or
    failed session, no clean commit to measure again elsewhere) never becomes the baseline. The
    JSON is rewritten with sorted keys so that baseline diffs stay readable.
    """
    run = load_run(source, role="new baseline")
    check_adoptable(run)
    document = json.loads(Path(source).read_text(encoding="utf-8"))
    write_atomic(target, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return run


def check_adoptable(run: Run) -> None:
    """Raise :class:`UnusableInput` unless ``run`` is a whole, clean run of one commit."""
    where = f"new baseline {run.path!r}"
    if run.exitstatus is None:
        raise UnusableInput(f"{where} does not record how its pytest session ended, so it may "
                            "be partial: record it again with this version's suite")
    if run.exitstatus != 0:
        raise UnusableInput(f"{where} comes from a pytest session that ended with exit status "
                            f"{run.exitstatus} (interrupted or failed): a partial run is never "
                            "a baseline; run the whole suite again")
    if not run.commit:
        raise UnusableInput(f"{where} records no git commit: measure it in a git checkout, so "
                            "that another machine can measure the same code (A/B)")
    if run.dirty:
        raise UnusableInput(f"{where} was measured with uncommitted changes to tracked files: "
                            "commit them first, so that the commit it names is the code it "
                            "measured")
