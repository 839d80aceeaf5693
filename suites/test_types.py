"""Types round trip: a value of each generic SQLAlchemy type comes back from the database equal to what was
inserted, as the Python type the documentation names."""

import datetime
import enum
import math
import uuid
import warnings
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    Unicode,
    cast,
    insert,
    select,
)

from fixtures.plugin import behaviour

# Decimal digits that survive a round trip through a single-precision (4-byte) float: C's FLT_DIG.
SINGLE_PRECISION_DIGITS = 6


class Colour(enum.Enum):
    RED = "r"
    GREEN = "g"
    BLUE = "b"


def make_value_table(make_tables, value_type) -> Table:
    """Create a fresh table ``type_round_trip`` (id, value) whose ``value`` column has the type under test."""
    table = Table(
        "type_round_trip",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("value", value_type),
    )
    make_tables(table.metadata)
    return table


def round_trip(engine, capture, table: Table, values: list) -> list:
    """Insert ``values`` in one transaction and read them back in order on a new connection, both observed.

    Records the column's DDL type, what came back and its Python types, and any SQLAlchemy warning raised
    (e.g. lossy Decimal conversion), which is evidence here rather than an error.
    """
    capture.measure("column type in DDL", str(table.c.value.type.compile(dialect=engine.dialect)))
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        with capture.observe():
            with engine.begin() as connection:
                connection.execute(insert(table), [{"id": n, "value": value} for n, value in enumerate(values)])
            with engine.connect() as connection:
                returned = connection.scalars(select(table.c.value).order_by(table.c.id)).all()
    if raised:
        capture.measure("warnings", [f"{warning.category.__name__}: {warning.message}" for warning in raised])
    capture.measure("returned", returned)
    capture.measure("returned Python types", [type(value).__name__ for value in returned])
    return returned


def to_single_precision_digits(value: float) -> str:
    return f"{value:.{SINGLE_PRECISION_DIGITS}g}"


def stored_text(engine, table: Table) -> list:
    """The stored values as the database itself renders them (``CAST(value AS VARCHAR/CHAR)``), in id order."""
    with engine.connect() as connection:
        return connection.scalars(select(cast(table.c.value, String)).order_by(table.c.id)).all()


@behaviour("types.integer-32bit-limits", doc="core/type_basics.html#sqlalchemy.types.Integer")
def test_integer_round_trips_the_32bit_limits(engine, capture, make_tables):
    """An ``Integer`` column stores and returns the 32-bit signed limits -2**31 and 2**31-1 exactly, as ``int``.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Integer``.
    """
    values = [-(2**31), 0, 2**31 - 1]
    table = make_value_table(make_tables, Integer)

    returned = round_trip(engine, capture, table, values)

    assert returned == values
    assert {type(value) for value in returned} == {int}


@behaviour("types.biginteger-64bit-limits", doc="core/type_basics.html#sqlalchemy.types.BigInteger")
def test_biginteger_round_trips_the_64bit_limits(engine, capture, make_tables):
    """A ``BigInteger`` column stores and returns the 64-bit signed limits -2**63 and 2**63-1 exactly, as ``int``.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``BigInteger``.
    """
    values = [-(2**63), 0, 2**63 - 1]
    table = make_value_table(make_tables, BigInteger)

    returned = round_trip(engine, capture, table, values)

    assert returned == values
    assert {type(value) for value in returned} == {int}


@behaviour("types.numeric-exact-decimal", doc="core/type_basics.html#sqlalchemy.types.Numeric")
def test_numeric_returns_the_exact_decimal(engine, capture, make_tables, checks):
    """A ``Numeric(18, 4)`` column returns ``Decimal("12345678901234.5678")`` (18 significant digits, more than a
    double holds) exactly, as ``decimal.Decimal`` (``asdecimal=True`` is the default).

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Numeric``.
    """
    values = [Decimal("12345678901234.5678"), Decimal("-0.0001")]
    table = make_value_table(make_tables, Numeric(18, 4))

    returned = round_trip(engine, capture, table, values)

    capture.measure("stored as text", stored_text(engine, table))
    checks.equal("returned types", [type(value).__name__ for value in returned], ["Decimal", "Decimal"])
    checks.equal("returned values", returned, values)


@behaviour("types.float-approximate", doc="core/type_basics.html#sqlalchemy.types.Float")
def test_float_returns_a_float_to_six_significant_digits(engine, capture, make_tables, checks):
    """A ``Float`` column (no precision) returns a Python ``float`` that agrees with the inserted one to 6
    significant decimal digits, the digits any single-precision float keeps (C's ``FLT_DIG``), since ``Float``
    may be a 4-byte type.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Float`` ("When a precision is not provided ...
    some backend may compile this type as an 8 bytes / 64 bit float datatype"; ``asdecimal`` defaults to False).
    """
    values = [math.pi, -2.5e-7, 6.02214076e23]
    table = make_value_table(make_tables, Float)

    returned = round_trip(engine, capture, table, values)

    errors = [abs(back - sent) / abs(sent) for sent, back in zip(values, returned, strict=True)]
    capture.measure("relative errors", errors)
    capture.measure("stored as text", stored_text(engine, table))
    assert {type(value) for value in returned} == {float}
    checks.equal(
        "returned to 6 digits",
        [to_single_precision_digits(value) for value in returned],
        [to_single_precision_digits(value) for value in values],
    )


@behaviour("types.double-exact", doc="core/type_basics.html#sqlalchemy.types.Double", requires="2.0")
def test_double_returns_the_same_float(engine, capture, make_tables):
    """A ``Double`` column (a double-precision ``FLOAT``/``DOUBLE``) returns every inserted Python ``float``
    bit for bit.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Double`` (new in 2.0).
    """
    from sqlalchemy import Double

    values = [math.pi, -2.5e-7, 6.02214076e23, 0.1 + 0.2]
    table = make_value_table(make_tables, Double)

    returned = round_trip(engine, capture, table, values)

    assert {type(value) for value in returned} == {float}
    assert [value.hex() for value in returned] == [value.hex() for value in values]


@behaviour("types.boolean", doc="core/type_basics.html#sqlalchemy.types.Boolean")
def test_boolean_returns_true_false_and_none(engine, capture, make_tables):
    """A ``Boolean`` column returns ``True``, ``False`` and ``None`` (NULL) as Python ``bool`` / ``None``, also
    where the database stores an integer.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Boolean``.
    """
    values = [True, False, None]
    table = make_value_table(make_tables, Boolean)

    returned = round_trip(engine, capture, table, values)

    capture.measure("stored as text", stored_text(engine, table))
    assert returned[0] is True
    assert returned[1] is False
    assert returned[2] is None


@behaviour("types.date", doc="core/type_basics.html#sqlalchemy.types.Date")
def test_date_returns_datetime_date(engine, capture, make_tables):
    """A ``Date`` column returns each inserted ``datetime.date`` (a leap day, a year end) as a ``datetime.date``.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Date``.
    """
    values = [datetime.date(2024, 2, 29), datetime.date(1999, 12, 31)]
    table = make_value_table(make_tables, Date)

    returned = round_trip(engine, capture, table, values)

    assert {type(value) for value in returned} == {datetime.date}
    assert returned == values


@behaviour("types.time", doc="core/type_basics.html#sqlalchemy.types.Time")
def test_time_returns_datetime_time(engine, capture, make_tables):
    """A ``Time`` column returns each inserted ``datetime.time`` (whole seconds) as a ``datetime.time``.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Time``.
    """
    values = [datetime.time(23, 59, 58), datetime.time(0, 0, 1), datetime.time(12, 0)]
    table = make_value_table(make_tables, Time)

    returned = round_trip(engine, capture, table, values)

    assert {type(value) for value in returned} == {datetime.time}
    assert returned == values


@behaviour("types.datetime-naive", doc="core/type_basics.html#sqlalchemy.types.DateTime")
def test_datetime_returns_the_naive_datetime(engine, capture, make_tables):
    """A ``DateTime`` column returns each inserted naive ``datetime.datetime`` (whole seconds) unchanged, naive.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``DateTime``.
    """
    values = [datetime.datetime(2024, 2, 29, 23, 59, 58), datetime.datetime(1999, 12, 31, 0, 0, 1)]
    table = make_value_table(make_tables, DateTime)

    returned = round_trip(engine, capture, table, values)

    assert {type(value) for value in returned} == {datetime.datetime}
    assert [value.tzinfo for value in returned] == [None, None]
    assert returned == values


@behaviour("types.datetime-microseconds", doc="core/type_basics.html#sqlalchemy.types.DateTime")
def test_datetime_keeps_microseconds(engine, capture, make_tables, checks):
    """A ``DateTime`` column returns a ``datetime.datetime`` with microseconds (``.123456``) unchanged.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``DateTime`` ("For fractional seconds, use the
    dialect-specific datatype").
    """
    values = [datetime.datetime(2024, 2, 29, 23, 59, 58, 123456), datetime.datetime(2024, 3, 1, 0, 0, 0, 999999)]
    table = make_value_table(make_tables, DateTime)

    returned = round_trip(engine, capture, table, values)

    capture.measure("stored as text", stored_text(engine, table))
    checks.equal("microseconds", [value.microsecond for value in returned], [123456, 999999])
    checks.equal("returned values", returned, values)


@behaviour("types.datetime-timezone-aware", doc="core/type_basics.html#sqlalchemy.types.DateTime.params.timezone")
def test_datetime_with_timezone_returns_an_aware_datetime_of_the_same_instant(engine, capture, make_tables, checks):
    """A ``DateTime(timezone=True)`` column returns an inserted aware ``datetime`` (offset +05:30) as an aware
    ``datetime`` of the same instant (its offset may be the session's time zone).

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``DateTime`` (``timezone``: "enable timezone
    support, if available on the base date/time-holding type only").
    """
    india = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    sent = datetime.datetime(2024, 3, 10, 12, 30, 45, tzinfo=india)
    table = make_value_table(make_tables, DateTime(timezone=True))

    (returned,) = round_trip(engine, capture, table, [sent])

    capture.measure("stored as text", stored_text(engine, table))
    offset = returned.utcoffset()
    checks.that("returned UTC offset", offset is not None, got=offset, expected="a UTC offset (an aware datetime)")
    checks.that("same instant", offset is not None and returned == sent, got=returned, expected=sent.isoformat())


@behaviour("types.interval", doc="core/type_basics.html#sqlalchemy.types.Interval")
def test_interval_returns_the_timedelta(engine, capture, make_tables):
    """An ``Interval`` column returns each inserted ``datetime.timedelta`` (also a negative one) unchanged, as a
    ``timedelta``: natively stored as ``INTERVAL`` on PostgreSQL, elsewhere as a datetime relative to the epoch
    (1970-01-01).

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Interval``.
    """
    values = [datetime.timedelta(days=3, hours=4, minutes=5, seconds=6), datetime.timedelta(seconds=-90)]
    table = make_value_table(make_tables, Interval)

    returned = round_trip(engine, capture, table, values)

    capture.measure("stored as text", stored_text(engine, table))
    assert {type(value) for value in returned} == {datetime.timedelta}
    assert returned == values


@behaviour("types.large-binary", doc="core/type_basics.html#sqlalchemy.types.LargeBinary")
def test_large_binary_returns_every_byte(engine, capture, make_tables):
    """A ``LargeBinary`` column returns all 256 byte values, including ``\\x00`` and ``\\xff``, unchanged, as
    ``bytes``.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``LargeBinary``.
    """
    values = [bytes(range(256)), b"\x00", b"\xff\x00\xff"]
    table = make_value_table(make_tables, LargeBinary)

    returned = round_trip(engine, capture, table, values)

    assert {type(value) for value in returned} == {bytes}
    assert returned == values


@behaviour("types.unicode-4-byte", doc="core/type_basics.html#sqlalchemy.types.Unicode")
def test_unicode_returns_4_byte_characters(engine, capture, make_tables):
    """A ``Unicode(40)`` column returns strings with accents, CJK and 4-byte characters (emoji, U+1D518)
    unchanged, as ``str``.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Unicode``; MySQL and MariaDB > Unicode
    (``utf8mb4`` holds 4-byte characters).
    """
    values = ["naïve café", "日本語テキスト", "snake 🐍 party 🎉", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
    table = make_value_table(make_tables, Unicode(40))

    returned = round_trip(engine, capture, table, values)

    capture.measure("returned code points above U+FFFF", sum(ord(ch) > 0xFFFF for value in returned for ch in value))
    assert {type(value) for value in returned} == {str}
    assert returned == values


@behaviour("types.json-round-trip", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_json_returns_nested_structures(engine, capture, make_tables):
    """A ``JSON`` column returns a nested dict and a top-level list (strings, integers, a float, booleans, null,
    non-ASCII text) as equal Python ``dict`` / ``list`` structures.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``JSON``.
    """
    document = {
        "name": "sandy",
        "tags": ["squirrel", "karate"],
        "address": {"city": "Bikini Bottom", "dome": True, "floor": None, "depth_m": 60.5, "rooms": 3},
        "motto": "¡Hiya! 🐿",
    }
    values = [document, [1, "two", {"three": [3]}, False]]
    table = make_value_table(make_tables, JSON)

    returned = round_trip(engine, capture, table, values)

    assert [type(value) for value in returned] == [dict, list]
    assert returned == values


@behaviour("types.json-path-where", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_json_path_access_as_string_and_as_integer_filter_rows(engine, capture, make_tables, checks):
    """``column["key"].as_string()`` and ``column["key"].as_integer()`` in a WHERE clause compare the JSON
    element as SQL text and integer, selecting exactly the matching rows.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``JSON`` (``JSON.Comparator.as_string()``,
    ``as_integer()``: "Casting JSON Elements to Other Types").
    """
    table = make_value_table(make_tables, JSON)
    with engine.begin() as connection:
        connection.execute(
            insert(table),
            [
                {"id": 1, "value": {"name": "sandy", "level": 3}},
                {"id": 2, "value": {"name": "patrick", "level": 7}},
                {"id": 3, "value": {"name": "squidward", "level": 9}},
            ],
        )
    name, level = table.c.value["name"].as_string(), table.c.value["level"].as_integer()

    with capture.observe(), engine.connect() as connection:
        named = connection.scalars(select(table.c.id).where(name == "patrick")).all()
        above_five = connection.scalars(select(table.c.id).where(level > 5).order_by(table.c.id)).all()
        extracted = connection.execute(select(name, level).where(table.c.id == 1)).one()

    checks.equal("ids where name = 'patrick'", named, [2])
    checks.equal("ids where level > 5", above_five, [2, 3])
    checks.equal("name, level of id 1", tuple(extracted), ("sandy", 3))
    assert [type(part) for part in extracted] == [str, int]


@behaviour("types.uuid", doc="core/type_basics.html#sqlalchemy.types.Uuid", requires="2.0")
def test_uuid_returns_uuid_objects_and_matches_in_where(engine, capture, make_tables, checks):
    """A ``Uuid`` column (native ``UUID`` where the backend has one, else ``CHAR(32)``) returns inserted
    ``uuid.UUID`` values as equal ``uuid.UUID`` objects, and a WHERE comparison with a ``uuid.UUID`` finds its row.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Uuid`` (new in 2.0).
    """
    from sqlalchemy import Uuid

    values = [uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7"), uuid.UUID("00000000-0000-4000-8000-0000000000ff")]
    table = make_value_table(make_tables, Uuid)

    returned = round_trip(engine, capture, table, values)
    with capture.observe(), engine.connect() as connection:
        found = connection.scalars(select(table.c.id).where(table.c.value == values[1])).all()

    capture.measure("stored as text", stored_text(engine, table))
    assert all(isinstance(value, uuid.UUID) for value in returned)
    assert returned == values
    checks.equal("ids found by uuid", found, [1])


@behaviour("types.enum-python-class", doc="core/type_basics.html#sqlalchemy.types.Enum")
def test_enum_of_a_python_enum_class_returns_members(engine, capture, make_tables, checks):
    """An ``Enum(PythonEnumClass)`` column stores the members' *names* and returns the enum members themselves.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``Enum`` ("Using Enum with a PEP-435 enum
    class": "the string names of each element are used").
    """
    values = [Colour.GREEN, Colour.RED, Colour.BLUE]
    table = make_value_table(make_tables, Enum(Colour, name="type_round_trip_colour"))

    returned = round_trip(engine, capture, table, values)

    assert returned == values
    assert all(isinstance(value, Colour) for value in returned)
    checks.equal("stored as text", stored_text(engine, table), ["GREEN", "RED", "BLUE"])


@behaviour("types.array", doc="core/type_basics.html#sqlalchemy.types.ARRAY")
def test_array_returns_lists_and_indexes_from_one(engine, capture, make_tables, checks):
    """An ``ARRAY(Integer)`` column returns inserted Python lists (also an empty one) as equal lists, and
    ``column[2]`` selects the second element: indexes are one-based, as in SQL.

    Docs: Core > The Type Hierarchy > SQL Standard and Multiple Vendor "UPPERCASE" Types > ``ARRAY``
    ("zero_indexes=False" by default).
    """
    values = [[10, 20, 30], [], [-1]]
    table = make_value_table(make_tables, ARRAY(Integer))

    returned = round_trip(engine, capture, table, values)
    with capture.observe(), engine.connect() as connection:
        second = connection.scalar(select(table.c.value[2]).where(table.c.id == 0))

    assert {type(value) for value in returned} == {list}
    assert returned == values
    checks.equal("value[2] of [10, 20, 30]", second, 20)
