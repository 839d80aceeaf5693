"""Capture: engine events give round trips, executemany, insertmanyvalues batches and exception classes."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text

from fixtures.capture import STATEMENT_TEXT_LIMIT, Capture
from fixtures.targets import DRIVERS

metadata = MetaData()
things = Table(
    "capture_thing",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), unique=True),
)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request, tmp_path):
    """A real engine on each backend, with the capture table in place."""
    if request.param == "sqlite":
        made = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'capture.db'}")
    else:
        server = request.getfixturevalue("local_postgresql" if request.param == "postgresql" else "local_mysql")
        driver = DRIVERS["psycopg" if request.param == "postgresql" else "pymysql"]
        from fixtures.provision import create_scratch_database, drop_scratch_database, scratch_database_name

        name = scratch_database_name()
        made = sqlalchemy.create_engine(create_scratch_database(server.admin_url, driver, name))
        request.addfinalizer(lambda: drop_scratch_database(server.admin_url, driver, name))
    metadata.create_all(made)
    yield made
    made.dispose()


def test_only_statements_inside_observe_are_recorded(engine):
    capture = Capture()
    capture.attach(engine)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        with capture.observe():
            connection.execute(text("SELECT 2"))
    capture.detach()
    assert capture.round_trips == 1
    assert capture.sql() == ["SELECT 2"]


def test_transaction_markers_are_recorded_like_the_echo_log(engine):
    capture = Capture()
    capture.attach(engine)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(things), {"name": "one"})
    capture.detach()
    assert capture.kinds() == ["begin", "execute", "commit"]
    assert capture.evidence()["statements"][0] == "BEGIN (implicit)"


def test_a_list_of_parameters_is_one_executemany_round_trip(engine):
    capture = Capture()
    capture.attach(engine)
    with capture.observe(), engine.begin() as connection:
        connection.execute(
            text("INSERT INTO capture_thing (name) VALUES (:name)"), [{"name": f"n{i}"} for i in range(5)]
        )
    capture.detach()
    assert capture.round_trips == 1
    assert capture.used_executemany
    assert capture.cursor_executions[0].parameter_sets == 5


def test_insertmanyvalues_batches_are_counted_per_page(engine):
    capture = Capture()
    capture.attach(engine)
    batched = sqlalchemy.create_engine(engine.url, insertmanyvalues_page_size=4)
    capture.attach(batched)
    with capture.observe(), batched.begin() as connection:
        rows = connection.execute(insert(things).returning(things.c.id), [{"name": f"b{i}"} for i in range(10)]).all()
    capture.detach()
    batched.dispose()
    assert len(rows) == 10
    assert capture.insertmanyvalues_batches == capture.round_trips
    assert capture.insertmanyvalues_batches in (3, 10)  # 3 pages, or one per row where batching is downgraded


def test_exceptions_record_sqlalchemy_and_driver_classes(engine):
    capture = Capture()
    capture.attach(engine)
    with engine.begin() as connection:
        connection.execute(insert(things), {"name": "dup"})
    with pytest.raises(sqlalchemy.exc.IntegrityError), capture.observe(), engine.begin() as connection:
        connection.execute(insert(things), {"name": "dup"})
    capture.detach()
    recorded = capture.evidence()["exception"]
    assert recorded["sqlalchemy"] == "sqlalchemy.exc.IntegrityError"
    assert recorded["dbapi"].split(".")[0] in ("sqlite3", "psycopg", "pymysql")
    assert recorded["message"]


def test_an_error_handled_inside_the_block_is_seen_but_not_raised(engine):
    capture = Capture()
    capture.attach(engine)
    with engine.begin() as connection:
        connection.execute(insert(things), {"name": "taken"})
    with capture.observe(), engine.connect() as connection:
        with pytest.raises(sqlalchemy.exc.IntegrityError), connection.begin():
            connection.execute(insert(things), {"name": "taken"})
        connection.exec_driver_sql("SELECT 1")
    capture.detach()
    evidence = capture.evidence()
    assert evidence["exception"] is None
    assert [error["sqlalchemy"] for error in evidence["errors_seen"]] == ["sqlalchemy.exc.IntegrityError"]


def test_parameters_never_reach_the_evidence_and_long_statements_are_cut(engine):
    capture = Capture()
    capture.attach(engine)
    secret = "s3cret-parameter-value"
    long_alias = "x" * (STATEMENT_TEXT_LIMIT + 100)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(things), {"name": secret})
        connection.execute(text(f"SELECT 1 AS {long_alias[:60]}, '{long_alias}'"))
    capture.detach()
    evidence = json.dumps(capture.evidence())
    assert secret not in evidence
    assert all(len(statement) <= STATEMENT_TEXT_LIMIT for statement in capture.sql())
    whole = f"SELECT 1 AS {long_alias[:60]}, '{long_alias}'"
    head, gap, tail = re.fullmatch(r"(.*) …\[(\d+) characters left out\]… (.*)", capture.sql()[-1]).groups()
    assert whole.startswith(head) and whole.endswith(tail) and len(head) + int(gap) + len(tail) == len(whole)


def test_values_that_vary_per_run_are_kept_apart_from_compared_values():
    capture = Capture()
    assert capture.measure("rows kept", ["sandy"]) == ["sandy"]
    assert capture.measure("server sessions", [101, 102], varies_per_run=True) == [101, 102]
    evidence = capture.evidence()
    assert evidence["values"] == {"rows kept": ["sandy"]}
    assert evidence["values_varying_per_run"] == {"server sessions": [101, 102]}
