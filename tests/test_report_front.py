"""The project README's results table: generated from the committed file it names."""

from __future__ import annotations

from pathlib import Path

from rnnbench.bench import results
from rnnbench.report import front

ROOT = Path(__file__).resolve().parents[1]


def test_committed_readme_matches_the_committed_results() -> None:
    run = results.load(ROOT / front.SOURCE)
    run = results.Run(**{**run.__dict__, "path": front.SOURCE})
    assert not front.redraw([run], ROOT / front.PROJECT_README, write=False)
    block = front.results_block(run)
    header = next(line for line in block.splitlines() if line.startswith("| cell | shape |"))
    columns = [name.strip() for name in header.strip("|").split("|")][2:]
    assert columns[0] == "native"
    assert set(columns) == {result.case.impl for result in run.cases}  # every impl measured
    assert f"measured on {run.device_name} with {run.threads} threads" in block


def test_a_stale_table_is_found_and_redrawn(tmp_path: Path) -> None:
    run = results.load(ROOT / front.SOURCE)
    run = results.Run(**{**run.__dict__, "path": front.SOURCE})
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{front.BEGIN}\n| LSTM | T100 B64 | 43.0 |\n{front.END}\n\nrest\n")
    assert front.redraw([run], readme, write=False)
    assert front.redraw([run], readme)
    text = readme.read_text()
    assert "43.0" not in text and text.endswith("\n\nrest\n") and "| LSTM | T100 B64 |" in text
    assert not front.redraw([run], readme, write=False)
    assert not front.redraw([], readme)  # the source file was not read: nothing to say
