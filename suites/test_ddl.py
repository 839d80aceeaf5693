"""Metadata and DDL: what ``create_all`` / ``drop_all`` emit for a declared schema, and what the database enforces."""

import re

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from fixtures.plugin import behaviour

ORDER_CHAIN = ("ddl_customer", "ddl_order", "ddl_line")


def order_chain() -> MetaData:
    """Three tables chained by foreign keys (line -> order -> customer), declared in neither FK nor name order."""
    metadata = MetaData()
    Table(
        "ddl_line",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("order_id", ForeignKey("ddl_order.id"), nullable=False),
    )
    Table(
        "ddl_order",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("customer_id", ForeignKey("ddl_customer.id"), nullable=False),
    )
    Table("ddl_customer", metadata, Column("id", Integer, primary_key=True))
    return metadata


def ddl(capture, verb: str) -> list[str]:
    """The observed statements that start with a DDL verb such as ``CREATE`` or ``DROP TABLE``."""
    return [sql for sql in capture.sql() if sql.lstrip().upper().startswith(verb.upper())]


def table_named(statement: str) -> str:
    """The table a ``CREATE TABLE name (...`` or ``DROP TABLE name`` statement names, unquoted."""
    return statement.split()[2].strip('`"[]')


def existing(engine, names) -> list[str]:
    return sorted(set(inspect(engine).get_table_names()) & set(names))


def create_observed(engine, make_tables, capture, metadata: MetaData) -> None:
    """Emit the CREATE statements inside the observed window; ``make_tables`` drops the tables after the test.

    ``checkfirst=False`` because the scratch database starts without these tables, and MySQL's existence check
    (DESCRIBE of a missing table) raises an error that SQLAlchemy handles but the capture would record.
    """
    try:
        with capture.observe():
            metadata.create_all(engine, checkfirst=False)
    except Exception:
        metadata.drop_all(engine)  # whatever was created before the failure
        raise
    make_tables(metadata)  # the tables exist already: this only registers them to be dropped


def column_values(engine, column) -> list:
    with engine.connect() as connection:
        return connection.scalars(select(column).order_by(column)).all()


@behaviour("ddl.create-drop-order-by-foreign-keys", doc="core/metadata.html#creating-and-dropping-database-tables")
def test_create_all_and_drop_all_follow_foreign_key_order(engine, make_tables, capture, checks):
    """``MetaData.create_all()`` creates a referenced table before the tables that refer to it, and
    ``MetaData.drop_all()`` drops them in the reverse order, whatever order the tables were declared in.

    Docs: Core > Schema Definition > Describing Databases with MetaData > Creating and Dropping Database Tables.
    """
    metadata = order_chain()
    create_observed(engine, make_tables, capture, metadata)
    created = existing(engine, ORDER_CHAIN)
    with capture.observe():
        metadata.drop_all(engine)
    remaining = existing(engine, ORDER_CHAIN)

    creation_order = [table_named(sql) for sql in ddl(capture, "CREATE TABLE")]
    drop_order = [table_named(sql) for sql in ddl(capture, "DROP TABLE")]
    checks.equal("CREATE TABLE order", creation_order, list(ORDER_CHAIN))
    checks.equal("DROP TABLE order", drop_order, list(reversed(ORDER_CHAIN)))
    checks.equal("tables after create_all", created, sorted(ORDER_CHAIN))
    checks.equal("tables after drop_all", remaining, [])


@behaviour("ddl.create-all-checkfirst", doc="core/metadata.html#sqlalchemy.schema.MetaData.create_all")
def test_create_all_checks_first_and_skips_existing_tables(engine, make_tables, capture, checks):
    """``MetaData.create_all()`` checks for each table first (``checkfirst=True``), so a second call emits no
    CREATE; with ``checkfirst=False`` it emits CREATE TABLE anyway and the database refuses the existing table.

    Docs: Core > Schema Definition > ``MetaData.create_all()`` (``checkfirst``).
    """
    metadata = make_tables(order_chain())
    with capture.observe():
        metadata.create_all(engine)
    checking_round_trips = capture.measure("round trips of the checking create_all", capture.round_trips)
    creates_when_checking = capture.measure("CREATE statements when checking", len(ddl(capture, "CREATE")))

    with pytest.raises(DBAPIError), capture.observe():
        metadata.create_all(engine, checkfirst=False)

    assert creates_when_checking == 0
    assert checking_round_trips >= 1
    checks.equal("CREATE statements without checking", len(ddl(capture, "CREATE TABLE")), 1)
    assert capture.exception is not None and capture.exception["dbapi"] is not None
    checks.equal("tables after both calls", existing(engine, ORDER_CHAIN), sorted(ORDER_CHAIN))


@behaviour("ddl.string-without-length", doc="core/type_basics.html#sqlalchemy.types.String.params.length")
def test_string_without_length_creates_an_unbounded_varchar(engine, make_tables, capture, checks):
    """A ``String`` column declared without a length is created as ``VARCHAR`` with no length, and the
    database stores a 2,000-character value in it unchanged.

    Docs: Core > SQL Datatype Objects > ``String.length`` ("may be safely omitted if no CREATE TABLE will be
    issued; certain databases may require a length for use in DDL").
    """
    notes = Table("ddl_note", MetaData(), Column("id", Integer, primary_key=True), Column("body", String))
    long_text = "sandy " * 333 + "ok"
    create_observed(engine, make_tables, capture, notes.metadata)
    create = capture.measure("CREATE TABLE", ddl(capture, "CREATE TABLE"))
    with engine.begin() as connection:
        connection.execute(insert(notes), {"body": long_text})

    checks.equal("CREATE TABLE has body VARCHAR without length", ["body VARCHAR," in sql for sql in create], [True])
    stored = column_values(engine, notes.c.body)
    checks.equal("stored lengths", [len(value) for value in stored], [len(long_text)])
    checks.equal("stored value unchanged", stored == [long_text], True)


def ticket_table(status_type) -> Table:
    return Table(
        "ddl_ticket",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("status", status_type, nullable=False),
    )


def insert_raw_status(engine, capture, status: str) -> str | None:
    """Insert a status through plain SQL text (no Python-side Enum check); return the error class or None."""
    try:
        with capture.observe(), engine.begin() as connection:
            connection.execute(text("INSERT INTO ddl_ticket (status) VALUES (:status)"), {"status": status})
    except DBAPIError as error:
        return type(error).__name__
    return None


def stored_statuses(engine) -> list[str]:
    """The statuses stored, read as text: an Enum column refuses to load a value outside it."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT status FROM ddl_ticket ORDER BY id")).scalars().all()


@behaviour("ddl.enum-native-type", doc="core/type_basics.html#sqlalchemy.types.Enum")
def test_enum_uses_the_native_type_and_the_database_rejects_other_values(engine, make_tables, capture, checks):
    """An ``Enum`` column is created with the backend's native enumerated type (PostgreSQL ``CREATE TYPE ... AS
    ENUM``, MySQL ``ENUM(...)``) that names the allowed values, not a VARCHAR and no CHECK constraint: the
    database's catalog reports an enumerated column with those values and the database itself rejects any other.

    Docs: Core > SQL Datatype Objects > ``Enum`` ("will make use of the backend's native ENUM type if one is
    available; otherwise, it uses a VARCHAR datatype"; ``create_constraint`` defaults to False since 1.4).
    """
    tickets = ticket_table(Enum("open", "closed", name="ddl_ticket_status"))
    create_observed(engine, make_tables, capture, tickets.metadata)
    create = capture.measure("DDL", ddl(capture, "CREATE"))
    accepted = insert_raw_status(engine, capture, "open")
    rejected = insert_raw_status(engine, capture, "lost")
    reflected = {column["name"]: column["type"] for column in inspect(engine).get_columns("ddl_ticket")}["status"]
    reflected_values = list(reflected.enums) if isinstance(reflected, Enum) else None
    status_ddl = [match.group(0) for sql in create if (match := re.search(r"\bstatus [A-Za-z_]+", sql))]

    checks.equal("DDL with a CHECK constraint", [sql for sql in create if "CHECK" in sql.upper()], [])
    checks.that(
        "status column type is not a string",
        len(status_ddl) == 1 and not status_ddl[0].upper().endswith(("CHAR", "TEXT")),
        got=status_ddl,
        expected="one status column of a native enumerated type",
    )
    checks.equal("reflected enumerated values", reflected_values, ["open", "closed"])
    checks.equal("error for an allowed value", accepted, None)
    checks.that("error for a value outside the enum", rejected is not None, got=rejected, expected="an error")
    checks.equal("stored statuses", stored_statuses(engine), ["open"])


@behaviour("ddl.enum-check-constraint", doc="core/type_basics.html#sqlalchemy.types.Enum.params.create_constraint")
def test_non_native_enum_with_create_constraint_gets_a_check(engine, make_tables, capture, checks):
    """``Enum(..., native_enum=False, create_constraint=True)`` is created as ``VARCHAR`` plus a CHECK constraint
    listing the allowed values, and the database rejects any other value.

    Docs: Core > SQL Datatype Objects > ``Enum.native_enum``, ``Enum.create_constraint``.
    """
    status = Enum("open", "closed", name="ddl_ticket_status_check", native_enum=False, create_constraint=True)
    tickets = ticket_table(status)
    create_observed(engine, make_tables, capture, tickets.metadata)
    create = capture.measure("CREATE TABLE", ddl(capture, "CREATE TABLE"))
    accepted = insert_raw_status(engine, capture, "open")
    rejected = insert_raw_status(engine, capture, "lost")

    checks.equal(
        "CREATE TABLE has VARCHAR(6) and the CHECK",
        ["status VARCHAR(6) NOT NULL" in sql and "CHECK (status IN ('open', 'closed'))" in sql for sql in create],
        [True],
    )
    checks.equal("error for an allowed value", accepted, None)
    checks.that("error for a value outside the enum", rejected is not None, got=rejected, expected="an error")
    checks.equal("stored statuses", stored_statuses(engine), ["open"])


@behaviour("ddl.server-default-applied", doc="core/defaults.html#server-invoked-ddl-explicit-default-expressions")
def test_server_defaults_are_rendered_in_ddl_and_applied_by_the_database(engine, make_tables, capture, checks):
    """``server_default`` values (a string, a SQL text, ``func.current_timestamp()``) are rendered as DEFAULT in
    CREATE TABLE; an INSERT that leaves those columns out gets the values from the database.

    Docs: Core > Column INSERT/UPDATE Defaults > Server-invoked DDL-Explicit Default Expressions.
    """
    stock = Table(
        "ddl_stock",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(20), nullable=False),
        Column("label", String(20), server_default="fresh"),
        Column("quantity", Integer, server_default=text("7")),
        Column("created", DateTime, server_default=func.current_timestamp()),
    )
    create_observed(engine, make_tables, capture, stock.metadata)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(stock), {"name": "widget"})
    with engine.connect() as connection:
        label, quantity, created = connection.execute(select(stock.c.label, stock.c.quantity, stock.c.created)).one()

    create = capture.measure("CREATE TABLE", ddl(capture, "CREATE TABLE"))
    inserted = capture.measure("INSERT", ddl(capture, "INSERT"))
    assert create[0].count(" DEFAULT ") == 3
    assert len(inserted) == 1
    assert not any(name in inserted[0].split("VALUES")[0] for name in ("label", "quantity", "created"))
    checks.equal("stored label", label, "fresh")
    checks.equal("stored quantity", quantity, 7)
    checks.equal("stored created", None if created is None else "a timestamp", "a timestamp")


@behaviour("ddl.autoincrement-integer-pk", doc="core/metadata.html#sqlalchemy.schema.Column.params.autoincrement")
def test_integer_primary_key_is_generated_by_the_database(engine, make_tables, capture, checks):
    """A single-column ``Integer`` primary key with no default gets autoincrement semantics
    (``autoincrement="auto"``): rows inserted without an id get increasing ids from the database, and
    ``inserted_primary_key`` reports each one.

    Docs: Core > Schema Definition > ``Column.autoincrement``.
    """
    counters = Table("ddl_counter", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(20)))
    create_observed(engine, make_tables, capture, counters.metadata)
    with capture.observe(), engine.begin() as connection:
        reported = [connection.execute(insert(counters), {"name": name}).inserted_primary_key[0] for name in "abc"]

    capture.measure("CREATE TABLE", ddl(capture, "CREATE TABLE"))
    inserted = ddl(capture, "INSERT")
    assert len(inserted) == 3 and not any("id" in sql.split("VALUES")[0].split("(", 1)[1] for sql in inserted)
    stored = capture.measure("stored ids", column_values(engine, counters.c.id))
    checks.equal("inserted_primary_key values", reported, stored)
    assert len(set(stored)) == 3 and stored == sorted(stored)


@behaviour("ddl.identity-column", doc="core/defaults.html#identity-ddl")
def test_identity_renders_generated_as_identity(engine, make_tables, capture, checks):
    """``Column(Integer, Identity(start=10, increment=5), primary_key=True)`` is created as
    ``GENERATED BY DEFAULT AS IDENTITY (START WITH 10 INCREMENT BY 5)`` (in either option order), and the
    database numbers new rows 10, 15.

    Docs: Core > Column INSERT/UPDATE Defaults > Identity Columns (GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY).
    """
    tokens = Table(
        "ddl_token",
        MetaData(),
        Column("id", Integer, Identity(start=10, increment=5), primary_key=True),
        Column("name", String(20)),
    )
    create_observed(engine, make_tables, capture, tokens.metadata)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(tokens), {"name": "first"})
        connection.execute(insert(tokens), {"name": "second"})

    create = capture.measure("CREATE TABLE", ddl(capture, "CREATE TABLE"))
    identity = create[0].split("GENERATED BY DEFAULT AS IDENTITY", 1)
    options = identity[1].split(")", 1)[0] if len(identity) == 2 else None
    checks.that(
        "identity clause",
        options is not None and "START WITH 10" in options and "INCREMENT BY 5" in options,
        got=None if options is None else "GENERATED BY DEFAULT AS IDENTITY" + options + ")",
        expected="GENERATED BY DEFAULT AS IDENTITY (START WITH 10 INCREMENT BY 5)",
    )
    checks.equal("stored ids", column_values(engine, tokens.c.id), [10, 15])


@behaviour("ddl.sequence", doc="core/defaults.html#defining-sequences")
def test_sequence_is_created_and_feeds_the_column(engine, make_tables, capture, checks):
    """A ``Sequence("...", start=100)`` on a column is created by ``create_all`` (CREATE SEQUENCE), gives inserted
    rows 100 and 101, and ``sequence.next_value()`` then returns 102.

    Docs: Core > Column INSERT/UPDATE Defaults > Defining Sequences.
    """
    ticket_number = Sequence("ddl_ticket_number_seq", start=100)
    tickets = Table(
        "ddl_numbered",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("number", Integer, ticket_number),
        Column("name", String(20)),
    )
    create_observed(engine, make_tables, capture, tickets.metadata)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(tickets), [{"name": "first"}, {"name": "second"}])
        following = connection.scalar(ticket_number.next_value())

    created_sequences = capture.measure("CREATE SEQUENCE", ddl(capture, "CREATE SEQUENCE"))
    assert len(created_sequences) == 1 and "ddl_ticket_number_seq" in created_sequences[0]
    checks.equal("stored numbers", column_values(engine, tickets.c.number), [100, 101])
    checks.equal("next_value() afterwards", following, 102)
