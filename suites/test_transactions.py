"""Transactions: implicit BEGIN, commit as you go, begin once, the Session's own transaction, savepoints,
isolation levels and transactional DDL.

Tutorial: Working with Transactions and the DBAPI; Executing with an ORM Session.
"""

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, inspect, select, text

from fixtures.compat import Session
from fixtures.models import User, user_table
from fixtures.plugin import behaviour

ISOLATION_DOC = "core/connections.html#setting-transaction-isolation-levels-including-dbapi-autocommit"

# For a connection at its default level, a different level its backend offers on every driver
# (SQLite offers only SERIALIZABLE and READ UNCOMMITTED; asyncpg offers no READ UNCOMMITTED).
ANOTHER_ISOLATION_LEVEL = {
    "READ COMMITTED": "SERIALIZABLE",
    "REPEATABLE READ": "SERIALIZABLE",
    "SERIALIZABLE": "READ UNCOMMITTED",
}


def count_users(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(user_table)).scalar_one()


@pytest.mark.usefixtures("tables")
@behaviour("txn.connect-implicit-begin-rollback", doc="tutorial/dbapi_transactions.html#getting-a-connection")
def test_connect_begins_implicitly_and_rolls_back_at_block_end(engine, capture, checks):
    """``engine.connect()`` begins a transaction implicitly and rolls it back when the block ends,
    so work that was not committed is gone.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Getting a Connection.
    """
    with capture.observe(), engine.connect() as connection:
        connection.execute(insert(user_table), {"name": "spongebob", "fullname": "Spongebob Squarepants"})

    checks.equal("events", capture.kinds(), ["begin", "execute", "rollback"])
    assert capture.count_of("INSERT") == 1
    checks.equal("rows after the block", count_users(engine), 0)


@pytest.mark.usefixtures("tables")
@behaviour("txn.commit-as-you-go", doc="tutorial/dbapi_transactions.html#committing-changes")
def test_commit_as_you_go_commits_each_unit_and_begins_again(engine, capture, checks):
    """Calling ``Connection.commit()`` several times in one ``connect()`` block commits each unit
    of work; the next statement begins a new transaction, and uncommitted work after the last
    commit is rolled back.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Committing Changes ("commit as you go").
    """
    with capture.observe(), engine.connect() as connection:
        connection.execute(text("INSERT INTO user_account (name) VALUES (:name)"), {"name": "sandy"})
        connection.commit()
        connection.execute(text("INSERT INTO user_account (name) VALUES (:name)"), {"name": "patrick"})
        connection.commit()
        connection.execute(text("INSERT INTO user_account (name) VALUES (:name)"), {"name": "squidward"})

    assert capture.kinds() == [
        "begin",
        "execute",
        "commit",
        "begin",
        "execute",
        "commit",
        "begin",
        "execute",
        "rollback",
    ]
    with engine.connect() as connection:
        names = connection.scalars(select(user_table.c.name).order_by(user_table.c.name)).all()
    checks.equal("rows kept", names, ["patrick", "sandy"])


@pytest.mark.usefixtures("tables")
@behaviour("txn.begin-once-commits", doc="tutorial/dbapi_transactions.html#committing-changes")
def test_begin_once_commits_at_block_end(engine, capture, checks):
    """``engine.begin()`` opens a transaction that is committed when the block ends normally.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Begin Once.
    """
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(user_table), [{"name": "sandy"}, {"name": "patrick"}])

    assert capture.kinds()[0] == "begin"
    assert capture.kinds()[-1] == "commit"
    assert "rollback" not in capture.kinds()
    checks.equal("rows after the block", count_users(engine), 2)


@pytest.mark.usefixtures("tables")
@behaviour("txn.begin-once-rolls-back-on-error", doc="tutorial/dbapi_transactions.html#committing-changes")
def test_begin_once_rolls_back_when_block_raises(engine, capture, checks):
    """When the ``engine.begin()`` block raises, the transaction is rolled back and the exception propagates.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Begin Once.
    """

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), capture.observe(), engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "sandy"})
        raise Abandon()

    assert capture.kinds() == ["begin", "execute", "rollback"]
    checks.equal("rows after the block", count_users(engine), 0)


@pytest.mark.usefixtures("tables")
@behaviour(
    "txn.session-implicit-begin-rollback-on-close", doc="tutorial/dbapi_transactions.html#executing-with-an-orm-session"
)
def test_session_begins_implicitly_and_rolls_back_on_close(engine, capture, checks):
    """A ``Session`` begins a transaction implicitly at its first SQL, and ``close()`` without
    ``commit()`` rolls it back, discarding the flushed rows.

    Docs: Unified Tutorial > Executing with an ORM Session; ORM > Session Basics > Closing.
    """
    with capture.observe():
        session = Session(engine)
        session.add(User(name="spongebob", fullname="Spongebob Squarepants"))
        session.flush()
        session.close()

    assert capture.kinds()[0] == "begin"
    assert capture.count_of("INSERT") == 1
    assert capture.kinds()[-1] == "rollback"
    checks.equal("rows after close", count_users(engine), 0)


@pytest.mark.usefixtures("tables")
@behaviour("txn.session-commit-persists", doc="orm/session_basics.html#committing")
def test_session_commit_flushes_and_commits(engine, capture, checks):
    """``Session.commit()`` flushes pending objects and commits; a Session created by
    ``Session.begin()`` commits when its block ends.

    Docs: ORM > Session Basics > Committing; Framing out a begin / commit / rollback block.
    """
    with capture.observe():
        with Session(engine) as session:
            session.add(User(name="sandy", fullname="Sandy Cheeks"))
            session.commit()
        with Session(engine) as session, session.begin():
            session.add(User(name="patrick", fullname="Patrick Star"))

    assert capture.kinds().count("commit") == 2
    assert "rollback" not in capture.kinds()
    assert capture.count_of("INSERT") == 2
    checks.equal("rows after commit", count_users(engine), 2)


def statement_verbs(capture) -> list[str]:
    """What each observed statement does: its verb, or its savepoint command without the savepoint's name."""
    verbs = []
    for sql in capture.sql():
        words = sql.upper().split()
        if "SAVEPOINT" in words:
            verbs.append(" ".join(words[: words.index("SAVEPOINT") + 1]))
        else:
            verbs.append(words[0])
    return verbs


def user_names(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(select(user_table.c.name).order_by(user_table.c.name)).all()


@pytest.mark.usefixtures("tables")
@behaviour("txn.savepoint-core-rollback-inner", doc="core/connections.html#sqlalchemy.engine.Connection.begin_nested")
def test_connection_savepoint_rolls_back_only_the_inner_work(engine, capture, checks):
    """``Connection.begin_nested()`` emits SAVEPOINT: rolling it back discards only the work done inside it,
    releasing it keeps that work, and the enclosing transaction commits the rest.

    Docs: Engines and Connections > ``Connection.begin_nested()``, ``NestedTransaction``.
    """
    with capture.observe(), engine.connect() as connection:
        connection.execute(insert(user_table), {"name": "sandy"})
        discarded = connection.begin_nested()
        connection.execute(insert(user_table), {"name": "patrick"})
        discarded.rollback()
        kept = connection.begin_nested()
        connection.execute(insert(user_table), {"name": "squidward"})
        kept.commit()
        connection.commit()

    checks.equal(
        "statements",
        statement_verbs(capture),
        [
            "INSERT",
            "SAVEPOINT",
            "INSERT",
            "ROLLBACK TO SAVEPOINT",
            "SAVEPOINT",
            "INSERT",
            "RELEASE SAVEPOINT",
        ],
    )
    assert capture.kinds()[0] == "begin"
    assert capture.kinds()[-1] == "commit"
    checks.equal("rows kept", user_names(engine), ["sandy", "squidward"])


@pytest.mark.usefixtures("tables")
@behaviour("txn.savepoint-orm-rollback-inner", doc="orm/session_transaction.html#using-savepoint")
def test_session_savepoint_rolls_back_only_the_inner_objects(engine, capture, checks):
    """``Session.begin_nested()`` flushes and emits SAVEPOINT; rolling it back discards only the objects added
    inside it (they leave the Session), and ``Session.commit()`` stores the objects added before it.

    Docs: ORM > Transactions and Connection Management > Using SAVEPOINT.
    """
    sandy = User(name="sandy", fullname="Sandy Cheeks")
    patrick = User(name="patrick", fullname="Patrick Star")
    with capture.observe(), Session(engine) as session:
        session.add(sandy)
        savepoint = session.begin_nested()
        session.add(patrick)
        session.flush()
        savepoint.rollback()
        patrick_in_session = capture.measure("patrick still in the Session", patrick in session)
        session.commit()

    checks.equal(
        "statements",
        statement_verbs(capture),
        [
            "INSERT",
            "SAVEPOINT",
            "INSERT",
            "ROLLBACK TO SAVEPOINT",
        ],
    )
    assert capture.kinds()[-1] == "commit"
    assert patrick_in_session is False
    checks.equal("rows kept", user_names(engine), ["sandy"])


def assert_isolation_level_set_and_read_back(make_engine, capture, level: str) -> None:
    """Set ``level`` per engine, then per connection on an engine left at its default; read it back each time."""
    per_engine = make_engine(isolation_level=level)
    per_connection = make_engine()
    with capture.observe():
        with per_engine.connect() as connection:
            engine_level = connection.get_isolation_level()
        with per_connection.connect() as connection:
            connection.execution_options(isolation_level=level)
            connection_level = connection.get_isolation_level()

    assert capture.measure("level read back, set per engine", engine_level) == level
    assert capture.measure("level read back, set per connection", connection_level) == level


@behaviour("txn.isolation-read-committed", doc=ISOLATION_DOC)
def test_isolation_level_read_committed(make_engine, capture):
    """The ``READ COMMITTED`` isolation level set by ``create_engine(isolation_level=...)`` or by
    ``Connection.execution_options(isolation_level=...)`` is the level ``Connection.get_isolation_level()`` reads back.

    Docs: Engines and Connections > Setting Transaction Isolation Levels including DBAPI Autocommit.
    """
    assert_isolation_level_set_and_read_back(make_engine, capture, "READ COMMITTED")


@behaviour("txn.isolation-repeatable-read", doc=ISOLATION_DOC)
def test_isolation_level_repeatable_read(make_engine, capture):
    """The ``REPEATABLE READ`` isolation level set by ``create_engine(isolation_level=...)`` or by
    ``Connection.execution_options(isolation_level=...)`` is the level ``Connection.get_isolation_level()`` reads back.

    Docs: Engines and Connections > Setting Transaction Isolation Levels including DBAPI Autocommit.
    """
    assert_isolation_level_set_and_read_back(make_engine, capture, "REPEATABLE READ")


@behaviour("txn.isolation-serializable", doc=ISOLATION_DOC)
def test_isolation_level_serializable(make_engine, capture):
    """The ``SERIALIZABLE`` isolation level set by ``create_engine(isolation_level=...)`` or by
    ``Connection.execution_options(isolation_level=...)`` is the level ``Connection.get_isolation_level()`` reads back.

    Docs: Engines and Connections > Setting Transaction Isolation Levels including DBAPI Autocommit.
    """
    assert_isolation_level_set_and_read_back(make_engine, capture, "SERIALIZABLE")


@pytest.mark.usefixtures("tables")
@behaviour(
    "txn.isolation-autocommit", doc="core/connections.html#understanding-the-dbapi-level-autocommit-isolation-level"
)
def test_isolation_level_autocommit_makes_rollback_a_no_op(make_engine, engine, capture, checks):
    """With the ``AUTOCOMMIT`` isolation level, set by ``create_engine(isolation_level=...)`` or by
    ``Connection.execution_options(isolation_level=...)``, each statement commits on its own and a rollback
    keeps the rows; once the connection is back in the pool it is transactional again.

    Docs: Engines and Connections > Setting Transaction Isolation Levels including DBAPI Autocommit >
    Understanding the DBAPI-Level Autocommit Isolation Level; Changing Between Isolation Levels.
    """
    per_engine = make_engine(isolation_level="AUTOCOMMIT")
    per_connection = make_engine(pool_size=1)
    with capture.observe():
        with per_engine.connect() as connection:
            connection.execute(insert(user_table), {"name": "sandy"})
            connection.rollback()
        with per_connection.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit_connection = connection.connection.dbapi_connection
            connection.execute(insert(user_table), {"name": "patrick"})
            connection.rollback()
        with per_connection.connect() as connection:
            same_connection = connection.connection.dbapi_connection is autocommit_connection
            connection.execute(insert(user_table), {"name": "squidward"})
            connection.rollback()

    assert capture.count_of("INSERT") == 3
    checks.same("same DBAPI connection back from the pool", same_connection, True)
    checks.equal("rows kept", user_names(engine), ["patrick", "sandy"])


@behaviour("txn.isolation-reset-on-return", doc="core/connections.html#changing-between-isolation-levels")
def test_connection_isolation_level_is_reset_when_returned_to_the_pool(make_engine, capture, checks):
    """An isolation level other than the default, set with ``Connection.execution_options(isolation_level=...)``,
    lasts until the connection is returned to the pool, which restores the default level on the DBAPI connection.

    Docs: Engines and Connections > Setting Transaction Isolation Levels including DBAPI Autocommit > Changing
    Between Isolation Levels ("reset automatically when the connection is released back to the connection pool").
    """
    pooled = make_engine(pool_size=1)
    with capture.observe():
        with pooled.connect() as connection:
            default_level = capture.measure("default level", connection.default_isolation_level)
            level_set = capture.measure("level set", ANOTHER_ISOLATION_LEVEL[default_level])
            connection.execution_options(isolation_level=level_set)
            level_while_set = connection.get_isolation_level()
            first_connection = connection.connection.dbapi_connection
        with pooled.connect() as connection:
            same_connection = connection.connection.dbapi_connection is first_connection
            level_after_return = connection.get_isolation_level()

    checks.equal("level while set", level_while_set, level_set)
    checks.same("same DBAPI connection back from the pool", same_connection, True)
    checks.equal("level after return to the pool", level_after_return, default_level)


@behaviour(
    "txn.default-isolation-level", doc="core/connections.html#sqlalchemy.engine.Connection.default_isolation_level"
)
def test_default_isolation_level_is_the_documented_one(engine, capture, target_facts):
    """``Connection.default_isolation_level`` is the isolation level the database documents as its default:
    READ COMMITTED on PostgreSQL, REPEATABLE READ on MySQL and MariaDB, SERIALIZABLE on SQLite.

    Docs: Engines and Connections > ``Connection.default_isolation_level``; each database's own documentation
    (fixtures/target_facts.toml: default-isolation-level).
    """
    with capture.observe(), engine.connect() as connection:
        default_level = connection.default_isolation_level
        current_level = connection.get_isolation_level()

    documented = target_facts["default-isolation-level"]
    assert capture.measure("default_isolation_level", default_level) == documented
    assert capture.measure("get_isolation_level() of a fresh connection", current_level) == documented


@behaviour("txn.transactional-ddl-rollback", doc="dialects/sqlite.html#sqlite-transactions")
def test_create_table_is_undone_by_rollback(engine, capture, checks):
    """A ``CREATE TABLE`` emitted inside a transaction is undone by ``Connection.rollback()``: afterwards the
    table does not exist (transactional DDL).

    Docs: Unified Tutorial > Working with Transactions and the DBAPI (every statement runs inside the
    transaction); SQLite dialect > Transactions with SQLite and the sqlite3 driver.
    """
    probe = Table("txn_ddl_probe", MetaData(), Column("id", Integer, primary_key=True))
    try:
        with capture.observe(), engine.connect() as connection:
            probe.create(connection)
            exists_inside = inspect(connection).has_table(probe.name)
            connection.rollback()
        exists_after = inspect(engine).has_table(probe.name)
    finally:
        probe.drop(engine, checkfirst=True)

    checks.equal("CREATE TABLE statements", capture.count_of("CREATE TABLE"), 1)
    checks.equal("last transaction event", capture.kinds()[-1], "rollback")
    checks.equal("table exists inside the transaction", exists_inside, True)
    checks.equal("table exists after rollback", exists_after, False)
