"""Faults injected into SQLAlchemy to prove the behaviours of suites/test_cte_dml.py, test_in_and_limits.py,
test_rowcount.py, test_insert_forms.py, test_literal_binds.py and test_identifiers.py catch them: each fault
re-creates a realistic change (a WITH clause not rendered, LIMIT and OFFSET swapped, a driver no longer summing
executemany row counts, a literal rendered without escaping, a name no longer quoted) and names the cells that
must turn ``fail``.

As a pytest plugin (``python -m pytest suites/test_rowcount.py -p tests.data.sql_faults``) it reads the fault's
name from ``SQL_FAULT`` and monkeypatches SQLAlchemy as pytest starts; unset, it does nothing.
``python -m tests.data.sql_faults --dburl URL`` (or ``--backend sqlite``) runs every fault whose expected cells
include that backend, with the interpreter running it (one with the backend's driver, e.g. ``.tox/pg/bin/python``),
and prints one line per fault: caught when every expected cell is ``fail``. ``--only NAME`` runs one fault.
"""

from __future__ import annotations

import sys

import pytest

from tests.data.fault_harness import ALL, MYSQL, POSTGRESQL, SERVERS, SQLITE, Fault, inject_named, main

FAULT_VARIABLE = "SQL_FAULT"


def _prop_rowcount(condition):
    from sqlalchemy.engine.cursor import CursorResult

    original = CursorResult.rowcount

    def rowcount(self):
        if condition(self.context):
            return -1
        return original.fget(self)

    CursorResult.rowcount = property(rowcount)


def cte_dml_dropped():
    """The WITH clause of an INSERT/UPDATE/DELETE statement is not rendered."""
    from sqlalchemy.sql import compiler

    original = compiler.SQLCompiler._render_cte_clause

    def patched(self, *args, **kwargs):
        if self.isinsert or self.isupdate or self.isdelete:
            return ""
        return original(self, *args, **kwargs)

    compiler.SQLCompiler._render_cte_clause = patched


def cte_nesting_ignored():
    """cte(nesting=True) is treated as a top-level CTE."""
    from sqlalchemy.sql import selectable

    original = selectable.CTE._init

    def patched(self, *args, **kwargs):
        kwargs["nesting"] = False
        return original(self, *args, **kwargs)

    selectable.CTE._init = patched


def add_cte_noop():
    """HasCTE.add_cte() forgets the CTEs it was given."""
    from sqlalchemy.sql import selectable

    selectable.HasCTE.add_cte = lambda self, *ctes, nest_here=False: self


def recursive_keyword_dropped():
    """WITH RECURSIVE is rendered as plain WITH."""
    from sqlalchemy.sql import compiler

    compiler.SQLCompiler.get_cte_preamble = lambda self, recursive: "WITH"


def empty_in_swapped():
    """The empty-set expressions of IN and NOT IN are swapped."""
    from sqlalchemy.sql import compiler, operators

    original = compiler.SQLCompiler.visit_empty_set_op_expr
    swap = {operators.in_op: operators.not_in_op, operators.not_in_op: operators.in_op}

    def patched(self, type_, expand_op, **kw):
        return original(self, type_, swap.get(expand_op, expand_op), **kw)

    compiler.SQLCompiler.visit_empty_set_op_expr = patched


def postcompile_cached():
    """The expansion of expanding / literal_execute parameters is cached with the compiled statement."""
    from sqlalchemy.sql import compiler

    original = compiler.SQLCompiler._process_parameters_for_postcompile

    def patched(self, parameters=None, _populate_self=False):
        if "_gaps_cached" not in self.__dict__:
            self.__dict__["_gaps_cached"] = original(self, parameters, _populate_self)
        return self.__dict__["_gaps_cached"]

    compiler.SQLCompiler._process_parameters_for_postcompile = patched


def limit_offset_swapped():
    """LIMIT and OFFSET values are swapped when both are given."""
    from sqlalchemy.dialects.mysql.base import MySQLCompiler
    from sqlalchemy.dialects.postgresql.base import PGCompiler
    from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
    from sqlalchemy.sql import compiler

    for cls in (compiler.SQLCompiler, MySQLCompiler, PGCompiler, SQLiteCompiler):
        original = cls.__dict__.get("limit_clause")
        if original is None:
            continue

        def patched(self, select, _original=original, **kw):
            if select._limit_clause is not None and select._offset_clause is not None:
                select = select._generate()
                select._limit_clause, select._offset_clause = select._offset_clause, select._limit_clause
            return _original(self, select, **kw)

        cls.limit_clause = patched


def literal_execute_ignored():
    """bindparam(literal_execute=True) is sent as an ordinary bound parameter."""
    from sqlalchemy.sql.elements import BindParameter

    original = BindParameter.__init__

    def patched(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.literal_execute = False

    BindParameter.__init__ = patched


def fetch_options_dropped():
    """FETCH FIRST loses its OFFSET and its WITH TIES."""
    from sqlalchemy.dialects.postgresql.base import PGCompiler
    from sqlalchemy.sql import compiler

    for cls in (compiler.SQLCompiler, PGCompiler):
        original = cls.__dict__["fetch_clause"]

        def patched(self, select, *args, _original=original, **kw):
            select = select._generate()
            select._offset_clause = None
            select._fetch_clause_options = {"percent": False, "with_ties": False}
            return _original(self, select, *args, **kw)

        cls.fetch_clause = patched


def rowcount_returning_lost():
    """The driver reports rowcount -1 for UPDATE/DELETE with RETURNING."""
    _prop_rowcount(lambda c: (c.isupdate or c.isdelete) and c.compiled is not None and c.compiled.effective_returning)


def executemany_rowcount_unsummed():
    """The driver does not sum rowcount over an executemany (-1)."""
    _prop_rowcount(lambda c: (c.isupdate or c.isdelete) and c.executemany)


def delete_rowcount_lost():
    """rowcount of a DELETE is read after the cursor is closed (-1)."""
    _prop_rowcount(lambda c: c.isdelete and not c.executemany)


def insert_rowcount_not_preserved():
    """preserve_rowcount is ignored for INSERT (-1)."""
    _prop_rowcount(lambda c: c.isinsert)


def found_rows_dropped():
    """The MySQL dialects no longer set CLIENT.FOUND_ROWS: rowcount counts changed, not matched, rows."""
    from sqlalchemy.dialects.mysql.mysqldb import MySQLDialect_mysqldb

    MySQLDialect_mysqldb._found_rows_client_flag = lambda self: None


def default_values_off():
    """SQLite and PostgreSQL lose supports_default_values (INSERT .. DEFAULT VALUES)."""
    from sqlalchemy.dialects.postgresql.base import PGDialect
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    SQLiteDialect.supports_default_values = False
    PGDialect.supports_default_values = False


def from_select_defaults_dropped():
    """Insert.from_select() ignores include_defaults (always False)."""
    from sqlalchemy.sql.dml import Insert

    original = Insert.from_select

    def patched(self, names, select, include_defaults=True):
        return original(self, names, select, include_defaults=False)

    Insert.from_select = patched


def _literal(cls_path, make):
    import importlib

    module_name, name = cls_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), name)
    cls.literal_processor = lambda self, dialect: make


def string_quote_unescaped():
    """String literals are rendered without doubling quotes or escaping percent signs / backslashes."""
    _literal("sqlalchemy.sql.sqltypes.String", lambda value: f"'{value}'")


def integer_via_float():
    """Integer literals are rendered through float."""
    _literal("sqlalchemy.sql.sqltypes.Integer", lambda value: str(int(float(value))))


def numeric_fixed_six():
    """Numeric literals are rendered with '%f' (six decimals)."""
    _literal("sqlalchemy.sql.sqltypes.Numeric", lambda value: f"{float(value):f}")


def float_two_decimals():
    """Float literals are rendered with '%.2f'."""
    _literal("sqlalchemy.sql.sqltypes.Float", lambda value: f"{value:.2f}")


def boolean_quoted():
    """Boolean literals are rendered as the strings 'true' / 'false'."""
    _literal("sqlalchemy.sql.sqltypes.Boolean", lambda value: "'true'" if value else "'false'")


def date_unquoted():
    """Date literals are rendered without quotes."""
    _literal("sqlalchemy.sql.sqltypes.Date", lambda value: value.isoformat())
    _literal("sqlalchemy.dialects.sqlite.base.DATE", lambda value: value.isoformat())


def datetime_t_separator():
    """DateTime literals use ISO 8601's 'T' separator."""
    _literal("sqlalchemy.sql.sqltypes.DateTime", lambda value: f"'{value.isoformat()}'")
    _literal("sqlalchemy.dialects.sqlite.base.DATETIME", lambda value: f"'{value.isoformat()}'")


def time_minutes_only():
    """Time literals drop the seconds."""
    _literal("sqlalchemy.sql.sqltypes.Time", lambda value: f"'{value:%H:%M}'")
    _literal("sqlalchemy.dialects.sqlite.base.TIME", lambda value: f"'{value:%H:%M}'")


def none_as_text():
    """None is rendered as the text 'None' instead of NULL."""
    from sqlalchemy.sql import compiler

    original = compiler.SQLCompiler.render_literal_value

    def patched(self, value, type_):
        if value is None:
            return "'None'"
        return original(self, value, type_)

    compiler.SQLCompiler.render_literal_value = patched
    compiler.SQLCompiler.visit_null = lambda self, expr, **kw: "'None'"


def in_list_repr():
    """literal_binds renders an IN list with Python's repr() of each value."""
    from sqlalchemy.sql import compiler

    def patched(self, parameter, values, bind_expression_template=None):
        return "(" + ", ".join(repr(value) for value in values) + ")"

    compiler.SQLCompiler._literal_execute_expanding_parameter_literal_binds = patched


def reserved_not_quoted():
    """Reserved words are no longer quoted."""
    from sqlalchemy.sql import compiler

    def patched(self, value):
        return (
            value[0] in self.illegal_initial_characters
            or not self.legal_characters.match(str(value))
            or (value.lower() != value)
        )

    compiler.IdentifierPreparer._requires_quotes = patched


def quotes_only_for_reserved():
    """Quoting is decided on reserved words only (case and illegal characters ignored)."""
    from sqlalchemy.sql import compiler

    compiler.IdentifierPreparer._requires_quotes = lambda self, value: value.lower() in self.reserved_words


def percent_not_doubled():
    """Percent signs in identifiers are not doubled for format/pyformat drivers."""
    from sqlalchemy.sql import compiler

    original = compiler.IdentifierPreparer._escape_identifier

    def patched(self, value):
        saved, self._double_percents = self._double_percents, False
        try:
            return original(self, value)
        finally:
            self._double_percents = saved

    compiler.IdentifierPreparer._escape_identifier = patched


def client_charset_latin1():
    """The driver connects with a latin1 client character set (PyMySQL before 1.0 defaulted to latin1)."""
    from sqlalchemy.dialects.mysql.mysqldb import MySQLDialect_mysqldb
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    for cls, key, value in (
        (MySQLDialect_mysqldb, "charset", "latin1"),
        (PGDialect_psycopg, "client_encoding", "LATIN1"),
    ):
        original = cls.create_connect_args

        def patched(self, url, _original=original, _key=key, _value=value, **kw):
            args, kwargs = _original(self, url, **kw)
            kwargs[_key] = _value
            return args, kwargs

        cls.create_connect_args = patched


def truncation_hash_head():
    """Truncated generated names take the first four md5 characters instead of the last four."""
    from sqlalchemy import util
    from sqlalchemy.sql import compiler, elements

    original = compiler.IdentifierPreparer._truncate_and_render_maxlen_name

    def patched(self, name, max_, _alembic_quote):
        if isinstance(name, elements._truncated_label) and len(name) > max_:
            name = elements._truncated_label(name[0 : max_ - 8] + "_" + util.md5_hex(name)[:4])
        return original(self, name, max_, _alembic_quote)

    compiler.IdentifierPreparer._truncate_and_render_maxlen_name = patched


def validate_identifier_noop():
    """Explicit names are no longer checked against max_identifier_length."""
    from sqlalchemy.engine.default import DefaultDialect

    DefaultDialect.validate_identifier = lambda self, ident: None


def label_length_ignored():
    """create_engine(label_length=...) is ignored: the dialect keeps no label length of its own."""
    from sqlalchemy.engine.default import DefaultDialect

    DefaultDialect.label_length = property(lambda self: None, lambda self, value: None)


def tuple_elements_transposed():
    """Expanded tuple IN parameters are flattened column by column instead of row by row."""
    from sqlalchemy.sql import compiler

    original = compiler.SQLCompiler._literal_execute_expanding_parameter

    def patched(self, name, parameter, values):
        to_update, text = original(self, name, parameter, values)
        if values and len(values) > 1 and isinstance(values[0], (tuple, list)):
            flat = [row[column] for column in range(len(values[0])) for row in values]
            to_update = [(key, value) for (key, _), value in zip(to_update, flat, strict=True)]
        return to_update, text

    compiler.SQLCompiler._literal_execute_expanding_parameter = patched


def empty_parameter_sets_collapsed():
    """A list of empty parameter sets is treated as one execution without parameters."""
    from sqlalchemy.engine import base

    original = base._distill_params_20

    def patched(params):
        distilled = original(params)
        if len(distilled) > 1 and all(not parameters for parameters in distilled):
            return [distilled[0]]
        return distilled

    base._distill_params_20 = patched


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault(
            "cte-dml-dropped",
            "the WITH clause of an INSERT, UPDATE or DELETE is not rendered",
            cte_dml_dropped,
            "cte_dml",
            {
                "cte.insert-from-select-with-cte": ALL,
                "cte.recursive-insert-from-select": ALL,
                "cte.update-where-cte": (POSTGRESQL,),
                "cte.delete-where-cte": (POSTGRESQL,),
                "cte.dml-inside-cte": (POSTGRESQL,),
            },
        ),
        Fault(
            "cte-nesting-ignored",
            "cte(nesting=True) is rendered as a top-level CTE",
            cte_nesting_ignored,
            "cte_dml",
            {"cte.nesting": (SQLITE, POSTGRESQL)},
        ),
        Fault(
            "add-cte-noop",
            "add_cte() forgets its CTEs",
            add_cte_noop,
            "cte_dml",
            {"cte.add-cte-unreferenced-dml": (POSTGRESQL,)},
        ),
        Fault(
            "recursive-keyword-dropped",
            "WITH RECURSIVE is rendered as plain WITH",
            recursive_keyword_dropped,
            "cte_dml",
            {"cte.recursive-insert-from-select": ALL},
        ),
        Fault(
            "empty-in-swapped",
            "the empty-set expressions of IN and NOT IN are swapped",
            empty_in_swapped,
            "in_and_limits",
            {
                "in.empty-in-is-false": SERVERS,
                "in.empty-not-in-is-true": SERVERS,
                "in.expanding-bindparam-empty": SERVERS,
                "in.tuple-in-empty": SERVERS,
            },
        ),
        Fault(
            "postcompile-cached",
            "the expansion of expanding / literal_execute parameters is cached with the compiled statement",
            postcompile_cached,
            "in_and_limits",
            {"in.expanding-bindparam-empty": ALL, "in.tuple-in-empty": ALL, "limit.literal-execute": ALL},
        ),
        Fault(
            "tuple-elements-transposed",
            "expanded tuple IN parameters are flattened column by column instead of row by row",
            tuple_elements_transposed,
            "in_and_limits",
            {"in.tuple-in": ALL, "in.tuple-in-expanding": ALL},
        ),
        Fault(
            "limit-offset-swapped",
            "LIMIT and OFFSET values are swapped when both are given",
            limit_offset_swapped,
            "in_and_limits",
            {"limit.bound-parameters": ALL, "limit.sql-expression": (SQLITE, POSTGRESQL)},
        ),
        Fault(
            "literal-execute-ignored",
            "bindparam(literal_execute=True) is sent as an ordinary bound parameter",
            literal_execute_ignored,
            "in_and_limits",
            {"limit.literal-execute": ALL},
        ),
        Fault(
            "fetch-options-dropped",
            "FETCH FIRST loses its OFFSET and its WITH TIES",
            fetch_options_dropped,
            "in_and_limits",
            {"limit.fetch-first": SERVERS, "limit.fetch-with-ties": SERVERS},
        ),
        Fault(
            "rowcount-returning-lost",
            "the driver reports rowcount -1 for UPDATE/DELETE with RETURNING",
            rowcount_returning_lost,
            "rowcount",
            {"rowcount.update-returning": (SQLITE, POSTGRESQL), "rowcount.delete-returning": ALL},
        ),
        Fault(
            "executemany-rowcount-unsummed",
            "the driver no longer sums rowcount over an executemany (-1)",
            executemany_rowcount_unsummed,
            "rowcount",
            {"rowcount.executemany-update": ALL, "rowcount.executemany-delete": ALL},
        ),
        Fault(
            "delete-rowcount-lost",
            "rowcount of a DELETE is read after the cursor is closed (-1)",
            delete_rowcount_lost,
            "rowcount",
            {"rowcount.delete-counts-deleted-rows": ALL},
        ),
        Fault(
            "insert-rowcount-not-preserved",
            "preserve_rowcount is ignored for INSERT (-1)",
            insert_rowcount_not_preserved,
            "rowcount",
            {"rowcount.preserve-rowcount-insert": ALL},
        ),
        Fault(
            "found-rows-dropped",
            "the MySQL dialects no longer set CLIENT.FOUND_ROWS: rowcount counts changed rows, not matched ones",
            found_rows_dropped,
            "rowcount",
            {"rowcount.update-counts-matched-rows": (MYSQL,)},
        ),
        Fault(
            "default-values-off",
            "SQLite and PostgreSQL lose supports_default_values (INSERT .. DEFAULT VALUES)",
            default_values_off,
            "insert_forms",
            {"insert.empty-values-defaults": (POSTGRESQL,)},
        ),
        Fault(
            "empty-parameter-sets-collapsed",
            "a list of empty parameter sets is run as one execution without parameters",
            empty_parameter_sets_collapsed,
            "insert_forms",
            {"insert.empty-executemany": ALL, "insert.empty-executemany-returning": ALL},
        ),
        Fault(
            "from-select-defaults-dropped",
            "Insert.from_select() ignores include_defaults (always False)",
            from_select_defaults_dropped,
            "insert_forms",
            {
                "insert.from-select": ALL,
                "insert.from-select-returning": ALL,
                "insert.from-select-include-defaults": ALL,
            },
        ),
        Fault(
            "string-quote-unescaped",
            "string literals are rendered without doubling quotes or escaping percent signs and backslashes",
            string_quote_unescaped,
            "literal_binds",
            {"literal.string-quotes-percent-backslash": ALL, "literal.in-list-of-strings": ALL},
        ),
        Fault(
            "integer-via-float",
            "integer literals are rendered through float",
            integer_via_float,
            "literal_binds",
            {"literal.integer": ALL},
        ),
        Fault(
            "numeric-fixed-six",
            "Numeric literals are rendered with '%f'",
            numeric_fixed_six,
            "literal_binds",
            {"literal.numeric": ALL},
        ),
        Fault(
            "float-two-decimals",
            "Float literals are rendered with '%.2f'",
            float_two_decimals,
            "literal_binds",
            {"literal.float": (SQLITE, MYSQL)},
        ),
        Fault(
            "boolean-quoted",
            "Boolean literals are rendered as the strings 'true' / 'false'",
            boolean_quoted,
            "literal_binds",
            {"literal.boolean": (SQLITE, MYSQL)},
        ),
        Fault(
            "date-unquoted",
            "Date literals are rendered without quotes",
            date_unquoted,
            "literal_binds",
            {"literal.date": ALL},
        ),
        Fault(
            "datetime-t-separator",
            "DateTime literals use ISO 8601's 'T' separator",
            datetime_t_separator,
            "literal_binds",
            {"literal.datetime": (SQLITE,)},
        ),
        Fault(
            "time-minutes-only",
            "Time literals drop the seconds",
            time_minutes_only,
            "literal_binds",
            {"literal.time": ALL},
        ),
        Fault(
            "none-as-text",
            "None is rendered as the text 'None'",
            none_as_text,
            "literal_binds",
            {"literal.none-is-null": ALL},
        ),
        Fault(
            "in-list-repr",
            "literal_binds renders an IN list with Python's repr() of each value",
            in_list_repr,
            "literal_binds",
            {"literal.in-list-of-strings": ALL},
        ),
        Fault(
            "reserved-not-quoted",
            "reserved words are no longer quoted",
            reserved_not_quoted,
            "identifiers",
            {"ident.reserved-words-quoted": ALL},
        ),
        Fault(
            "quotes-only-for-reserved",
            "quoting is decided on reserved words only (case and illegal characters ignored)",
            quotes_only_for_reserved,
            "identifiers",
            {"ident.mixed-case-and-spaces": ALL, "ident.percent-signs-in-names": ALL, "ident.colons-in-names": ALL},
        ),
        Fault(
            "percent-not-doubled",
            "percent signs in identifiers are not doubled for format / pyformat drivers",
            percent_not_doubled,
            "identifiers",
            {"ident.percent-signs-in-names": SERVERS},
        ),
        Fault(
            "client-charset-latin1",
            "the driver connects with a latin1 client character set (PyMySQL before 1.0 defaulted to it)",
            client_charset_latin1,
            "identifiers",
            {"ident.non-ascii-names": SERVERS},
        ),
        Fault(
            "truncation-hash-head",
            "truncated generated names take the first four md5 characters instead of the last four",
            truncation_hash_head,
            "identifiers",
            {"ident.naming-convention-truncation": SERVERS},
        ),
        Fault(
            "validate-identifier-noop",
            "explicit names are no longer checked against max_identifier_length",
            validate_identifier_noop,
            "identifiers",
            {"ident.explicit-name-over-limit": (POSTGRESQL,)},
        ),
        Fault(
            "label-length-ignored",
            "create_engine(label_length=...) is ignored",
            label_length_ignored,
            "identifiers",
            {"ident.generated-labels-truncated": ALL},
        ),
    )
}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    inject_named(FAULTS, FAULT_VARIABLE)


if __name__ == "__main__":
    sys.exit(main(FAULTS, "tests.data.sql_faults", FAULT_VARIABLE, sys.argv[1:]))
