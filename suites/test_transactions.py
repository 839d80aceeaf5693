"""Transactions: implicit BEGIN, commit as you go, begin once, and the Session's own transaction.

Tutorial: Working with Transactions and the DBAPI; Executing with an ORM Session.
"""

import pytest
from sqlalchemy import func, insert, select, text

from fixtures.compat import Session
from fixtures.models import User, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")


def count_users(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(user_table)).scalar_one()


@behaviour("txn.connect-implicit-begin-rollback", doc="tutorial/dbapi_transactions.html#getting-a-connection")
def test_connect_begins_implicitly_and_rolls_back_at_block_end(engine, capture):
    """``engine.connect()`` begins a transaction implicitly and rolls it back when the block ends,
    so work that was not committed is gone.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Getting a Connection.
    """
    with capture.observe(), engine.connect() as connection:
        connection.execute(insert(user_table), {"name": "spongebob", "fullname": "Spongebob Squarepants"})

    assert capture.kinds() == ["begin", "execute", "rollback"]
    assert capture.count_of("INSERT") == 1
    assert capture.measure("rows after the block", count_users(engine)) == 0


@behaviour("txn.commit-as-you-go", doc="tutorial/dbapi_transactions.html#committing-changes")
def test_commit_as_you_go_commits_each_unit_and_begins_again(engine, capture):
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
    assert capture.measure("rows kept", names) == ["patrick", "sandy"]


@behaviour("txn.begin-once-commits", doc="tutorial/dbapi_transactions.html#begin-once")
def test_begin_once_commits_at_block_end(engine, capture):
    """``engine.begin()`` opens a transaction that is committed when the block ends normally.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Begin Once.
    """
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(user_table), [{"name": "sandy"}, {"name": "patrick"}])

    assert capture.kinds()[0] == "begin"
    assert capture.kinds()[-1] == "commit"
    assert "rollback" not in capture.kinds()
    assert capture.measure("rows after the block", count_users(engine)) == 2


@behaviour("txn.begin-once-rolls-back-on-error", doc="tutorial/dbapi_transactions.html#begin-once")
def test_begin_once_rolls_back_when_block_raises(engine, capture):
    """When the ``engine.begin()`` block raises, the transaction is rolled back and the exception propagates.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Begin Once.
    """

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), capture.observe(), engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "sandy"})
        raise Abandon()

    assert capture.kinds() == ["begin", "execute", "rollback"]
    assert capture.measure("rows after the block", count_users(engine)) == 0


@behaviour(
    "txn.session-implicit-begin-rollback-on-close", doc="tutorial/dbapi_transactions.html#executing-with-an-orm-session"
)
def test_session_begins_implicitly_and_rolls_back_on_close(engine, capture):
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
    assert capture.measure("rows after close", count_users(engine)) == 0


@behaviour("txn.session-commit-persists", doc="orm/session_basics.html#committing")
def test_session_commit_flushes_and_commits(engine, capture):
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
    assert capture.measure("rows after commit", count_users(engine)) == 2
