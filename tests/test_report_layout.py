"""The report's layout in a real headless Chromium at 1024 and 1400 px wide, on a matrix of a realistic size:
the evidence panel opens beside the matrix without covering its columns, closes with its button and with
Escape, an anchor scrolls its row into view below the sticky header and highlights it, and the sections
below the matrix are linked from the top. Screenshots go to reports/html/screenshots/ for a person to look at."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_report_browser import CHROMIUM, build_report
from tests.test_results_and_report import results_document

SCREENSHOTS = PROJECT_ROOT / "reports" / "html" / "screenshots"
AREAS = ("engine", "transactions", "types", "session", "cascade", "integrity")
TARGETS = [
    {"backend": "sqlite", "driver": "pysqlite", "async": False, "server": "SQLite 3.40.1"},
    {"backend": "sqlite", "driver": "aiosqlite", "async": True, "server": "SQLite 3.40.1"},
    {"backend": "postgresql", "driver": "psycopg", "async": False, "server": "PostgreSQL 15.20"},
    {"backend": "postgresql", "driver": "asyncpg", "async": True, "server": "PostgreSQL 15.20"},
    {"backend": "mysql", "driver": "pymysql", "async": False, "server": "MariaDB 10.11.19"},
    {"backend": "mysql", "driver": "aiomysql", "async": True, "server": "MariaDB 10.11.19"},
]
OUTCOMES = ("pass", "pass", "pass", "differs", "fail", "unsupported")
DEEP_ROW = "session.behaviour-07"  # far below the first screen

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)"
)


def write_matrix(directory: Path) -> None:
    """Six areas of twelve behaviours on six targets, with long titles and mixed outcomes."""
    for number, target in enumerate(TARGETS):
        document = results_document()
        template = document["cells"][0]
        cells = []
        for area in AREAS:
            for index in range(12):
                cell = copy.deepcopy(template)
                cell |= {
                    "behaviour": f"{area}.behaviour-{index:02d}",
                    "area": area,
                    "title": f"A documented claim about {area} number {index}, long enough to wrap the column",
                    "outcome": OUTCOMES[(index + number) % len(OUTCOMES)],
                    "reason": "observed: one readable line per failed check" if index % 3 else "",
                }
                cell["target"] = template["target"] | target
                cell["evidence"]["statements"] = [f"SELECT {area}.id, {area}.name FROM {area} WHERE {area}.id = ?"] * 3
                cells.append(cell)
        document["cells"] = cells
        (directory / f"{target['backend']}-{target['driver']}.json").write_text(json.dumps(document))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("layout")
    write_matrix(directory)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return build_report(directory)


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements/test.txt")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("width", [1024, 1400])
def test_the_evidence_panel_sits_beside_the_columns_and_closes_with_its_button_and_escape(browser, report, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(report.as_uri())
    page.screenshot(path=str(SCREENSHOTS / f"report-{width}-panel-closed.png"))

    page.click("tr#engine\\.behaviour-01 button[data-cell]")
    panel = page.locator("#evidence")
    assert panel.is_visible()
    panel_box, matrix_box = box(page, "#evidence"), box(page, ".matrix-wrap")
    assert panel_box["x"] + panel_box["width"] <= width + 1, "the panel runs off the screen"
    assert matrix_box["x"] + matrix_box["width"] <= panel_box["x"] + 1, "the panel covers the matrix"
    first_target = box(page, "thead tr.targets th.target")
    assert first_target["x"] + first_target["width"] <= panel_box["x"], "the first target column is hidden"
    assert matrix_box["width"] >= 0.5 * width, "the matrix keeps at least half the width"
    page.screenshot(path=str(SCREENSHOTS / f"report-{width}-panel-open.png"))

    page.click("#evidence button.close")
    assert not panel.is_visible()
    assert page.evaluate("document.activeElement.dataset.cell") is not None, "focus goes back to the cell"

    page.click("tr#types\\.behaviour-02 button[data-cell]")
    assert panel.is_visible()
    page.keyboard.press("Escape")
    assert not panel.is_visible()
    assert problems == []
    page.close()


@pytest.mark.parametrize("width", [1024, 1400])
def test_an_anchor_scrolls_its_row_below_the_sticky_header_and_highlights_it(browser, report, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(report.as_uri() + "#" + DEEP_ROW)
    row = page.locator(f"tr#{DEEP_ROW.replace('.', chr(92) + '.')}")
    expect(row).to_have_class(re.compile(r"\bhighlight\b"))  # (the page's CSP forbids wait_for_function's eval)
    row_box, header_box, matrix_box = row.bounding_box(), box(page, "thead"), box(page, ".matrix-wrap")
    assert row_box["y"] >= header_box["y"] + header_box["height"] - 1, "the row is under the sticky header"
    assert row_box["y"] + row_box["height"] <= matrix_box["y"] + matrix_box["height"], "the row is below the view"
    assert row_box["y"] >= 0
    page.screenshot(path=str(SCREENSHOTS / f"report-{width}-anchor.png"))

    page.evaluate("location.hash = '#engine.behaviour-00'")  # following a second anchor moves the highlight
    expect(page.locator("tr#engine\\.behaviour-00")).to_have_class(re.compile(r"\bhighlight\b"))
    assert page.locator("tr.row.highlight").count() == 1
    page.close()


def test_the_sections_below_the_matrix_are_linked_from_the_top(browser, report):
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    page.goto(report.as_uri())
    links = page.locator("nav.sections a")
    targets = [links.nth(index).get_attribute("href") for index in range(links.count())]
    assert "#target-facts" in targets
    for target in targets:
        assert page.locator(target).count() == 1
    page.close()
