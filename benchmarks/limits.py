"""Each backend's physical limit: its fastest bulk-load path, driven through the DBAPI connection directly.

PostgreSQL: COPY FROM STDIN. MySQL/MariaDB: LOAD DATA LOCAL INFILE. SQLite: the sqlite3 module's executemany
inside one transaction. Every strategy's rows/s is divided by this one, measured in the same run.

Async drivers run here as every strategy does: sync code inside the suite's greenlet bridge, where ``await_only``
waits for the driver's own coroutines.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any

from packaging.version import Version
from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.engine import Engine

from benchmarks.workload import Workload
from fixtures.compat import await_only
from fixtures.targets import Driver

# PostgreSQL's COPY text format and MySQL's LOAD DATA defaults (FIELDS TERMINATED BY '\t' ESCAPED BY '\\'
# LINES TERMINATED BY '\n') escape the same characters and write NULL the same way.
TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
TEXT_NULL = "\\N"
NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


@dataclass(frozen=True)
class LimitLoader:
    """How one driver reaches its backend's physical limit."""

    method: str
    load: Callable[[Engine, Workload, list[tuple]], None]
    why_unsupported: Callable[[Engine], str | None] = lambda engine: None
    url_query: dict[str, str] = field(default_factory=dict)  # connection options the method needs


def limit_loader_for(driver: Driver) -> LimitLoader | None:
    return LIMIT_LOADERS.get(driver.name)


def quoted_names(engine: Engine, workload: Workload) -> tuple[str, str]:
    """The table name and the column list, quoted for the engine's dialect."""
    preparer = engine.dialect.identifier_preparer
    return preparer.format_table(workload.table), ", ".join(preparer.quote(name) for name in workload.columns)


def tab_separated_text(workload: Workload, rows: list[tuple], true: str, false: str) -> str:
    """The rows in the tab-separated text format, built column by column so that most loops run in C."""
    if not rows:
        return ""
    columns = [
        text_column(tuple(map(itemgetter(index), rows)), workload.table.c[name].type, true, false)
        for index, name in enumerate(workload.columns)
    ]
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def text_column(values: tuple, column_type: object, true: str, false: str) -> list[str] | tuple:
    """One column's values as text fields: NULL as \\N, booleans as ``true``/``false``, special characters escaped."""
    if isinstance(column_type, Boolean):
        return [TEXT_NULL if value is None else (true if value else false) for value in values]
    if isinstance(column_type, DateTime):
        return [TEXT_NULL if value is None else value.isoformat(" ") for value in values]
    if not isinstance(column_type, String):
        return [TEXT_NULL if value is None else str(value) for value in values]
    has_null = None in values
    present = [value for value in values if value is not None] if has_null else values
    if NEEDS_ESCAPE.search("".join(present)) is not None:  # else the common case: no per-value work at all
        values = tuple(None if value is None else value.translate(TEXT_ESCAPES) for value in values)
    return [TEXT_NULL if value is None else value for value in values] if has_null else values


# --- SQLite ------------------------------------------------------------------------------------------


def sqlite_executemany_one_transaction(engine: Engine, workload: Workload, rows: list[tuple]) -> None:
    table, columns = quoted_names(engine, workload)
    placeholders = ", ".join("?" for _ in workload.columns)
    dbapi_connection = engine.raw_connection()
    try:
        cursor = dbapi_connection.cursor()
        # the sqlite3 module opens one transaction before the first INSERT; commit() ends it
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)
        cursor.close()
        dbapi_connection.commit()
    finally:
        dbapi_connection.close()


# --- PostgreSQL --------------------------------------------------------------------------------------


def psycopg_copy(engine: Engine, workload: Workload, rows: list[tuple]) -> None:
    table, columns = quoted_names(engine, workload)
    dbapi_connection = engine.raw_connection()
    try:
        with dbapi_connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        dbapi_connection.commit()
    finally:
        dbapi_connection.close()


def psycopg2_copy_expert(engine: Engine, workload: Workload, rows: list[tuple]) -> None:
    table, columns = quoted_names(engine, workload)
    text = io.StringIO(tab_separated_text(workload, rows, "t", "f"))
    dbapi_connection = engine.raw_connection()
    try:
        cursor = dbapi_connection.cursor()
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", text)
        cursor.close()
        dbapi_connection.commit()
    finally:
        dbapi_connection.close()


# --- MySQL / MariaDB -----------------------------------------------------------------------------------


def mysql_load_data_local_infile(engine: Engine, workload: Workload, rows: list[tuple]) -> None:
    table, columns = quoted_names(engine, workload)
    handle, path = tempfile.mkstemp(prefix="sqla-conformance-load-", suffix=".tsv")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(tab_separated_text(workload, rows, "1", "0"))
        dbapi_connection = engine.raw_connection()
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                f"({columns})",
                (path,),
            )
            cursor.close()
            dbapi_connection.commit()
        finally:
            dbapi_connection.close()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def mysql_server_refuses_local_infile(engine: Engine) -> str | None:
    with engine.connect() as connection:
        enabled = connection.exec_driver_sql("SELECT @@GLOBAL.local_infile").scalar()
    if not int(enabled or 0):
        return (
            "the server has local_infile=OFF, so LOAD DATA LOCAL INFILE is refused; "
            "start it with --local-infile=1 (or SET GLOBAL local_infile=1)"
        )
    return None


# asyncmy answers the server's request for the local file by handing the file name, as bytes, to its compiled
# LoadLocalFile, which takes str: TypeError, and the connection is out of step afterwards. Seen on 0.2.18 (the newest
# release when this was written); older releases failed elsewhere on the same path (long2ice/asyncmy issue #88).
ASYNCMY_LAST_WITHOUT_LOCAL_FILES = Version("0.2.18")


def asyncmy_cannot_send_local_files(engine: Engine) -> str | None:
    installed = importlib.metadata.version("asyncmy")
    if Version(installed) <= ASYNCMY_LAST_WITHOUT_LOCAL_FILES:
        return (
            f"asyncmy {installed} cannot send a file for LOAD DATA LOCAL INFILE: it passes the file name to its "
            "LoadLocalFile as bytes, which that refuses (TypeError: Argument 'filename' has incorrect type (expected "
            "str, got bytes); long2ice/asyncmy issue #88)"
        )
    return mysql_server_refuses_local_infile(engine)


LOAD_DATA = LimitLoader(
    "LOAD DATA LOCAL INFILE",
    mysql_load_data_local_infile,
    mysql_server_refuses_local_infile,
    url_query={"local_infile": "1"},
)

# --- async drivers -------------------------------------------------------------------------------------
# Each loader hands the whole load to the driver in one coroutine that ``await_only`` waits for: no row crosses a
# greenlet switch, so what is measured is the driver and the server, as for the sync drivers. The connection is the
# pool's; ``driver_connection`` (SQLAlchemy 1.4 too) is the driver's own connection beneath SQLAlchemy's adapter.


def on_driver_connection(engine: Engine, load: Callable[..., Awaitable[None]], *args: Any) -> None:
    """Await ``load(driver_connection, *args)`` on one of the pool's connections, returned to the pool after."""
    dbapi_connection = engine.raw_connection()
    try:
        await_only(load(dbapi_connection.driver_connection, *args))
    finally:
        dbapi_connection.close()


def aiosqlite_executemany_one_transaction(engine: Engine, workload: Workload, rows: list[tuple]) -> None:
    table, columns = quoted_names(engine, workload)
    placeholders = ", ".join("?" for _ in workload.columns)
    statement = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    on_driver_connection(engine, aiosqlite_executemany, statement, rows)


async def aiosqlite_executemany(connection: Any, statement: str, rows: list[tuple]) -> None:
    """The same sqlite3 executemany as pysqlite's limit, run by aiosqlite's thread: one transaction, then commit."""
    await connection.executemany(statement, rows)
    await connection.commit()


def asyncpg_copy_records(engine: Engine, workload: Workload, rows: list[tuple]) -> None:
    on_driver_connection(engine, asyncpg_copy, workload, rows)


async def asyncpg_copy(connection: Any, workload: Workload, rows: list[tuple]) -> None:
    """asyncpg's COPY takes the tuples as they are (binary format: no text to build) and quotes the names itself;
    the transaction commits when the block ends."""
    async with connection.transaction():
        await connection.copy_records_to_table(
            workload.table.name, records=rows, columns=list(workload.columns), schema_name=workload.table.schema
        )


def psycopg_async_copy(engine: Engine, workload: Workload, rows: list[tuple]) -> None:
    table, columns = quoted_names(engine, workload)
    on_driver_connection(engine, psycopg_async_copy_rows, f"COPY {table} ({columns}) FROM STDIN", rows)


async def psycopg_async_copy_rows(connection: Any, statement: str, rows: list[tuple]) -> None:
    """psycopg's async ``cursor.copy``: the same COPY as the sync psycopg limit, then commit."""
    async with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row(row)
    await connection.commit()


LIMIT_LOADERS: dict[str, LimitLoader] = {
    "pysqlite": LimitLoader("sqlite3 executemany in one transaction", sqlite_executemany_one_transaction),
    "aiosqlite": LimitLoader(
        "sqlite3 executemany in one transaction (aiosqlite)", aiosqlite_executemany_one_transaction
    ),
    "psycopg": LimitLoader("COPY FROM STDIN (psycopg cursor.copy)", psycopg_copy),
    "psycopg2": LimitLoader("COPY FROM STDIN (psycopg2 copy_expert)", psycopg2_copy_expert),
    "asyncpg": LimitLoader("COPY FROM STDIN, binary (asyncpg copy_records_to_table)", asyncpg_copy_records),
    "psycopg_async": LimitLoader("COPY FROM STDIN (psycopg async cursor.copy)", psycopg_async_copy),
    "pymysql": LOAD_DATA,
    "mysqlclient": LOAD_DATA,
    # aiomysql and asyncmy take the same local_infile connect option; LOAD DATA is one statement, so SQLAlchemy's
    # adapted cursor (which awaits the driver's execute) sends it exactly as the sync drivers do
    "aiomysql": LOAD_DATA,
    "asyncmy": replace(LOAD_DATA, why_unsupported=asyncmy_cannot_send_local_files),
}
