"""The gate study's analysis counts false alarms and detections from saved runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from test_gate_synthetic import document, entry, timings, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import gate_study as study  # scripts/ is no package


def run(eager_ms: float, seed: int) -> dict:
    return document(
        entry("lstm-native", timings(40, seed=seed), impl="native", cell="lstm"),
        entry("lstm-eager", timings(eager_ms, seed=seed + 1), cell="lstm"),
        entry("gru-eager", timings(45, seed=seed + 2), cell="gru"),
    )


def test_analysis_of_saved_runs(tmp_path: Path) -> None:
    write(tmp_path / "baseline.json", run(47, 0))
    for i in range(1, 4):
        write(tmp_path / f"null-{i:02d}.json", run(47, 10 * i))
    for k in (1, 2):
        write(tmp_path / f"slow-1.05-{k}.json", run(47 * 1.05, 100 + k))
        write(tmp_path / f"slow-1.5-{k}.json", run(47 * 1.5, 200 + k))
    result = study.analyse(tmp_path, "lstm:eager", min_ratios=(1.2,))
    assert result["slowed_cases"] == ["lstm-eager"] and result["runs"] == 3
    row = result["sweep"][0]
    assert row["false_alarms"] == "0/3" and row["false_alarms_all_pairs"] == "0/12"
    assert row["detected"] == {"1.05": {"lstm-eager": "0/2", "named": "0/2"},
                               "1.5": {"lstm-eager": "2/2", "named": "2/2"}}
    assert row["detected_confirmed"] == row["detected"]
    assert 1.4 < result["effective_slowdown"]["1.5"]["lstm-eager"] < 1.6
    text = study.markdown(json.loads(json.dumps(result)))
    assert "| 1.20 | 0/3 (0/3) | 0/12 (0/12) | 1.05x | 0/2 (0/2) | 0/2 (0/2) |" in text
    assert "| | | | 1.5x | 2/2 (2/2) | 2/2 (2/2) |" in text
