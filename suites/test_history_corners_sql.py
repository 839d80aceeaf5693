"""Core corners (SQL expressions, results, engine options, reflection) where SQLAlchemy point releases changed
observable behaviour; reports/history.toml names the releases each behaviour shows.

Each behaviour states what the SQLAlchemy documentation says about its corner, never a ticket's own test.
"""

import decimal
import logging
import uuid

import pytest
from sqlalchemy import (
    JSON,
    LABEL_STYLE_NONE,
    Column,
    Computed,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    Sequence,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    cast,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    lambda_stmt,
    literal,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import InvalidRequestError

from fixtures.compat import Uuid
from fixtures.models import Address, User, address_table, item_table, user_table
from fixtures.plugin import behaviour


def _exception_name(caught):
    return caught.error and type(caught.error).__name__


@behaviour("sql.arithmetic-grouping", doc="core/operators.html#arithmetic-operators", requires="2.0")
def test_python_grouping_of_arithmetic_is_kept_in_sql(engine, capture, checks):
    """Arithmetic operators between SQL expressions render with the grouping the Python expression has, so
    ``a * b * (c + d)`` and ``a - (b - c - d)`` compute what Python computes, wherever the parenthesised group
    stands in a chain of the same operator.

    Docs: Operator Reference > Arithmetic Operators.
    """
    a, b, c, d = (literal(value, Integer) for value in (100, 20, 5, 2))
    expressions = {
        "a - (b - c - d)": a - (b - c - d),
        "a - (b + c + d)": a - (b + c + d),
        "a * (b + c + d)": a * (b + c + d),
        "a - b - (c - d)": a - b - (c - d),
        "a * b * (c + d)": a * b * (c + d),
        "a + b + (c * d) * a": a + b + (c * d) * a,
    }
    with capture.observe(), engine.connect() as connection:
        row = connection.execute(select(*(e.label(f"e{n}") for n, e in enumerate(expressions.values())))).one()

    checks.equal("values of the grouped expressions", dict(zip(expressions, row, strict=True)), {
        "a - (b - c - d)": 100 - (20 - 5 - 2),
        "a - (b + c + d)": 100 - (20 + 5 + 2),
        "a * (b + c + d)": 100 * (20 + 5 + 2),
        "a - b - (c - d)": 100 - 20 - (5 - 2),
        "a * b * (c + d)": 100 * 20 * (5 + 2),
        "a + b + (c * d) * a": 100 + 20 + (5 * 2) * 100,
    })  # fmt: skip


@behaviour("sql.floor-division-of-non-integers", doc="core/operators.html#arithmetic-operators", requires="2.0")
def test_floor_division_of_a_non_integer_by_an_integer_floors(engine, capture, checks):
    """The ``//`` operator is floor division whatever the operand types: ``Float // Integer`` and
    ``Numeric // Integer`` return the floor of the quotient, as Python's ``//`` does (the dialect adds ``FLOOR()``
    where its ``/`` does not floor).

    Docs: Operator Reference > Arithmetic Operators (``//``, floor division).
    """
    with capture.observe(), engine.connect() as connection:
        floats, numerics, integers = connection.execute(
            select(
                literal(7.5, Float) // literal(2, Integer),
                literal(decimal.Decimal("7.5"), Numeric(10, 2)) // literal(2, Integer),
                literal(7, Integer) // literal(2, Integer),
            )
        ).one()

    checks.equal("Float // Integer", float(floats), 3.0)
    checks.equal("Numeric // Integer", decimal.Decimal(numerics), decimal.Decimal(3))
    checks.equal("Integer // Integer", int(integers), 3)


@behaviour("types.numeric-decimal-return-scale", doc="core/type_basics.html#sqlalchemy.types.Numeric", requires="2.0")
def test_numeric_decimal_return_scale_sets_the_scale_of_returned_decimals(engine, capture, checks):
    """``Numeric(decimal_return_scale=N)`` is the scale of the ``Decimal`` values returned when the driver
    hands back floats; a driver returning ``Decimal`` itself returns the database's scale, here the same N.

    Docs: Type Basics > ``Numeric`` (``decimal_return_scale``).
    """
    stored_scale_4 = cast(literal("2.5"), Numeric(10, 4))
    returned_as = type_coerce(stored_scale_4, Numeric(10, 2, decimal_return_scale=4))
    with capture.observe(), engine.connect() as connection:
        value = connection.execute(select(returned_as)).scalar_one()

    checks.equal("returned value as text", str(value), "2.5000")


@behaviour(
    "result.frozen-ambiguous-column",
    doc="core/selectable.html#sqlalchemy.sql.expression.SelectLabelStyle.LABEL_STYLE_NONE",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_frozen_result_keeps_ambiguous_column_names_ambiguous(engine, capture, checks):
    """With ``LABEL_STYLE_NONE`` two selected columns of the same name keep that name, so a row refuses access
    by it (``InvalidRequestError``, "Ambiguous column name") and still returns each column by position;
    ``Result.freeze()`` gives back rows that behave the same.

    Docs: SQL Statements > ``SelectLabelStyle.LABEL_STYLE_NONE``; Working with Engines and Connections >
    ``Result.freeze()``.
    """
    with engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "sandy"})
    statement = (
        select(user_table.c.id, address_table.c.id)
        .select_from(user_table.outerjoin(address_table))
        .set_label_style(LABEL_STYLE_NONE)
    )
    with capture.observe(), engine.connect() as connection:
        live = connection.execute(statement).one()
        frozen = connection.execute(statement).freeze()
    thawed = frozen().one()

    with checks.catch() as live_access:
        live._mapping["id"]
    with checks.catch() as thawed_access:
        thawed._mapping["id"]
    checks.equal("live row['id'] raises", _exception_name(live_access), InvalidRequestError.__name__)
    checks.equal("thawed row['id'] raises", _exception_name(thawed_access), InvalidRequestError.__name__)
    checks.equal("thawed row by position", [len(thawed), thawed[1]], [2, None])


@behaviour(
    "result.mappings-of-repeated-columns",
    doc="changelog/migration_14.html#select-objects-and-derived-from-clauses-allow-for-duplicate-columns-and-column-labels",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_mappings_of_a_select_naming_a_column_twice(engine, capture, checks):
    """A ``select()`` may name the same column twice, beside textual columns: both are rendered, the repeat
    labelled ``<name>__1``, and ``Result.mappings()`` gives one dictionary per row keyed by those names.

    Docs: What's New in 1.4 > SELECT objects and derived FROM clauses allow for duplicate columns and column
    labels; Working with Engines and Connections > ``Result.mappings()``.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": "cup", "quantity": 2}])
    statement = select(item_table.c.name, item_table.c.quantity, item_table.c.name, text("3 AS three"))
    with capture.observe(), engine.connect() as connection, checks.catch() as caught:
        mappings = [dict(mapping) for mapping in connection.execute(statement).mappings()]

    checks.equal("mappings raise", _exception_name(caught), None)
    checks.equal(
        "mappings", caught.error is None and mappings, [{"name": "cup", "quantity": 2, "name__1": "cup", "three": 3}]
    )


@behaviour(
    "pool.isolation-level-reset-on-return",
    doc="core/connections.html#setting-transaction-isolation-levels-including-dbapi-autocommit",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_engine_autocommit_comes_back_after_a_connection_level_isolation(make_engine, capture, checks):
    """An engine created with ``isolation_level="AUTOCOMMIT"`` gives every checked-out connection that level:
    a connection that switched to another level with ``Connection.execution_options(isolation_level=...)`` is
    reset when returned to the pool, so the next checkout of the same DBAPI connection autocommits again.

    Docs: Working with Engines and Connections > Setting Transaction Isolation Levels including DBAPI Autocommit.
    """
    autocommit = make_engine(isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with autocommit.connect() as connection:
        connection.execution_options(isolation_level="SERIALIZABLE")
        connection.execute(insert(item_table), {"name": "discarded"})
        connection.rollback()
    with capture.observe(), autocommit.connect() as connection:
        connection.execute(insert(item_table), {"name": "kept"})
        connection.rollback()  # nothing to roll back: the INSERT was committed by the driver
    with autocommit.connect() as connection:
        names = connection.scalars(select(item_table.c.name)).all()

    checks.equal("rows after rollback on the next checkout", names, ["kept"])


@behaviour(
    "engine.execution-options-copies",
    doc="core/connections.html#sqlalchemy.engine.Engine.execution_options",
    requires="2.0",
)
def test_engine_execution_options_copies_with_isolation_levels(engine, capture, checks):
    """``Engine.execution_options()`` returns a copy of the engine sharing its pool; it may be called several
    times on the same engine (and on a copy), each copy giving its connections its own isolation level.

    Docs: Working with Engines and Connections > ``Engine.execution_options()``.
    """
    with checks.catch() as caught:
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        serializable = engine.execution_options(isolation_level="SERIALIZABLE")
        again = autocommit.execution_options(isolation_level="SERIALIZABLE")
        with capture.observe():
            levels = []
            for copy in (autocommit, serializable, again):
                with copy.connect() as connection:
                    levels.append(connection.get_execution_options().get("isolation_level"))
    checks.equal("copies raise", _exception_name(caught), None)
    checks.equal(
        "isolation level of each copy", caught.error is None and levels, ["AUTOCOMMIT", "SERIALIZABLE", "SERIALIZABLE"]
    )


@behaviour(
    "engine.do-connect-own-arguments",
    doc="core/engines.html#modifying-the-dbapi-connection-after-connect-or-running-commands-after-connect",
    requires="2.0",
)
def test_do_connect_listener_gets_fresh_arguments_for_every_connection(make_engine, capture, checks):
    """A ``do_connect`` listener receives the connection arguments (``cargs``, ``cparams``) to modify in place
    for the connection being made; each new connection starts again from the engine's own arguments, so a change
    made for one connection does not show in the next.

    Docs: Engine Configuration > Custom DBAPI connect() arguments / on-connect routines (``do_connect``).
    """
    other = make_engine(pool_size=2, max_overflow=0)
    seen = []

    @event.listens_for(other, "do_connect")
    def connect(dialect, connection_record, cargs, cparams):
        seen.append(sorted(key for key in cparams if key == "history_marker"))
        cparams["history_marker"] = True
        arguments = {key: value for key, value in cparams.items() if key != "history_marker"}
        return dialect.loaded_dbapi.connect(*cargs, **arguments)

    first = other.connect()
    second = other.connect()
    first.close()
    second.close()
    checks.equal("marker keys seen by each connect", seen, [[], []])


@behaviour("engine.logging-token", doc="core/engines.html#dbengine-logging-tokens", requires="2.0")
def test_logging_token_can_be_changed_and_removed_on_a_connection(engine, capture, checks, caplog):
    """The ``logging_token`` execution option puts ``[token]`` in front of the connection's log messages; it
    can be changed on a connection that has already logged (the next messages carry the new token) and set to
    ``None`` on any connection (the messages carry no token).

    Docs: Engine Configuration > Configuring Logging > Setting Per-Connection / Sub-Engine Tokens.
    """
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine.Engine")
    logged = logging.getLogger("sqlalchemy.engine.Engine")

    def tokens_of(statement_text):
        return [r.getMessage().split("]")[0] + "]" if r.getMessage().startswith("[") else "-"
                for r in caplog.records if r.name == logged.name and statement_text in r.getMessage()]  # fmt: skip

    with caplog.at_level(logging.INFO, logger=logged.name), capture.observe():
        with engine.connect() as connection:
            connection.execution_options(logging_token="first")
            connection.exec_driver_sql("SELECT 11")
            connection.execution_options(logging_token="second")
            connection.exec_driver_sql("SELECT 12")
        with checks.catch() as reset_fresh, engine.connect() as connection:
            connection.execution_options(logging_token=None)
            connection.exec_driver_sql("SELECT 13")

    checks.equal("tokens of the first statement", tokens_of("SELECT 11")[:1], ["[first]"])
    checks.equal("tokens after changing the token", tokens_of("SELECT 12")[:1], ["[second]"])
    checks.equal("resetting the token on a fresh connection raises", _exception_name(reset_fresh), None)


@behaviour(
    "sql.generative-hints-and-suffixes",
    doc="core/selectable.html#sqlalchemy.sql.expression.Select.with_statement_hint",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_hint_prefix_and_suffix_methods_return_a_new_select(engine, capture, checks):
    """``Select.with_statement_hint()``, ``prefix_with()`` and ``suffix_with()`` are generative: each returns a
    new ``Select`` with the text added and leaves the statement it was called on unchanged.

    Docs: SQL Statements > ``Select.with_statement_hint()``, ``Select.prefix_with()``, ``Select.suffix_with()``.
    """
    base = select(item_table.c.name)
    hinted = base.with_statement_hint("/* history hint */")
    suffixed = base.suffix_with("/* history suffix */")
    prefixed = base.prefix_with("/* history prefix */")
    with capture.observe(), engine.connect() as connection:
        for statement in (base, hinted, suffixed, prefixed):
            connection.execute(statement).all()
    texts = capture.sql()

    markers = [[marker for marker in ("hint", "suffix", "prefix") if f"history {marker}" in sql] for sql in texts]
    checks.equal(
        "markers in the base, hinted, suffixed, prefixed statements", markers, [[], ["hint"], ["suffix"], ["prefix"]]
    )


@behaviour("sql.correlate-none", doc="core/selectable.html#sqlalchemy.sql.expression.Select.correlate", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_correlate_none_disables_correlation_also_after_a_correlated_twin_ran(engine, capture, checks):
    """``Select.correlate(None)`` makes a subquery list all of its own FROM objects instead of correlating them
    to the enclosing SELECT: an EXISTS with it is true for every outer row when any pair matches, while the same
    statement with default auto-correlation filters row by row; running one does not change the other's SQL.

    Docs: SQL Statements > ``Select.correlate()`` ("``None`` ... no FROM entries will be correlated").
    """
    with engine.begin() as connection:
        connection.execute(insert(user_table), [{"name": "sandy"}, {"name": "patrick"}])
        sandy_id = connection.scalar(select(user_table.c.id).where(user_table.c.name == "sandy"))
        connection.execute(insert(address_table), {"email_address": "sandy@example.com", "user_id": sandy_id})

    def names_with_addresses(correlation):
        inner = select(address_table.c.id).where(address_table.c.user_id == user_table.c.id)
        inner = inner.correlate(None) if correlation == "none" else inner
        return select(user_table.c.name).where(exists(inner)).order_by(user_table.c.name)

    with capture.observe(), engine.connect() as connection:
        correlated = connection.scalars(names_with_addresses("auto")).all()
        uncorrelated = connection.scalars(names_with_addresses("none")).all()
    checks.equal("auto-correlated EXISTS", correlated, ["sandy"])
    checks.equal("correlate(None) EXISTS", uncorrelated, ["patrick", "sandy"])


@behaviour(
    "sql.params-of-cte-in-select-from",
    doc="core/selectable.html#sqlalchemy.sql.expression.Select.params",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_params_replaces_values_inside_a_cte_used_in_select_from(engine, capture, checks):
    """``params()`` returns a copy of the statement with the named bound parameters set to new values, also those
    inside a CTE the statement uses only in the join given to ``select_from()``; each copy runs with its own values.

    Docs: SQL Statements > ``Select.params()``.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": f"n{q}", "quantity": q} for q in (1, 2, 3, 4)])
    above = select(item_table.c.id).where(item_table.c.quantity > bindparam("least", 0)).cte("above")
    statement = (
        select(item_table.c.name)
        .select_from(item_table.join(above, above.c.id == item_table.c.id))
        .order_by(item_table.c.name)
    )
    with capture.observe(), engine.connect() as connection:
        names = [connection.scalars(statement.params(least=least)).all() for least in (1, 3)]
    checks.equal("names for least 1 and 3", names, [["n2", "n3", "n4"], ["n4"]])


def _documented_defaults_table():
    metadata = MetaData()
    return Table(
        "history_stamped",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(30), nullable=False),
        Column("source", String(20), default="python-default"),
    )


@behaviour(
    "dml.from-select-include-defaults", doc="core/dml.html#sqlalchemy.sql.expression.Insert.from_select", requires="2.0"
)
@pytest.mark.usefixtures("tables")
def test_from_select_include_defaults_applies_to_each_statement(engine, make_tables, capture, checks):
    """``Insert.from_select(..., include_defaults=True)`` (the default) adds the Python-side defaults of the
    columns not selected; with ``include_defaults=False`` those columns are left out, whichever form ran first.

    Docs: SQL Statements > ``Insert.from_select()`` (``include_defaults``).
    """
    stamped = _documented_defaults_table()
    make_tables(stamped.metadata)
    with engine.begin() as connection:
        connection.execute(insert(user_table), [{"name": "sandy"}])
    source = select(user_table.c.name)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(stamped).from_select(["name"], source))
        connection.execute(insert(stamped).from_select(["name"], source, include_defaults=False))
    with engine.connect() as connection:
        stored = connection.scalars(select(stamped.c.source).order_by(stamped.c.id)).all()
    checks.equal("source with and without defaults", stored, ["python-default", None])


@behaviour(
    "reflection.quoted-constraint-names",
    doc="core/reflection.html#fine-grained-reflection-with-inspector",
    requires="2.0",
)
def test_constraint_names_needing_quotes_are_reflected_as_given(engine, make_tables, capture, checks):
    """``Inspector.get_unique_constraints()`` and ``get_foreign_keys()`` return constraint names as they were
    created, also names with upper-case letters that the DDL quotes.

    Docs: Reflecting Database Objects > Fine Grained Reflection with Inspector.
    """
    metadata = MetaData()
    Table("history_quoted_parent", metadata, Column("id", Integer, primary_key=True))
    Table(
        "history_quoted_child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("code", String(20), nullable=False),
        Column("parent_id", Integer, nullable=False),
        UniqueConstraint("code", name="UQ_History_Code"),
        ForeignKeyConstraint(["parent_id"], ["history_quoted_parent.id"], name="FK_History_Parent"),
    )
    make_tables(metadata)
    # a statement on the table first: SQLite's PRAGMA foreign_key_list answers from the connection's cached
    # schema, which a pooled connection may hold from before the CREATE TABLE (empty: no foreign keys)
    with capture.observe(), engine.connect() as connection:
        connection.execute(select(func.count()).select_from(metadata.tables["history_quoted_child"])).scalar()
        inspector = inspect(connection)
        unique = inspector.get_unique_constraints("history_quoted_child")
        foreign = inspector.get_foreign_keys("history_quoted_child")

    checks.equal("UNIQUE constraint names", [c["name"] for c in unique], ["UQ_History_Code"])
    checks.equal("FOREIGN KEY constraint names", [c["name"] for c in foreign], ["FK_History_Parent"])


@behaviour(
    "reflection.foreign-key-to-names-with-parentheses",
    doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_foreign_keys",
    requires="2.0",
)
def test_foreign_key_to_a_table_and_column_named_with_parentheses(engine, make_tables, capture, checks):
    """``Inspector.get_foreign_keys()`` returns the referred table and columns of a foreign key by their names,
    also names containing parentheses (quoted identifiers).

    Docs: Reflecting Database Objects > ``Inspector.get_foreign_keys()``.
    """
    metadata = MetaData()
    Table("history_parent(v1)", metadata, Column("key(a)", Integer, primary_key=True))
    Table(
        "history_child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_key", Integer, ForeignKey("history_parent(v1).key(a)")),
    )
    make_tables(metadata)
    with capture.observe(), engine.connect() as connection, checks.catch() as caught:
        connection.execute(select(func.count()).select_from(metadata.tables["history_child"])).scalar()
        foreign = inspect(connection).get_foreign_keys("history_child")  # after a statement: see above

    checks.equal("reflection raises", _exception_name(caught), None)
    checks.equal(
        "referred table and columns",
        caught.error is None
        and [[f["constrained_columns"], f["referred_table"], f["referred_columns"]] for f in foreign],
        [[["parent_key"], "history_parent(v1)", ["key(a)"]]],
    )


@behaviour(
    "reflection.computed-column-without-rowid",
    doc="core/defaults.html#computed-ddl",
    requires="2.0",
)
def test_computed_column_reflected_in_a_table_with_options(engine, make_tables, capture, checks):
    """``Inspector.get_columns()`` reports a computed (GENERATED ALWAYS AS) column with its ``computed``
    entry, also in a table created with dialect table options (SQLite ``WITHOUT ROWID``).

    Docs: Column INSERT/UPDATE Defaults > Computed Columns (GENERATED ALWAYS AS); SQLite dialect > WITHOUT ROWID.
    """
    metadata = MetaData()
    Table(
        "history_priced",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("price", Integer, nullable=False),
        Column("doubled", Integer, Computed("price * 2")),
        sqlite_with_rowid=False,
    )
    make_tables(metadata)
    with capture.observe(), checks.catch() as caught:
        columns = inspect(engine).get_columns("history_priced")

    checks.equal("reflection raises", _exception_name(caught), None)
    computed = {c["name"]: "computed" in c for c in columns} if caught.error is None else None
    checks.equal("columns with a computed entry", computed, {"id": False, "price": False, "doubled": True})


@behaviour(
    "reflection.inline-unique-after-tab",
    doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_unique_constraints",
    requires="2.0",
)
def test_inline_unique_constraint_after_a_tab_is_reflected(engine, capture, checks):
    """``Inspector.get_unique_constraints()`` returns a UNIQUE constraint written inline in a column definition
    of hand-written DDL, whatever whitespace (here a tab) separates it from the column type.

    Docs: Reflecting Database Objects > ``Inspector.get_unique_constraints()``.
    """
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE history_inline_unique (\n"
                "  id INTEGER NOT NULL PRIMARY KEY,\n"
                "  code INTEGER NOT NULL\tUNIQUE\n"
                ")"
            )
        )
    try:
        with capture.observe():
            unique = inspect(engine).get_unique_constraints("history_inline_unique")
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE history_inline_unique"))
    checks.equal("UNIQUE constraint columns", [c["column_names"] for c in unique], [["code"]])


@behaviour(
    "ddl.server-default-expression",
    doc="core/defaults.html#server-invoked-ddl-explicit-default-expressions",
    requires="2.0",
)
def test_server_default_expression_is_evaluated_by_the_server(engine, make_tables, capture, checks):
    """``server_default=text("...")`` places the SQL expression in the column's DEFAULT clause, so a row
    inserted without the column gets the expression's value computed by the server.

    Docs: Column INSERT/UPDATE Defaults > Server-invoked DDL-Explicit Default Expressions.
    """
    metadata = MetaData()
    table = Table(
        "history_defaulted",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("total", Integer, server_default=text("2 + 3")),
    )
    with capture.observe(), checks.catch() as caught:
        make_tables(metadata)
    checks.equal("CREATE TABLE raises", _exception_name(caught), None)
    if caught.error is None:
        with engine.begin() as connection:
            connection.execute(insert(table), {"id": 1})
            total = connection.scalar(select(table.c.total))
        checks.equal("default value of total", total, 5)


@behaviour(
    "reflection.has-table-unknown-schema",
    doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.has_table",
    requires="2.0",
)
def test_has_table_in_an_unknown_schema_is_false(engine, capture, checks):
    """``Inspector.has_table()`` returns False for a table that does not exist, also when the given schema
    does not exist either.

    Docs: Reflecting Database Objects > ``Inspector.has_table()``.
    """
    with capture.observe(), checks.catch() as caught:
        found = inspect(engine).has_table("history_nowhere", schema="history_no_such_schema")
    checks.equal("has_table raises", _exception_name(caught), None)
    checks.equal("has_table", caught.error is None and found, False)


_ = (Address, User)  # the tutorial's mapped classes define address_table and user_table


@behaviour("sql.compare-string-longer-than-column", doc="core/type_basics.html#sqlalchemy.types.String", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_comparing_a_column_to_a_longer_string_matches_nothing(engine, capture, checks):
    """The length of a ``String(n)`` column is DDL only: a value compared with the column is sent whole, so
    comparing with a string longer than n matches no row, also not a row holding the string's first n characters.

    Docs: Type Basics > ``String`` ("length ... used in DDL").
    """
    with engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "s" * 30})
    with capture.observe(), engine.connect() as connection:
        longer = connection.scalars(select(user_table.c.id).where(user_table.c.name == "s" * 35)).all()
        exact = connection.scalars(select(user_table.c.id).where(user_table.c.name == "s" * 30)).all()
    checks.equal("rows matching a 35-character string", longer, [])
    checks.equal("rows matching the 30-character string", len(exact), 1)


@behaviour(
    "ddl.small-integer-autoincrement-primary-key",
    doc="core/type_basics.html#sqlalchemy.types.SmallInteger",
    requires="2.0",
)
def test_small_integer_primary_key_is_created_small(engine, make_tables, capture, checks):
    """A ``SmallInteger`` primary key column is created as a small integer type, also where the backend makes
    it autoincrementing (PostgreSQL SMALLSERIAL, MySQL SMALLINT AUTO_INCREMENT): reflection gives back a
    ``SmallInteger``.

    Docs: Type Basics > ``SmallInteger``; Column INSERT/UPDATE Defaults > autoincrement.
    """
    metadata = MetaData()
    Table("history_small_key", metadata, Column("id", SmallInteger, primary_key=True), Column("x", Integer))
    with capture.observe():
        make_tables(metadata)
        columns = inspect(engine).get_columns("history_small_key")
    checks.equal("id is a SmallInteger", isinstance(columns[0]["type"], SmallInteger), True)


JSON_DOCUMENT = JSON().with_variant(postgresql.JSONB(), "postgresql")
json_metadata = MetaData()
document_table = Table(
    "history_document", json_metadata, Column("id", Integer, primary_key=True), Column("doc", JSON_DOCUMENT)
)


@behaviour("types.json-index-of-expressions", doc="core/type_basics.html#sqlalchemy.types.JSON", requires="2.0")
def test_json_index_and_string_values_of_expressions(engine, make_tables, capture, checks):
    """A JSON expression is indexed like a JSON column, also the result of a SQL function typed as JSON
    (``func.coalesce(..., type_=JSON)["a"]``); ``as_string()`` of two index operations concatenate with ``+``
    into one string.

    Docs: Type Basics > ``JSON`` (index operations, ``Comparator.as_string()``).
    """
    make_tables(json_metadata)
    with engine.begin() as connection:
        connection.execute(insert(document_table), {"doc": {"a": 5, "s": "x", "t": "y"}})
    doc = document_table.c.doc
    of_function = func.coalesce(doc, doc, type_=JSON_DOCUMENT)["a"]
    concatenated = doc["s"].as_string() + doc["t"].as_string()
    with capture.observe(), engine.connect() as connection, checks.catch() as caught:
        row = connection.execute(select(of_function, concatenated)).one()
    checks.equal("select raises", _exception_name(caught), None)
    checks.equal("index of a function result", caught.error is None and row[0], 5)
    checks.equal("concatenated as_string() values", caught.error is None and row[1], "xy")


sequence_metadata = MetaData()
counter_table = Table(
    "history_counter",
    sequence_metadata,
    Column("id", Integer, Sequence("history_counter_seq"), primary_key=True),
    Column("label", String(20), nullable=False),
)
uuid_metadata = MetaData()
token_table = Table(
    "history_token",
    uuid_metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("label", String(20), nullable=False),
)


@behaviour(
    "imv.returning-generated-keys-in-order",
    doc="core/connections.html#engine-insertmanyvalues-returning-order",
    requires="2.0",
)
def test_insertmanyvalues_returns_generated_keys_in_parameter_order(engine, make_tables, capture, checks):
    """An INSERT..RETURNING executed with a list of parameter sets and ``sort_by_parameter_order=True`` returns
    one row per parameter set, in order, for keys generated by an explicit ``Sequence`` (where the backend has
    sequences) and for client-side ``Uuid`` defaults; the returned keys are the stored ones.

    Docs: Engines and Connections > "Insert Many Values" Behavior > Correlating RETURNING rows to parameter sets.
    """
    make_tables(sequence_metadata)
    make_tables(uuid_metadata)
    labels = [{"label": label} for label in ("first", "second", "third")]
    returned = {}
    with capture.observe(), engine.begin() as connection:
        for name, table in (("Sequence", counter_table), ("Uuid", token_table)):
            with checks.catch() as caught:
                rows = connection.execute(
                    insert(table).returning(table.c.label, table.c.id, sort_by_parameter_order=True), labels
                ).all()
            returned[name] = (caught.error and type(caught.error).__name__) or [list(row) for row in rows]
    with engine.connect() as connection:
        stored = {
            name: [list(row) for row in connection.execute(select(table.c.label, table.c.id))]
            for name, table in (("Sequence", counter_table), ("Uuid", token_table))
        }
    # the keys themselves are not recorded: Uuid defaults differ on every run, and the gate compares observed values
    for name in ("Sequence", "Uuid"):
        stored_keys = {label: key for label, key in stored[name]}
        got = returned[name]
        if not isinstance(got, str):
            got = [[label, "the stored key" if stored_keys.get(label) == key else "another key"] for label, key in got]
        checks.equal(f"{name} keys returned in order", got, [[label["label"], "the stored key"] for label in labels])
        checks.equal(f"{name} distinct keys stored", len(set(stored_keys.values())), len(labels))


enum_metadata = MetaData()
ENUM_LABELS = ("100%", "50% off", "back\\slash", "plain")
labelled_table = Table(
    "history_labelled",
    enum_metadata,
    Column("id", Integer, primary_key=True),
    Column("label", Enum(*ENUM_LABELS, name="history_label"), nullable=False),
)


@behaviour(
    "types.enum-labels-with-special-characters", doc="core/type_basics.html#sqlalchemy.types.Enum", requires="2.0"
)
def test_enum_labels_with_percent_signs_and_backslashes_round_trip(engine, make_tables, capture, checks):
    """An ``Enum`` type's labels are arbitrary strings: labels containing percent signs or a backslash are
    created in the DDL as given (native ENUM types included), and every label is stored and read back unchanged.

    Docs: Type Basics > ``Enum``.
    """
    with capture.observe(), checks.catch() as creating:
        make_tables(enum_metadata)
    checks.equal("CREATE raises", _exception_name(creating), None)
    if creating.error is None:
        with engine.begin() as connection, checks.catch() as storing:
            connection.execute(insert(labelled_table), [{"label": label} for label in ENUM_LABELS])
            stored = connection.scalars(select(labelled_table.c.label).order_by(labelled_table.c.id)).all()
        checks.equal("labels stored and read back", storing.error is None and stored, list(ENUM_LABELS))


@behaviour("dml.delete-returning-empty-in", doc="core/operators.html#in-comparisons", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_delete_returning_with_an_empty_in_list_returns_no_rows(engine, capture, checks):
    """A DELETE..RETURNING whose WHERE clause is ``column.in_([])`` (rendered as an "empty set" expression that
    matches nothing) deletes nothing and returns a result with no rows, like any other DELETE..RETURNING that
    matches nothing.

    Docs: Operator Reference > IN Comparisons > Empty IN Expressions; Dialects > DELETE..RETURNING.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), {"name": "cup"})
    with capture.observe(), engine.begin() as connection, checks.catch() as caught:
        returned = connection.execute(
            delete(item_table).where(item_table.c.id.in_([])).returning(item_table.c.id)
        ).all()
    with engine.connect() as connection:
        left = connection.scalars(select(item_table.c.name)).all()
    checks.equal("DELETE..RETURNING raises", _exception_name(caught), None)
    checks.equal("rows returned", caught.error is None and returned, [])
    checks.equal("rows left", left, ["cup"])


@behaviour(
    "sql.lambda-statements-take-each-calls-values",
    doc="core/connections.html#using-lambdas-to-add-significant-speed-gains-to-statement-production",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_lambda_statements_run_with_the_values_of_each_call(engine, make_engine, capture, checks):
    """A lambda statement (``lambda_stmt()``) is cached by the lambda's code, and the Python values it closes
    over are extracted on every call: each call runs with its own values, also when the lambda statement is
    extended with ``.where()`` outside a lambda and when it runs on another engine without a statement cache.

    Docs: Working with Engines and Connections > Using Lambdas to add significant speed gains to statement
    production.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": f"n{q}", "quantity": q} for q in (1, 2, 3, 4)])
    uncached = make_engine(query_cache_size=0)

    def above(least):
        return lambda_stmt(lambda: select(item_table.c.name).where(item_table.c.quantity > least))

    def above_extended(least):
        return above(least).where(item_table.c.name != "n4")

    with capture.observe():
        with engine.connect() as connection:
            extended = [connection.scalars(above_extended(least).order_by(item_table.c.name)).all() for least in (1, 2)]
        runs = []
        for least, on in ((2, engine), (3, uncached), (1, engine), (0, uncached)):
            with on.connect() as connection:
                runs.append(len(connection.scalars(above(least)).all()))
    checks.equal("names above 1 and 2, extended with .where()", extended, [["n2", "n3"], ["n3"]])
    checks.equal("rows above 2, 3, 1, 0 on two engines", runs, [2, 1, 3, 4])


@behaviour("sql.alias-of-a-cte-alias", doc="core/selectable.html#sqlalchemy.sql.expression.CTE.alias", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_alias_of_an_alias_of_a_cte_refers_to_the_cte(engine, capture, checks):
    """``CTE.alias()`` gives another name for the same CTE in a statement, also when called on an alias: the
    statement's WITH clause defines the CTE once and each alias selects from it.

    Docs: SQL Statements > ``CTE.alias()``.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": "cup", "quantity": 2}, {"name": "mug", "quantity": 5}])
    stocked = select(item_table.c.name, item_table.c.quantity).cte("stocked")
    first = stocked.alias("first_alias")
    second = first.alias("second_alias")
    with capture.observe(), engine.connect() as connection, checks.catch() as caught:
        names = connection.scalars(select(second.c.name).where(second.c.quantity > 3)).all()
    checks.equal("select raises", _exception_name(caught), None)
    checks.equal("names from the alias of the alias", caught.error is None and names, ["mug"])
