"""Deliberate behaviours for a third-party dialect's run (DuckDB through duckdb_engine), to check that a dialect's own
expectations file rules cells, gives facts, and names its origin.

Not collected by ``pytest tests`` (no test_ prefix); tests/test_third_party_dialect.py runs it with
tests/data/dialect_expectations.toml (or the same file through an entry point).
"""

import pytest

from fixtures.plugin import behaviour


def select_one(engine, capture):
    with capture.observe(), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


@behaviour("demo.dialect-differs", doc="core/connections.html")
def test_dialect_differs(engine, capture, checks):
    """A behaviour that deviates as the dialect's own file documents (its signature matches). Docs: none."""
    select_one(engine, capture)
    checks.equal("round trips", capture.round_trips, 2)


@pytest.fixture(scope="module")
def tables_the_dialect_cannot_have():
    """A module-scoped setup that fails on this target (as CREATE TABLE with an Integer primary key does on DuckDB):
    an unsupported cell is skipped before it is set up, so the cell is unsupported, not an error."""
    raise RuntimeError("set up although the cell is unsupported")


@behaviour("demo.dialect-unsupported", doc="core/connections.html")
def test_dialect_unsupported(tables_the_dialect_cannot_have, engine, capture):
    """A behaviour the dialect's own file says does not exist there. Docs: none."""
    raise AssertionError("never runs")


@behaviour("demo.dialect-fact", doc="core/connections.html")
def test_dialect_fact(engine, capture, checks, target_facts):
    """A behaviour reading a fact the dialect's own file gives. Docs: none."""
    with capture.observe(), engine.connect() as connection:
        got = connection.exec_driver_sql(target_facts["demo-one-sql"]).scalar()
    checks.equal("selected", got, 1)


@behaviour("demo.dialect-missing-fact", doc="core/connections.html")
def test_dialect_missing_fact(engine, capture, target_facts):
    """A behaviour asking for a fact the dialect's file lacks: a fail naming the fact. Docs: none."""
    select_one(engine, capture)
    assert target_facts["demo-fact-nobody-gives"] is not None
