"""INSERT forms next to the tutorial's: the empty INSERT of defaults only (once, executemany, with RETURNING),
and INSERT..FROM SELECT with and without RETURNING and with the columns' Python-side defaults.

The tables are created once per module and target; every behaviour starts from empty tables and three source
rows.
"""

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, func, insert, literal, select

from fixtures.plugin import STATE, behaviour

metadata = MetaData()
# Only server-side defaults: an INSERT of no values has no column to name.
defaulted_table = Table(
    "insf_defaulted",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("counter", Integer, server_default="7"),
    Column("label", String(20), server_default="server"),
)
source_table = Table(
    "insf_source",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(20), nullable=False),
)
copied_table = Table(
    "insf_copied",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(20), nullable=False),
    Column("origin", String(20), default="copied"),  # a Python-side scalar default
    Column("code", String(20), default=func.lower(literal("ABC"))),  # a Python-side SQL expression default
    Column("counter", Integer, server_default="5"),
)
SOURCE_ROWS = [{"id": 1, "name": "spongebob"}, {"id": 2, "name": "sandy"}, {"id": 3, "name": "patrick"}]


@pytest.fixture(scope="module")
def insert_tables(request, target, engine):
    bridge = request.config.stash[STATE].bridge
    bridge.call(target.driver.is_async, metadata.create_all, engine)
    yield metadata
    bridge.call(target.driver.is_async, metadata.drop_all, engine)


@pytest.fixture
def seeded(insert_tables, engine):
    with engine.begin() as connection:
        for table in (defaulted_table, copied_table, source_table):
            connection.execute(delete(table))
        connection.execute(insert(source_table), SOURCE_ROWS)


def _defaulted_rows(connection):
    statement = select(defaulted_table.c.id, defaulted_table.c.counter, defaulted_table.c.label)
    return [tuple(row) for row in connection.execute(statement.order_by(defaulted_table.c.id))]


def _copied_rows(connection):
    columns = [copied_table.c.id, copied_table.c.name, copied_table.c.origin, copied_table.c.code]
    return [tuple(row) for row in connection.execute(select(*columns, copied_table.c.counter).order_by(columns[0]))]


@behaviour("insert.empty-values-defaults", doc="tutorial/data_insert.html#tutorial-core-insert-values-clause")
@pytest.mark.usefixtures("seeded")
def test_insert_of_no_values_inserts_a_row_of_defaults(engine, capture, checks, target_facts):
    """``insert(table).values()`` with no values is "a true empty INSERT that inserts only the defaults": the
    row takes every column's server default, and ``inserted_primary_key`` is the new row's key. Its SQL is the
    backend's empty-INSERT form (``DEFAULT VALUES``, or MySQL's ``() VALUES ()``).

    Docs: Unified Tutorial > Working with Data > Inserting Rows with Core > The VALUES clause (the "empty"
    INSERT tip).
    """
    spelling = target_facts["empty-insert-form"]
    with capture.observe(), engine.begin() as connection:
        key = connection.execute(insert(defaulted_table).values()).inserted_primary_key

    with engine.connect() as connection:
        rows = _defaulted_rows(connection)
    checks.equal("rows", [row[1:] for row in rows], [(7, "server")])
    checks.equal("inserted_primary_key", tuple(key), tuple(row[0] for row in rows))
    sent = [sql for sql in capture.sql() if sql.upper().startswith("INSERT")]
    checks.that("empty INSERT form", len(sent) == 1 and spelling in sent[0], got=sent, expected=spelling)


@behaviour("insert.empty-executemany", doc="tutorial/data_insert.html#tutorial-core-insert-values-clause")
@pytest.mark.usefixtures("seeded")
def test_insert_of_empty_parameter_sets_inserts_a_row_of_defaults_each(engine, capture, checks):
    """An INSERT executed with a list of three empty parameter sets inserts three rows of defaults, each with
    its own new primary key.

    Docs: Unified Tutorial > Working with Data > Inserting Rows with Core > The VALUES clause; Core > Working
    with Engines and Connections > Sending Multiple Parameters.
    """
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(defaulted_table), [{}, {}, {}])

    with engine.connect() as connection:
        rows = _defaulted_rows(connection)
    checks.equal("rows (without ids)", [row[1:] for row in rows], [(7, "server")] * 3)
    checks.equal("distinct primary keys", len({row[0] for row in rows}), 3)


@behaviour("insert.empty-executemany-returning", doc="core/connections.html#engine-insertmanyvalues")
@pytest.mark.usefixtures("seeded")
def test_insert_returning_of_empty_parameter_sets_returns_each_row(engine, capture, checks):
    """An INSERT..RETURNING executed with three empty parameter sets (the "insertmanyvalues" path) returns the
    three new rows, one per parameter set, with their new keys and server defaults.

    Docs: Core > Working with Engines and Connections > "Insert Many Values" Behavior for INSERT statements.
    """
    statement = insert(defaulted_table).returning(
        defaulted_table.c.id, defaulted_table.c.counter, defaulted_table.c.label
    )
    with capture.observe(), engine.begin() as connection:
        returned = [tuple(row) for row in connection.execute(statement, [{}, {}, {}])]

    with engine.connect() as connection:
        rows = _defaulted_rows(connection)
    checks.equal("returned rows", sorted(returned), rows)
    checks.equal("rows (without ids)", [row[1:] for row in rows], [(7, "server")] * 3)


@behaviour("insert.from-select", doc="tutorial/data_insert.html#tutorial-insert-from-select")
@pytest.mark.usefixtures("seeded")
def test_insert_from_select_copies_the_selected_rows(engine, capture, checks):
    """``Insert.from_select(names, select)`` renders INSERT..SELECT and inserts the rows the SELECT yields, in
    one statement, with the other columns' defaults.

    Docs: Unified Tutorial > Working with Data > Inserting Rows with Core > INSERT...FROM SELECT.
    """
    statement = insert(copied_table).from_select(
        ["id", "name"], select(source_table.c.id, source_table.c.name).where(source_table.c.id >= 2)
    )
    with capture.observe(), engine.begin() as connection:
        connection.execute(statement)

    with engine.connect() as connection:
        checks.equal(
            "copied rows",
            _copied_rows(connection),
            [(2, "sandy", "copied", "abc", 5), (3, "patrick", "copied", "abc", 5)],
        )
    checks.equal("statements sent", capture.count_of("INSERT"), 1)


@behaviour("insert.from-select-returning", doc="core/dml.html#sqlalchemy.sql.expression.Insert.from_select")
@pytest.mark.usefixtures("seeded")
def test_insert_from_select_returning_returns_the_inserted_rows(engine, capture, checks):
    """INSERT..FROM SELECT with ``returning()`` returns one row per inserted row, with the values the SELECT
    gave and the defaults (Python-side and server-side) the columns received.

    Docs: SQL Statements and Expressions API > Insert, Updates, Deletes > ``Insert.from_select()``,
    ``UpdateBase.returning()``.
    """
    statement = (
        insert(copied_table)
        .from_select(["id", "name"], select(source_table.c.id, source_table.c.name))
        .returning(copied_table.c.id, copied_table.c.name, copied_table.c.origin, copied_table.c.counter)
    )
    with capture.observe(), engine.begin() as connection:
        returned = sorted(tuple(row) for row in connection.execute(statement))

    checks.equal(
        "returned rows",
        returned,
        [(1, "spongebob", "copied", 5), (2, "sandy", "copied", 5), (3, "patrick", "copied", 5)],
    )


@behaviour("insert.from-select-include-defaults", doc="core/dml.html#sqlalchemy.sql.expression.Insert.from_select")
@pytest.mark.usefixtures("seeded")
def test_insert_from_select_renders_python_defaults_unless_told_not_to(engine, capture, checks):
    """``from_select(..., include_defaults=True)`` (the default) renders the columns' non-server defaults, scalar
    values and SQL expressions, into the INSERT and its SELECT; with ``include_defaults=False`` they are left
    out, so those columns are NULL (no server default) while server defaults still apply.

    Docs: SQL Statements and Expressions API > Insert, Updates, Deletes > ``Insert.from_select()``,
    ``include_defaults``.
    """
    names = select(source_table.c.id, source_table.c.name).where(source_table.c.id == 1)
    without = select((source_table.c.id + 10).label("id"), source_table.c.name).where(source_table.c.id == 1)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(copied_table).from_select(["id", "name"], names))
        connection.execute(insert(copied_table).from_select(["id", "name"], without, include_defaults=False))

    with engine.connect() as connection:
        checks.equal(
            "rows",
            _copied_rows(connection),
            [(1, "spongebob", "copied", "abc", 5), (11, "spongebob", None, None, 5)],
        )
    first = capture.sql()[0] if capture.sql() else ""
    checks.that(
        "defaults rendered into the first INSERT",
        "origin" in first and "code" in first,
        got=first,
        expected="INSERT INTO insf_copied (id, name, origin, code) SELECT ...",
    )
