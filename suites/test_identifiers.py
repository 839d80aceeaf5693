"""Awkward identifiers: names that must be quoted (reserved words, mixed case, spaces), percent signs and colons
in table and column names, non-ASCII names, and names longer than the database allows (naming-convention
truncation, explicit names over the limit, generated labels).

Each behaviour creates, uses and drops its own table: the CREATE TABLE is part of what is checked.
"""

import pytest
from sqlalchemy import (
    LABEL_STYLE_TABLENAME_PLUS_COL,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    update,
)

from fixtures.plugin import behaviour

TABLE_DOC = "core/metadata.html#sqlalchemy.schema.Table"


@pytest.fixture
def own_metadata():
    """A fresh MetaData for the behaviour's own table (``make_tables`` creates it and drops it afterwards)."""
    return MetaData()


def crud_round_trip(engine, capture, checks, table, key, value):
    """INSERT two rows (one statement, then executemany), SELECT with a bound WHERE, UPDATE, DELETE: every
    statement names the awkward table and columns; the values must come back as written."""
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(table).values({key: 1, value: "first"}))
        connection.execute(insert(table), [{key: 2, value: "second"}, {key: 3, value: "third"}])
        selected = connection.execute(select(table.c[value]).where(table.c[key] == bindparam("wanted")), {"wanted": 2})
        found = selected.scalars().all()
        updated = connection.execute(update(table).where(table.c[key] == 3).values({value: "changed"})).rowcount
        deleted = connection.execute(delete(table).where(table.c[key] == 1)).rowcount
        left = [tuple(row) for row in connection.execute(select(table.c[key], table.c[value]).order_by(table.c[key]))]

    checks.equal("value selected by key", found, ["second"])
    checks.equal("rows updated", updated, 1)
    checks.equal("rows deleted", deleted, 1)
    checks.equal("rows left", left, [(2, "second"), (3, "changed")])


@behaviour("ident.reserved-words-quoted", doc=TABLE_DOC)
def test_reserved_words_as_names_are_quoted(engine, make_tables, own_metadata, capture, checks):
    """Table and column names that are reserved words (``order``, ``select``, ``from``) are quoted in every
    statement ("names ... will not be quoted unless they are a reserved word"), so a table so named is
    created, written, read, updated and deleted from like any other.

    Docs: Schema Definition Language > ``Table``, ``name`` (quoting of reserved words).
    """
    table = Table(
        "order",
        own_metadata,
        Column("select", Integer, primary_key=True, autoincrement=False),
        Column("from", String(20)),
    )
    make_tables(own_metadata)
    crud_round_trip(engine, capture, checks, table, "select", "from")


@behaviour("ident.mixed-case-and-spaces", doc=TABLE_DOC)
def test_mixed_case_and_space_names_are_quoted_and_kept(engine, make_tables, own_metadata, capture, checks):
    """A name with upper case characters "is considered to be case sensitive, and will be sent as quoted", as
    is a name with spaces: the table is created under exactly that name (``has_table`` finds it so spelled) and
    every statement on it works.

    Docs: Schema Definition Language > ``Table``, ``name``.
    """
    table = Table(
        "Ident Mixed Case",
        own_metadata,
        Column("Row Key", Integer, primary_key=True, autoincrement=False),
        Column("CamelValue", String(20)),
    )
    make_tables(own_metadata)
    crud_round_trip(engine, capture, checks, table, "Row Key", "CamelValue")
    with engine.connect() as connection:
        checks.equal("has_table('Ident Mixed Case')", inspect(connection).has_table("Ident Mixed Case"), True)


@behaviour("ident.percent-signs-in-names", doc=TABLE_DOC)
def test_percent_signs_in_table_and_column_names(engine, make_tables, own_metadata, capture, checks):
    """Percent signs in table and column names (``ident%pct``, ``value%(x)s``) are escaped where the driver's
    paramstyle gives them a meaning, so single and executemany INSERTs, a SELECT with a bound parameter, an
    UPDATE and a DELETE all work on such a table.

    Docs: Schema Definition Language > ``Table``, ``name`` (names with special characters are quoted).
    """
    table = Table(
        "ident%pct",
        own_metadata,
        Column("key%", Integer, primary_key=True, autoincrement=False),
        Column("value%(x)s", String(20)),
    )
    make_tables(own_metadata)
    crud_round_trip(engine, capture, checks, table, "key%", "value%(x)s")


@behaviour("ident.colons-in-names", doc=TABLE_DOC)
def test_colons_in_table_and_column_names(engine, make_tables, own_metadata, capture, checks):
    """Colons in table and column names (``ident:colon``, ``value:name``) are part of the quoted name, never
    taken for a ``:name`` bound parameter, so every statement on such a table works.

    Docs: Schema Definition Language > ``Table``, ``name`` (names with special characters are quoted).
    """
    table = Table(
        "ident:colon",
        own_metadata,
        Column("key:id", Integer, primary_key=True, autoincrement=False),
        Column("value:name", String(20)),
    )
    make_tables(own_metadata)
    crud_round_trip(engine, capture, checks, table, "key:id", "value:name")


@behaviour("ident.non-ascii-names", doc=TABLE_DOC)
def test_non_ascii_table_and_column_names(engine, make_tables, own_metadata, capture, checks):
    """Non-ASCII table and column names (``ident_tablé_ü``, ``名前``, ``größe``) are sent as they are: the table
    is usable, and reflection returns the column names unchanged.

    Docs: Schema Definition Language > ``Table``, ``name``; Reflecting Database Objects >
    ``Inspector.get_columns()``.
    """
    table = Table(
        "ident_tablé_ü",
        own_metadata,
        Column("名前", Integer, primary_key=True, autoincrement=False),
        Column("größe", String(20)),
    )
    make_tables(own_metadata)
    crud_round_trip(engine, capture, checks, table, "名前", "größe")
    with engine.connect() as connection:
        reflected = [column["name"] for column in inspect(connection).get_columns("ident_tablé_ü")]
    checks.equal("reflected column names", reflected, ["名前", "größe"])


@behaviour("ident.naming-convention-truncation", doc="core/constraints.html#truncation-of-long-names")
def test_long_generated_constraint_name_is_truncated_with_a_hash(
    engine, make_tables, own_metadata, capture, checks, target_facts
):
    """A name generated by a naming convention that is longer than the database's identifier limit is
    "deterministically truncated using a 4-character suffix based on the md5 hash of the long name": the
    documented ``long_names`` example gets ``uq_long_names_information_channel_code_billing_conventi_a79e`` on
    PostgreSQL (63 characters), and the database holds the constraint under that name.

    Docs: Schema Definition Language > Defining Constraints and Indexes > Configuring Constraint Naming
    Conventions > Truncation of Long Names.
    """
    metadata = MetaData(naming_convention={"uq": "uq_%(table_name)s_%(column_0_N_name)s"})
    Table(
        "long_names",
        metadata,
        Column("information_channel_code", Integer, key="a"),
        Column("billing_convention_name", Integer, key="b"),
        Column("product_identifier", Integer, key="c"),
        UniqueConstraint("a", "b", "c"),
    )
    expected = target_facts["long-names-unique-constraint-name"]
    # Reflected on the connection that ran the DDL: on SQLite, a pooled connection that has not yet seen another
    # connection's CREATE TABLE can answer PRAGMA index_list from its stale schema (no constraints at all).
    with capture.observe(), engine.begin() as connection:
        metadata.create_all(connection)
        reflected = [constraint["name"] for constraint in inspect(connection).get_unique_constraints("long_names")]
    make_tables(metadata)  # already there: only registers the table to be dropped afterwards

    checks.equal("unique constraint names", reflected, [expected])
    create = next((sql for sql in capture.sql() if "CREATE TABLE" in sql.upper()), "")
    checks.that("the CREATE TABLE names it", expected in create, got=create, expected=expected)


@behaviour("ident.explicit-name-over-limit", doc="core/exceptions.html#sqlalchemy.exc.IdentifierError")
def test_explicit_index_name_over_the_limit_raises_identifier_error(engine, make_tables, own_metadata, capture, checks):
    """An explicitly given index name longer than the database's identifier limit (PostgreSQL 63 characters,
    MySQL and MariaDB 64) is not truncated: creating it raises ``IdentifierError`` ("raised when a schema name
    is beyond the max character limit") before any CREATE INDEX reaches the database.

    Docs: Core Exceptions > ``IdentifierError``.
    """
    table = Table("ident_long_index", own_metadata, Column("id", Integer, primary_key=True))
    Index("ix_" + "explicit_name_" * 6, table.c.id)  # 87 characters
    with capture.observe(), checks.catch() as caught:
        make_tables(own_metadata)
    own_metadata.drop_all(engine)  # the CREATE TABLE may have been committed before the index failed

    checks.equal("exception class", caught.exception_class, "sqlalchemy.exc.IdentifierError")
    checks.equal("CREATE INDEX statements sent", capture.count_of("CREATE INDEX"), 0)


@behaviour("ident.generated-labels-truncated", doc="core/engines.html#sqlalchemy.create_engine")
def test_generated_labels_are_truncated_and_found_by_column(make_engine, make_tables, own_metadata, capture, checks):
    """Generated column labels (``table_column`` with ``LABEL_STYLE_TABLENAME_PLUS_COL``) longer than
    ``create_engine(label_length=N)`` allows "limits the size of dynamically generated column labels to that many
    characters": the SQL sent carries labels of at most N characters, and the row still gives each column's own
    value when looked up by its ``Column`` object.

    Docs: Engine Configuration > ``create_engine()``, ``label_length``; Working with Engines and Connections >
    ``Row._mapping``.
    """
    table = Table(
        "ident_measurement_readings",
        own_metadata,
        Column("instrument_identifier", Integer, primary_key=True, autoincrement=False),
        Column("instrument_calibration", String(20)),
    )
    engine = make_engine(label_length=20)
    make_tables(own_metadata)
    with engine.begin() as connection:
        connection.execute(insert(table).values(instrument_identifier=7, instrument_calibration="fresh"))
    statement = select(table).set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
    with capture.observe(), engine.connect() as connection:
        row = connection.execute(statement).one()

    checks.equal(
        "values by Column",
        [row._mapping[table.c.instrument_identifier], row._mapping[table.c.instrument_calibration]],
        [7, "fresh"],
    )
    sent = capture.sql()[0] if capture.sql() else ""
    labels = [part.split()[0].strip('"`,') for part in sent.split(" AS ")[1:]]
    checks.that(
        "labels sent at most 20 characters",
        len(labels) == 2 and all(len(label) <= 20 for label in labels),
        got=labels,
        expected="two labels of at most 20 characters",
    )
