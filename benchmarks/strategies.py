"""The ways of loading rows through SQLAlchemy that the benchmarks compare, each one a function of the same rows.

Every strategy starts from the same plain tuples and ends with the rows committed, in one transaction.
Turning the tuples into what the strategy takes (objects, dictionaries) is part of its cost and is timed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.engine import Engine

from benchmarks.limits import limit_loader_for
from benchmarks.workload import Workload
from fixtures.compat import Session, lacks
from fixtures.targets import Driver

# The ORM unit of work is fed 1,000 objects per flush, as SQLAlchemy's own bulk_inserts example does:
# flushed objects can then be garbage collected, so memory stays flat however many rows are loaded.
ORM_FLUSH_CHUNK = 1000

# A multi-row INSERT ... VALUES (...), (...) binds rows x columns parameters: at most 1,000 rows per
# statement, fewer where rows x columns would pass the backend's limit on bound parameters. 1,000 narrow
# (2,000 parameters) or wide (9,000) rows stay far below MySQL's max_allowed_packet (16 MiB by default).
MULTI_VALUES_ROWS = 1000
PARAMETER_LIMITS = {
    "sqlite": 32_766,  # SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32; 999 before
    "postgresql": 65_535,  # the protocol's 16-bit parameter count
    "mysql": 65_535,  # prepared statements; client-side interpolating drivers are bound by the packet size
}


@dataclass(frozen=True)
class LoadContext:
    """Where a strategy loads: an engine on the target's scratch database, and the row shape."""

    engine: Engine
    workload: Workload
    driver: Driver


@dataclass(frozen=True)
class Strategy:
    """One way of loading rows; ``why_unsupported`` says why it does not apply to a target, or returns None."""

    id: str
    title: str
    layer: str  # orm | core | dbapi | limit: the first two are "SQLAlchemy paths"
    load: Callable[[LoadContext, list[tuple]], None]
    why_unsupported: Callable[[LoadContext], str | None] = lambda context: None
    mirrors: str | None = None  # the matching test of SQLAlchemy's examples/performance/bulk_inserts.py
    chunk_rows: Callable[[LoadContext], int | None] = lambda context: None  # rows per flush or statement

    def method(self, context: LoadContext) -> str:
        """What the strategy does on this target, in words (the physical limit depends on the driver)."""
        if self.layer == "limit":
            loader = limit_loader_for(context.driver)
            return loader.method if loader else self.title
        return self.title

    @property
    def round_trips_observable(self) -> bool:
        """Whether SQLAlchemy's engine events see its cursor executions (raw DBAPI use bypasses them)."""
        return self.layer in ("orm", "core")


# --- ORM -------------------------------------------------------------------------------------------


def orm_add_all_flush(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    with Session(context.engine) as session:
        for start in range(0, len(rows), ORM_FLUSH_CHUNK):
            session.add_all(workload.objects(rows[start : start + ORM_FLUSH_CHUNK]))
            session.flush()
        session.commit()


def orm_add_all_flush_keys_given(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    with Session(context.engine) as session:
        for start in range(0, len(rows), ORM_FLUSH_CHUNK):
            session.add_all(workload.objects(rows[start : start + ORM_FLUSH_CHUNK], first_key=start + 1))
            session.flush()
        session.commit()


def orm_bulk_save_objects(context: LoadContext, rows: list[tuple]) -> None:
    with Session(context.engine) as session:
        session.bulk_save_objects(context.workload.objects(rows))
        session.commit()


def orm_bulk_insert_mappings(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    with Session(context.engine) as session:
        session.bulk_insert_mappings(workload.model, workload.mappings(rows))
        session.commit()


def orm_bulk_insert(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    with Session(context.engine) as session:
        session.execute(insert(workload.model), workload.mappings(rows))
        session.commit()


def orm_insert_returning(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    with Session(context.engine) as session:
        # .all() is where the returned rows become objects: part of what this strategy costs
        session.scalars(insert(workload.model).returning(workload.model), workload.mappings(rows)).all()
        session.commit()


def legacy_bulk_method_missing(name: str) -> Callable[[LoadContext], str | None]:
    def why_unsupported(context: LoadContext) -> str | None:
        if not hasattr(Session, name):
            return f"this SQLAlchemy version has no Session.{name}"
        return None

    return why_unsupported


def needs_sqlalchemy_2(context: LoadContext) -> str | None:
    missing = lacks("2.0")
    return f"ORM bulk INSERT with a list of parameter dictionaries {missing}" if missing else None


def needs_executemany_returning(context: LoadContext) -> str | None:
    missing = lacks("2.0")
    if missing:
        return f"insertmanyvalues {missing}"
    if not context.engine.dialect.insert_executemany_returning:
        return f"the {context.engine.dialect.name} dialect has no INSERT..RETURNING for many rows on this server"
    return None


# --- Core ------------------------------------------------------------------------------------------


def core_executemany(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    with context.engine.begin() as connection:
        connection.execute(workload.table.insert(), workload.mappings(rows))


def core_insert_returning(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    table = workload.table
    with context.engine.begin() as connection:
        connection.execute(table.insert().returning(table.c.id), workload.mappings(rows)).all()


def multi_values_chunk(context: LoadContext) -> int:
    limit = PARAMETER_LIMITS[context.driver.backend]
    if context.driver.backend == "sqlite":
        limit = limit if sqlite3.sqlite_version_info >= (3, 32) else 999
    return min(MULTI_VALUES_ROWS, limit // len(context.workload.columns))


def core_multi_values(context: LoadContext, rows: list[tuple]) -> None:
    workload = context.workload
    table, chunk = workload.table, multi_values_chunk(context)
    with context.engine.begin() as connection:
        for start in range(0, len(rows), chunk):
            connection.execute(table.insert().values(workload.mappings(rows[start : start + chunk])))


# --- the driver's own executemany --------------------------------------------------------------------


def dbapi_executemany(context: LoadContext, rows: list[tuple]) -> None:
    """SQLAlchemy compiles the INSERT once; the driver's ``cursor.executemany`` does the rest."""
    workload, engine = context.workload, context.engine
    compiled = (
        workload.table.insert()
        .values({name: bindparam(name) for name in workload.columns})
        .compile(dialect=engine.dialect)
    )
    parameters: list[Any]
    if compiled.positional:
        order = [workload.columns.index(name) for name in compiled.positiontup]
        parameters = rows if order == sorted(order) else [tuple(row[index] for index in order) for row in rows]
    else:
        parameters = workload.mappings(rows)
    dbapi_connection = engine.raw_connection()
    try:
        cursor = dbapi_connection.cursor()
        cursor.executemany(str(compiled), parameters)
        cursor.close()
        dbapi_connection.commit()
    finally:
        dbapi_connection.close()


# --- the backend's physical limit ----------------------------------------------------------------------


def physical_limit(context: LoadContext, rows: list[tuple]) -> None:
    loader = limit_loader_for(context.driver)
    assert loader is not None, "physical_limit ran where it does not apply"
    loader.load(context.engine, context.workload, rows)


def physical_limit_unsupported(context: LoadContext) -> str | None:
    loader = limit_loader_for(context.driver)
    if loader is None:
        return f"no physical-limit loader for the {context.driver.name} driver yet"
    return loader.why_unsupported(context.engine)


LIMIT_STRATEGY_ID = "physical_limit"

STRATEGIES: tuple[Strategy, ...] = (
    Strategy(
        "orm_add_all_flush",
        "ORM add_all + flush, keys generated",
        "orm",
        orm_add_all_flush,
        mirrors="test_flush_no_pk",
        chunk_rows=lambda context: ORM_FLUSH_CHUNK,
    ),
    Strategy(
        "orm_add_all_flush_keys_given",
        "ORM add_all + flush, keys given",
        "orm",
        orm_add_all_flush_keys_given,
        mirrors="test_flush_pk_given",
        chunk_rows=lambda context: ORM_FLUSH_CHUNK,
    ),
    Strategy(
        "orm_bulk_save_objects",
        "ORM Session.bulk_save_objects",
        "orm",
        orm_bulk_save_objects,
        legacy_bulk_method_missing("bulk_save_objects"),
    ),
    Strategy(
        "orm_bulk_insert_mappings",
        "ORM Session.bulk_insert_mappings",
        "orm",
        orm_bulk_insert_mappings,
        legacy_bulk_method_missing("bulk_insert_mappings"),
    ),
    Strategy(
        "orm_bulk_insert",
        "ORM bulk INSERT: session.execute(insert(Model), rows)",
        "orm",
        orm_bulk_insert,
        needs_sqlalchemy_2,
        mirrors="test_orm_bulk_insert",
    ),
    Strategy(
        "orm_insert_returning",
        "ORM INSERT..RETURNING objects: session.scalars(insert(Model).returning(Model), rows)",
        "orm",
        orm_insert_returning,
        needs_executemany_returning,
        mirrors="test_orm_insert_returning",
    ),
    Strategy(
        "core_executemany",
        "Core executemany: connection.execute(table.insert(), rows)",
        "core",
        core_executemany,
        mirrors="test_core_insert",
    ),
    Strategy(
        "core_insert_returning",
        "Core insert().returning() executemany (insertmanyvalues)",
        "core",
        core_insert_returning,
        needs_executemany_returning,
    ),
    Strategy(
        "core_multi_values",
        "Core multi-row insert().values(rows), chunked",
        "core",
        core_multi_values,
        chunk_rows=multi_values_chunk,
    ),
    Strategy(
        "dbapi_executemany",
        "raw DBAPI cursor.executemany",
        "dbapi",
        dbapi_executemany,
        mirrors="test_dbapi_raw",
    ),
    Strategy(LIMIT_STRATEGY_ID, "the backend's physical limit", "limit", physical_limit, physical_limit_unsupported),
)

STRATEGIES_BY_ID = {strategy.id: strategy for strategy in STRATEGIES}
