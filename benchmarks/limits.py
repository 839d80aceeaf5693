"""Each backend's physical limit: its fastest bulk-load path, driven through the DBAPI connection directly.

PostgreSQL: COPY FROM STDIN. MySQL/MariaDB: LOAD DATA LOCAL INFILE. SQLite: the sqlite3 module's executemany
inside one transaction. Every strategy's rows/s is divided by this one, measured in the same run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.engine import Engine

from benchmarks.workload import Workload
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


LOAD_DATA = LimitLoader(
    "LOAD DATA LOCAL INFILE",
    mysql_load_data_local_infile,
    mysql_server_refuses_local_infile,
    url_query={"local_infile": "1"},
)

LIMIT_LOADERS: dict[str, LimitLoader] = {
    "pysqlite": LimitLoader("sqlite3 executemany in one transaction", sqlite_executemany_one_transaction),
    "psycopg": LimitLoader("COPY FROM STDIN (psycopg cursor.copy)", psycopg_copy),
    "psycopg2": LimitLoader("COPY FROM STDIN (psycopg2 copy_expert)", psycopg2_copy_expert),
    "pymysql": LOAD_DATA,
    "mysqlclient": LOAD_DATA,
}
