"""The dashboard in a real browser: Debian's Chromium, driven by playwright, on the site of a
history measured with the newest commit slowed (``conftest.site``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from history_cases import SLOWED

CHROMIUM = next(filter(None, (os.environ.get("RNNBENCH_CHROMIUM"), shutil.which("chromium"),
                              shutil.which("chromium-browser"))), None)
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine: install Debian's `chromium` package (apt-get "
                "install chromium) to run the dashboard's browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: "
                               "pip install -e '.[dev]'")
PLOTS = {"history": ["plot-ratio", "plot-time", "plot-memory", "plot-ops"],
         "compare": ["plot-compare"], "report": ["plot-speed", "plot-vs-native", "plot-curves"]}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site):
    """The dashboard open in a fresh page; the console's errors in ``page.errors``."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto((site / "index.html").as_uri())
    page.wait_for_function("window.RNNBENCH_RENDER_MS !== undefined")
    yield page
    page.close()


def traces(page, plot: str) -> list[str]:
    """The names of the traces a plot draws, as plotly holds them."""
    return page.evaluate(f"document.getElementById('{plot}').data.map(t => t.name || '')")


def test_every_plot_of_every_tab_renders_without_console_errors(page) -> None:
    for tab, plots in PLOTS.items():
        page.click(f"nav a[data-tab={tab}]")
        for plot in plots:
            page.wait_for_selector(f"#{plot} .main-svg")
            drawn = page.evaluate(f"document.querySelectorAll('#{plot} .trace, #{plot} .point,"
                                  f" #{plot} .bars path').length")
            box = page.locator(f"#{plot}").bounding_box()
            assert drawn > 0 and box["width"] > 300 and box["height"] > 200, (tab, plot)
            assert not page.evaluate(f"!!document.querySelector('#{plot} .annotation')"), plot
    assert page.errors == []
    assert page.evaluate("window.RNNBENCH_RENDER_MS") < 10_000  # first render, ms


def test_a_selector_changes_the_plot(page) -> None:
    before = traces(page, "plot-ratio")
    page.select_option("#sel-machine", "there")
    assert traces(page, "plot-ratio") != before
    page.select_option("#sel-impl", "native")
    assert "no case matches" in page.inner_text("#plot-ratio")  # native has no ratio
    assert traces(page, "plot-time") == ["native"]
    page.click("nav a[data-tab=compare]")
    page.wait_for_function("document.getElementById('plot-compare').data")  # drawn on the click
    ratios = "document.getElementById('plot-compare').data.flatMap(t => t.x)"
    assert page.evaluate(ratios) == pytest.approx([1.5, 1.5], rel=1e-4)  # there / here
    page.select_option("#sel-compare-b", "0")
    assert page.evaluate(ratios) == [1, 1]
    assert page.errors == []


def test_the_slowed_commit_is_listed_as_a_step_that_links_to_its_case(page) -> None:
    rows = page.locator("#steps tr").all_inner_texts()
    assert any(SLOWED in row and "▲" in row for row in rows), rows
    page.locator("#steps a.step-link").first.click()
    assert page.input_value("#sel-impl") == "*" and page.input_value("#sel-pass") == "fwd"
    assert "step" in traces(page, "plot-ratio")
    assert page.errors == []
