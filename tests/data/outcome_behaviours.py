"""Deliberate behaviours, one per outcome, to check how test results become cells.

Not collected by ``pytest tests`` (no test_ prefix); tests/test_end_to_end.py runs it
with tests/data/outcome_expectations.toml as the registry.
"""

import pytest

from fixtures.plugin import behaviour


def select_one(engine, capture):
    with capture.observe(), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


@behaviour("demo.passes", doc="core/connections.html")
def test_passes(engine, capture):
    """A behaviour that holds. Docs: none."""
    select_one(engine, capture)
    assert capture.round_trips == 1


@behaviour("demo.fails", doc="core/connections.html")
def test_fails(engine, capture):
    """A behaviour that does not hold and is not in the registry. Docs: none."""
    select_one(engine, capture)
    assert capture.measure("round trips", capture.round_trips) == 2, "deliberately wrong"


@behaviour("demo.differs", doc="core/connections.html")
def test_differs(engine, capture, checks):
    """A behaviour that does not hold, as the registry documents (its signature matches). Docs: none."""
    select_one(engine, capture)
    checks.equal("round trips", capture.round_trips, 2)
    checks.equal("statements", capture.sql(), ["SELECT 1"])


@behaviour("demo.not-as-documented", doc="core/connections.html")
def test_not_as_documented(engine, capture, checks):
    """A behaviour that deviates, but not as its registry signature says. Docs: none."""
    select_one(engine, capture)
    checks.equal("round trips", capture.round_trips, 2)


@behaviour("demo.known-issue", doc="core/connections.html")
def test_known_issue(engine, capture, checks):
    """A behaviour that fails as a registered known issue: still a fail. Docs: none."""
    select_one(engine, capture)
    checks.equal("round trips", capture.round_trips, 2)


@behaviour("demo.stale", doc="core/connections.html")
def test_stale(engine, capture, checks):
    """A behaviour the registry says differs, but which holds. Docs: none."""
    select_one(engine, capture)
    checks.equal("round trips", capture.round_trips, 1)


@behaviour("demo.unsupported", doc="core/connections.html")
def test_unsupported(engine, capture):
    """A behaviour the registry says does not exist here. Docs: none."""
    raise AssertionError("never runs")


@behaviour("demo.unsupported-but-works", doc="core/connections.html")
def test_unsupported_but_works(engine, capture, checks):
    """A behaviour the registry calls unsupported, which in fact holds (a stale entry). Docs: none."""
    select_one(engine, capture)
    checks.equal("round trips", capture.round_trips, 1)


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")


@behaviour("demo.error", doc="core/connections.html")
def test_error(engine, capture, broken):
    """A behaviour whose setup fails: the suite cannot decide. Docs: none."""
    select_one(engine, capture)


@pytest.fixture
def breaks_at_teardown():
    yield
    raise RuntimeError("the teardown broke")


@behaviour("demo.differs-then-teardown-fails", doc="core/connections.html")
def test_differs_then_teardown_fails(engine, capture, checks, breaks_at_teardown):
    """A documented deviation followed by a failed teardown: the suite cannot vouch for the cell. Docs: none."""
    select_one(engine, capture)
    checks.equal("round trips", capture.round_trips, 2)
