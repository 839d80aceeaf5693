"""The per-target facts table: it parses, every fact a behaviour reads exists for every target the suite runs on,
the first matching entry wins, and malformed entries are refused with the entry named."""

import re
from pathlib import Path

import pytest

from fixtures.target_facts import TargetFacts, TargetFactsError, fact_for, load_target_facts, target_facts_view

SUITES = Path(__file__).resolve().parent.parent / "suites"
# One record per flavour the suite runs on, as Target.as_record() gives them, on the default SQLAlchemy series.
TARGETS = [
    {
        "backend": "sqlite",
        "driver": "pysqlite",
        "flavour": "SQLite",
        "server_version": "3.40.1",
        "sqlalchemy": "2.0.58",
    },
    {
        "backend": "postgresql",
        "driver": "psycopg",
        "flavour": "PostgreSQL",
        "server_version": "15.2",
        "sqlalchemy": "2.0.58",
    },
    {
        "backend": "mysql",
        "driver": "pymysql",
        "flavour": "MariaDB",
        "server_version": "10.11.19",
        "sqlalchemy": "2.0.58",
    },
    {"backend": "mysql", "driver": "pymysql", "flavour": "MySQL", "server_version": "8.4.3", "sqlalchemy": "2.0.58"},
]

# The behaviours reading these facts are unsupported there (registry), so no entry is needed.
UNSUPPORTED_THERE = {
    ("server-session-sql", "SQLite"),
    ("ordered-returning-form", "MySQL"),
    ("row-counter", "SQLite"),
    ("row-counter", "MySQL"),
}


def fact_names_read_by_suites() -> set[str]:
    pattern = re.compile(r"target_facts\[\"([\w-]+)\"\]")
    return {name for path in SUITES.glob("test_*.py") for name in pattern.findall(path.read_text())}


def test_every_fact_a_behaviour_reads_exists_for_every_flavour():
    facts = load_target_facts()
    names = fact_names_read_by_suites()
    assert {"default-isolation-level", "ordered-returning-form", "orm-fetch-update-finds-rows-by"} <= names
    missing = []
    for name in sorted(names):
        for target in TARGETS:
            if (name, target["flavour"]) in UNSUPPORTED_THERE:
                continue
            try:
                fact_for(facts, name, target)
            except TargetFactsError:
                missing.append((name, target["flavour"]))
    assert missing == []


def test_the_first_matching_entry_wins_and_versions_select():
    facts = load_target_facts()
    sqlite = TARGETS[0]
    assert fact_for(facts, "orm-fetch-update-finds-rows-by", sqlite).value == "RETURNING"
    assert fact_for(facts, "orm-fetch-update-finds-rows-by", sqlite | {"server_version": "3.31.1"}).value == (
        "SELECT before"
    )
    assert fact_for(facts, "orm-fetch-delete-finds-rows-by", TARGETS[2]).value == "RETURNING"
    assert fact_for(facts, "orm-fetch-delete-finds-rows-by", TARGETS[2] | {"sqlalchemy": "1.4.54"}).value == (
        "SELECT before"
    )
    assert fact_for(facts, "orm-fetch-delete-finds-rows-by", TARGETS[3]).value == "SELECT before"


def test_reading_a_fact_records_it_and_a_missing_one_names_the_fact(tmp_path):
    recorded = {}
    facts = TargetFacts(load_target_facts(), TARGETS[1], recorded.__setitem__)
    assert facts["default-isolation-level"] == "READ COMMITTED"
    assert recorded == {"target fact default-isolation-level": "READ COMMITTED"}
    with pytest.raises(TargetFactsError, match="no 'no-such-fact' entry for backend=postgresql"):
        facts["no-such-fact"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "x"\nvalue = 1\nreason = "r"\n', "entry 1: missing doc"),
        ('name = "x"\nvalue = 1\nreason = "r"\ndoc = "d"\ntarget = { dialect = "pg" }\n', "unknown target field"),
    ],
)
def test_malformed_entries_are_refused(tmp_path, entry, message):
    path = tmp_path / "facts.toml"
    path.write_text("[[fact]]\n" + entry)
    with pytest.raises(TargetFactsError, match=message):
        load_target_facts(path)


def test_the_report_view_lists_each_entry_for_the_columns_it_decides():
    view = target_facts_view(TARGETS[:3])
    fetch_update = [(row["value"], row["targets"]) for row in view if row["name"] == "orm-fetch-update-finds-rows-by"]
    assert fetch_update == [
        ("RETURNING", ["postgresql-psycopg"]),
        ("RETURNING", ["sqlite-pysqlite"]),
        ("SELECT before", ["mysql-pymysql"]),
    ]
    assert all(row["doc"].startswith("https://") for row in view)
