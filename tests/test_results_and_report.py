"""Results files and the HTML report: atomic writes, refusal of bad input, merging, escaping, self-containment."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from markdown_it import MarkdownIt

from reports.schema import SCHEMA_VERSION, ResultsError, load_results, write_results
from tests.conftest import PROJECT_ROOT

HOSTILE = "<script>alert('x')</script>"


def results_document(**cell_overrides) -> dict:
    cell = {
        "behaviour": "txn.demo",
        "area": "transactions",
        "title": f"title ``{HOSTILE}`` {HOSTILE}",
        "target": {
            "backend": "sqlite",
            "driver": "pysqlite",
            "async": False,
            "server": "SQLite 3.40.1",
            "sqlalchemy": "2.0.58",
            "provisioned": "file",
        },
        "outcome": "pass",
        "reason": "",
        "doc": "https://docs.sqlalchemy.org/en/20/",
        "evidence": {
            "round_trips": 1,
            "executemany": False,
            "insertmanyvalues_batches": 0,
            "statements": [f"SELECT '{HOSTILE}'"],
            "exception": None,
            "values": {},
        },
        "duration_s": 0.01,
    }
    cell.update(cell_overrides)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "started": "2026-11-21T00:00:00+00:00",
            "python": "3.11.7",
            "sqlalchemy": "2.0.58",
            "packages": {},
            "host": "h",
            "git": "abc",
            "label": "t",
        },
        "cells": [cell],
        "benchmarks": [],
    }


def build(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reports", "build", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_results_are_written_atomically_and_read_back(tmp_path):
    path = tmp_path / "run.json"
    write_results(path, results_document())
    write_results(path, results_document(outcome="fail"))
    assert load_results(path)["cells"][0]["outcome"] == "fail"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such results file"),
        ("", "empty results file"),
        ('{"schema_version": 1, "run": {', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({**results_document(), "schema_version": 99}), "unknown schema_version 99"),
        (json.dumps(results_document(outcome="maybe")), "unknown outcome 'maybe'"),
    ],
)
def test_unusable_results_files_are_refused_in_one_line(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ResultsError, match=fragment) as raised:
        load_results(path)
    assert "\n" not in str(raised.value)
    completed = build(str(path), "-o", str(tmp_path / "html"))
    assert completed.returncode == 2
    assert fragment in completed.stderr and "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_report_is_self_contained_and_escapes_everything_from_results(tmp_path):
    source = tmp_path / "run.json"
    write_results(source, results_document())
    completed = build(str(source), "-o", str(tmp_path / "html"), "--markdown", str(tmp_path / "summary.md"))
    assert completed.returncode == 0, completed.stderr
    html = (tmp_path / "html" / "index.html").read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html  # the title, as text
    assert "<code>&lt;script&gt;" in html  # ``literals`` become <code>, escaped too
    assert "\\u003cscript\\u003e" in html  # the statement, inside the evidence JSON
    assert not re.search(r"<(link|img|iframe)\b", html)
    assert not re.search(r"\bsrc\s*=", html)
    assert "@import" not in html and "url(" not in html
    assert "1 pass" in (tmp_path / "summary.md").read_text()


def test_merging_reports_a_duplicate_cell_instead_of_overwriting_it(tmp_path):
    write_results(tmp_path / "a.json", results_document())
    write_results(tmp_path / "b.json", results_document(outcome="fail"))
    completed = build(str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-o", str(tmp_path / "html"))
    assert completed.returncode == 0
    assert "duplicate cell" in completed.stderr and "b.json" in completed.stderr
    assert "1 pass" in completed.stdout and "fail" not in completed.stdout
    assert "duplicate cell" in (tmp_path / "html" / "index.html").read_text()


def test_a_directory_of_results_from_several_targets_becomes_one_matrix(tmp_path):
    write_results(tmp_path / "sqlite.json", results_document())
    other = results_document()
    other["cells"][0]["target"] = {
        **other["cells"][0]["target"],
        "backend": "postgresql",
        "driver": "psycopg",
        "server": "PostgreSQL 15.20",
    }
    write_results(tmp_path / "pg.json", other)
    completed = build(str(tmp_path), "-o", str(tmp_path / "html"))
    assert completed.returncode == 0
    assert "1 behaviours x 2 targets" in completed.stdout


def test_the_report_says_which_files_it_merged_and_when_their_runs_started(tmp_path):
    write_results(tmp_path / "sqlite.json", results_document())
    completed = build(str(tmp_path), "-o", str(tmp_path / "html"))
    assert completed.returncode == 0, completed.stderr
    merged = f"merged {tmp_path / 'sqlite.json'}: run started 2026-11-21T00:00:00+00:00, 1 cells"
    assert completed.stdout.splitlines()[0] == merged


def test_every_report_has_its_markdown_summary_beside_it_and_it_renders_as_gfm(tmp_path):
    write_results(tmp_path / "sqlite.json", results_document(outcome="fail", reason="deliberately | wrong"))
    completed = build(str(tmp_path / "sqlite.json"), "-o", str(tmp_path / "html"))
    assert completed.returncode == 0, completed.stderr
    summary = tmp_path / "html" / "summary.md"
    assert f"summary: {summary}" in completed.stdout
    html = MarkdownIt("commonmark").enable("table").render(summary.read_text())
    [table] = re.findall(r"<table>.*?</table>", html, flags=re.DOTALL)
    assert table.count("<tr>") == 2 and "<td>sqlite/pysqlite</td>" in table
    assert "<li><strong>fail</strong> <code>txn.demo</code> on sqlite/pysqlite: deliberately | wrong</li>" in html
