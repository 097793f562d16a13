"""``rnnbench.bench.results``: the one reader of benchmark results, on the committed baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnbench.bench import results
from rnnbench.files import BadFile

BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "cpu-quick.json"


def test_the_committed_baseline_reads_into_grid_cases() -> None:
    run = results.load(BASELINE)
    assert run.cases and not run.skipped and run.timer == "process_time" and run.commit
    for result in run.cases:
        assert result.name == result.case.id == result.extra["case"]
        assert result.case.shape_key == result.extra["shape_key"]
        assert len(result.data) == result.rounds and result.median > 0
    for shape, impls in run.by_shape().items():
        assert {r.case.shape_key for r in impls.values()} == {shape}
        assert all(run.reference_for(r) is impls["native"] for r in impls.values()
                   if r.case.impl != "native")


def test_benchmarks_without_rnnbench_coordinates_are_skipped(tmp_path: Path) -> None:
    document = json.loads(BASELINE.read_text())
    document["benchmarks"].append({"name": "test_other", "extra_info": {}, "stats": {}})
    run = results.parse(document, "x.json")
    assert run.skipped == ("test_other",)
    del document["benchmarks"][0]["extra_info"]["cell"]
    with pytest.raises(BadFile, match=r"x.json', benchmarks\[0\] lacks or has no usable cell"):
        results.parse(document, "x.json")
