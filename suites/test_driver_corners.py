"""Corners where driver releases changed what reaches the database or comes back (reports/history-drivers.toml).

Each behaviour states a documented claim about values reaching the database through SQLAlchemy: SQLAlchemy's own
documentation of the type, or the database's or driver's documentation where SQLAlchemy hands the value on as it
is. The history catalogue names the driver releases whose change each one shows.
"""

import datetime
import enum

from sqlalchemy import DateTime, Float, Interval, String, insert, literal_column, select, text
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import INT4RANGE

try:
    from sqlalchemy.dialects.postgresql import Range
except ImportError:  # SQLAlchemy 1.4: the Range class is new in 2.0 (its behaviour requires 2.0)
    Range = None

from fixtures.plugin import behaviour
from suites.test_types import make_value_table, round_trip, stored_text


class Colour(str, enum.Enum):  # noqa: UP042 (not StrEnum: its str() is the value, which would hide a driver using str())
    """A string-valued enumeration (``str`` mixed into ``Enum``, as Django's ``TextChoices``) whose names differ
    from its values."""

    RED = "crimson"
    BLUE = "navy"


@behaviour("types.str-subclass-value", doc="core/type_basics.html#sqlalchemy.types.String")
def test_a_str_subclass_value_is_stored_as_its_string(engine, capture, make_tables, checks):
    """A ``String`` column stores a value of a ``str`` subclass, such as a string-valued ``enum`` member, as the
    string it is (its value, not its name), sent alone and in an executemany batch, and returns a plain ``str``.

    Docs: Core > The Type Hierarchy > Generic "CamelCase" Types > ``String``; Python > Enum HOWTO > Others
    (``class StrEnum(str, Enum)``: members of a mixed-in ``str`` enum are strings).
    """
    table = make_value_table(make_tables, String(20))
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(table), {"id": 0, "value": Colour.RED})
        connection.execute(insert(table), [{"id": 1, "value": Colour.BLUE}, {"id": 2, "value": Colour.RED}])
    with engine.connect() as connection:
        stored = connection.scalars(select(table.c.value).order_by(table.c.id)).all()

    checks.equal("stored strings", stored, ["crimson", "navy", "crimson"])
    checks.equal("returned Python types", sorted({type(value).__name__ for value in stored}), ["str"])


def store_float(engine, table, row_id: int, value: float) -> tuple:
    """("stored", the value read back) or ("refused", SQLAlchemy exception class, driver exception class)."""
    try:
        with engine.begin() as connection:
            connection.execute(insert(table), {"id": row_id, "value": value})
    except Exception as error:  # the refusal is the observation: its classes are compared, not hidden
        original = getattr(error, "orig", None)
        return ("refused", type(error).__name__, type(original).__name__ if original is not None else None)
    with engine.connect() as connection:
        return ("stored", connection.scalar(select(table.c.value).where(table.c.id == row_id)))


def outcome_shape(outcome: tuple) -> list:
    """A refusal with its exception classes, or just "stored" (the values are compared separately)."""
    return list(outcome) if outcome[0] == "refused" else ["stored"]


@behaviour("types.float-infinities-alike", doc="core/type_basics.html#sqlalchemy.types.Float")
def test_negative_infinity_is_handled_like_positive_infinity(engine, capture, make_tables, checks):
    """A ``Float`` column treats ``float('-inf')`` as it treats ``float('inf')``: where the database has IEEE
    infinities (PostgreSQL's ``Infinity`` / ``-Infinity``, SQLite's REAL) both come back unchanged; where it has
    none (MySQL, MariaDB) both are refused with the same DBAPI error class (the drivers document
    ``ProgrammingError`` for either).

    Docs: Core > The Type Hierarchy > ``Float``; PostgreSQL > Numeric Types > Floating-Point Types (special values);
    PyMySQL 1.0.3 / mysqlclient 2.2.0 release notes ("Raise ProgrammingError on -inf").
    """
    table = make_value_table(make_tables, Float())
    with capture.observe():
        positive = store_float(engine, table, 1, float("inf"))
        negative = store_float(engine, table, 2, float("-inf"))
    capture.measure("inf", list(positive))
    capture.measure("-inf", list(negative))

    checks.equal("-inf handled like inf", outcome_shape(negative), outcome_shape(positive))
    checks.equal(
        "values read back",
        [outcome[1] for outcome in (positive, negative) if outcome[0] == "stored"],
        [value for outcome, value in ((positive, float("inf")), (negative, float("-inf"))) if outcome[0] == "stored"],
    )


@behaviour("types.range-round-trip", doc="dialects/postgresql.html#range-and-multirange-types", requires="2.0")
def test_int4range_returns_sqlalchemy_range_objects(engine, capture, make_tables, checks):
    """An ``INT4RANGE`` column takes ``sqlalchemy.dialects.postgresql.Range`` values and returns ``Range`` objects
    of the same ranges in PostgreSQL's canonical form (``[)`` bounds; also an unbounded and an empty range), on
    every PostgreSQL driver.

    Docs: Dialects > PostgreSQL > Range and Multirange Types ("the Range object ... is what's returned").
    """
    table = make_value_table(make_tables, INT4RANGE)
    sent = [Range(1, 10), Range(5, None), Range(2, 4, bounds="[]"), Range(empty=True)]

    returned = round_trip(engine, capture, table, sent)

    checks.equal("returned Python types", sorted({type(value).__name__ for value in returned}), ["Range"])
    checks.equal(
        "ranges read back",
        [str(value) for value in returned],
        [str(value) for value in [Range(1, 10), Range(5, None), Range(2, 5), Range(empty=True)]],
    )


@behaviour("types.timestamptz-half-hour-session-zone", doc="core/type_basics.html#sqlalchemy.types.DateTime")
def test_timestamptz_read_back_in_a_session_zone_with_a_half_hour_offset(engine, capture, make_tables, checks):
    """A ``DateTime(timezone=True)`` column read in a session whose time zone has a half-hour UTC offset
    (``SET TIME ZONE 'Asia/Kolkata'``, +05:30, in which the server renders the value) returns an aware
    ``datetime`` of the same instant.

    Docs: Core > ``DateTime`` (``timezone=True``); PostgreSQL > Date/Time Types > Time Zones ("all timezone-aware
    dates and times ... are converted to local time in the zone specified by the TimeZone configuration
    parameter before being displayed to the client").
    """
    table = make_value_table(make_tables, DateTime(timezone=True))
    sent = datetime.datetime(2024, 3, 10, 7, 0, 0, tzinfo=datetime.UTC)
    with capture.observe(), engine.connect() as connection:
        connection.execute(text("SET TIME ZONE 'Asia/Kolkata'"))  # transactional: undone by the rollback below
        connection.execute(insert(table), {"id": 1, "value": sent})
        returned = connection.scalar(select(table.c.value))
        connection.rollback()
    capture.measure("returned", str(returned))
    # the offset it carries is the driver's choice (text protocol: the session's; asyncpg's binary one: UTC)
    capture.measure("returned UTC offset", str(returned.utcoffset()))

    checks.equal("same instant", returned == sent, True)


# PostgreSQL keeps an interval's months, days and time apart, each with its own sign (Date/Time Types > Interval)
MIXED_SIGN_INTERVALS = {
    "1 day -00:01:30": datetime.timedelta(days=1, seconds=-90),
    "-1 days +00:01:30": datetime.timedelta(days=-1, seconds=90),
    "2 days -03:00:00.5": datetime.timedelta(days=2, hours=-3, microseconds=-500000),
    "10 days -240:00:00": datetime.timedelta(0),
    "41 days -990:00:00": datetime.timedelta(hours=-6),
}


@behaviour(
    "types.interval-days-and-negative-time", doc="dialects/postgresql.html#sqlalchemy.dialects.postgresql.INTERVAL"
)
def test_interval_with_a_day_part_and_a_time_part_of_the_other_sign(engine, capture, checks):
    """An ``INTERVAL`` whose day part and time part have opposite signs (``'1 day -00:01:30'``, as PostgreSQL
    stores and prints them) is returned through SQLAlchemy's ``Interval`` type as the ``timedelta`` of its total
    length (one day minus 90 seconds).

    Docs: Dialects > PostgreSQL > ``INTERVAL`` (returned as ``datetime.timedelta``); PostgreSQL > Date/Time Types >
    Interval Input ("field values can have either positive or negative sign").
    """
    columns = [
        literal_column(f"INTERVAL '{spelling}'", Interval).label(f"interval_{n}")
        for n, spelling in enumerate(MIXED_SIGN_INTERVALS)
    ]
    with capture.observe(), engine.connect() as connection:
        returned = list(connection.execute(select(*columns)).one())

    checks.equal("timedeltas read back", returned, list(MIXED_SIGN_INTERVALS.values()))


# MySQL > The TIME Type: "TIME values may range from '-838:59:59' to '838:59:59' ... (or elapsed time, or a time
# interval between two events, which may be much greater than 24 hours, or even negative)"
SIGNED_DURATIONS = {
    "-00:00:01.500000": datetime.timedelta(seconds=-1.5),
    "-30:15:00.000000": datetime.timedelta(hours=-30, minutes=-15),
    "838:59:59.000000": datetime.timedelta(hours=838, minutes=59, seconds=59),
    "00:00:00.000250": datetime.timedelta(microseconds=250),
}


@behaviour("types.mysql-time-signed-duration", doc="dialects/mysql.html#sqlalchemy.dialects.mysql.TIME")
def test_mysql_time_stores_a_timedelta_as_its_signed_duration(engine, capture, make_tables, checks):
    """A ``datetime.timedelta`` bound to a ``mysql.TIME(fsp=6)`` column is stored as that duration, with its sign
    and microseconds (also a negative one of under a second, and one beyond 24 hours), as the server shows it.

    Docs: Dialects > MySQL > ``TIME`` (``fsp``: fractional seconds precision); MySQL > The DATE, DATETIME, ... TIME
    Type ("TIME values may range from '-838:59:59' to '838:59:59'", elapsed time "may be ... even negative").
    """
    table = make_value_table(make_tables, mysql.TIME(fsp=6))
    with capture.observe(), engine.begin() as connection:
        first, *rest = SIGNED_DURATIONS.values()  # one sent alone, the rest in one executemany
        connection.execute(insert(table), {"id": 0, "value": first})
        connection.execute(insert(table), [{"id": n, "value": value} for n, value in enumerate(rest, start=1)])

    checks.equal("stored durations", stored_text(engine, table), list(SIGNED_DURATIONS))
