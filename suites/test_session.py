"""ORM Session: the identity map, change tracking, expiry and refresh, rollback, detachment, merge, and
ORM-enabled UPDATE/DELETE keeping the objects in the Session in step with the rows."""

import re

import pytest
from sqlalchemy import delete, func, insert, inspect, select, update
from sqlalchemy.orm.exc import DetachedInstanceError

from fixtures.compat import Session
from fixtures.models import User, stored_users, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")

SET_CLAUSE = re.compile(r"\bSET\s+(.*?)\s+WHERE\b", re.IGNORECASE | re.DOTALL)
ASSIGNED_COLUMN = re.compile(r"[`\"]?(\w+)[`\"]?\s*=")


def add_users(engine, **fullnames: str) -> dict[str, int]:
    """Commit one user row per ``name=fullname`` outside the observed window; return their primary keys by name."""
    with engine.begin() as connection:
        for name, fullname in fullnames.items():
            connection.execute(insert(user_table), {"name": name, "fullname": fullname})
        return {name: id_ for name, id_ in connection.execute(select(user_table.c.name, user_table.c.id))}


def set_fullname_elsewhere(engine, user_id: int, fullname: str) -> None:
    """Change a row through another connection and commit, behind the Session's back."""
    with engine.begin() as connection:
        connection.execute(update(user_table).where(user_table.c.id == user_id).values(fullname=fullname))


def with_returning(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "RETURNING" in sql.upper()]


def returning_or_select_first(statements: list[str], verb: str) -> str:
    """How the "fetch" strategy found the affected rows: ``RETURNING`` on the statement itself, or a
    ``SELECT`` before it; anything else is reported as the verbs seen."""
    seen = [sql.split(None, 1)[0].upper() for sql in statements]
    if seen == [verb] and "RETURNING" in statements[0].upper():
        return "RETURNING"
    if seen == ["SELECT", verb] and "RETURNING" not in statements[1].upper():
        return "SELECT before"
    return f"unexpected: {seen}"


@behaviour("session.identity-map-one-object-per-row", doc="orm/session_basics.html#get-by-primary-key")
def test_identity_map_gives_one_object_per_primary_key(engine, capture, checks):
    """Within one ``Session`` a primary key maps to exactly one Python object: the first ``Session.get()``
    emits a SELECT, a second ``get()`` emits none, and a query that finds the same row returns the same object.

    Docs: ORM > Session Basics > Get by Primary Key; Unified Tutorial > Data Manipulation with the ORM >
    Identity Map.
    """
    sandy_id = add_users(engine, sandy="Sandy Cheeks")["sandy"]
    with Session(engine) as session, capture.observe():
        first = session.get(User, sandy_id)
        selects_after_first_get = capture.measure("SELECTs after the first get()", capture.count_of("SELECT"))
        second = session.get(User, sandy_id)
        selects_after_second_get = capture.measure("SELECTs after the second get()", capture.count_of("SELECT"))
        by_name = session.scalars(select(User).where(User.name == "sandy")).one()
        objects_in_identity_map = capture.measure("objects in the identity map", len(session.identity_map))

    assert selects_after_first_get == 1
    assert selects_after_second_get == 1
    checks.equal("statement verbs", capture.verbs(), ["SELECT", "SELECT"])
    assert second is first
    assert by_name is first
    assert objects_in_identity_map == 1
    assert stored_users(engine) == [("sandy", first.fullname)]


@behaviour("session.dirty-tracks-changed-attributes", doc="orm/session_api.html#sqlalchemy.orm.Session.dirty")
def test_dirty_lists_changed_objects_and_flush_updates_only_changed_columns(engine, capture, checks):
    """Changing an attribute of a persistent object puts it, and only it, in ``Session.dirty``; the flush
    emits one UPDATE whose SET clause names only the changed column.

    Docs: ORM > Session API > Session.dirty; Unified Tutorial > Data Manipulation with the ORM > Updating ORM
    Objects using the Unit of Work pattern.
    """
    add_users(engine, sandy="Sandy Cheeks", patrick="Patrick Star")
    with Session(engine) as session:
        sandy, _patrick = session.scalars(select(User).order_by(User.name.desc())).all()
        with capture.observe():
            sandy.fullname = "Sandy Squirrel"
            dirty = capture.measure("Session.dirty", sorted(user.name for user in session.dirty))
            modified = capture.measure("Session.is_modified(sandy)", session.is_modified(sandy))
            session.flush()
        dirty_after_flush = capture.measure("Session.dirty after flush", len(session.dirty))
        session.commit()

    assert dirty == ["sandy"]
    assert modified is True
    assert dirty_after_flush == 0
    checks.equal("statement verbs", capture.verbs(), ["UPDATE"])
    set_clause = SET_CLAUSE.search(capture.sql()[0])
    assert set_clause is not None
    checks.equal("columns SET", ASSIGNED_COLUMN.findall(set_clause.group(1)), ["fullname"])
    checks.equal(
        "rows after commit",
        stored_users(engine),
        [
            ("patrick", "Patrick Star"),
            ("sandy", "Sandy Squirrel"),
        ],
    )


@behaviour("session.dirty-without-net-change-no-update", doc="orm/session_api.html#sqlalchemy.orm.Session.dirty")
def test_assigning_the_same_value_is_dirty_but_flushes_nothing(engine, capture, checks):
    """``Session.dirty`` is optimistic: assigning an attribute its current value puts the object there, but
    ``Session.is_modified()`` is False and the flush emits no UPDATE.

    Docs: ORM > Session API > Session.dirty ("this 'dirty' calculation is 'optimistic'"); Session.is_modified().
    """
    sandy_id = add_users(engine, sandy="Sandy Cheeks")["sandy"]
    with Session(engine) as session:
        sandy = session.get(User, sandy_id)
        with capture.observe():
            sandy.fullname = "Sandy Cheeks"
            in_dirty = capture.measure("in Session.dirty", sandy in session.dirty)
            modified = capture.measure("Session.is_modified(sandy)", session.is_modified(sandy))
            session.flush()
        session.commit()

    assert in_dirty is True
    assert modified is False
    checks.equal("statement verbs", capture.verbs(), [])
    checks.equal("rows after commit", stored_users(engine), [("sandy", "Sandy Cheeks")])


@behaviour("session.expire-on-commit-reloads", doc="orm/session_basics.html#committing")
def test_commit_expires_attributes_and_next_access_selects_the_row(engine, capture, checks):
    """``Session.commit()`` expires every attribute of the objects in the Session; the next attribute access
    begins a new transaction and SELECTs the row by primary key, so it sees a change committed elsewhere;
    a second access emits no SQL.

    Docs: ORM > Session Basics > Committing; Unified Tutorial > Data Manipulation with the ORM > Committing
    (expire_on_commit).
    """
    sandy = User(name="sandy", fullname="Sandy Cheeks")
    with Session(engine) as session:
        session.add(sandy)
        session.commit()
        expired = capture.measure("expired after commit", sorted(inspect(sandy).expired_attributes))
        set_fullname_elsewhere(engine, inspect(sandy).identity[0], "Sandy Squirrel")
        with capture.observe():
            reloaded = sandy.fullname
            statements_after_first_access = len(capture.statements)
            again = sandy.fullname
            added_by_second_access = len(capture.statements) - statements_after_first_access

    assert {"id", "name", "fullname"} <= set(expired)
    checks.equal("statement kinds", capture.kinds(), ["begin", "execute"])
    assert capture.count_of("SELECT") == 1
    assert "user_account.id =" in capture.sql()[0]
    checks.equal("statements added by the second access", added_by_second_access, 0)
    checks.equal("value after reload", reloaded, "Sandy Squirrel")
    assert again == reloaded
    assert stored_users(engine) == [("sandy", "Sandy Squirrel")]


@behaviour("session.rollback-expires-changes", doc="orm/session_basics.html#rolling-back")
def test_rollback_expires_changes_and_next_access_reloads_stored_value(engine, capture, checks):
    """After ``Session.rollback()`` a change that was already flushed is gone from the database and the
    object is expired: the next attribute access SELECTs the row and shows the stored value again.

    Docs: ORM > Session Basics > Rolling Back; Unified Tutorial > Data Manipulation with the ORM > Rolling Back.
    """
    sandy_id = add_users(engine, sandy="Sandy Cheeks")["sandy"]
    with Session(engine) as session:
        sandy = session.get(User, sandy_id)
        sandy.fullname = "Sandy Squirrel"
        session.flush()
        with capture.observe():
            session.rollback()
            expired = capture.measure("expired after rollback", sorted(inspect(sandy).expired_attributes))
            fullname = sandy.fullname

    assert "fullname" in expired
    checks.equal("statement kinds", capture.kinds(), ["rollback", "begin", "execute"])
    assert capture.count_of("SELECT") == 1
    checks.equal("value after rollback", fullname, "Sandy Cheeks")
    checks.equal("rows after rollback", stored_users(engine), [("sandy", "Sandy Cheeks")])


@behaviour("session.rollback-restores-deleted-expunges-pending", doc="orm/session_basics.html#rolling-back")
def test_rollback_restores_deleted_objects_and_expunges_pending_ones(engine, capture, checks):
    """``Session.rollback()`` puts an object deleted in the transaction back into the Session as persistent,
    and expunges an object that was added (pending or flushed) in it, which becomes transient.

    Docs: ORM > Session Basics > Rolling Back ("Objects which were initially in the pending state ... are
    expunged"; "Objects which were marked as deleted ... are promoted back to the persistent state").
    """
    patrick_id = add_users(engine, patrick="Patrick Star")["patrick"]
    squidward = User(name="squidward", fullname="Squidward Tentacles")
    with Session(engine) as session:
        patrick = session.get(User, patrick_id)
        session.delete(patrick)
        session.add(squidward)
        with capture.observe():
            session.flush()
            session.rollback()
        patrick_persistent = capture.measure("deleted object persistent again", inspect(patrick).persistent)
        patrick_in_session = capture.measure("deleted object in the Session", patrick in session)
        squidward_transient = capture.measure("added object transient", inspect(squidward).transient)
        squidward_in_session = capture.measure("added object in the Session", squidward in session)

    assert sorted(capture.verbs()) == ["DELETE", "INSERT"]
    assert capture.kinds()[-1] == "rollback"
    assert patrick_persistent is True
    assert patrick_in_session is True
    assert squidward_transient is True
    assert squidward_in_session is False
    checks.equal("rows after rollback", stored_users(engine), [("patrick", "Patrick Star")])


@behaviour("session.close-detaches-expired-raise", doc="errors.html#error-bhk3")
def test_expired_attribute_of_detached_object_raises(engine, capture, checks):
    """After ``Session.commit()`` (which expires) and ``Session.close()`` (which detaches), reading an
    attribute raises ``DetachedInstanceError`` without emitting SQL; ``Session.add()`` into a new Session
    re-attaches the object and the access SELECTs the row.

    Docs: Unified Tutorial > Data Manipulation with the ORM > Closing a Session; Error Messages > Parent
    instance is not bound to a Session (bhk3).
    """
    sandy = User(name="sandy", fullname="Sandy Cheeks")
    session = Session(engine)
    session.add(sandy)
    session.commit()
    session.close()
    detached = capture.measure("detached after close", inspect(sandy).detached)
    with pytest.raises(DetachedInstanceError), capture.observe():
        _ = sandy.fullname
    statements_while_detached = capture.measure("statements while detached", len(capture.statements))
    with Session(engine) as again, capture.observe():
        again.add(sandy)
        fullname = sandy.fullname

    assert detached is True
    assert statements_while_detached == 0
    assert capture.exception["sqlalchemy"] == "sqlalchemy.orm.exc.DetachedInstanceError"
    checks.equal("statement verbs after re-attaching", capture.verbs(), ["SELECT"])
    assert fullname == "Sandy Cheeks"
    assert stored_users(engine) == [("sandy", "Sandy Cheeks")]


@behaviour("session.merge-copies-state-into-persistent", doc="orm/session_state_management.html#merging")
def test_merge_loads_the_persistent_instance_and_copies_state_onto_it(engine, capture, checks):
    """``Session.merge(detached)`` SELECTs the row when its key is not in the identity map, copies the given
    object's state onto the persistent instance it returns (a different object), and the flush UPDATEs the
    row; merging again finds the instance in the identity map and emits no SELECT.

    Docs: ORM > State Management > Merging.
    """
    sandy_id = add_users(engine, sandy="Sandy Cheeks")["sandy"]
    with Session(engine, expire_on_commit=False) as first_session:
        detached = first_session.get(User, sandy_id)
    detached.fullname = "Sandy Squirrel"
    with Session(engine) as session:
        with capture.observe():
            merged = session.merge(detached)
            selects_by_first_merge = capture.measure("SELECTs by the first merge()", capture.count_of("SELECT"))
            merged_again = session.merge(detached)
            selects_by_both = capture.measure("SELECTs after the second merge()", capture.count_of("SELECT"))
        dirty = capture.measure("merged instance dirty", merged in session.dirty)
        merged_fullname = capture.measure("merged instance's value", merged.fullname)
        with capture.observe():
            session.commit()

    assert selects_by_first_merge == 1
    assert selects_by_both == 1
    assert merged is not detached
    assert merged_again is merged
    assert merged_fullname == "Sandy Squirrel"
    assert dirty is True
    assert capture.count_of("UPDATE") == 1
    checks.equal("rows after commit", stored_users(engine), [("sandy", "Sandy Squirrel")])


@behaviour("session.refresh-overwrites-changes", doc="orm/session_state_management.html#refreshing-expiring")
def test_refresh_selects_the_row_and_discards_unflushed_changes(engine, capture, checks):
    """``Session.refresh(obj)`` SELECTs the row at once and overwrites attribute changes not yet flushed,
    so the object is no longer modified and the commit emits no UPDATE.

    Docs: ORM > State Management > Refreshing / Expiring.
    """
    sandy_id = add_users(engine, sandy="Sandy Cheeks")["sandy"]
    with Session(engine) as session:
        sandy = session.get(User, sandy_id)
        sandy.fullname = "Sandy Squirrel"
        with capture.observe():
            session.refresh(sandy)
            fullname = capture.measure("value after refresh", sandy.fullname)
            modified = capture.measure("Session.is_modified(sandy)", session.is_modified(sandy))
            session.commit()

    checks.equal("statement verbs", capture.verbs(), ["SELECT"])
    assert fullname == "Sandy Cheeks"
    assert modified is False
    assert stored_users(engine) == [("sandy", "Sandy Cheeks")]


@behaviour("session.orm-update-evaluate", doc="orm/queryguide/dml.html#orm-queryguide-update-delete-sync")
def test_orm_update_evaluate_syncs_objects_in_python_without_select(engine, capture):
    """An ORM-enabled ``update()`` with ``synchronize_session="evaluate"`` evaluates its WHERE criteria in
    Python against the objects in the Session: only the UPDATE is emitted (no SELECT, no RETURNING), and
    matching objects carry the new value without a refresh.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Selecting a Synchronization Strategy.
    """
    add_users(engine, sandy="Sandy Cheeks", patrick="Patrick Star")
    with Session(engine) as session:
        sandy, patrick = session.scalars(select(User).order_by(User.name.desc())).all()
        statement = update(User).where(User.name == "sandy").values(fullname="Sandy Squirrel")
        with capture.observe():
            session.execute(statement, execution_options={"synchronize_session": "evaluate"})
            in_session = capture.measure("in-session values", [sandy.fullname, patrick.fullname])
        session.commit()

    assert capture.measure("statement verbs", capture.verbs()) == ["UPDATE"], "evaluate emits no SELECT"
    assert capture.measure("statements with RETURNING", with_returning(capture.sql())) == [], "evaluate: no RETURNING"
    assert in_session == ["Sandy Squirrel", "Patrick Star"]
    assert capture.measure("rows after commit", stored_users(engine)) == [
        ("patrick", "Patrick Star"),
        ("sandy", "Sandy Squirrel"),
    ]


@behaviour("session.orm-update-fetch", doc="orm/queryguide/dml.html#orm-queryguide-update-delete-sync")
def test_orm_update_fetch_finds_rows_by_returning_or_select(engine, capture, target_facts):
    """An ORM-enabled ``update()`` with ``synchronize_session="fetch"`` learns the matched primary keys from
    UPDATE..RETURNING where the target documents it, else from a SELECT before the UPDATE (per-target fact
    orm-fetch-update-finds-rows-by), and the matching objects in the Session carry the new value.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Selecting a Synchronization Strategy.
    """
    add_users(engine, sandy="Sandy Cheeks", patrick="Patrick Star")
    with Session(engine) as session:
        sandy, patrick = session.scalars(select(User).order_by(User.name.desc())).all()
        statement = update(User).where(User.name == "sandy").values(fullname="Sandy Squirrel")
        with capture.observe():
            session.execute(statement, execution_options={"synchronize_session": "fetch"})
            in_session = capture.measure("in-session values", [sandy.fullname, patrick.fullname])
        session.commit()

    strategy = capture.measure("matched rows found by", returning_or_select_first(capture.sql(), "UPDATE"))
    assert strategy == target_facts["orm-fetch-update-finds-rows-by"]
    assert in_session == ["Sandy Squirrel", "Patrick Star"]
    assert capture.measure("rows after commit", stored_users(engine)) == [
        ("patrick", "Patrick Star"),
        ("sandy", "Sandy Squirrel"),
    ]


@behaviour("session.orm-delete-fetch", doc="orm/queryguide/dml.html#orm-queryguide-update-delete-sync")
def test_orm_delete_fetch_marks_matched_objects_deleted(engine, capture, target_facts):
    """An ORM-enabled ``delete()`` with ``synchronize_session="fetch"`` learns the matched primary keys from
    DELETE..RETURNING where the target documents it, else from a SELECT before the DELETE (per-target fact
    orm-fetch-delete-finds-rows-by), and moves the matching objects out of the Session into the deleted state.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Selecting a Synchronization Strategy.
    """
    add_users(engine, sandy="Sandy Cheeks", patrick="Patrick Star")
    with Session(engine) as session:
        sandy, patrick = session.scalars(select(User).order_by(User.name.desc())).all()
        statement = delete(User).where(User.name == "patrick")
        with capture.observe():
            session.execute(statement, execution_options={"synchronize_session": "fetch"})
        patrick_in_session = capture.measure("deleted object in the Session", patrick in session)
        patrick_deleted = capture.measure("deleted object marked deleted", inspect(patrick).was_deleted)
        sandy_in_session = capture.measure("other object in the Session", sandy in session)
        session.commit()

    strategy = capture.measure("matched rows found by", returning_or_select_first(capture.sql(), "DELETE"))
    assert strategy == target_facts["orm-fetch-delete-finds-rows-by"]
    assert patrick_in_session is False
    assert patrick_deleted is True
    assert sandy_in_session is True
    assert capture.measure("rows after commit", stored_users(engine)) == [("sandy", "Sandy Cheeks")]


@behaviour(
    "session.orm-update-auto-falls-back-to-fetch",
    doc="orm/queryguide/dml.html#orm-queryguide-update-delete-sync",
    requires="2.0",
)
def test_orm_update_auto_evaluates_when_it_can_and_fetches_otherwise(engine, capture, target_facts):
    """With the default ``synchronize_session="auto"``, an ORM-enabled ``update()`` whose WHERE criteria can
    be evaluated in Python emits only the UPDATE (no SELECT, no RETURNING); criteria it cannot evaluate (a SQL
    function) make it fall back to "fetch" (RETURNING where the target has UPDATE..RETURNING, else a SELECT
    first); either way the objects in the Session are synchronised.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Selecting a Synchronization Strategy.
    """
    add_users(engine, sandy="Sandy Cheeks", patrick="Patrick Star")
    with Session(engine) as session:
        sandy, patrick = session.scalars(select(User).order_by(User.name.desc())).all()
        evaluable = update(User).where(User.name == "sandy").values(fullname="Sandy Squirrel")
        not_evaluable = update(User).where(func.lower(User.name) == "patrick").values(fullname="Patrick Starfish")
        with capture.observe():
            session.execute(evaluable)
        evaluable_verbs = capture.measure("statements for evaluable criteria", capture.verbs())
        evaluable_returning = capture.measure("evaluable: statements with RETURNING", with_returning(capture.sql()))
        capture.statements.clear()
        with capture.observe():
            session.execute(not_evaluable)
        strategy = capture.measure("fallback found rows by", returning_or_select_first(capture.sql(), "UPDATE"))
        in_session = capture.measure("in-session values", [sandy.fullname, patrick.fullname])
        session.commit()

    assert evaluable_verbs == ["UPDATE"], "evaluable criteria: no SELECT"
    assert evaluable_returning == [], "evaluable criteria: no RETURNING"
    assert strategy == target_facts["orm-fetch-update-finds-rows-by"]
    assert in_session == ["Sandy Squirrel", "Patrick Starfish"]
    assert capture.measure("rows after commit", stored_users(engine)) == [
        ("patrick", "Patrick Starfish"),
        ("sandy", "Sandy Squirrel"),
    ]
