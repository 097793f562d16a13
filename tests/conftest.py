"""A real history, measured once per session: three commits in lockstep, the newest slowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from history_cases import CASES, ROOT


@pytest.fixture(scope="session")
def slowed_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage holding HEAD~2, HEAD~1 and HEAD measured in lockstep, with
    ``RNNBENCH_SLOWDOWN=lstm:eager:2`` (which reaches the newest commit's worker only)."""
    known = subprocess.run(["git", "cat-file", "-e", "HEAD~2^{commit}"], cwd=ROOT,
                           capture_output=True, check=False)
    if known.returncode != 0:
        pytest.skip("HEAD~2 is not in this clone (shallow?): `git fetch --unshallow`")
    storage = tmp_path_factory.mktemp("storage")
    env = {**os.environ, "RNNBENCH_SLOWDOWN": "lstm:eager:2",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "rnnbench", "history", "run", "HEAD~2", "HEAD~1", "HEAD",
         "-k", " or ".join(f"[{case}]" for case in CASES), "--storage", str(storage),
         "--machine", "here"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return storage
