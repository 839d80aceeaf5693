"""Connection pool: how pooled connections are reset, invalidated, checked and replaced when the server drops them."""

import time

import pytest
from sqlalchemy import event, exc, insert, select, text

from fixtures.capture import qualified_name
from fixtures.models import item_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")

KILL_WAIT_SECONDS = 5.0
SOCKET_CLOSE_GRACE_SECONDS = 0.1


# How to read a connection's server-side session id, end that session from another connection, and see whether it
# is still there: the per-target fact "server-session-sql" (fixtures/target_facts.toml); SQLite has no server (see
# the registry).


def server_session_id(connection, target_facts) -> int:
    return int(connection.execute(text(target_facts["server-session-sql"]["id"])).scalar_one())


def kill_server_session(make_engine, target_facts, session_id: int) -> None:
    """End a server session from a second engine, and wait until the server has really ended it."""
    sql = target_facts["server-session-sql"]
    killer = make_engine()
    with killer.connect() as connection:
        connection.execute(text(sql["kill"].format(id=int(session_id))))
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while connection.execute(text(sql["alive"].format(id=int(session_id)))).scalar_one():
            assert time.monotonic() < deadline, f"server session {session_id} still alive after being killed"
            connection.rollback()  # a new transaction sees the session list afresh
            time.sleep(0.02)
    # A server process leaves the session list just before it closes its socket; a statement sent in that gap
    # is answered with a TCP reset that some drivers (pg8000) surface as a bare OSError instead of a DBAPI error.
    time.sleep(SOCKET_CLOSE_GRACE_SECONDS)


def count_new_connections(engine) -> list:
    """The DBAPI connections the engine's pool opens from now on (its "connect" event)."""
    opened = []
    event.listen(engine, "connect", lambda dbapi_connection, record: opened.append(dbapi_connection))
    return opened


def stored_names(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(select(item_table.c.name).order_by(item_table.c.name)).all()


def commit_item(connection, name: str) -> None:
    connection.execute(insert(item_table).values(name=name))
    connection.commit()


@behaviour("pool.reset-on-return-rollback", doc="core/pooling.html#reset-on-return")
def test_returning_a_connection_to_the_pool_rolls_back_its_work(make_engine, engine, capture, checks):
    """When a DBAPI connection is returned to the pool, the pool rolls it back ("reset on return"): work left
    uncommitted on it is gone, and the same DBAPI connection is handed out again.

    Docs: Core > Connection Pooling > Reset On Return.
    """
    pooled = make_engine()
    resets = []
    event.listen(pooled, "reset", lambda *args: resets.append(args))

    with capture.observe():
        raw = pooled.raw_connection()
        returned = raw.dbapi_connection
        cursor = raw.cursor()
        cursor.execute("INSERT INTO item (name) VALUES ('uncommitted')")
        cursor.close()
        raw.close()  # back to the pool, no commit
        resets_on_return = len(resets)
        with pooled.connect() as connection:
            reused = connection.connection.dbapi_connection is returned
            seen_on_reused = connection.scalars(select(item_table.c.name)).all()

    checks.equal("reset events while returning the connection", resets_on_return, 1)
    checks.equal("same DBAPI connection handed out again", reused, True)
    checks.equal("rows seen on the reused connection", seen_on_reused, [])
    checks.equal("rows stored", stored_names(engine), [])


@behaviour("pool.connection-invalidate", doc="core/pooling.html#more-on-invalidation")
def test_invalidate_discards_the_dbapi_connection_and_uses_a_new_one(make_engine, engine, capture):
    """``Connection.invalidate()`` closes and discards the DBAPI connection, losing its uncommitted work; after
    ``Connection.rollback()`` the same ``Connection`` goes on with a new DBAPI connection from the pool.

    Docs: Core > Connection Pooling > More on Invalidation; Core > ``Connection.invalidate()``.
    """
    pooled = make_engine()
    opened = count_new_connections(pooled)
    invalidated = []
    event.listen(pooled, "invalidate", lambda dbapi_connection, *args: invalidated.append(dbapi_connection))

    with capture.observe(), pooled.connect() as connection:
        connection.execute(insert(item_table).values(name="lost"))
        first = connection.connection.dbapi_connection
        connection.invalidate()
        flagged = capture.measure("Connection.invalidated", connection.invalidated)
        connection.rollback()
        seen_after = connection.scalars(select(item_table.c.name)).all()
        second = connection.connection.dbapi_connection

    assert flagged is True
    assert capture.measure("invalidate events for the first DBAPI connection", invalidated.count(first)) == 1
    assert capture.measure("a different DBAPI connection afterwards", second is not first) is True
    assert capture.measure("DBAPI connections opened", len(opened)) == 2
    assert capture.measure("rows seen afterwards", seen_after) == []
    assert capture.measure("rows stored", stored_names(engine)) == []


@behaviour("pool.pre-ping-replaces-dropped", doc="core/pooling.html#disconnect-handling-pessimistic")
def test_pre_ping_replaces_a_pooled_connection_the_server_dropped(make_engine, engine, target_facts, capture):
    """With ``pool_pre_ping=True``, a pooled connection whose server session was ended while it sat in the pool
    is detected at checkout and replaced by a new one, without any error reaching the application.

    Docs: Core > Connection Pooling > Dealing with Disconnects > Disconnect Handling - Pessimistic.
    """
    pinged = make_engine(pool_pre_ping=True)
    opened = count_new_connections(pinged)
    with pinged.connect() as connection:
        first_session = server_session_id(connection, target_facts)
        commit_item(connection, "kept")
    kill_server_session(make_engine, target_facts, first_session)

    with capture.observe(), pinged.connect() as connection:
        second_session = server_session_id(connection, target_facts)
        seen = connection.scalars(select(item_table.c.name)).all()

    capture.measure("server sessions (before, after)", [first_session, second_session])
    assert capture.exception is None  # the pre-ping handled the disconnect: nothing reached the application
    assert second_session != first_session
    assert capture.measure("DBAPI connections opened", len(opened)) == 2
    assert capture.measure("rows seen on the new connection", seen) == ["kept"]
    assert stored_names(engine) == ["kept"]


@behaviour("pool.checked-out-connection-killed-recovers", doc="core/pooling.html#disconnect-handling-pessimistic")
def test_checked_out_connection_killed_raises_once_then_reconnects(make_engine, engine, target_facts, capture):
    """Pre-ping does not cover a connection already checked out: when the server ends its session, the next
    statement raises a ``DBAPIError`` with ``connection_invalidated`` set; after ``rollback()`` the same
    ``Connection`` reconnects to a new server session and nothing committed is lost.

    Docs: Core > Connection Pooling > Dealing with Disconnects > Disconnect Handling - Pessimistic ("the pre-ping
    approach does not accommodate for connections dropped in the middle of transactions").
    """
    pinged = make_engine(pool_pre_ping=True)
    with pinged.connect() as connection:
        commit_item(connection, "committed")
        first_session = server_session_id(connection, target_facts)
        kill_server_session(make_engine, target_facts, first_session)

        with capture.observe():
            with pytest.raises(exc.DBAPIError) as raised:
                connection.scalars(select(item_table.c.name)).all()
            connection.rollback()
            seen = connection.scalars(select(item_table.c.name)).all()
            second_session = server_session_id(connection, target_facts)

    capture.measure("server sessions (before, after)", [first_session, second_session])
    assert capture.measure("connection_invalidated", raised.value.connection_invalidated) is True
    assert isinstance(raised.value.orig, engine.dialect.dbapi.Error)
    assert second_session != first_session
    assert capture.measure("rows seen after reconnecting", seen) == ["committed"]
    assert stored_names(engine) == ["committed"]


@behaviour(
    "pool.killed-connection-invalidated-without-pre-ping", doc="core/pooling.html#disconnect-handling-optimistic"
)
def test_killed_pooled_connection_raises_connection_invalidated_without_pre_ping(make_engine, target_facts, capture):
    """Without pre-ping, a pooled connection whose server session was ended fails on first use with a
    ``DBAPIError`` whose ``connection_invalidated`` is True and whose ``.orig`` is the driver's error; the next
    checkout gets a new, working connection.

    Docs: Core > Connection Pooling > Dealing with Disconnects > Disconnect Handling - Optimistic;
    Core > Core Exceptions > ``DBAPIError.connection_invalidated``.
    """
    optimistic = make_engine()
    with optimistic.connect() as connection:
        first_session = server_session_id(connection, target_facts)
    kill_server_session(make_engine, target_facts, first_session)

    with capture.observe():
        with pytest.raises(exc.DBAPIError) as raised, optimistic.connect() as connection:
            connection.execute(select(1)).scalar_one()
        with optimistic.connect() as connection:
            second_session = server_session_id(connection, target_facts)

    capture.measure("server sessions (before, after)", [first_session, second_session])
    capture.measure("driver exception class", qualified_name(raised.value.orig))
    assert capture.measure("connection_invalidated", raised.value.connection_invalidated) is True
    assert isinstance(raised.value.orig, optimistic.dialect.dbapi.Error)
    assert second_session != first_session


@behaviour("pool.disconnect-invalidates-whole-pool", doc="core/pooling.html#disconnect-handling-optimistic")
def test_a_detected_disconnect_invalidates_every_pooled_connection(make_engine, target_facts, capture):
    """When a disconnect is detected on one connection, the whole pool is invalidated: the other connections
    idle in the pool at that moment are also replaced by new ones at their next checkout.

    Docs: Core > Connection Pooling > Dealing with Disconnects > Disconnect Handling - Optimistic ("all
    connections in the pool are invalidated"); More on Invalidation.
    """
    optimistic = make_engine()
    opened = count_new_connections(optimistic)
    with optimistic.connect() as killed_first, optimistic.connect() as idle_meanwhile:
        killed_session = server_session_id(killed_first, target_facts)
        old_sessions = {killed_session, server_session_id(idle_meanwhile, target_facts)}
        killed_first.close()  # returned first: the pool (first in, first out) hands it out next
    kill_server_session(make_engine, target_facts, killed_session)

    with capture.observe():
        with pytest.raises(exc.DBAPIError) as raised, optimistic.connect() as connection:
            connection.execute(select(1)).scalar_one()
        with optimistic.connect() as first, optimistic.connect() as second:
            new_sessions = {server_session_id(first, target_facts), server_session_id(second, target_facts)}

    capture.measure("server sessions (before, after)", [sorted(old_sessions), sorted(new_sessions)])
    assert raised.value.connection_invalidated is True
    assert capture.measure("DBAPI connections opened", len(opened)) == 4
    assert capture.measure("old sessions reused", sorted(old_sessions & new_sessions)) == []
    assert len(new_sessions) == 2
