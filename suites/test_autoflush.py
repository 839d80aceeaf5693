"""Autoflush: a Session pushes pending and dirty objects to the database before it queries, unless told not to."""

import pytest
from sqlalchemy import insert, select

from fixtures.compat import Session
from fixtures.models import User, stored_users, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")


def add_sandy(engine) -> int:
    """Commit one user row outside the observed window; return its primary key."""
    with engine.begin() as connection:
        result = connection.execute(insert(user_table), {"name": "sandy", "fullname": "Sandy Cheeks"})
        return result.inserted_primary_key[0]


def assert_held_back_until_commit(engine, capture, found, still_pending) -> None:
    """The query ran alone (no INSERT before it), missed the pending object, which stayed pending
    and was stored by the commit."""
    assert capture.measure("statement verbs", capture.verbs()) == ["SELECT"]
    assert capture.measure("object found by the query", found is not None) is False
    assert still_pending is True
    assert capture.measure("rows after commit", stored_users(engine)) == [("sandy", "Sandy Cheeks")]


@behaviour("autoflush.pending-flushed-before-query", doc="orm/session_basics.html#flushing")
def test_query_flushes_pending_object_first(engine, capture, checks):
    """A query in a ``Session`` first flushes a pending object (INSERT before the SELECT), so the query finds it.

    Docs: ORM > Session Basics > Flushing ("autoflush"); Unified Tutorial > Data Manipulation with the ORM.
    """
    sandy = User(name="sandy", fullname="Sandy Cheeks")
    with Session(engine) as session:
        with capture.observe():
            session.add(sandy)
            found = session.scalars(select(User).where(User.name == "sandy")).one_or_none()
        pending_after_query = capture.measure("pending after the query", len(session.new))
        session.commit()

    checks.equal("statement verbs", capture.verbs(), ["INSERT", "SELECT"])
    assert found is sandy
    assert pending_after_query == 0
    checks.equal("rows after commit", stored_users(engine), [("sandy", "Sandy Cheeks")])


@behaviour("autoflush.no-autoflush-block-holds-back", doc="orm/session_basics.html#flushing")
def test_no_autoflush_block_holds_pending_object_back(engine, capture):
    """Inside ``with session.no_autoflush:`` a query emits no INSERT for a pending object and does not find it;
    the object stays pending and is flushed later.

    Docs: ORM > Session Basics > Flushing (``Session.no_autoflush``).
    """
    sandy = User(name="sandy", fullname="Sandy Cheeks")
    with Session(engine) as session:
        with capture.observe():
            session.add(sandy)
            with session.no_autoflush:
                found = session.scalars(select(User).where(User.name == "sandy")).one_or_none()
        still_pending = capture.measure("still pending after the query", sandy in session.new)
        session.commit()

    assert_held_back_until_commit(engine, capture, found, still_pending)


@behaviour("autoflush.session-autoflush-false-holds-back", doc="orm/session_basics.html#flushing")
def test_session_with_autoflush_false_holds_pending_object_back(engine, capture):
    """A ``Session(engine, autoflush=False)`` does not flush a pending object before a query, so the query
    emits no INSERT and does not find it; the object stays pending.

    Docs: ORM > Session Basics > Flushing (the ``Session.autoflush`` parameter).
    """
    sandy = User(name="sandy", fullname="Sandy Cheeks")
    with Session(engine, autoflush=False) as session:
        with capture.observe():
            session.add(sandy)
            found = session.scalars(select(User).where(User.name == "sandy")).one_or_none()
        still_pending = capture.measure("still pending after the query", sandy in session.new)
        session.commit()

    assert_held_back_until_commit(engine, capture, found, still_pending)


@behaviour("autoflush.get-from-identity-map-without-sql", doc="orm/session_basics.html#get-by-primary-key")
def test_get_returns_identity_map_object_without_sql(engine, capture, checks):
    """``Session.get()`` for a primary key already in the identity map returns that same object and emits no SQL.

    Docs: ORM > Session Basics > Get by Primary Key; Unified Tutorial > Data Manipulation with the ORM >
    Getting Objects by Primary Key from the Identity Map.
    """
    sandy_id = add_sandy(engine)
    with Session(engine) as session:
        with capture.observe():
            loaded = session.scalars(select(User).where(User.name == "sandy")).one()
            statements_before_get = len(capture.statements)
            again = session.get(User, sandy_id)
            added_by_get = capture.measure("statements added by get()", len(capture.statements) - statements_before_get)
        fullname_in_session = again.fullname

    assert capture.round_trips > 0
    checks.equal("statement verbs", capture.verbs(), ["SELECT"])
    assert added_by_get == 0
    assert again is loaded
    checks.equal("rows in the database", stored_users(engine), [("sandy", fullname_in_session)])


@behaviour(
    "autoflush.dirty-flushed-as-update-before-query",
    doc="tutorial/orm_data_manipulation.html#updating-orm-objects-using-the-unit-of-work-pattern",
)
def test_query_flushes_dirty_change_as_update_first(engine, capture, checks):
    """A changed attribute of a persistent object is flushed as an UPDATE before the next query, which reads
    the new value, and ``Session.dirty`` is empty afterwards.

    Docs: Unified Tutorial > Data Manipulation with the ORM > Updating ORM Objects using the Unit of Work pattern.
    """
    sandy_id = add_sandy(engine)
    with Session(engine) as session:
        sandy = session.get(User, sandy_id)
        with capture.observe():
            sandy.fullname = "Sandy Squirrel"
            dirty_before = capture.measure("dirty before the query", sandy in session.dirty)
            read_back = session.scalars(select(User.fullname).where(User.id == sandy_id)).one()
            dirty_after = capture.measure("dirty after the query", sandy in session.dirty)
        session.commit()

    checks.equal("statement verbs", capture.verbs(), ["UPDATE", "SELECT"])
    assert dirty_before is True
    assert dirty_after is False
    checks.equal("value read by the query", read_back, "Sandy Squirrel")
    checks.equal("rows after commit", stored_users(engine), [("sandy", "Sandy Squirrel")])
