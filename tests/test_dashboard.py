"""``rnnbench dashboard``: the static site of a history measured with the newest commit slowed
(in a browser: ``test_dashboard_browser.py``)."""

from __future__ import annotations

import json
import re
import shutil

from history_cases import SLOWED
from test_gate_synthetic import run_cli

from rnnbench.dashboard.build import MARKER


def test_the_site_is_self_contained(site) -> None:
    assert sorted(p.name for p in site.iterdir()) == sorted(
        ["index.html", "app.js", "style.css", "data.js", "plotly.min.js", MARKER])
    page = (site / "index.html").read_text()
    assert re.findall(r'src="([^"]+)"', page) == ["plotly.min.js", "data.js", "app.js"]
    for name in ("index.html", "app.js", "style.css"):  # no CDN, no fetch at view time
        assert not re.search(r"https?://|fetch\(|XMLHttpRequest", (site / name).read_text())
    data = json.loads((site / "data.js").read_text().removeprefix("window.RNNBENCH = ")
                      .rstrip(";\n"))
    assert [m["name"] for m in data["machines"]] == ["here", "there"]
    assert len(data["commits"]) == 3 and data["speed"] and data["convergence"]
    assert {(s["machine"], s["case"], s["commit"]) for s in data["steps"]} >= {
        (m, SLOWED, data["commits"][2]["id"]) for m in ("here", "there")}


def test_an_existing_folder_not_built_by_dashboard_is_refused(tmp_path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    status, out = run_cli(capsys, "dashboard", tmp_path, "--out", tmp_path, "--no-report")
    assert status == 2 and "is not a dashboard built by rnnbench" in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_corrupt_storage_file_is_skipped_with_a_warning(slowed_history, tmp_path,
                                                          capsys) -> None:
    shutil.copytree(slowed_history / "here", tmp_path / "s" / "here")
    (tmp_path / "s" / "here" / "0009_x_20260101_000000.json").write_text('{"benchmarks": [')
    status, out = run_cli(capsys, "dashboard", tmp_path / "s", "--out", tmp_path / "d",
                          "--no-report")
    assert status == 0, out
    assert re.search(r"warning: skipped: storage file '.*0009_x_20260101_000000\.json' is not "
                     r"valid JSON", out), out
    assert "1 machine(s), 3 run(s)" in out
    status, out = run_cli(capsys, "dashboard", tmp_path / "s", "--out", tmp_path / "d",
                          "--no-report")  # its own folder: rebuilt
    assert status == 0, out


def test_the_report_links_the_dashboard_beside_it(slowed_history, tmp_path, capsys) -> None:
    run = next((slowed_history / "here").iterdir())
    assert run_cli(capsys, "dashboard", slowed_history, "--out", tmp_path / "dashboard",
                   "--no-report")[0] == 0
    status, out = run_cli(capsys, "report", run, "--out", tmp_path)
    assert status == 0, out
    assert "[the dashboard](dashboard/index.html)" in (tmp_path / "README.md").read_text()
    status, out = run_cli(capsys, "report", run, "--out", tmp_path, "--check")
    assert status == 0 and "up to date" in out, out
