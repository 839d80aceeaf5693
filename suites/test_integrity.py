"""Integrity errors: when constraint violations surface, as which classes, and how a Session or Connection recovers."""

import pytest
from sqlalchemy import exc, func, insert, inspect, select

from fixtures.capture import qualified_name
from fixtures.compat import Session
from fixtures.models import User, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")


def stored_names(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(select(user_table.c.name).order_by(user_table.c.name)).all()


def add_sandy(engine) -> None:
    """Commit the user whose unique name the behaviours collide with, outside the observed window."""
    with engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "sandy", "fullname": "Sandy Cheeks"})


@behaviour("integrity.unique-violation-raised-at-flush", doc="orm/session_basics.html#flushing")
def test_duplicate_key_raises_integrity_error_at_flush_not_add(engine, capture):
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
    assert capture.measure("names stored", stored_names(engine)) == ["sandy"]


@behaviour("integrity.pending-rollback-until-rollback", doc="errors.html#error-7s2a")
def test_session_refuses_work_after_failed_flush_until_rollback(engine, capture):
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
    assert capture.measure("names read after rollback", names_after_rollback) == ["sandy"]
    assert capture.measure("names stored", stored_names(engine)) == ["sandy"]


@behaviour("integrity.failed-object-transient-after-rollback", doc="orm/session_transaction.html")
def test_object_that_failed_to_insert_is_transient_after_rollback(engine, capture):
    """After a failed flush and ``Session.rollback()``, the object whose INSERT failed is expunged: it is
    transient again, no longer in the Session, and absent from the database.

    Docs: ORM > Transactions and Connection Management; ORM > Session Basics > Rolling Back.
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
    assert capture.measure("transient after rollback", inspect(duplicate).transient) is True
    assert in_session is False
    with engine.connect() as connection:
        fullnames = connection.scalars(select(user_table.c.fullname)).all()
    assert capture.measure("fullnames stored", fullnames) == ["Sandy Cheeks"]


@behaviour("integrity.not-null-violation", doc="core/exceptions.html#sqlalchemy.exc.IntegrityError")
def test_not_null_violation_raises_integrity_error(engine, capture):
    """Inserting NULL into a ``nullable=False`` column raises ``sqlalchemy.exc.IntegrityError`` wrapping the
    driver's own DBAPI ``IntegrityError``.

    Docs: Core > Core Exceptions > IntegrityError; PEP 249 (DBAPI) exceptions.
    """
    with pytest.raises(exc.IntegrityError) as raised, capture.observe(), engine.begin() as connection:
        connection.execute(insert(user_table), {"name": None, "fullname": "Nobody"})

    driver_error = raised.value.orig
    capture.measure("driver exception class", qualified_name(driver_error))
    assert capture.count_of("INSERT") == 1
    assert capture.kinds()[-1] == "rollback"
    assert isinstance(driver_error, engine.dialect.dbapi.IntegrityError)
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(user_table)).scalar_one()
    assert capture.measure("rows stored", rows) == 0


@behaviour("integrity.core-duplicate-rollback-and-reuse", doc="core/exceptions.html#sqlalchemy.exc.IntegrityError")
def test_core_duplicate_key_rolls_back_and_connection_is_reused(engine, capture):
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
    assert capture.measure("names stored", stored_names(engine)) == ["patrick", "sandy"]
