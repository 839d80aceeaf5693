"""Dates and times at the edges: historic dates (year 1, before 1900, the Gregorian switch, leap days, 9999-12-31)
through every insert path, fractional seconds with the dialect's documented types, time zones on DateTime and
Time, and Interval values (suites/test_types.py has the basic round trip of each type)."""

import datetime

from sqlalchemy import Date, DateTime, Interval, MetaData, Time, func, insert, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from fixtures.insert_paths import check_every_path, round_trip_every_path, shared_tables, typed, value_table
from fixtures.plugin import behaviour

HISTORIC_DATES = [
    datetime.date(1, 1, 1),
    datetime.date(1582, 10, 15),  # first day of the Gregorian calendar
    datetime.date(1600, 2, 29),  # a leap day of a century divisible by 400
    datetime.date(1899, 12, 31),
    datetime.date(2000, 2, 29),
    datetime.date(9999, 12, 31),
]
HISTORIC_DATETIMES = [
    datetime.datetime(1, 1, 1, 0, 0, 0),
    datetime.datetime(1752, 9, 14, 6, 30, 0),
    datetime.datetime(1899, 12, 31, 23, 59, 59),
    datetime.datetime(2024, 2, 29, 12, 0, 1),
    datetime.datetime(9999, 12, 31, 23, 59, 59),
]
FRACTIONAL_DATETIMES = [
    datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
    datetime.datetime(1850, 6, 1, 12, 0, 0, 500000),
    datetime.datetime(2000, 1, 1, 0, 0, 0, 1),
]
FRACTIONAL_TIMES = [datetime.time(23, 59, 59, 999999), datetime.time(0, 0, 0, 1), datetime.time(12, 30, 15, 123456)]
INTERVALS = [
    datetime.timedelta(microseconds=1),
    datetime.timedelta(days=-1, microseconds=1),  # minus 23:59:59.999999
    datetime.timedelta(days=3650, seconds=3599),
    datetime.timedelta(0),
]

metadata = MetaData()
dates_table = value_table(metadata, "tm_dates", Date)
datetimes_table = value_table(metadata, "tm_datetimes", DateTime)
aware_table = value_table(metadata, "tm_aware", DateTime(timezone=True))
time_zone_table = value_table(metadata, "tm_time_zone", Time(timezone=True))
intervals_table = value_table(metadata, "tm_intervals", Interval)

temporal_tables = shared_tables(metadata)

DIALECT_TYPES = {
    "mysql.DATETIME(fsp=6)": mysql.DATETIME(fsp=6),
    "postgresql.TIMESTAMP(precision=6)": postgresql.TIMESTAMP(precision=6),
    "sqlite.DATETIME": sqlite.DATETIME(),
    "mysql.TIME(fsp=6)": mysql.TIME(fsp=6),
    "postgresql.TIME(precision=6)": postgresql.TIME(precision=6),
    "sqlite.TIME": sqlite.TIME(),
}


@behaviour(
    "temporal.historic-dates-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.Date", requires="2.0"
)
def test_historic_dates_survive_every_insert_path(engine, capture, checks, temporal_tables, target_facts):
    """A ``Date`` column returns year 1, the first Gregorian day (1582-10-15), leap days (1600-02-29,
    2000-02-29), a date before 1900 and 9999-12-31 unchanged, as ``datetime.date``, through every insert path.

    Docs: Core > The Type Hierarchy > ``Date`` ("A type for datetime.date() objects").
    """
    returned = round_trip_every_path(engine, capture, dates_table, HISTORIC_DATES, target_facts["insert-paths"])

    check_every_path(checks, returned, HISTORIC_DATES, typed)


@behaviour(
    "temporal.historic-datetimes-every-insert-path",
    doc="core/type_basics.html#sqlalchemy.types.DateTime",
    requires="2.0",
)
def test_historic_datetimes_survive_every_insert_path(engine, capture, checks, temporal_tables, target_facts):
    """A ``DateTime`` column returns naive datetimes from year 1 to 9999-12-31 23:59:59 (a leap day, before 1900)
    unchanged, as naive ``datetime.datetime``, through every insert path.

    Docs: Core > The Type Hierarchy > ``DateTime`` ("A type for datetime.datetime() objects").
    """
    returned = round_trip_every_path(engine, capture, datetimes_table, HISTORIC_DATETIMES, target_facts["insert-paths"])

    check_every_path(checks, returned, HISTORIC_DATETIMES, typed)


@behaviour("temporal.historic-date-comparison", doc="core/type_basics.html#sqlalchemy.types.Date")
def test_dates_before_1900_compare_in_where(engine, capture, checks, make_tables):
    """A WHERE comparison of a ``Date`` column with a ``datetime.date`` bound value orders historic dates as the
    calendar does: ``< 1900-01-01`` selects year 1, 1582 and 1899, ``BETWEEN`` selects the leap days.

    Docs: Core > The Type Hierarchy > ``Date``; Column Element Operators (``<``, ``between()``).
    """
    table = value_table(MetaData(), "tm_date_compare", Date)
    make_tables(table.metadata)
    with engine.begin() as connection:
        connection.execute(
            insert(table), [{"id": n, "path": "-", "value": value} for n, value in enumerate(HISTORIC_DATES, 1)]
        )

    with capture.observe(), engine.connect() as connection:
        before_1900 = connection.scalars(
            select(table.c.value).where(table.c.value < datetime.date(1900, 1, 1)).order_by(table.c.value)
        ).all()
        leap_days = connection.scalars(
            select(table.c.value)
            .where(table.c.value.between(datetime.date(1600, 1, 1), datetime.date(2000, 12, 31)))
            .order_by(table.c.value)
        ).all()

    checks.equal("dates before 1900", before_1900, HISTORIC_DATES[:4])
    checks.equal("dates from 1600 to 2000", leap_days, HISTORIC_DATES[2:5])


@behaviour("temporal.fractional-datetime", doc="core/type_basics.html#sqlalchemy.types.DateTime", requires="2.0")
def test_dialect_datetime_type_keeps_microseconds_through_every_insert_path(
    engine, capture, checks, make_tables, target_facts
):
    """The dialect's documented datetime type for fractional seconds (``mysql.DATETIME(fsp=6)``, PostgreSQL
    ``TIMESTAMP(6)``, SQLite ``DATETIME``) returns microseconds (.999999, .500000 before 1900, .000001) unchanged
    through every insert path.

    Docs: Core > The Type Hierarchy > ``DateTime`` ("For fractional seconds, use the dialect-specific datatype,
    such as mysql.TIME"); MySQL and MariaDB > ``DATETIME`` (``fsp``).
    """
    table = value_table(MetaData(), "tm_fractional_datetime", DIALECT_TYPES[target_facts["fractional-datetime-type"]])
    make_tables(table.metadata)

    returned = round_trip_every_path(engine, capture, table, FRACTIONAL_DATETIMES, target_facts["insert-paths"])

    check_every_path(checks, returned, FRACTIONAL_DATETIMES, typed)


@behaviour("temporal.fractional-time", doc="core/type_basics.html#sqlalchemy.types.Time", requires="2.0")
def test_dialect_time_type_keeps_microseconds_through_every_insert_path(
    engine, capture, checks, make_tables, target_facts
):
    """The dialect's documented time type for fractional seconds (``mysql.TIME(fsp=6)``, PostgreSQL ``TIME(6)``,
    SQLite ``TIME``) returns ``datetime.time`` values with microseconds (23:59:59.999999, 00:00:00.000001)
    unchanged through every insert path.

    Docs: Core > The Type Hierarchy > ``Time``; MySQL and MariaDB > ``TIME`` ("fsp: fractional seconds
    precision value"); PostgreSQL > ``TIME`` (``precision``).
    """
    table = value_table(MetaData(), "tm_fractional_time", DIALECT_TYPES[target_facts["fractional-time-type"]])
    make_tables(table.metadata)

    returned = round_trip_every_path(engine, capture, table, FRACTIONAL_TIMES, target_facts["insert-paths"])

    check_every_path(checks, returned, FRACTIONAL_TIMES, typed)


def as_instant(value: datetime.datetime) -> list:
    """[aware?, the instant in UTC] of an aware datetime; [aware?, the wall-clock time] of a naive one."""
    aware = value.utcoffset() is not None
    return [aware, value.astimezone(datetime.UTC).isoformat() if aware else value.isoformat()]


def with_offset(value: datetime.time) -> list:
    """[the time, its UTC offset or "naive"]; anything that is not a time as [its type's name, the value]."""
    if not isinstance(value, datetime.time):
        return typed(value)
    return [value.isoformat(), "naive" if value.utcoffset() is None else str(value.utcoffset())]


def offset(hours: int, minutes: int = 0) -> datetime.timezone:
    return datetime.timezone(datetime.timedelta(hours=hours, minutes=minutes))


@behaviour(
    "temporal.timezone-aware-instants",
    doc="core/type_basics.html#sqlalchemy.types.DateTime.params.timezone",
    requires="2.0",
)
def test_timezone_aware_datetimes_keep_their_instants(engine, capture, checks, temporal_tables, target_facts):
    """A ``DateTime(timezone=True)`` column stores aware datetimes as instants: read back through every insert path
    each equals (as an instant) the value sent, and ORDER BY sorts by instant, not by wall-clock time (10:00+09:00
    comes before 05:00+00:00).

    Docs: Core > The Type Hierarchy > ``DateTime`` (``timezone=True``: "enable timezone support, if available on
    the base date/time-holding type only"); PostgreSQL: TIMESTAMP WITH TIME ZONE.
    """
    sent = [
        datetime.datetime(2024, 1, 1, 10, 0, tzinfo=offset(9)),  # 01:00 UTC
        datetime.datetime(2024, 1, 1, 5, 0, tzinfo=offset(0)),  # 05:00 UTC
        datetime.datetime(1900, 6, 30, 23, 59, 59, tzinfo=offset(-3, -30)),  # before 1970, odd offset
    ]

    returned = round_trip_every_path(engine, capture, aware_table, sent, target_facts["insert-paths"])
    with engine.connect() as connection:
        ordered = connection.scalars(
            select(aware_table.c.id).where(aware_table.c.path == "executemany").order_by(aware_table.c.value)
        ).all()

    check_every_path(checks, returned, sent, as_instant)
    checks.equal("ids of executemany rows by instant", [row_id % 100 for row_id in ordered], [2, 0, 1])


@behaviour("temporal.time-with-time-zone", doc="core/type_basics.html#sqlalchemy.types.Time", requires="2.0")
def test_time_with_time_zone_returns_aware_times(engine, capture, checks, temporal_tables, target_facts):
    """A ``Time(timezone=True)`` column (``TIME WITH TIME ZONE`` where the backend has it) returns each
    ``datetime.time`` with its UTC offset (+05:30, -08:00, UTC) unchanged, through every insert path.

    Docs: Core > The Type Hierarchy > ``Time`` (``timezone``); PostgreSQL > ``TIME`` (``timezone``: "TIME WITH TIME
    ZONE").
    """
    sent = [
        datetime.time(12, 30, 0, tzinfo=offset(5, 30)),
        datetime.time(23, 0, 59, tzinfo=offset(-8)),
        datetime.time(0, 0, 0, tzinfo=datetime.UTC),
    ]

    returned = round_trip_every_path(engine, capture, time_zone_table, sent, target_facts["insert-paths"])

    check_every_path(checks, returned, sent, with_offset)


@behaviour("temporal.interval-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.Interval", requires="2.0")
def test_interval_edges_survive_every_insert_path(engine, capture, checks, temporal_tables, target_facts):
    """An ``Interval`` column returns one microsecond, minus 23:59:59.999999, ten years and zero unchanged, as
    ``datetime.timedelta``, through every insert path (native INTERVAL on PostgreSQL, a datetime relative to
    1970-01-01 elsewhere).

    Docs: Core > The Type Hierarchy > ``Interval`` ("The Interval type deals with datetime.timedelta objects ...
    Otherwise the value is stored as a date which is relative to the 'epoch'").
    """
    returned = round_trip_every_path(engine, capture, intervals_table, INTERVALS, target_facts["insert-paths"])

    check_every_path(checks, returned, INTERVALS, typed)


@behaviour("temporal.current-date-and-timestamp", doc="core/functions.html#sqlalchemy.sql.functions.current_date")
def test_current_date_and_timestamp_return_python_dates(engine, capture, checks):
    """``func.current_date()`` returns a ``datetime.date`` and ``func.current_timestamp()`` a ``datetime.datetime``
    (their return types are ``Date`` and ``DateTime``), also where the database answers with a string.

    Docs: SQL and Generic Functions > ``current_date`` ("The CURRENT_DATE() SQL function", type Date) and
    ``current_timestamp`` (type DateTime).
    """
    with capture.observe(), engine.connect() as connection:
        today, now = connection.execute(select(func.current_date(), func.current_timestamp())).one()

    checks.equal("Python types", [type(today).__name__, type(now).__name__], ["date", "datetime"])
    within_a_day = isinstance(now, datetime.datetime) and abs((now.date() - today).days) <= 1
    checks.equal("CURRENT_TIMESTAMP within a day of CURRENT_DATE", within_a_day, True)
