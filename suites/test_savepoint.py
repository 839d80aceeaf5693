"""SAVEPOINT as the first statement of a transaction: ``begin_nested()`` right after connecting, on the Core
``Connection`` and the ORM ``Session``, and SQLite's documented recipe for SQLAlchemy to emit BEGIN itself.

Docs: Core > Working with Engines and Connections > ``Connection.begin_nested()``; ORM > Using SAVEPOINT; SQLite
dialect > Transactions with SQLite and the sqlite3 driver.
"""

import pytest
from sqlalchemy import event, insert, select

from fixtures.compat import Session
from fixtures.models import User, user_table
from fixtures.plugin import behaviour

NESTED_DOC = "core/connections.html#sqlalchemy.engine.Connection.begin_nested"
SQLITE_RECIPE_DOC = "dialects/sqlite.html#sqlite-enabling-transactions"


def user_names(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(select(user_table.c.name).order_by(user_table.c.name)).all()


def first_statement(capture) -> str:
    sql = capture.sql()
    return " ".join(sql[0].split()[:1]).upper() if sql else ""


def release_then_roll_back_outer(engine) -> None:
    """SAVEPOINT first, an INSERT inside it, RELEASE, then ROLLBACK of the enclosing transaction."""
    with engine.connect() as connection:
        savepoint = connection.begin_nested()
        connection.execute(insert(user_table), {"name": "sandy"})
        savepoint.commit()
        connection.rollback()


@pytest.mark.usefixtures("tables")
@behaviour("txn.savepoint-first-statement", doc=NESTED_DOC)
def test_begin_nested_as_the_first_statement_rolls_back_its_work(engine, capture, checks):
    """``Connection.begin_nested()`` called right after ``connect()`` begins the transaction and emits SAVEPOINT as
    the first statement; rolling the savepoint back discards the INSERT made inside it, and the INSERT made after
    it is committed with the transaction.

    Docs: Core > Working with Engines and Connections > ``Connection.begin_nested()`` ("If no transaction is in
    progress, the outermost transaction is begun automatically").
    """
    with capture.observe(), engine.connect() as connection:
        savepoint = connection.begin_nested()
        connection.execute(insert(user_table), {"name": "sandy"})
        savepoint.rollback()
        connection.execute(insert(user_table), {"name": "patrick"})
        connection.commit()

    checks.equal("first statement", first_statement(capture), "SAVEPOINT")
    checks.equal("rows kept", user_names(engine), ["patrick"])


@pytest.mark.usefixtures("tables")
@behaviour("txn.released-savepoint-rolled-back-with-transaction", doc=NESTED_DOC)
def test_released_first_savepoint_is_undone_by_the_outer_rollback(engine, capture, checks):
    """Work done inside a SAVEPOINT that was the transaction's first statement and then released belongs to the
    enclosing transaction: rolling that transaction back discards it.

    Docs: Core > Working with Engines and Connections > ``Connection.begin_nested()``, ``NestedTransaction``
    ("the transaction is begun automatically"; releasing a savepoint keeps its work in the enclosing transaction).
    """
    with capture.observe():
        release_then_roll_back_outer(engine)

    checks.equal("first statement", first_statement(capture), "SAVEPOINT")
    checks.equal("rows after the outer rollback", user_names(engine), [])


@pytest.mark.usefixtures("tables")
@behaviour("txn.session-released-savepoint-rolled-back", doc="orm/session_transaction.html#using-savepoint")
def test_session_savepoint_first_is_undone_by_the_session_rollback(engine, capture, checks):
    """``Session.begin_nested()`` as the Session's first operation, an object flushed inside it, the savepoint
    committed (RELEASE), then ``Session.rollback()``: the row is gone, as the whole transaction rolled back.

    Docs: ORM > Transactions and Connection Management > Using SAVEPOINT ("Session.rollback() ... rolls back the
    outermost transaction, including all savepoints").
    """
    with capture.observe(), Session(engine) as session:
        savepoint = session.begin_nested()
        session.add(User(name="sandy", fullname="Sandy Cheeks"))
        savepoint.commit()
        session.rollback()

    checks.equal("first statement", first_statement(capture), "SAVEPOINT")
    checks.equal("rows after the Session rollback", user_names(engine), [])


@pytest.mark.usefixtures("tables")
@behaviour("txn.sqlite-emit-begin-recipe", doc=SQLITE_RECIPE_DOC)
def test_sqlite_recipe_makes_a_first_savepoint_part_of_the_transaction(make_engine, target_facts, capture, checks):
    """With the documented recipe (a ``connect`` event setting the driver connection's ``isolation_level = None``
    and a ``begin`` event emitting ``BEGIN``), BEGIN precedes the SAVEPOINT, and rolling the transaction back
    discards the work of the released savepoint. (On drivers that begin transactions themselves, as PEP 249 says,
    there is no switch to turn off: target fact "driver-begin-switch".)

    Docs: SQLite dialect > Transactions with SQLite and the sqlite3 driver > Enabling Non-Legacy SQLite
    Transactional Modes ("Using SQLAlchemy to emit BEGIN in lieu of SQLite's transaction control").
    """
    recipe_engine = make_engine()
    # sqlite3's switch for its own BEGIN handling; drivers that follow PEP 249 have none to turn off
    switch = target_facts["driver-begin-switch"]["attribute"]

    @event.listens_for(recipe_engine, "connect")
    def do_connect(dbapi_connection, connection_record):
        if switch:
            setattr(dbapi_connection, switch, None)

    @event.listens_for(recipe_engine, "begin")
    def do_begin(connection):
        connection.exec_driver_sql("BEGIN")

    with capture.observe():
        release_then_roll_back_outer(recipe_engine)

    checks.equal("first statements", [sql.split()[0].upper() for sql in capture.sql()[:2]], ["BEGIN", "SAVEPOINT"])
    checks.equal("rows after the outer rollback", user_names(recipe_engine), [])
