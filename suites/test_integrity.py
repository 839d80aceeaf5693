"""Integrity errors: when constraint violations surface, as which classes, and how a Session or Connection recovers."""

import re

import pytest
from sqlalchemy import CheckConstraint, Column, Integer, MetaData, Table, exc, func, insert, inspect, select

from fixtures.capture import qualified_name
from fixtures.compat import Session
from fixtures.models import User, address_table, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")

INSERT_COLUMNS = re.compile(r"INSERT INTO\s+\S+\s*\(([^)]*)\)", re.IGNORECASE)

# A table of its own for the CHECK constraint behaviour, created with ``make_tables``.
stock_metadata = MetaData()
stock_table = Table(
    "integrity_stock",
    stock_metadata,
    Column("id", Integer, primary_key=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity >= 0", name="ck_integrity_stock_quantity"),
)


def stored_names(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(select(user_table.c.name).order_by(user_table.c.name)).all()


def inserted_columns(sql: str) -> list[str]:
    """The column names of an ``INSERT INTO table (a, b) VALUES ...`` statement."""
    listed = INSERT_COLUMNS.search(sql)
    return [name.strip(' `"') for name in listed.group(1).split(",")] if listed else []


def row_count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def check_integrity_error(checks, raised, engine) -> None:
    """The documented error: ``sqlalchemy.exc.IntegrityError`` wrapping the driver's own DBAPI ``IntegrityError``."""
    checks.equal("exception class", raised.exception_class, qualified_name(exc.IntegrityError))
    driver_class = qualified_name(raised.driver_error) if raised.driver_error is not None else None
    checks.that(
        "driver exception class",
        raised.is_driver_error(engine.dialect.dbapi.IntegrityError),
        got=driver_class,
        expected="the driver's DBAPI IntegrityError",
    )


def add_sandy(engine) -> None:
    """Commit the user whose unique name the behaviours collide with, outside the observed window."""
    with engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "sandy", "fullname": "Sandy Cheeks"})


@behaviour("integrity.unique-violation-raised-at-flush", doc="orm/session_basics.html#flushing")
def test_duplicate_key_raises_integrity_error_at_flush_not_add(engine, capture, checks):
    """A duplicate unique key raises ``sqlalchemy.exc.IntegrityError`` at flush, not at ``Session.add()`` (which
    emits no SQL), and its ``.orig`` is an instance of the driver's own DBAPI ``IntegrityError``.

    Docs: ORM > Session Basics > Flushing; Core > Core Exceptions > IntegrityError.
    """
    add_sandy(engine)
    with Session(engine) as session, pytest.raises(exc.IntegrityError) as raised, capture.observe():
        session.add(User(name="sandy", fullname="Sandy Squirrel"))
        emitted_by_add = capture.measure("statements emitted by add()", len(capture.statements))
        session.flush()

    driver_error = raised.value.orig
    capture.measure("driver exception class", qualified_name(driver_error))
    assert emitted_by_add == 0
    assert capture.count_of("INSERT") == 1
    assert isinstance(driver_error, engine.dialect.dbapi.IntegrityError)
    checks.equal("names stored", stored_names(engine), ["sandy"])


@behaviour("integrity.pending-rollback-until-rollback", doc="errors.html#error-7s2a")
def test_session_refuses_work_after_failed_flush_until_rollback(engine, capture, checks):
    """After a flush fails, the ``Session`` raises ``sqlalchemy.exc.PendingRollbackError`` for the next query,
    without sending it, until ``Session.rollback()``; after that, queries work again.

    Docs: Error Messages > This Session's transaction has been rolled back due to a previous exception during
    flush (7s2a); ORM > Transactions and Connection Management.
    """
    add_sandy(engine)
    with Session(engine) as session:
        session.add(User(name="sandy", fullname="Sandy Squirrel"))
        with pytest.raises(exc.IntegrityError), capture.observe():
            session.flush()
        statements_before = len(capture.statements)
        with pytest.raises(exc.PendingRollbackError), capture.observe():
            session.scalars(select(User.name)).all()
        sent_while_refused = len(capture.statements) - statements_before
        capture.measure("statements sent while refused", sent_while_refused)
        with capture.observe():
            session.rollback()
            names_after_rollback = session.scalars(select(User.name)).all()

    assert capture.round_trips > 0
    assert capture.exception["sqlalchemy"] == "sqlalchemy.exc.PendingRollbackError"
    assert sent_while_refused == 0
    checks.equal("names read after rollback", names_after_rollback, ["sandy"])
    checks.equal("names stored", stored_names(engine), ["sandy"])


@behaviour("integrity.failed-object-transient-after-rollback", doc="orm/session_basics.html#rolling-back")
def test_object_that_failed_to_insert_is_transient_after_rollback(engine, capture, checks):
    """After a failed flush and ``Session.rollback()``, the object whose INSERT failed is expunged: it is
    transient again, no longer in the Session, and absent from the database.

    Docs: ORM > Session Basics > Rolling Back (objects pending since the transaction began are expunged).
    """
    add_sandy(engine)
    duplicate = User(name="sandy", fullname="Sandy Squirrel")
    with Session(engine) as session:
        session.add(duplicate)
        with pytest.raises(exc.IntegrityError), capture.observe():
            session.flush()
        with capture.observe():
            session.rollback()
        in_session = capture.measure("in the Session after rollback", duplicate in session)

    assert capture.count_of("INSERT") == 1
    assert capture.kinds()[-1] == "rollback"
    checks.same("transient after rollback", inspect(duplicate).transient, True)
    assert in_session is False
    with engine.connect() as connection:
        fullnames = connection.scalars(select(user_table.c.fullname)).all()
    checks.equal("fullnames stored", fullnames, ["Sandy Cheeks"])


@behaviour("integrity.not-null-violation", doc="core/exceptions.html#sqlalchemy.exc.IntegrityError")
def test_not_null_violation_raises_integrity_error(engine, capture, checks):
    """Inserting NULL into a ``nullable=False`` column raises ``sqlalchemy.exc.IntegrityError`` wrapping the
    driver's own DBAPI ``IntegrityError``.

    Docs: Core > Core Exceptions > IntegrityError; PEP 249 (DBAPI) exceptions.
    """
    with checks.catch() as raised, capture.observe(), engine.begin() as connection:
        connection.execute(insert(user_table), {"name": None, "fullname": "Nobody"})

    check_integrity_error(checks, raised, engine)
    checks.equal("INSERT statements", capture.count_of("INSERT"), 1)
    checks.equal("last transaction event", capture.kinds()[-1], "rollback")
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(user_table)).scalar_one()
    checks.equal("rows stored", rows, 0)


@behaviour("integrity.core-duplicate-rollback-and-reuse", doc="core/exceptions.html#sqlalchemy.exc.IntegrityError")
def test_core_duplicate_key_rolls_back_and_connection_is_reused(engine, capture, checks):
    """A duplicate key in ``Connection.execute(insert(...))`` raises ``sqlalchemy.exc.IntegrityError``; the
    transaction stays open until ``Connection.rollback()``, after which the same connection runs and commits
    new work.

    Docs: Core > Core Exceptions > IntegrityError; Unified Tutorial > Working with Transactions and the DBAPI.
    """
    add_sandy(engine)
    with engine.connect() as connection:
        with pytest.raises(exc.IntegrityError) as raised, capture.observe():
            connection.execute(insert(user_table), {"name": "sandy", "fullname": "Sandy Squirrel"})
        open_after_error = capture.measure("in a transaction after the error", connection.in_transaction())
        with capture.observe():
            connection.rollback()
            connection.execute(insert(user_table), {"name": "patrick", "fullname": "Patrick Star"})
            connection.commit()

    capture.measure("driver exception class", qualified_name(raised.value.orig))
    assert open_after_error is True
    assert capture.kinds() == ["begin", "execute", "rollback", "begin", "execute", "commit"]
    checks.equal("names stored", stored_names(engine), ["patrick", "sandy"])


@behaviour("integrity.foreign-key-violation", doc="core/constraints.html#defining-foreign-keys")
def test_foreign_key_violation_raises_integrity_error(engine, capture, checks):
    """Inserting a row whose foreign key references no existing row raises ``sqlalchemy.exc.IntegrityError``
    wrapping the driver's own DBAPI ``IntegrityError``, and nothing is stored.

    Docs: Core > Defining Constraints and Indexes > Defining Foreign Keys; Core > Core Exceptions > IntegrityError.
    """
    with checks.catch() as raised, capture.observe(), engine.begin() as connection:
        connection.execute(insert(address_table), {"email_address": "nobody@nowhere.org", "user_id": 999})

    check_integrity_error(checks, raised, engine)
    checks.equal("INSERT statements", capture.count_of("INSERT"), 1)
    checks.equal("last transaction event", capture.kinds()[-1], "rollback")
    checks.equal("address rows stored", row_count(engine, address_table), 0)


@behaviour("integrity.check-constraint-violation", doc="core/constraints.html#check-constraint")
def test_check_constraint_violation_raises_integrity_error(engine, capture, make_tables, checks):
    """Inserting a row that fails a ``CheckConstraint`` raises ``sqlalchemy.exc.IntegrityError`` wrapping the
    driver's own DBAPI ``IntegrityError``, and nothing is stored.

    Docs: Core > Defining Constraints and Indexes > CHECK Constraint; Core > Core Exceptions > IntegrityError.
    """
    make_tables(stock_metadata)
    with checks.catch() as raised, capture.observe(), engine.begin() as connection:
        connection.execute(insert(stock_table), {"quantity": -1})

    check_integrity_error(checks, raised, engine)
    checks.equal("INSERT statements", capture.count_of("INSERT"), 1)
    checks.equal("stock rows stored", row_count(engine, stock_table), 0)


@behaviour("integrity.not-null-omitted-column", doc="core/exceptions.html#sqlalchemy.exc.IntegrityError")
def test_omitted_not_null_column_raises_integrity_error(engine, capture, checks):
    """An INSERT that leaves out a ``nullable=False`` column without any default raises
    ``sqlalchemy.exc.IntegrityError`` wrapping the driver's own DBAPI ``IntegrityError``, as an explicit NULL does.

    Docs: Core > Core Exceptions > IntegrityError; PEP 249 (DBAPI) exceptions.
    """
    with checks.catch() as raised, capture.observe(), engine.begin() as connection:
        connection.execute(insert(user_table).values(fullname="Nobody"))

    check_integrity_error(checks, raised, engine)
    checks.equal("INSERT statements", capture.count_of("INSERT"), 1)
    checks.equal("columns inserted", [inserted_columns(sql) for sql in capture.sql()[:1]], [["fullname"]])
    checks.equal("rows stored", row_count(engine, user_table), 0)


@behaviour("integrity.savepoint-recovers-after-error", doc="orm/session_transaction.html#using-savepoint")
def test_savepoint_rolls_back_only_the_failed_insert(engine, capture, checks):
    """A flush that fails inside ``Session.begin_nested()`` rolls back to the SAVEPOINT only: the transaction
    stays usable, the work flushed before the savepoint survives, and the commit stores it with later work.

    Docs: ORM > Transactions and Connection Management > Using SAVEPOINT.
    """
    add_sandy(engine)
    duplicate = User(name="sandy", fullname="Sandy Squirrel")
    with Session(engine) as session:
        with capture.observe():
            session.add(User(name="patrick", fullname="Patrick Star"))
            session.flush()
            with pytest.raises(exc.IntegrityError), session.begin_nested():
                session.add(duplicate)
            session.add(User(name="squidward", fullname="Squidward Tentacles"))
            session.commit()
        duplicate_in_session = capture.measure("failed object in the Session", duplicate in session)

    kinds = capture.measure("statement kinds", capture.kinds())
    assert kinds.index("savepoint") < kinds.index("rollback_savepoint")
    assert "rollback" not in kinds
    assert kinds[-1] == "commit"
    assert [error["sqlalchemy"] for error in capture.errors_seen] == ["sqlalchemy.exc.IntegrityError"]
    assert duplicate_in_session is False
    checks.equal("names stored", stored_names(engine), ["patrick", "sandy", "squidward"])


@behaviour("integrity.dbapi-error-orig-not-invalidated", doc="core/exceptions.html#sqlalchemy.exc.DBAPIError")
def test_integrity_error_wraps_driver_error_and_keeps_the_connection(engine, capture, checks):
    """An ``IntegrityError`` is a ``DBAPIError`` whose ``.orig`` is the driver's exception, whose ``.statement``
    is the SQL that failed and whose ``connection_invalidated`` is False: the connection is not invalidated,
    and after ``rollback()`` the same DBAPI connection runs the next statement.

    Docs: Core > Core Exceptions > DBAPIError; Core > Connection Pooling > Dealing with Disconnects.
    """
    add_sandy(engine)
    with engine.connect() as connection:
        dbapi_connection = connection.connection.dbapi_connection
        with pytest.raises(exc.DBAPIError) as raised, capture.observe():
            connection.execute(insert(user_table), {"name": "sandy", "fullname": "Sandy Squirrel"})
        invalidated = capture.measure("Connection.invalidated", connection.invalidated)
        connection.rollback()
        with capture.observe():
            names = connection.scalars(select(user_table.c.name)).all()
        same_dbapi_connection = connection.connection.dbapi_connection is dbapi_connection

    error = raised.value
    capture.measure("driver exception class", qualified_name(error.orig))
    assert isinstance(error, exc.IntegrityError)
    assert isinstance(error.orig, engine.dialect.dbapi.Error)
    checks.same("connection_invalidated", error.connection_invalidated, False)
    assert error.statement.lstrip().upper().startswith("INSERT")
    assert invalidated is False
    checks.same("same DBAPI connection after rollback", same_dbapi_connection, True)
    checks.equal("names read after rollback", names, ["sandy"])
