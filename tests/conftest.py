"""A real history, measured once per session: three commits in lockstep, the newest slowed;
and its dashboard."""

from __future__ import annotations

import json
import os
import shutil
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
    done = subprocess.run(
        [sys.executable, "-m", "rnnbench", "history", "run", "HEAD~2", "HEAD~1", "HEAD",
         "-k", " or ".join(f"[{case}]" for case in CASES), "--storage", str(storage),
         "--machine", "here"], cwd=ROOT, env=_env(RNNBENCH_SLOWDOWN="lstm:eager:2"),
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return storage


@pytest.fixture(scope="session")
def site(slowed_history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard of two machines (the real history, and a copy 1.5x slower) and the
    committed report."""
    storage = tmp_path_factory.mktemp("two")
    shutil.copytree(slowed_history / "here", storage / "here")
    shutil.copytree(slowed_history / "here", storage / "there")
    for path in (storage / "there").iterdir():
        document = json.loads(path.read_text())
        document["machine_info"]["cpu"]["brand_raw"] = "Other CPU"
        document["machine_info"]["device_name"] = "Other CPU"
        for entry in document["benchmarks"]:
            stats = entry["stats"]
            stats["data"] = [x * 1.5 for x in stats["data"]]
            stats["median"] *= 1.5
        path.write_text(json.dumps(document))
    out = tmp_path_factory.mktemp("site") / "dashboard"
    done = subprocess.run(  # in the repository: the report's charts from the committed reports/
        [sys.executable, "-m", "rnnbench", "dashboard", str(storage), "--out", str(out)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def _env(**extra: str) -> dict[str, str]:
    """This environment with this tree's ``src`` first on PYTHONPATH."""
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}
