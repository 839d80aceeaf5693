"""Faults injected into SQLAlchemy to prove the behaviours of suites/test_computed_identity.py,
test_reflection_detail.py, test_streaming.py and test_savepoint.py catch them: each fault re-creates a realistic
change (a dropped DDL keyword, rows matched to the wrong objects, a reflection method losing a key, a dialect
choosing the other cursor kind, a transaction event not fired) and names the cells that must turn ``fail``.

As a pytest plugin (``python -m pytest suites/test_streaming.py -p tests.data.schema_faults``) it reads the
fault's name from ``SCHEMA_FAULT`` and monkeypatches SQLAlchemy as pytest starts; unset, it does nothing.
``python -m tests.data.schema_faults --dburl URL`` (or ``--backend sqlite``) runs every fault whose expected cells
include that backend, with the interpreter running it (one with the backend's driver, e.g. ``.tox/pg/bin/python``),
and prints one line per fault: caught when every expected cell is ``fail``. ``--only NAME`` runs one fault.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tests.data.fault_harness import ALL, POSTGRESQL, SERVERS, SQLITE, Fault, all_subclasses, inject_named, main
from tests.data.sqlalchemy_faults import fetchmany_ignores_size

FAULT_VARIABLE = "SCHEMA_FAULT"


def _load_dialects() -> None:
    import sqlalchemy.dialects.mysql.base
    import sqlalchemy.dialects.postgresql.base
    import sqlalchemy.dialects.sqlite.base  # noqa: F401  (the imports register the dialect classes)


def _replace_everywhere(base: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace method ``name`` on ``base`` and on every subclass defining its own, wrapping each original."""
    _load_dialects()
    for cls in all_subclasses(base):
        if name in cls.__dict__:
            setattr(cls, name, make(cls.__dict__[name]))


def _inspector(name: str, transform: Callable[..., Any]) -> None:
    """``Inspector.<name>`` returns ``transform(inspector, what it returned, *arguments)``."""
    from sqlalchemy.engine import reflection

    original = getattr(reflection.Inspector, name)

    def patched(self, *arguments, **keywords):
        return transform(self, original(self, *arguments, **keywords), *arguments)

    setattr(reflection.Inspector, name, patched)


# --- computed and identity columns --------------------------------------------------------------------------------


def computed_persisted_keyword_dropped() -> None:
    from sqlalchemy.sql import compiler

    def visit_computed_column(self, generated, **kw):
        text = self.sql_compiler.process(generated.sqltext, include_table=False, literal_binds=True)
        return f"GENERATED ALWAYS AS ({text})"

    _replace_everywhere(compiler.DDLCompiler, "visit_computed_column", lambda original: visit_computed_column)


def computed_not_server_default() -> None:
    from sqlalchemy import Computed

    original = Computed._set_parent

    def _set_parent(self, parent, **kw):
        original(self, parent, **kw)
        parent.server_default = None

    Computed._set_parent = _set_parent


def computed_not_server_onupdate() -> None:
    from sqlalchemy import Computed

    original = Computed._set_parent

    def _set_parent(self, parent, **kw):
        original(self, parent, **kw)
        parent.server_onupdate = None

    Computed._set_parent = _set_parent


def _identity_always(value: bool) -> Callable[[], None]:
    def inject() -> None:
        from sqlalchemy import Identity

        original = Identity.__init__

        def __init__(self, *arguments, **keywords):
            keywords["always"] = value
            original(self, *arguments, **keywords)

        Identity.__init__ = __init__

    return inject


def last_parameter_set_dropped() -> None:
    from sqlalchemy.engine import base

    original = base._distill_params_20

    def _distill_params_20(params):
        distilled = original(params)
        return distilled[:-1] if len(distilled) > 1 else distilled

    base._distill_params_20 = _distill_params_20


def returning_sorted_by_wrong_key() -> None:
    from sqlalchemy.engine import default

    def itemgetter(index):
        return lambda row: -row[index]  # the sentinel sort runs backwards

    default.operator = SimpleNamespace(**{**vars(operator), "itemgetter": itemgetter})


def orm_returned_rows_reversed() -> None:
    from sqlalchemy.engine import cursor

    for name in ("inserted_primary_key_rows", "returned_defaults_rows"):
        original = getattr(cursor.CursorResult, name)

        def reversed_rows(self, _original=original):
            rows = _original.fget(self)
            return list(reversed(rows)) if rows else rows

        setattr(cursor.CursorResult, name, property(reversed_rows))


# --- reflection ----------------------------------------------------------------------------------------------------


def reflected_computed_and_identity_lost() -> None:
    def without_keys(inspector, columns, *arguments):
        return [
            {key: value for key, value in column.items() if key not in ("computed", "identity")} for column in columns
        ]

    _inspector("get_columns", without_keys)


def multi_keyed_by_default_schema_name() -> None:
    def rekeyed(inspector, found, *arguments):
        return {(key[0] or inspector.default_schema_name, key[1]): value for key, value in found.items()}

    multi = ("columns", "pk_constraint", "foreign_keys", "indexes", "check_constraints")
    for name in (f"get_multi_{what}" for what in multi):
        _inspector(name, rekeyed)


def multi_kind_ignored() -> None:
    from sqlalchemy.engine import reflection

    original = reflection.Inspector.get_multi_columns

    def get_multi_columns(self, schema=None, filter_names=None, kind=None, **kw):
        return original(self, schema=schema, filter_names=filter_names, kind=reflection.ObjectKind.ANY, **kw)

    reflection.Inspector.get_multi_columns = get_multi_columns


def views_listed_as_tables() -> None:
    _inspector("get_table_names", lambda inspector, names, *arguments: names + inspector.get_view_names(*arguments))


def has_table_only_plain_tables() -> None:
    from sqlalchemy.engine import reflection

    def has_table(self, table_name, schema=None, **kw):
        return table_name in self.get_table_names(schema)

    reflection.Inspector.has_table = has_table


def views_not_reflectable() -> None:
    from sqlalchemy.engine import reflection

    original = reflection.Inspector._get_reflection_info

    def _get_reflection_info(self, *arguments, **keywords):
        keywords["kind"] = reflection.ObjectKind.TABLE  # the get_multi_* default, instead of ANY
        return original(self, *arguments, **keywords)

    reflection.Inspector._get_reflection_info = _get_reflection_info


def has_index_compares_upper_case() -> None:
    from sqlalchemy.engine import reflection

    def has_index(self, table_name, index_name, schema=None, **kw):
        return index_name.upper() in [index["name"] for index in self.get_indexes(table_name, schema)]

    reflection.Inspector.has_index = has_index


def schema_translate_map_ignored() -> None:
    from sqlalchemy.sql import compiler

    compiler.IdentifierPreparer._with_schema_translate = lambda self, schema_translate_map: self


def table_schema_not_rendered() -> None:
    from sqlalchemy.sql import compiler

    compiler.IdentifierPreparer.schema_for_object = staticmethod(lambda obj: None)


# --- streaming -----------------------------------------------------------------------------------------------------


def stream_results_ignored() -> None:
    from sqlalchemy.engine import default

    _load_dialects()
    import sqlalchemy.dialects.mysql.pymysql
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401

    for cls in all_subclasses(default.DefaultDialect):
        if "supports_server_side_cursors" in cls.__dict__:
            cls.supports_server_side_cursors = False  # as if the dialect had lost its server-side cursor support


def server_side_cursors_by_default() -> None:
    from sqlalchemy.engine import default
    from sqlalchemy.sql import selectable

    original = default.DefaultExecutionContext.create_cursor

    def create_cursor(self):
        statement = getattr(self.compiled, "statement", None)
        streams = self.execution_options.get("stream_results", True)  # streaming unless told not to
        if isinstance(statement, selectable.Select) and self.dialect.supports_server_side_cursors and streams:
            self._is_server_side = True
            return self.create_server_side_cursor()
        return original(self)

    default.DefaultExecutionContext.create_cursor = create_cursor


def yield_per_not_applied() -> None:
    from sqlalchemy.engine import result

    _replace_everywhere(result.ResultInternal, "yield_per", lambda original: lambda self, num: self)


def yield_per_eager_check_lost() -> None:
    from sqlalchemy.orm import context

    for name in ("loaders_require_uniquing", "loaders_require_buffering"):
        setattr(context.QueryContext, name, property(lambda self: False, lambda self, value: None))


# --- savepoints ----------------------------------------------------------------------------------------------------


def rollback_to_savepoint_not_emitted() -> None:
    from sqlalchemy.engine import base

    base.Connection._rollback_to_savepoint_impl = lambda self, name: None


def release_savepoint_commits() -> None:
    from sqlalchemy.engine import base

    original = base.Connection._release_savepoint_impl

    def _release_savepoint_impl(self, name):
        original(self, name)
        self.engine.dialect.do_commit(self.connection.dbapi_connection)

    base.Connection._release_savepoint_impl = _release_savepoint_impl


def begin_event_not_fired() -> None:
    from sqlalchemy.engine import base

    def _begin_impl(self, transaction):
        try:
            self.engine.dialect.do_begin(self.connection)
        except BaseException as error:
            self._handle_dbapi_exception(error, None, None, None, None)

    base.Connection._begin_impl = _begin_impl


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault(
            "computed-persisted-keyword-dropped",
            "DDL of Computed(persisted=...) renders no STORED / VIRTUAL keyword",
            computed_persisted_keyword_dropped,
            "computed_identity",
            {"computed.ddl-stored": ALL, "computed.ddl-virtual": ALL},
        ),
        Fault(
            "computed-not-server-default",
            "Computed no longer sets itself up as the column's server default (the ORM neither fetches nor expires it)",
            computed_not_server_default,
            "computed_identity",
            {"computed.orm-flush-fetches-value": ALL},
        ),
        Fault(
            "computed-not-server-onupdate",
            "Computed no longer sets itself up as the column's server onupdate (stale value after an ORM UPDATE)",
            computed_not_server_onupdate,
            "computed_identity",
            {"computed.orm-update-refreshes-value": ALL},
        ),
        Fault(
            "identity-always-dropped",
            "Identity(always=True) is rendered and treated as BY DEFAULT",
            _identity_always(False),
            "computed_identity",
            {"identity.always-rejects-explicit-value": (POSTGRESQL,), "reflect.identity-column": (POSTGRESQL,)},
        ),
        Fault(
            "identity-always-forced",
            "Identity() (always=False) is rendered GENERATED ALWAYS",
            _identity_always(True),
            "computed_identity",
            {"identity.by-default-accepts-explicit-value": (POSTGRESQL,)},
        ),
        Fault(
            "last-parameter-set-dropped",
            "the last parameter set of a multi-row execution is dropped (off by one in parameter distillation)",
            last_parameter_set_dropped,
            "computed_identity",
            {"computed.values-executemany": ALL, "identity.executemany-and-insertmanyvalues": ALL},
        ),
        Fault(
            "returning-sorted-by-wrong-key",
            "insertmanyvalues sorts RETURNING rows by the implicit sentinel backwards (rows matched to the wrong "
            "parameter sets)",
            returning_sorted_by_wrong_key,
            "computed_identity",
            {
                "computed.returning-insertmanyvalues": (POSTGRESQL,),
                "identity.executemany-and-insertmanyvalues": (POSTGRESQL,),
            },
        ),
        Fault(
            "orm-returned-rows-reversed",
            "the ORM matches the rows RETURNING gave to the flushed objects in reverse order",
            orm_returned_rows_reversed,
            "computed_identity",
            {
                "computed.orm-flush-fetches-value": SERVERS,
                "identity.orm-flush-assigns-keys": SERVERS,
                "sequence.orm-primary-key": SERVERS,
            },
        ),
        Fault(
            "reflected-computed-and-identity-lost",
            "get_columns() loses the 'computed' and 'identity' entries",
            reflected_computed_and_identity_lost,
            "computed_identity",
            {"reflect.computed-column": ALL, "reflect.identity-column": (POSTGRESQL,)},
        ),
        Fault(
            "check-constraints-not-reflected",
            "get_check_constraints() returns nothing",
            lambda: _inspector("get_check_constraints", lambda inspector, found, *arguments: []),
            "reflection_detail",
            {"reflect.check-constraints": ALL},
        ),
        Fault(
            "views-listed-as-tables",
            "get_table_names() also lists views",
            views_listed_as_tables,
            "reflection_detail",
            {"reflect.view-names": ALL},
        ),
        Fault(
            "view-definition-missing",
            "get_view_definition() returns None",
            lambda: _inspector("get_view_definition", lambda inspector, found, *arguments: None),
            "reflection_detail",
            {"reflect.view-definition": ALL},
        ),
        Fault(
            "views-not-reflectable",
            "Table(autoload_with=) reflects plain tables only (kind=TABLE), so a view raises NoSuchTableError",
            views_not_reflectable,
            "reflection_detail",
            {"reflect.view-as-table": ALL},
        ),
        Fault(
            "has-table-only-plain-tables",
            "has_table() finds neither views nor temporary tables (the 1.4 behaviour of some dialects)",
            has_table_only_plain_tables,
            "reflection_detail",
            {"reflect.has-table": ALL, "ddl.temporary-table-connection-local": ALL},
        ),
        Fault(
            "has-index-compares-upper-case",
            "has_index() compares the index name upper-cased",
            has_index_compares_upper_case,
            "reflection_detail",
            {"reflect.has-index": ALL},
        ),
        Fault(
            "has-sequence-finds-nothing",
            "has_sequence() is always False and get_sequence_names() empty (e.g. searching the wrong schema)",
            lambda: (
                _inspector("has_sequence", lambda inspector, found, *arguments: False),
                _inspector("get_sequence_names", lambda inspector, found, *arguments: []),
            ),
            "reflection_detail",
            {"reflect.has-sequence": SERVERS},
        ),
        Fault(
            "multi-keyed-by-default-schema-name",
            "get_multi_*() key the default schema's tables by its name instead of None",
            multi_keyed_by_default_schema_name,
            "reflection_detail",
            {
                "reflect.get-multi-columns": ALL,
                "reflect.get-multi-pk-constraint": ALL,
                "reflect.get-multi-foreign-keys": ALL,
                "reflect.get-multi-indexes": ALL,
                "reflect.get-multi-check-constraints": ALL,
            },
        ),
        Fault(
            "multi-check-constraints-empty",
            "get_multi_check_constraints() returns no constraints",
            lambda: _inspector(
                "get_multi_check_constraints",
                lambda inspector, found, *arguments: {key: [] for key in found},
            ),
            "reflection_detail",
            {"reflect.get-multi-check-constraints": ALL},
        ),
        Fault(
            "multi-kind-ignored",
            "get_multi_columns() ignores kind= and reflects tables and views alike",
            multi_kind_ignored,
            "reflection_detail",
            {"reflect.get-multi-kind": ALL},
        ),
        Fault(
            "temp-table-names-empty",
            "get_temp_table_names() returns nothing (e.g. looking in another session's temporary schema)",
            lambda: _inspector("get_temp_table_names", lambda inspector, found, *arguments: []),
            "reflection_detail",
            {"reflect.temp-table-names": (SQLITE, POSTGRESQL)},
        ),
        Fault(
            "table-schema-not-rendered",
            "statements render tables without their schema",
            table_schema_not_rendered,
            "reflection_detail",
            {"schema.table-schema-argument": ALL},
        ),
        Fault(
            "schema-translate-map-ignored",
            "schema_translate_map is not applied to compiled statements",
            schema_translate_map_ignored,
            "reflection_detail",
            {"schema.translate-map": ALL},
        ),
        Fault(
            "schema-names-only-default",
            "get_schema_names() lists only the default schema",
            lambda: _inspector(
                "get_schema_names", lambda inspector, found, *arguments: [inspector.default_schema_name]
            ),
            "reflection_detail",
            {"reflect.schema-names": ALL},
        ),
        Fault(
            "stream-results-ignored",
            "dialects no longer declare server-side cursor support: stream_results / yield_per get a buffered cursor",
            stream_results_ignored,
            "streaming",
            {"stream.yield-per-server-side": SERVERS, "stream.stream-results-server-side": SERVERS},
        ),
        Fault(
            "server-side-cursors-by-default",
            "Core SELECTs use a server-side cursor unless stream_results=False (the removed server_side_cursors=True)",
            server_side_cursors_by_default,
            "streaming",
            {"stream.buffered-by-default": SERVERS},
        ),
        Fault(
            "yield-per-not-applied",
            "Result.yield_per() does nothing (no fixed buffer, no default partition size)",
            yield_per_not_applied,
            "streaming",
            {"stream.yield-per-partition-size": ALL, "stream.orm-yield-per": ALL},
        ),
        Fault(
            "fetchmany-ignores-size",
            "Result.fetchmany(n) ignores n",
            fetchmany_ignores_size,
            "streaming",
            {"stream.fetchmany-sizes": ALL},
        ),
        Fault(
            "yield-per-eager-check-lost",
            "the ORM no longer refuses yield_per with joined eager loading of a collection",
            yield_per_eager_check_lost,
            "streaming",
            {"stream.orm-yield-per-refuses-joined-collection": ALL},
        ),
        Fault(
            "rollback-to-savepoint-not-emitted",
            "NestedTransaction.rollback() emits no ROLLBACK TO SAVEPOINT",
            rollback_to_savepoint_not_emitted,
            "savepoint",
            {"txn.savepoint-first-statement": ALL},
        ),
        Fault(
            "release-savepoint-commits",
            "releasing a savepoint also commits the enclosing transaction",
            release_savepoint_commits,
            "savepoint",
            {
                "txn.released-savepoint-rolled-back-with-transaction": SERVERS,
                "txn.session-released-savepoint-rolled-back": SERVERS,
                "txn.sqlite-emit-begin-recipe": ALL,
            },
        ),
        Fault(
            "begin-event-not-fired",
            "ConnectionEvents.begin is not dispatched when a transaction begins",
            begin_event_not_fired,
            "savepoint",
            {"txn.sqlite-emit-begin-recipe": ALL},
        ),
    )
}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    """Before the suites declare their tables and mapped classes (Computed, Identity read when declared)."""
    inject_named(FAULTS, FAULT_VARIABLE)


if __name__ == "__main__":
    sys.exit(main(FAULTS, "tests.data.schema_faults", FAULT_VARIABLE, sys.argv[1:]))
