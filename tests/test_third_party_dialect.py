"""Any installed dialect: a third-party dialect (DuckDB through duckdb_engine, embedded, no server) runs the
behaviours by URL, its own expectations file (given with --expectations, CONFORMANCE_DIALECT_EXPECTATIONS or an
installed package's entry point) rules its cells and shows its origin, and a malformed file is one line, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from fixtures.dialect_files import DialectFileError, parse_dialect_file
from reports.cli import build_parser, pytest_command
from reports.html import render_html, render_markdown
from reports.merge import load_matrix
from reports.schema import load_results
from tests.conftest import DATA, PROJECT_ROOT, clean_environment, run_suite

DIALECT_FILE = DATA / "dialect_expectations.toml"
BEHAVIOURS = str(DATA / "dialect_behaviours.py")


def duckdb_url(directory: Path) -> str:
    return f"duckdb:///{directory / 'conformance.duckdb'}"


def cells_of(path: Path) -> dict[str, dict]:
    return {cell["behaviour"]: cell for cell in load_results(path)["cells"]}


def test_a_dialect_file_given_by_option_rules_cells_gives_facts_and_names_its_origin(tmp_path: Path) -> None:
    results = tmp_path / "duckdb.json"
    completed = run_suite(
        BEHAVIOURS,
        "--dburl",
        duckdb_url(tmp_path),
        "--expectations",
        str(DIALECT_FILE),
        "--results",
        str(results),
        environ=clean_environment(),
    )
    assert completed.returncode == 1, completed.stdout[-3000:]  # the missing fact is a fail
    cells = cells_of(results)
    origin = f"file {DIALECT_FILE.relative_to(PROJECT_ROOT)}"
    assert {behaviour: cell["outcome"] for behaviour, cell in cells.items()} == {
        "demo.dialect-differs": "differs",
        "demo.dialect-unsupported": "unsupported",
        "demo.dialect-fact": "pass",
        "demo.dialect-missing-fact": "fail",
    }
    assert cells["demo.dialect-differs"]["expectation_origin"] == origin
    assert cells["demo.dialect-differs"]["doc"] == "https://duckdb.org/docs/stable/clients/python/dbapi"
    assert cells["demo.dialect-unsupported"]["expectation_origin"] == origin
    assert cells["demo.dialect-unsupported"]["reason"] == "the dialect has no such construct"
    values = cells["demo.dialect-fact"]["evidence"]["values"]
    assert values["target fact demo-one-sql"] == "SELECT 1"
    assert values["target fact demo-one-sql from"] == origin
    missing = cells["demo.dialect-missing-fact"]["reason"]
    assert "no 'demo-fact-nobody-gives' entry for backend=duckdb" in missing
    assert f"in fixtures/target_facts.toml or {origin}" in missing
    # the target is what the dialect says of itself, and the server version what DuckDB's version() reports
    # (the repository's own DuckDB file is not given here: no version fact, so the dialect's own report)
    target = cells["demo.dialect-fact"]["target"]
    assert (target["backend"], target["driver"], target["third_party"]) == ("duckdb", "duckdb_engine", True)
    assert target["dialect_package"] == "duckdb_engine"
    assert target["server_version"] == target["dialect_server_version_info"]
    assert target["server_version_source"] == "duckdb dialect's server_version_info"
    run = load_results(results)["run"]
    assert run["packages"]["duckdb"] == duckdb.__version__
    assert run["dialect_files"][0]["origin"] == origin
    # the report shows the origin of every cell the file ruled, and the file's facts
    matrix = load_matrix([results])
    page = render_html(matrix)
    payload = json.loads(page.split('<script type="application/json" id="cells">')[1].split("</script>")[0])
    ruled = [cell for cell in payload["cells"] if cell[19] is not None]
    assert {payload["strings"][cell[0]] for cell in ruled} == {"demo.dialect-differs", "demo.dialect-unsupported"}
    assert {payload["strings"][cell[19]] for cell in ruled} == {origin}
    assert "demo-one-sql" in page.split('id="target-facts"')[1]
    assert "`demo.dialect-missing-fact` on duckdb/duckdb_engine" in render_markdown(matrix)


def test_an_installed_package_provides_its_file_through_the_entry_point(tmp_path: Path) -> None:
    """A dist-info with an ``sqla_conformance.expectations`` entry point in a directory on the child's path: the
    discovery importlib.metadata does for any installed package."""
    site = tmp_path / "site"
    package = site / "demo_duckdb_conformance"
    package.mkdir(parents=True)
    (package / "expectations.toml").write_text(DIALECT_FILE.read_text())
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\n\ndef expectations_file():\n"
        "    return Path(__file__).with_name('expectations.toml')\n"
    )
    dist_info = site / "demo_duckdb_conformance-1.2.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-duckdb-conformance\nVersion: 1.2\n")
    (dist_info / "entry_points.txt").write_text(
        "[sqla_conformance.expectations]\nduckdb = demo_duckdb_conformance:expectations_file\n"
    )
    results = tmp_path / "duckdb.json"
    completed = run_suite(
        BEHAVIOURS,
        "--dburl",
        duckdb_url(tmp_path),
        "--results",
        str(results),
        environ=clean_environment(PYTHONPATH=str(site)),
    )
    assert completed.returncode == 1, completed.stdout[-3000:]
    cells = cells_of(results)
    origin = (
        "package demo-duckdb-conformance 1.2 (entry point sqla_conformance.expectations: "
        "duckdb = demo_duckdb_conformance:expectations_file)"
    )
    assert cells["demo.dialect-differs"]["outcome"] == "differs"
    assert cells["demo.dialect-differs"]["expectation_origin"] == origin
    assert cells["demo.dialect-fact"]["evidence"]["values"]["target fact demo-one-sql from"] == origin


MALFORMED = [
    ("dialect = 'duckdb'\n[[expectation]\n", "not valid TOML"),
    ("[[expectation]]\nbehaviour = 'x'\noutcome = 'unsupported'\nreason = 'r'\ndoc = 'https://x'\n", "dialect ="),
    (
        "dialect = 'duckdb'\n[[expectation]]\nbehaviour = 'x'\noutcome = 'unsupported'\nreason = 'r'\n"
        "doc = 'https://x'\ntarget = { backend = 'sqlite' }\n",
        "selects backend 'sqlite', but the file is for dialect 'duckdb'",
    ),
    ("dialect = 'duckdb'\n[[expectation]]\nbehaviour = 'x'\noutcome = 'differs'\n", "missing reason, doc"),
    ("dialect = 'duckdb'\n[[fact]]\nname = 'x'\n", "fact 1: missing value, reason, doc"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED, ids=["toml", "no-dialect", "other-backend", "entry", "fact"])
def test_a_malformed_dialect_file_names_the_file_and_the_entry(text: str, message: str) -> None:
    with pytest.raises(DialectFileError, match=re.escape(message)) as raised:
        parse_dialect_file(text, "file broken.toml")
    assert str(raised.value).startswith("file broken.toml")


def test_a_malformed_dialect_file_stops_the_run_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """Given as tox gives it: the URL and the file through the environment."""
    broken = tmp_path / "broken.toml"
    broken.write_text(MALFORMED[2][0])
    completed = run_suite(
        BEHAVIOURS,
        environ=clean_environment(CONFORMANCE_DBURL=duckdb_url(tmp_path), CONFORMANCE_DIALECT_EXPECTATIONS=str(broken)),
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0] == f"sqla-conformance: file {broken} expectation 1: {MALFORMED[2][1]}"


def test_a_dialect_file_speaks_for_its_own_dialect_only() -> None:
    parsed = parse_dialect_file(DIALECT_FILE.read_text(), "file demo.toml")
    assert {expectation.behaviour for expectation in parsed.expectations} == {
        "demo.dialect-differs",
        "demo.dialect-unsupported",
        "demo.no-such-behaviour",
    }
    assert all(expectation.target == {"backend": "duckdb"} for expectation in parsed.expectations)
    assert all(fact.target == {"backend": "duckdb"} and fact.origin == "file demo.toml" for fact in parsed.facts)
    with pytest.raises(DialectFileError, match="no \\[\\[expectation\\]\\] or \\[\\[fact\\]\\] entry"):
        parse_dialect_file("dialect = 'duckdb'\n", "file empty.toml")


def test_the_command_passes_the_file_to_the_run(tmp_path: Path) -> None:
    arguments = build_parser().parse_args(["run", "--dburl", "duckdb:///x.duckdb", "--expectations", str(DIALECT_FILE)])
    command = pytest_command(arguments, "suites")
    assert command[command.index("--expectations") + 1] == str(DIALECT_FILE.resolve())


def test_a_duckdb_run_of_the_catalogue_names_duckdb_and_its_version(tmp_path: Path) -> None:
    """The repository's DuckDB file (fixtures/dialects/duckdb.toml) on a slice of the real catalogue: the target is
    DuckDB with the version DuckDB's own version() reports, and no cell is an error."""
    results = tmp_path / "duckdb.json"
    completed = run_suite(
        "suites/test_engine.py",
        "suites/test_transactions.py",
        "--dburl",
        duckdb_url(tmp_path),
        "--expectations",
        str(PROJECT_ROOT / "fixtures" / "dialects" / "duckdb.toml"),
        "--results",
        str(results),
        environ=clean_environment(),
    )
    assert completed.returncode in (0, 1), completed.stderr[-2000:]
    cells = load_results(results)["cells"]
    target = cells[0]["target"]
    assert target["server"] == f"DuckDB {duckdb.__version__.lstrip('v')}"
    assert target["dialect_server_version_info"] == "8.0"  # duckdb_engine's fixed PostgreSQL-compatible report
    assert target["server_version_source"].startswith("SELECT version() (server-version-sql, file fixtures/dialects")
    assert [cell["behaviour"] for cell in cells if cell["outcome"] == "error"] == []
    assert f"target duckdb-duckdb_engine: DuckDB {duckdb.__version__}" in completed.stdout
