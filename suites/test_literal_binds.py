"""Values rendered as SQL literals, type by type: ``compile(compile_kwargs={"literal_binds": True})`` and
``bindparam(..., literal_execute=True)`` against the same statement with ordinary bound parameters.

Each behaviour stores one value three ways (bound parameter; the INSERT compiled with ``literal_binds`` for the
target's dialect and run as it is; a ``literal_execute`` parameter, which SQLAlchemy renders into the SQL at
execution time), reads the three rows back through the typed column, and selects them again with the value
rendered inline in the WHERE clause. The table is created once per module and target.
"""

import datetime
import decimal

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    bindparam,
    delete,
    insert,
    select,
)

from fixtures.plugin import STATE, behaviour

FAQ_DOC = "faq/sqlexpressions.html#rendering-bound-parameters-inline"

metadata = MetaData()
value_table = Table(
    "litb_value",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("text_value", String(60)),
    Column("whole", BigInteger),
    Column("exact", Numeric(20, 10)),
    Column("approx", Float),
    Column("flag", Boolean),
    Column("day", Date),
    Column("moment", DateTime),
    Column("clock", Time),
)
BOUND, LITERAL_BINDS, LITERAL_EXECUTE = 1, 2, 3


@pytest.fixture(scope="module")
def value_tables(request, target, engine):
    bridge = request.config.stash[STATE].bridge
    bridge.call(target.driver.is_async, metadata.create_all, engine)
    yield metadata
    bridge.call(target.driver.is_async, metadata.drop_all, engine)


@pytest.fixture
def empty_values(value_tables, engine):
    with engine.begin() as connection:
        connection.execute(delete(value_table))


def literal_sql(statement, engine):
    """The statement as the target's dialect renders it with every value inline."""
    return str(statement.compile(engine, compile_kwargs={"literal_binds": True}))


def round_trip(engine, capture, checks, column_name, value):
    """Store ``value`` three ways, read the rows back, find them with the value inline; check each against
    ``value`` (the value the application gave)."""
    column = value_table.c[column_name]
    rendered = literal_sql(insert(value_table).values({"id": LITERAL_BINDS, column_name: value}), engine)
    as_literal_execute = bindparam("value", value, type_=column.type, literal_execute=True)
    where_inline = literal_sql(select(value_table.c.id).where(column == value).order_by(value_table.c.id), engine)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(value_table).values({"id": BOUND, column_name: value}))
        connection.exec_driver_sql(rendered)
        connection.execute(insert(value_table).values({"id": LITERAL_EXECUTE, column_name: as_literal_execute}))
        stored = {
            row[0]: row[1] for row in connection.execute(select(value_table.c.id, column).order_by(value_table.c.id))
        }
        found = connection.exec_driver_sql(where_inline).scalars().all()

    capture.measure("rendered INSERT", rendered)
    checks.equal("stored through a bound parameter", stored.get(BOUND), value)
    checks.equal("stored through literal_binds", stored.get(LITERAL_BINDS), value)
    checks.equal("stored through literal_execute", stored.get(LITERAL_EXECUTE), value)
    checks.equal("rows found by the inline value", found, [BOUND, LITERAL_BINDS, LITERAL_EXECUTE])


@behaviour("literal.string-quotes-percent-backslash", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_string_with_quote_percent_backslash_and_colon_renders_as_a_literal(engine, capture, checks):
    """A string holding a quote, percent signs, a backslash and a colon is rendered as a string literal of the
    target's dialect (quote doubled; percent signs escaped for drivers whose paramstyle uses them; a backslash
    escaped where the database reads backslash escapes) that the database reads back as the same string.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline;
    ``bindparam.literal_execute``.
    """
    round_trip(engine, capture, checks, "text_value", "it's 100% %(x)s \\n back\\slash :colon")


@behaviour("literal.integer", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_integer_renders_as_a_literal(engine, capture, checks):
    """An integer for a ``BigInteger`` column, here 2**62 + 1 (more digits than a float holds exactly), is
    rendered inline digit for digit and read back as the same int.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline; ``BigInteger``.
    """
    round_trip(engine, capture, checks, "whole", 2**62 + 1)


@behaviour("literal.numeric", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_numeric_renders_as_an_exact_literal(engine, capture, checks):
    """A ``Decimal`` for a ``Numeric(20, 10)`` column, with ten decimal places, is rendered as an exact numeric
    literal and read back as the same ``Decimal`` (not a float approximation).

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline; ``Numeric``.
    """
    round_trip(engine, capture, checks, "exact", decimal.Decimal("-1234.0123456789"))


@behaviour("literal.float", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_float_renders_as_a_literal(engine, capture, checks):
    """A float (one exact in binary and within single precision) is rendered inline and read back as the same
    float.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline; ``Float``.
    """
    round_trip(engine, capture, checks, "approx", -2.625)


@behaviour("literal.boolean", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_boolean_renders_as_a_literal(engine, capture, checks):
    """``True`` for a ``Boolean`` column is rendered as the dialect's boolean literal (``true``, or ``1`` where
    booleans are integers) and read back as ``True``.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline; ``Boolean``.
    """
    round_trip(engine, capture, checks, "flag", True)


@behaviour("literal.date", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_date_renders_as_a_literal(engine, capture, checks):
    """A ``datetime.date`` (a leap day) is rendered as a date literal and read back as the same date.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline; ``Date``.
    """
    round_trip(engine, capture, checks, "day", datetime.date(2024, 2, 29))


@behaviour("literal.datetime", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_datetime_renders_as_a_literal(engine, capture, checks):
    """A naive ``datetime.datetime`` with whole seconds is rendered as a timestamp literal and read back as the
    same datetime.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline; ``DateTime``.
    """
    round_trip(engine, capture, checks, "moment", datetime.datetime(2024, 2, 29, 23, 59, 58))


@behaviour("literal.time", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_time_renders_as_a_literal(engine, capture, checks):
    """A ``datetime.time`` with whole seconds is rendered as a time literal and read back as the same time.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline; ``Time``.
    """
    round_trip(engine, capture, checks, "clock", datetime.time(13, 14, 15))


@behaviour("literal.none-is-null", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_none_renders_as_null(engine, capture, checks):
    """``None`` is rendered as ``NULL`` in a VALUES list, and a comparison ``column == None`` as ``IS NULL``, so
    the rows stored with it are found by it.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline;
    ``ColumnOperators.__eq__`` (``== None`` renders IS NULL).
    """
    round_trip(engine, capture, checks, "text_value", None)


@behaviour("literal.in-list-of-strings", doc=FAQ_DOC)
@pytest.mark.usefixtures("empty_values")
def test_in_list_renders_each_value_as_a_literal(engine, capture, checks):
    """An IN against a list of strings is rendered, with ``literal_binds``, as a parenthesised list of string
    literals (the "post compile" expansion is rendered too), and it selects exactly the rows holding those
    strings.

    Docs: Frequently Asked Questions > SQL Expressions > Rendering Bound Parameters Inline, and Rendering
    "POSTCOMPILE" Parameters as Bound Parameters ("render_postcompile is implied by literal_binds").
    """
    words = ["it's", "100%", "back\\slash", "plain"]
    with engine.begin() as connection:
        connection.execute(insert(value_table), [{"id": n, "text_value": w} for n, w in enumerate(words, 1)])
    wanted = ["it's", "back\\slash", "nowhere"]
    rendered = literal_sql(
        select(value_table.c.id).where(value_table.c.text_value.in_(wanted)).order_by(value_table.c.id), engine
    )
    with capture.observe(), engine.connect() as connection:
        found = connection.exec_driver_sql(rendered).scalars().all()

    capture.measure("rendered SELECT", rendered)
    checks.equal("rows found", found, [1, 3])
