"""Engine and results: connecting, sending textual SQL with bound parameters, and reading rows, keys and counts back."""

import pytest
from sqlalchemy import bindparam, event, exc, insert, select, text

from fixtures.models import item_table, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")

# How PEP 249 paramstyles write the placeholder of a parameter (by name or by 1-based position).
PLACEHOLDERS = {
    "qmark": "?",
    "numeric": ":{position}",
    "named": ":{name}",
    "format": "%s",
    "pyformat": "%({name})s",
    "numeric_dollar": "${position}",
}


def seed_items(engine, quantities: dict[str, int]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": name, "quantity": n} for name, n in quantities.items()])


def seed_users(engine, names: list[str]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(user_table), [{"name": name, "fullname": name.title()} for name in names])


def item_rows(engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        statement = select(item_table.c.name, item_table.c.quantity).order_by(item_table.c.name)
        return [tuple(row) for row in connection.execute(statement)]


def ids_by_name(engine, table) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: id_ for name, id_ in connection.execute(select(table.c.name, table.c.id))}


def with_placeholders(sql: str, names: list[str], paramstyle: str) -> str:
    """``sql`` with each ``:name`` replaced by the placeholder ``paramstyle`` writes for it."""
    for position, name in enumerate(names, start=1):
        sql = sql.replace(f":{name}", PLACEHOLDERS[paramstyle].format(name=name, position=position))
    return sql


@behaviour("engine.lazy-connect", doc="tutorial/engine.html#establishing-connectivity-the-engine")
def test_create_engine_opens_no_connection_until_first_use(make_engine, capture, checks):
    """``create_engine()`` does not connect: the first DBAPI connection is opened when the engine is first used.

    Docs: Unified Tutorial > Establishing Connectivity - the Engine ("Lazy Connecting").
    """
    opened = []
    with capture.observe():
        lazy = make_engine()
        event.listen(lazy, "connect", lambda dbapi_connection, record: opened.append(dbapi_connection))
        capture.measure("pool before first use", lazy.pool.status())
        with lazy.connect() as connection:
            value = connection.execute(select(1)).scalar_one()

    # A connection opened (and pooled) by create_engine() itself would be reused: no "connect" event at first use.
    checks.equal("connections opened by the first connect()", len(opened), 1)
    checks.equal("events", capture.kinds(), ["begin", "execute", "rollback"])
    assert value == 1


@behaviour("engine.text-named-parameters-paramstyle", doc="tutorial/dbapi_transactions.html#sending-parameters")
def test_text_named_parameters_are_sent_in_the_dialect_paramstyle(engine, capture, checks, target_facts):
    """``text()`` with named ``:name`` parameters is sent to the DBAPI with each parameter rewritten into the
    driver's documented paramstyle (``?``, ``%s``, ``%(name)s``, ``$1`` ...: the target fact ``paramstyle``),
    and the values select the right rows.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Sending Parameters; Core > SQL Statements
    and Expressions API > ``text()``.
    """
    seed_items(engine, {"apple": 1, "pear": 5, "plum": 7, "quince": 12})
    sql = "SELECT name FROM item WHERE quantity >= :low AND quantity < :high ORDER BY name"

    with capture.observe(), engine.connect() as connection:
        names = connection.scalars(text(sql), {"low": 5, "high": 12}).all()

    paramstyle = target_facts["paramstyle"]
    checks.equal("dialect.paramstyle", engine.dialect.paramstyle, paramstyle)
    checks.equal("statements sent", capture.sql(), [with_placeholders(sql, ["low", "high"], paramstyle)])
    checks.equal("names selected", names, ["pear", "plum"])


@behaviour("engine.text-bindparams", doc="core/sqlelement.html#sqlalchemy.sql.expression.TextClause.bindparams")
def test_text_bindparams_bundles_the_values_with_the_statement(engine, capture, checks, target_facts):
    """``text(...).bindparams(y=6)`` bundles the parameter value into the statement: executing it with no
    parameters sends the value as a bound parameter (a placeholder, not a literal) and selects the right rows.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Executing with an ORM Session
    (``text(...).bindparams()``); Core > ``TextClause.bindparams()``.
    """
    seed_items(engine, {"apple": 1, "pear": 6, "plum": 8, "quince": 10})
    statement = text("SELECT name FROM item WHERE quantity > :y ORDER BY quantity").bindparams(y=6)

    with capture.observe(), engine.connect() as connection:
        names = connection.scalars(statement).all()

    sent = capture.measure("statements", capture.sql())
    placeholder = capture.measure("placeholder", with_placeholders(":y", ["y"], target_facts["paramstyle"]))
    assert len(sent) == 1
    assert sent[0].startswith(f"SELECT name FROM item WHERE quantity > {placeholder}")  # a driver may add a cast
    assert "6" not in sent[0]
    checks.equal("names selected", names, ["plum", "quince"])


@behaviour("engine.text-expanding-in", doc="core/sqlelement.html#sqlalchemy.sql.expression.bindparam.params.expanding")
def test_expanding_bindparam_renders_one_placeholder_per_list_item(engine, capture, checks, target_facts):
    """A ``bindparam(..., expanding=True)`` in ``text("... IN :names")`` is rendered at execution time as a
    parenthesised list with one bound placeholder per item of the list passed, and matches those rows.

    Docs: Core > Column Elements and Expressions > ``bindparam()`` (``expanding``); Core > ``TextClause.bindparams()``.
    """
    seed_items(engine, {"apple": 1, "pear": 2, "plum": 3, "quince": 4})
    statement = text("SELECT name FROM item WHERE name IN :names ORDER BY name").bindparams(
        bindparam("names", expanding=True)
    )

    with capture.observe(), engine.connect() as connection:
        names = connection.scalars(statement, {"names": ["plum", "apple", "fig"]}).all()

    placeholders = [f"names_{n}" for n in (1, 2, 3)]
    expected = "SELECT name FROM item WHERE name IN ({}) ORDER BY name".format(", ".join(f":{p}" for p in placeholders))
    sent = [with_placeholders(expected, placeholders, target_facts["paramstyle"])]
    checks.equal("statements sent", capture.sql(), sent)
    checks.equal("names selected", names, ["apple", "plum"])


@behaviour("engine.row-attribute-index-tuple", doc="tutorial/dbapi_transactions.html#fetching-rows")
def test_row_is_read_by_attribute_by_index_and_as_a_tuple(engine, capture, checks):
    """A ``Row`` acts like a named tuple: its values are read by column name as attributes, by integer index,
    by unpacking, and its ``_mapping`` is keyed by column name.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Fetching Rows.
    """
    seed_users(engine, ["sandy"])

    with capture.observe(), engine.connect() as connection:
        row = connection.execute(select(user_table.c.name, user_table.c.fullname)).one()

    name, fullname = row
    capture.measure("row", repr(row))
    assert capture.count_of("SELECT") == 1
    assert (row.name, row.fullname) == ("sandy", "Sandy")
    assert (row[0], row[1], row[-1]) == ("sandy", "Sandy", "Sandy")
    assert (name, fullname) == ("sandy", "Sandy")
    assert tuple(row) == ("sandy", "Sandy")
    checks.equal("row._mapping", dict(row._mapping), {"name": "sandy", "fullname": "Sandy"})


@behaviour("engine.result-mappings", doc="tutorial/dbapi_transactions.html#fetching-rows")
def test_result_mappings_gives_dictionaries_keyed_by_column(engine, capture, checks):
    """``Result.mappings()`` yields read-only dictionaries (``RowMapping``) keyed by column name and by the
    ``Column`` object, one per row, in the order of the query.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Fetching Rows (Dictionary Access);
    Core > ``Result.mappings()``.
    """
    seed_users(engine, ["sandy", "patrick"])
    statement = select(user_table.c.name, user_table.c.fullname).order_by(user_table.c.name)

    with capture.observe(), engine.connect() as connection:
        mappings = connection.execute(statement).mappings().all()

    assert capture.count_of("SELECT") == 1
    checks.equal(
        "mappings",
        [dict(mapping) for mapping in mappings],
        [
            {"name": "patrick", "fullname": "Patrick"},
            {"name": "sandy", "fullname": "Sandy"},
        ],
    )
    assert [mapping[user_table.c.name] for mapping in mappings] == ["patrick", "sandy"]
    assert list(mappings[0].keys()) == ["name", "fullname"]
    with pytest.raises(TypeError):
        mappings[0]["name"] = "squidward"


@behaviour("engine.result-first", doc="core/connections.html#sqlalchemy.engine.Result.first")
def test_result_first_returns_the_first_row_and_closes_the_result(engine, capture, checks):
    """``Result.first()`` returns the first row, discards the rest and closes the result (a further fetch
    raises ``ResourceClosedError``); on an empty result it returns ``None``.

    Docs: Core > Working with Engines and Connections > ``Result.first()``.
    """
    seed_users(engine, ["sandy", "patrick", "squidward"])
    names = select(user_table.c.name).order_by(user_table.c.name)

    with capture.observe(), engine.connect() as connection:
        result = connection.execute(names)
        first = result.first()
        with pytest.raises(exc.ResourceClosedError) as raised:
            result.fetchone()
        nothing = connection.execute(names.where(user_table.c.name == "nobody")).first()

    capture.measure("fetch after first() raises", type(raised.value).__name__)
    assert capture.count_of("SELECT") == 2
    checks.equal("first()", tuple(first), ("patrick",))
    checks.same("first() of no rows", nothing, None)


@behaviour("engine.result-one-strict", doc="core/connections.html#sqlalchemy.engine.Result.one")
def test_result_one_and_one_or_none_insist_on_a_single_row(engine, capture, checks):
    """``Result.one()`` returns the only row and raises ``NoResultFound`` for none and ``MultipleResultsFound``
    for several; ``Result.one_or_none()`` returns ``None`` for none and also raises ``MultipleResultsFound``.

    Docs: Core > Working with Engines and Connections > ``Result.one()``, ``Result.one_or_none()``.
    """
    seed_users(engine, ["sandy", "patrick"])
    by_name = select(user_table.c.name).order_by(user_table.c.name)
    raised = {}

    with capture.observe(), engine.connect() as connection:
        only = connection.execute(by_name.where(user_table.c.name == "sandy")).one()
        for method, clause in (("one", "nobody"), ("one", "many"), ("one_or_none", "many")):
            statement = by_name if clause == "many" else by_name.where(user_table.c.name == clause)
            try:
                getattr(connection.execute(statement), method)()
            except (exc.NoResultFound, exc.MultipleResultsFound) as error:
                raised[f"{method}() of {clause}"] = type(error).__name__
        none = connection.execute(by_name.where(user_table.c.name == "nobody")).one_or_none()

    assert capture.count_of("SELECT") == 5
    assert tuple(only) == ("sandy",)
    checks.same("one_or_none() of no rows", none, None)
    checks.equal(
        "raised",
        raised,
        {
            "one() of nobody": "NoResultFound",
            "one() of many": "MultipleResultsFound",
            "one_or_none() of many": "MultipleResultsFound",
        },
    )


@behaviour("engine.result-scalars", doc="core/connections.html#sqlalchemy.engine.Result.scalars")
def test_scalar_one_and_scalars_return_plain_values(engine, capture, checks):
    """``Result.scalar_one()`` returns the first column of the only row; ``Result.scalars()`` yields the
    first column (or the column at the index given) of every row as plain values.

    Docs: Core > Working with Engines and Connections > ``Result.scalar_one()``, ``Result.scalars()``,
    ``Connection.scalars()``.
    """
    seed_users(engine, ["sandy", "patrick", "squidward"])
    names_and_fullnames = select(user_table.c.name, user_table.c.fullname).order_by(user_table.c.name)

    with capture.observe(), engine.connect() as connection:
        sandy = connection.execute(select(user_table.c.fullname).where(user_table.c.name == "sandy")).scalar_one()
        names = connection.execute(names_and_fullnames).scalars().all()
        fullnames = connection.execute(names_and_fullnames).scalars(1).all()
        via_connection = connection.scalars(names_and_fullnames).all()

    assert capture.count_of("SELECT") == 4
    checks.equal("scalar_one()", sandy, "Sandy")
    checks.equal("scalars()", names, ["patrick", "sandy", "squidward"])
    checks.equal("scalars(1)", fullnames, ["Patrick", "Sandy", "Squidward"])
    assert via_connection == names


@behaviour("engine.result-fetchmany", doc="core/connections.html#sqlalchemy.engine.Result.fetchmany")
def test_fetchmany_returns_at_most_size_rows_until_exhausted(engine, capture, checks):
    """``Result.fetchmany(2)`` over five rows returns 2, 2, then 1 row, then an empty list.

    Docs: Core > Working with Engines and Connections > ``Result.fetchmany()``.
    """
    seed_items(engine, {f"item-{n}": n for n in range(1, 6)})

    with capture.observe(), engine.connect() as connection:
        result = connection.execute(select(item_table.c.quantity).order_by(item_table.c.quantity))
        batches = [[value for (value,) in result.fetchmany(2)] for _ in range(4)]

    assert capture.count_of("SELECT") == 1
    checks.equal("fetchmany(2) batches", batches, [[1, 2], [3, 4], [5], []])


@behaviour("engine.result-partitions", doc="core/connections.html#sqlalchemy.engine.Result.partitions")
def test_partitions_yields_lists_of_the_given_size(engine, capture, checks):
    """``Result.partitions(2)`` over five rows yields lists of 2, 2 and 1 rows, in order, from one statement.

    Docs: Core > Working with Engines and Connections > ``Result.partitions()``.
    """
    seed_items(engine, {f"item-{n}": n for n in range(1, 6)})

    with capture.observe(), engine.connect() as connection:
        result = connection.execute(select(item_table.c.quantity).order_by(item_table.c.quantity))
        partitions = [[value for (value,) in partition] for partition in result.partitions(2)]

    assert capture.count_of("SELECT") == 1
    checks.equal("partitions(2)", partitions, [[1, 2], [3, 4], [5]])


@behaviour("engine.inserted-primary-key", doc="tutorial/data_insert.html#executing-the-statement")
def test_inserted_primary_key_is_the_new_rows_key(engine, capture, checks):
    """After a single-row ``insert()``, ``CursorResult.inserted_primary_key`` is a tuple holding the
    primary key the database generated for the new row.

    Docs: Unified Tutorial > Using INSERT Statements > Executing the Statement.
    """
    keys = {}
    with capture.observe(), engine.begin() as connection:
        for name in ("spongebob", "sandy"):
            result = connection.execute(insert(user_table).values(name=name, fullname=name.title()))
            keys[name] = tuple(result.inserted_primary_key)

    assert capture.count_of("INSERT") == 2
    stored = {name: (key,) for name, key in ids_by_name(engine, user_table).items()}
    checks.equal("inserted_primary_key", keys, stored)
    assert keys["spongebob"] != keys["sandy"]


@behaviour(
    "engine.text-update-delete-rowcount", doc="tutorial/data_update.html#getting-affected-row-count-from-update-delete"
)
def test_text_update_and_delete_rowcount_counts_matched_rows(engine, capture, checks):
    """``CursorResult.rowcount`` of a textual ``UPDATE`` is the number of rows its WHERE clause matched,
    including rows it left unchanged, and of a textual ``DELETE`` the number of rows deleted.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Getting Affected Row Count from UPDATE, DELETE;
    MySQL dialect > Rowcount Support (SQLAlchemy connects with the ``CLIENT_FOUND_ROWS`` flag).
    """
    seed_items(engine, {"apple": 7, "pear": 7, "plum": 3, "quince": 20})

    with capture.observe(), engine.begin() as connection:
        updated = connection.execute(
            text("UPDATE item SET quantity = :new WHERE quantity < :limit"), {"new": 7, "limit": 10}
        )
        update_rowcount = updated.rowcount
        deleted = connection.execute(text("DELETE FROM item WHERE quantity = :gone"), {"gone": 7})
        delete_rowcount = deleted.rowcount

    assert (capture.count_of("UPDATE"), capture.count_of("DELETE")) == (1, 1)
    checks.equal("UPDATE rowcount (3 matched, 1 changed)", update_rowcount, 3)
    checks.equal("DELETE rowcount", delete_rowcount, 3)
    checks.equal("rows after the block", item_rows(engine), [("quince", 20)])


@behaviour(
    "engine.preserve-rowcount-executemany-insert",
    doc="core/connections.html#sqlalchemy.engine.Connection.execution_options.params.preserve_rowcount",
    requires="2.0.28",
)
def test_preserve_rowcount_gives_the_rowcount_of_a_many_row_insert(make_engine, engine, capture, checks):
    """With the ``preserve_rowcount=True`` execution option, an ``insert()`` executed with a list of 10
    parameter sets on an engine with ``insertmanyvalues_page_size=4`` reports ``CursorResult.rowcount`` == 10,
    whether it ran as ``cursor.executemany()`` or as several "insertmanyvalues" batches.

    Docs: Core > Working with Engines and Connections > ``Connection.execution_options.preserve_rowcount``
    (new in 2.0.28); "Insert Many Values" Behavior for INSERT statements.
    """
    paged = make_engine(insertmanyvalues_page_size=4)
    rows = [{"name": f"item-{n:02d}", "quantity": n} for n in range(10)]

    with capture.observe(), paged.begin() as connection:
        result = connection.execution_options(preserve_rowcount=True).execute(insert(item_table), rows)
        rowcount = result.rowcount

    capture.measure("dbapi calls", [(call.kind, call.parameter_sets) for call in capture.cursor_executions])
    checks.that(
        "INSERT statements", capture.count_of("INSERT") >= 1, got=capture.count_of("INSERT"), expected="1 or more"
    )
    checks.equal("rows after the block", len(item_rows(engine)), 10)
    checks.equal("rowcount", rowcount, 10)


@behaviour("engine.lastrowid", doc="core/connections.html#sqlalchemy.engine.CursorResult.lastrowid")
def test_lastrowid_is_the_new_rows_integer_key(engine, capture, checks):
    """After a single-row ``insert()`` into a table with an autoincrementing integer key,
    ``CursorResult.lastrowid`` (the DBAPI cursor's ``lastrowid``) is the key of the new row.

    Docs: Core > Working with Engines and Connections > ``CursorResult.lastrowid`` (DBAPI-specific; "its
    behavior is not consistent across backends"); PEP 249 ``Cursor.lastrowid``.
    """
    with capture.observe(), engine.begin() as connection:
        result = connection.execute(insert(item_table).values(name="widget"))
        primary_key = tuple(result.inserted_primary_key)
        lastrowid = None
        with checks.catch() as reading:
            lastrowid = result.lastrowid

    stored_id = capture.measure("stored id", ids_by_name(engine, item_table)["widget"])
    checks.equal("INSERT statements", capture.count_of("INSERT"), 1)
    checks.equal("inserted_primary_key", primary_key, (stored_id,))
    checks.equal("error reading lastrowid", reading.exception_class, None)
    checks.equal("lastrowid", lastrowid, stored_id)
