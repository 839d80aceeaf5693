"""Realistic faults injected into SQLAlchemy from outside the project, to prove the behaviours catch them.

As a pytest plugin (``python -m pytest suites/... -p tests.data.sqlalchemy_faults``) it reads the fault's
name from ``SQLALCHEMY_FAULT`` and monkeypatches SQLAlchemy as pytest starts, before the project's conftest
imports the models; with the variable unset it does nothing. ``FAULTS`` is the table: each fault's area,
kind, one line, the suite modules that should catch it, and per backend the cells expected to turn
``fail``. ``python -m tests.data.sqlalchemy_faults`` lists the faults; ``... --score DIRECTORY`` prints the
score per area of the ``<fault>.<backend>.verdict.json`` files tests/test_fault_injection.py wrote there.
"""

from __future__ import annotations

import decimal
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.data.fault_harness import all_subclasses

FAULT_VARIABLE = "SQLALCHEMY_FAULT"

CHANGED_DEFAULT = "changed default"
DROPPED_OPTION = "dropped option"
WRONG_EXCEPTION = "wrong exception class"
CHANGED_STATEMENT = "changed statement form"
WRONG_VALUE = "wrong value"


@dataclass(frozen=True)
class Fault:
    name: str
    area: str
    kind: str
    summary: str
    inject: Callable[[], None]
    modules: tuple[str, ...]
    # backend -> behaviours that must be ``fail`` under the fault (and were not ``fail`` with the same values before)
    expected_fail: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # from the issue's points 1-4: there the turned cells must be ``fail``, never ``differs``
    from_issue: bool = False


def _dialect_classes() -> list[type]:
    import sqlalchemy.dialects.mysql.pymysql
    import sqlalchemy.dialects.postgresql.psycopg
    import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401  (the imports register the dialect classes)
    from sqlalchemy.engine import default

    return all_subclasses(default.DefaultDialect)


def _force_keyword(cls: type, name: str, value: object, *, default_only: bool) -> None:
    """``cls.__init__`` gets ``name=value``: always (a dropped option), or when the caller gave none (a changed
    default)."""
    original = cls.__init__

    def __init__(self, *arguments, **keywords):
        if default_only:
            keywords.setdefault(name, value)
        else:
            keywords[name] = value
        original(self, *arguments, **keywords)

    cls.__init__ = __init__


# -- the faults of the issue's points 1-4 -----------------------------------------------------------------


def insert_compilation_raises() -> None:
    from sqlalchemy.sql import compiler

    def visit_insert(self, insert_stmt, **kw):
        raise RuntimeError("fault injected: INSERT compilation is broken")

    for cls in all_subclasses(compiler.SQLCompiler):
        if "visit_insert" in cls.__dict__ or cls is compiler.SQLCompiler:
            cls.visit_insert = visit_insert


def floor_division_as_multiply() -> None:
    from sqlalchemy.sql import compiler

    def visit_floordiv_binary(self, binary, operator, **kw):
        return self.process(binary.left, **kw) + " * " + self.process(binary.right, **kw)

    for cls in all_subclasses(compiler.SQLCompiler):
        if "visit_floordiv_binary" in cls.__dict__ or cls is compiler.SQLCompiler:
            cls.visit_floordiv_binary = visit_floordiv_binary


def passive_deletes_ignored() -> None:
    from sqlalchemy.orm import relationships

    _force_keyword(relationships.RelationshipProperty, "passive_deletes", False, default_only=False)


def numeric_sign_flipped() -> None:
    from sqlalchemy.sql import sqltypes, type_api

    original = type_api.TypeEngine._cached_result_processor

    def _cached_result_processor(self, dialect, coltype):
        processor = original(self, dialect, coltype)
        if not isinstance(self, sqltypes.Numeric) or isinstance(self, sqltypes.Float):
            return processor

        def flipped(value):
            value = processor(value) if processor is not None else value
            return -value if isinstance(value, (decimal.Decimal, float, int)) else value

        return flipped

    type_api.TypeEngine._cached_result_processor = _cached_result_processor


def sort_by_parameter_order_dropped() -> None:
    from sqlalchemy.sql import dml

    original = dml.UpdateBase.returning

    def returning(self, *cols, sort_by_parameter_order=False, **kw):
        return original(self, *cols, **kw)

    dml.UpdateBase.returning = returning


def enum_not_native() -> None:
    import sqlalchemy

    _force_keyword(sqlalchemy.Enum, "native_enum", False, default_only=False)
    _force_keyword(sqlalchemy.Enum, "create_constraint", True, default_only=False)


def evaluate_run_as_fetch() -> None:
    from sqlalchemy.orm import bulk_persistence

    state = bulk_persistence.BulkUDCompileState

    def run_as_fetch(cls, session, statement, params, execution_options, bind_arguments, update_options):
        update_options += {"_synchronize_session": "fetch"}
        return cls._do_pre_synchronize_fetch(
            session, statement, params, execution_options, bind_arguments, update_options
        )

    state._do_pre_synchronize_evaluate = classmethod(run_as_fetch)
    state._do_pre_synchronize_auto = classmethod(run_as_fetch)


def update_delete_returning_off() -> None:
    from sqlalchemy.engine import default

    off = property(lambda self: False, lambda self, value: None)
    for cls in _dialect_classes():
        for name in ("update_returning", "delete_returning"):
            if name in cls.__dict__ or cls is default.DefaultDialect:
                setattr(cls, name, off)


# -- more faults, one or more per area --------------------------------------------------------------------


def one_raises_no_result_for_many() -> None:
    from sqlalchemy import exc
    from sqlalchemy.engine import result

    for cls in all_subclasses(result.ResultInternal):
        if "_only_one_row" not in cls.__dict__:
            continue
        original = cls._only_one_row

        def _only_one_row(self, *arguments, _original=original, **keywords):
            try:
                return _original(self, *arguments, **keywords)
            except exc.MultipleResultsFound as error:
                raise exc.NoResultFound(str(error)) from None

        cls._only_one_row = _only_one_row


def fetchmany_ignores_size() -> None:
    from sqlalchemy.engine import result

    for cls in all_subclasses(result.Result) + all_subclasses(result.FilterResult):
        if "fetchmany" in cls.__dict__:
            original = cls.fetchmany
            cls.fetchmany = lambda self, size=None, _original=original: _original(self, None)


def reset_on_return_skipped() -> None:
    from sqlalchemy.pool import base

    base._ConnectionFairy._reset = lambda self, *arguments, **keywords: None


def invalidate_does_nothing() -> None:
    from sqlalchemy.pool import base

    base._ConnectionFairy.invalidate = lambda self, e=None, soft=False: None


def savepoint_rollback_ignored() -> None:
    from sqlalchemy.engine import base

    base.NestedTransaction._do_rollback = lambda self: self._close_impl(deactivate_from_connection=True)


def default_isolation_autocommit() -> None:
    import sqlalchemy

    sqlalchemy.engine.Connection.default_isolation_level = property(lambda self: "AUTOCOMMIT")
    sqlalchemy.engine.Connection.get_isolation_level = lambda self: "AUTOCOMMIT"


def create_all_ignores_checkfirst() -> None:
    from sqlalchemy.sql import schema

    original = schema.MetaData.create_all

    def create_all(self, bind, tables=None, checkfirst=True):
        original(self, bind, tables=tables, checkfirst=False)

    schema.MetaData.create_all = create_all


def reflected_primary_key_empty() -> None:
    from sqlalchemy.engine import reflection

    original = reflection.Inspector.get_pk_constraint

    def get_pk_constraint(self, *arguments, **keywords):
        constraint = dict(original(self, *arguments, **keywords))
        constraint["constrained_columns"] = []
        return constraint

    reflection.Inspector.get_pk_constraint = get_pk_constraint


def reflected_nullable_flipped() -> None:
    from sqlalchemy.engine import reflection

    original = reflection.Inspector.get_columns

    def get_columns(self, *arguments, **keywords):
        columns = original(self, *arguments, **keywords)
        return [{**column, "nullable": not column["nullable"]} for column in columns]

    reflection.Inspector.get_columns = get_columns


def boolean_returns_int() -> None:
    from sqlalchemy.sql import sqltypes, type_api

    original = type_api.TypeEngine._cached_result_processor

    def _cached_result_processor(self, dialect, coltype):
        processor = original(self, dialect, coltype)
        if not isinstance(self, sqltypes.Boolean):
            return processor

        def as_int(value):
            value = processor(value) if processor is not None else value
            return int(value) if isinstance(value, bool) else value

        return as_int

    type_api.TypeEngine._cached_result_processor = _cached_result_processor


def union_as_union_all() -> None:
    from sqlalchemy.sql import selectable

    selectable.CompoundSelect._create_union = selectable.CompoundSelect._create_union_all
    selectable.Select.union = selectable.Select.union_all


def upsert_clauses_dropped() -> None:
    from sqlalchemy.dialects.mysql import dml as mysql_dml
    from sqlalchemy.dialects.postgresql import dml as postgresql_dml
    from sqlalchemy.dialects.sqlite import dml as sqlite_dml

    for cls, names in (
        (postgresql_dml.Insert, ("on_conflict_do_update", "on_conflict_do_nothing")),
        (sqlite_dml.Insert, ("on_conflict_do_update", "on_conflict_do_nothing")),
        (mysql_dml.Insert, ("on_duplicate_key_update",)),
    ):
        for name in names:
            setattr(cls, name, lambda self, *arguments, **keywords: self)


def executemany_as_loop() -> None:
    from sqlalchemy.engine import default

    def do_executemany(self, cursor, statement, parameters, context=None):
        for one in parameters:
            cursor.execute(statement, one)

    for cls in _dialect_classes():
        if "do_executemany" in cls.__dict__ or cls is default.DefaultDialect:
            cls.do_executemany = do_executemany


def insertmanyvalues_page_size_ignored() -> None:
    from sqlalchemy.engine import default

    big = property(lambda self: 1_000_000, lambda self, value: None)
    for cls in _dialect_classes():
        if "insertmanyvalues_page_size" in cls.__dict__ or cls is default.DefaultDialect:
            cls.insertmanyvalues_page_size = big


def expire_on_commit_default_off() -> None:
    from sqlalchemy.orm import session

    _force_keyword(session.Session, "expire_on_commit", False, default_only=True)


def autoflush_default_off() -> None:
    from sqlalchemy.orm import session

    _force_keyword(session.Session, "autoflush", False, default_only=True)


def back_populates_dropped() -> None:
    from sqlalchemy.orm import relationships

    _force_keyword(relationships.RelationshipProperty, "back_populates", None, default_only=False)


def raiseload_ignored() -> None:
    from sqlalchemy.orm import strategies

    strategies.LazyLoader._invoke_raise_load = lambda self, state, passive, lazy: None


def delete_orphan_dropped() -> None:
    from sqlalchemy.orm import util

    original = util.CascadeOptions.__new__

    def __new__(cls, value_list):
        if isinstance(value_list, str):
            value_list = [value.strip() for value in value_list.split(",") if value.strip()]
        values = [value for value in (value_list or ()) if value != "delete-orphan"]
        return original(cls, values)

    util.CascadeOptions.__new__ = __new__


def integrity_error_as_operational() -> None:
    from sqlalchemy import exc

    original = exc.DBAPIError.instance.__func__

    def instance(cls, statement, params, orig, dbapi_base_err, *arguments, **keywords):
        error = original(cls, statement, params, orig, dbapi_base_err, *arguments, **keywords)
        if isinstance(error, exc.IntegrityError):
            return exc.OperationalError(statement, params, orig)
        return error

    exc.DBAPIError.instance = classmethod(instance)


SQLITE = "sqlite"
POSTGRESQL = "postgresql"


def suites(*names: str) -> tuple[str, ...]:
    return tuple(f"suites/test_{name}.py" for name in names)


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault(
            "insert-compilation-raises",
            "integrity",
            WRONG_EXCEPTION,
            "every INSERT compilation raises RuntimeError",
            insert_compilation_raises,
            suites("integrity", "types", "engine"),
            {
                SQLITE: ("integrity.foreign-key-violation", "integrity.not-null-violation", "types.boolean"),
                POSTGRESQL: ("engine.lastrowid", "integrity.foreign-key-violation"),
            },
            from_issue=True,
        ),
        Fault(
            "floor-division-as-multiply",
            "select",
            CHANGED_STATEMENT,
            "`//` compiled as `*` (-7 // 2 gives -14)",
            floor_division_as_multiply,
            suites("select"),
            {
                SQLITE: ("select.floor-division-negative", "select.integer-floor-division"),
                POSTGRESQL: ("select.floor-division-negative", "select.integer-floor-division"),
            },
            from_issue=True,
        ),
        Fault(
            "passive-deletes-ignored",
            "cascade",
            DROPPED_OPTION,
            "relationship(passive_deletes=True) is ignored",
            passive_deletes_ignored,
            suites("cascade"),
            {SQLITE: ("cascade.passive-deletes-database-cascade",)},
            from_issue=True,
        ),
        Fault(
            "numeric-sign-flipped",
            "types",
            WRONG_VALUE,
            "Numeric results come back with the sign flipped",
            numeric_sign_flipped,
            suites("types"),
            {SQLITE: ("types.numeric-exact-decimal",)},
            from_issue=True,
        ),
        Fault(
            "sort-by-parameter-order-dropped",
            "returning",
            DROPPED_OPTION,
            "returning(sort_by_parameter_order=True) is silently dropped",
            sort_by_parameter_order_dropped,
            suites("returning"),
            {
                SQLITE: ("imv.returning-sort-by-parameter-order",),
                POSTGRESQL: ("imv.returning-sort-by-parameter-order",),
            },
            from_issue=True,
        ),
        Fault(
            "enum-not-native",
            "ddl",
            CHANGED_DEFAULT,
            "Enum built with native_enum=False and a CHECK constraint",
            enum_not_native,
            suites("ddl"),
            {SQLITE: ("ddl.enum-native-type",), POSTGRESQL: ("ddl.enum-native-type",)},
            from_issue=True,
        ),
        Fault(
            "evaluate-run-as-fetch",
            "session",
            CHANGED_STATEMENT,
            'synchronize_session="evaluate" (and "auto") run as "fetch"',
            evaluate_run_as_fetch,
            suites("session"),
            {SQLITE: ("session.orm-update-evaluate", "session.orm-update-auto-falls-back-to-fetch")},
            from_issue=True,
        ),
        Fault(
            "update-delete-returning-off",
            "session",
            WRONG_VALUE,
            "dialect.update_returning / delete_returning switched off",
            update_delete_returning_off,
            suites("session"),
            {SQLITE: ("session.orm-update-fetch", "session.orm-delete-fetch")},
            from_issue=True,
        ),
        Fault(
            "one-raises-no-result-for-many",
            "engine",
            WRONG_EXCEPTION,
            "Result.one() on several rows raises NoResultFound instead of MultipleResultsFound",
            one_raises_no_result_for_many,
            suites("engine"),
            {SQLITE: ("engine.result-one-strict",)},
        ),
        Fault(
            "fetchmany-ignores-size",
            "engine",
            DROPPED_OPTION,
            "Result.fetchmany(size) ignores size",
            fetchmany_ignores_size,
            suites("engine"),
            {SQLITE: ("engine.result-fetchmany",)},
        ),
        Fault(
            "reset-on-return-skipped",
            "pool",
            DROPPED_OPTION,
            "a connection returned to the pool is not rolled back",
            reset_on_return_skipped,
            suites("pool"),
            {SQLITE: ("pool.reset-on-return-rollback",)},
        ),
        Fault(
            "invalidate-does-nothing",
            "pool",
            DROPPED_OPTION,
            "Connection.invalidate() keeps the DBAPI connection",
            invalidate_does_nothing,
            suites("pool"),
            {SQLITE: ("pool.connection-invalidate",)},
        ),
        Fault(
            "savepoint-rollback-ignored",
            "transactions",
            DROPPED_OPTION,
            "rolling back a SAVEPOINT emits nothing",
            savepoint_rollback_ignored,
            suites("transactions"),
            {SQLITE: ("txn.savepoint-core-rollback-inner",)},
        ),
        Fault(
            "default-isolation-autocommit",
            "transactions",
            CHANGED_DEFAULT,
            "the default isolation level reads AUTOCOMMIT",
            default_isolation_autocommit,
            suites("transactions"),
            {SQLITE: ("txn.default-isolation-level",)},
        ),
        Fault(
            "create-all-ignores-checkfirst",
            "ddl",
            DROPPED_OPTION,
            "MetaData.create_all(checkfirst=True) creates existing tables again",
            create_all_ignores_checkfirst,
            suites("ddl"),
            {SQLITE: ("ddl.create-all-checkfirst",)},
        ),
        Fault(
            "reflected-primary-key-empty",
            "reflection",
            WRONG_VALUE,
            "Inspector.get_pk_constraint() names no columns",
            reflected_primary_key_empty,
            suites("reflection"),
            {SQLITE: ("reflect.primary-key",)},
        ),
        Fault(
            "reflected-nullable-flipped",
            "reflection",
            WRONG_VALUE,
            "Inspector.get_columns() reports nullable the wrong way round",
            reflected_nullable_flipped,
            suites("reflection"),
            {SQLITE: ("reflect.column-types",)},
        ),
        Fault(
            "boolean-returns-int",
            "types",
            WRONG_VALUE,
            "Boolean results come back as 0 / 1",
            boolean_returns_int,
            suites("types"),
            {SQLITE: ("types.boolean",)},
        ),
        Fault(
            "union-as-union-all",
            "select",
            CHANGED_STATEMENT,
            "union() compiled as UNION ALL",
            union_as_union_all,
            suites("select"),
            {SQLITE: ("select.union",)},
        ),
        Fault(
            "upsert-clauses-dropped",
            "dml",
            DROPPED_OPTION,
            "on_conflict_do_update / on_conflict_do_nothing / on_duplicate_key_update dropped",
            upsert_clauses_dropped,
            suites("dml"),
            {SQLITE: ("dml.upsert-updates-existing-row", "dml.insert-skipping-duplicates")},
        ),
        Fault(
            "executemany-as-loop",
            "executemany",
            CHANGED_STATEMENT,
            "cursor.executemany() replaced by one cursor.execute() per parameter set",
            executemany_as_loop,
            suites("executemany"),
            {SQLITE: ("executemany.update-rowcount",)},
        ),
        Fault(
            "insertmanyvalues-page-size-ignored",
            "returning",
            CHANGED_DEFAULT,
            "insertmanyvalues_page_size ignored: one batch whatever its size",
            insertmanyvalues_page_size_ignored,
            suites("returning"),
            {SQLITE: ("imv.core-returning-paged",)},
        ),
        Fault(
            "expire-on-commit-default-off",
            "session",
            CHANGED_DEFAULT,
            "Session(expire_on_commit=...) defaults to False",
            expire_on_commit_default_off,
            suites("session"),
            {SQLITE: ("session.expire-on-commit-reloads",)},
        ),
        Fault(
            "autoflush-default-off",
            "autoflush",
            CHANGED_DEFAULT,
            "Session(autoflush=...) defaults to False",
            autoflush_default_off,
            suites("autoflush"),
            {SQLITE: ("autoflush.pending-flushed-before-query",)},
        ),
        Fault(
            "back-populates-dropped",
            "relationships",
            DROPPED_OPTION,
            "relationship(back_populates=...) is dropped",
            back_populates_dropped,
            suites("relationships"),
            {SQLITE: ("rel.back-populates-syncs-in-python",)},
        ),
        Fault(
            "raiseload-ignored",
            "relationships",
            DROPPED_OPTION,
            "raiseload() lazy-loads instead of raising",
            raiseload_ignored,
            suites("relationships"),
            {SQLITE: ("rel.raiseload-refuses-lazy-load",)},
        ),
        Fault(
            "delete-orphan-dropped",
            "cascade",
            DROPPED_OPTION,
            'cascade="..., delete-orphan" loses delete-orphan',
            delete_orphan_dropped,
            suites("cascade"),
            {SQLITE: ("cascade.delete-orphan-on-remove",)},
        ),
        Fault(
            "integrity-error-as-operational",
            "integrity",
            WRONG_EXCEPTION,
            "a DBAPI IntegrityError is wrapped as OperationalError",
            integrity_error_as_operational,
            suites("integrity"),
            {SQLITE: ("integrity.unique-violation-raised-at-flush", "integrity.not-null-violation")},
        ),
    )
}

AREAS = (
    "engine",
    "pool",
    "transactions",
    "ddl",
    "reflection",
    "types",
    "select",
    "dml",
    "executemany",
    "returning",
    "session",
    "autoflush",
    "relationships",
    "cascade",
    "integrity",
)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    """Before the project's conftest imports fixtures.models: faults read when a mapped class or a table is
    declared (relationship options, cascades, Enum) must be in place by then."""
    name = os.environ.get(FAULT_VARIABLE, "")
    if name:
        FAULTS[name].inject()


def score(directory: Path) -> list[str]:
    """One line per area: faults caught / faults run, from the ``<fault>.<backend>.verdict.json`` files in
    ``directory``; a fault run on several backends is caught when every one of its runs caught it."""
    caught: dict[str, list[int]] = {area: [0, 0] for area in AREAS}
    for fault in FAULTS.values():
        verdicts = [json.loads(path.read_text()) for path in sorted(directory.glob(f"{fault.name}.*.verdict.json"))]
        if not verdicts:
            continue
        caught[fault.area][1] += 1
        caught[fault.area][0] += all(verdict["caught"] for verdict in verdicts)
    lines = [f"{area:14} {hit}/{total}" for area, (hit, total) in caught.items()]
    hits = sum(hit for hit, _ in caught.values())
    total = sum(total for _, total in caught.values())
    return [*lines, f"{'total':14} {hits}/{total}"]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--score":
        print("\n".join(score(Path(sys.argv[2]))))
    else:
        for fault in FAULTS.values():
            print(f"{fault.name:36} {fault.area:14} {fault.kind:24} {fault.summary}")
