"""The built report in a real headless Chromium: it loads without console errors, the filters change
what is visible, a cell opens its evidence, and hostile text from a results file stays text."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_results_and_report import results_document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = PROJECT_ROOT / "reports" / "html" / "browser-test.png"
ALERT = "<script>alert(1)</script>"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)"
)


def write_matrix(directory: Path) -> None:
    """Two targets that agree on one behaviour and disagree on another, with hostile text."""
    sqlite = results_document(behaviour="txn.agree", title="both pass")
    sqlite["cells"].append(
        copy.deepcopy(sqlite["cells"][0])
        | {
            "behaviour": "txn.disagree",
            "title": "they disagree",
            "outcome": "fail",
            "reason": f"observed {ALERT}",
        }
    )
    sqlite["cells"][1]["evidence"] = sqlite["cells"][1]["evidence"] | {
        "statements": [f"SELECT '{ALERT}'"],
        "exception": {"sqlalchemy": "sqlalchemy.exc.IntegrityError", "dbapi": None, "message": ALERT},
    }
    mysql = copy.deepcopy(sqlite)
    for cell in mysql["cells"]:
        cell["target"] = cell["target"] | {"backend": "mysql", "driver": "pymysql", "server": "MariaDB 10.11.19"}
    mysql["cells"][1] |= {"outcome": "pass", "reason": ""}
    (directory / "sqlite.json").write_text(json.dumps(sqlite))
    (directory / "mysql.json").write_text(json.dumps(mysql))


def build_report(directory: Path) -> Path:
    """``python -m reports build`` on the results files in ``directory``; the page it wrote."""
    subprocess.run(
        [sys.executable, "-m", "reports", "build", str(directory), "-o", str(directory / "html")],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return directory / "html" / "index.html"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements/test.txt")
    directory = tmp_path_factory.mktemp("report")
    write_matrix(directory)
    build_report(directory)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        opened = browser.new_page(viewport={"width": 1300, "height": 800})
        opened.problems = []
        opened.on("console", lambda message: message.type == "error" and opened.problems.append(message.text))
        opened.on("pageerror", lambda error: opened.problems.append(str(error)))
        opened.on("dialog", lambda dialog: (opened.problems.append("dialog: " + dialog.message), dialog.dismiss()))
        opened.on("request", lambda request: request.url.startswith("file:") or opened.problems.append(request.url))
        opened.goto((directory / "html" / "index.html").as_uri())
        yield opened
        browser.close()


def visible_rows(page) -> list[str]:
    return page.eval_on_selector_all("tr.row", "rows => rows.filter(r => r.offsetParent !== null).map(r => r.id)")


def test_the_report_loads_without_errors_requests_or_dialogs(page):
    assert page.locator("button[data-cell]").count() == 4
    assert page.problems == []


def test_filters_hide_columns_and_rows(page):
    mysql_cells = page.locator("td.col-0 button, td.col-1 button")
    assert visible_rows(page) == ["txn.agree", "txn.disagree"]

    page.check("#disagree")
    assert visible_rows(page) == ["txn.disagree"]
    page.uncheck("#disagree")

    page.uncheck("input[name=outcome][value=fail]")
    assert visible_rows(page) == ["txn.agree", "txn.disagree"]  # the disagreeing row still has a pass
    page.uncheck("input[name=outcome][value=pass]")
    assert visible_rows(page) == []
    page.check("input[name=outcome][value=pass]")
    page.check("input[name=outcome][value=fail]")

    page.uncheck("input[name=backend][value=mysql]")
    assert sum(mysql_cells.nth(index).is_visible() for index in range(mysql_cells.count())) == 2
    page.check("#disagree")
    assert visible_rows(page) == []  # one backend left: nothing disagrees
    page.uncheck("#disagree")
    page.check("input[name=backend][value=mysql]")
    assert page.problems == []


def test_a_cell_opens_its_evidence_and_hostile_text_stays_text(page):
    page.click("tr#txn\\.disagree button.o-fail")
    panel = page.locator("#evidence")
    assert panel.is_visible()
    text = panel.inner_text()
    assert "txn.disagree" in text
    assert f"SELECT '{ALERT}'" in text
    assert "sqlalchemy.exc.IntegrityError" in text
    assert page.locator("#evidence script").count() == 0
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert page.problems == []
