"""The behaviour catalogue as a whole, run on the three backends: its size, its verdicts, the
expectations registry used in both directions, and the same outcomes serially and under xdist."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fixtures.registry import REGISTRY_PATH, load_registry, selector_matches
from tests.conftest import run_suite

Cells = list[dict[str, Any]]


def run_catalogue(directory: Path, postgresql_url: str, mysql_url: str, *extra: str) -> Cells:
    results = directory / "results.json"
    completed = run_suite(
        "suites",
        "--backend",
        "sqlite",
        "--dburl",
        postgresql_url,
        "--dburl",
        mysql_url,
        "--results",
        str(results),
        *extra,
        timeout=900,
    )
    assert results.exists(), completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads(results.read_text())["cells"]


@pytest.fixture(scope="module")
def server_urls(local_postgresql, local_mysql) -> tuple[str, str]:
    def with_driver(server, driver: str) -> str:
        url = server.admin_url.set(drivername=driver)
        return url.render_as_string(hide_password=False)

    return with_driver(local_postgresql, "postgresql+psycopg"), with_driver(local_mysql, "mysql+pymysql")


@pytest.fixture(scope="module")
def serial_cells(tmp_path_factory, server_urls) -> Cells:
    return run_catalogue(tmp_path_factory.mktemp("serial"), *server_urls)


def verdicts(cells: Cells) -> dict[tuple[str, str], str]:
    return {(cell["behaviour"], cell["target"]["backend"]): cell["outcome"] for cell in cells}


def test_the_catalogue_holds_80_behaviours_in_12_areas_each_run_on_the_three_backends(serial_cells):
    behaviours = {cell["behaviour"] for cell in serial_cells}
    areas = {cell["area"] for cell in serial_cells}
    backends_per_behaviour = Counter(cell["behaviour"] for cell in serial_cells)

    assert len(behaviours) >= 80
    assert len(areas) >= 12
    assert set(backends_per_behaviour.values()) == {3}


def test_default_targets_have_no_fail_or_error_and_every_deviation_says_why(serial_cells):
    problems = [
        (cell["behaviour"], cell["target"]["backend"], cell["reason"][:200])
        for cell in serial_cells
        if cell["outcome"] in ("fail", "error") and not cell.get("known_issue")  # registered known issues stay red
    ]
    assert problems == []
    for cell in serial_cells:
        if cell["outcome"] in ("differs", "unsupported"):
            assert cell["reason"], cell["behaviour"]
            assert cell["doc"].startswith("https://"), cell["behaviour"]
        if cell["outcome"] == "differs":
            assert cell["expected"] == "differs", cell["behaviour"]


def test_every_registry_entry_that_applies_to_a_target_of_the_run_is_used_by_a_cell(serial_cells):
    """The registry holds no dead entry: where an entry's selector matches a target that ran, the
    behaviour's cell there has the entry's outcome (an unused or shadowed entry fails this)."""
    targets = {json.dumps(cell["target"], sort_keys=True): cell["target"] for cell in serial_cells}
    outcome_of = {(cell["behaviour"], json.dumps(cell["target"], sort_keys=True)): cell for cell in serial_cells}
    unused = []
    for entry in load_registry(REGISTRY_PATH):
        for key, target in targets.items():
            if not selector_matches(entry.target, target):
                continue
            cell = outcome_of.get((entry.behaviour, key))
            expected = "fail" if entry.outcome == "known-issue" else entry.outcome  # a known issue stays a fail
            if cell is None or cell["outcome"] != expected:
                unused.append((entry.behaviour, target["backend"], cell and cell["outcome"]))
    assert unused == []


def test_outcomes_are_the_same_serially_and_on_two_xdist_workers(tmp_path, server_urls, serial_cells):
    parallel_cells = run_catalogue(tmp_path, *server_urls, "-n", "2")

    assert len(parallel_cells) == len(serial_cells)
    assert verdicts(parallel_cells) == verdicts(serial_cells)
