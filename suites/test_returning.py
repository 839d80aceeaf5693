"""RETURNING and "insertmanyvalues": many-row INSERTs run one statement per page and return server-generated values."""

import random
import re

import pytest
from sqlalchemy import delete, insert, select

from fixtures.compat import Session
from fixtures.models import User, item_table, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")


def item_ids_by_name(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: id_ for name, id_ in connection.execute(select(item_table.c.name, item_table.c.id))}


def user_ids_by_name(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: id_ for name, id_ in connection.execute(select(user_table.c.name, user_table.c.id))}


@behaviour("imv.core-returning-paged", doc="core/connections.html#engine-insertmanyvalues-page-size", requires="2.0")
def test_insert_returning_with_a_list_runs_one_statement_per_page(make_engine, engine, capture, checks):
    """``insert(table).returning(table.c.id)`` executed with a list of 25 parameter sets on an engine with
    ``insertmanyvalues_page_size=10`` runs as 3 "insertmanyvalues" INSERT statements and returns all 25 ids.

    Docs: Engines and Connections > "Insert Many Values" Behavior for INSERT statements > Controlling the Batch Size.
    """
    paged = make_engine(insertmanyvalues_page_size=10)
    rows = [{"name": f"item-{n:02d}"} for n in range(25)]

    with capture.observe(), paged.begin() as connection:
        ids = connection.execute(insert(item_table).returning(item_table.c.id), rows).scalars().all()

    capture.measure("ids returned", len(ids))
    stored = item_ids_by_name(engine)
    checks.equal("rows after the block", len(stored), 25)
    assert sorted(ids) == sorted(stored.values())
    checks.equal("insertmanyvalues statements", capture.insertmanyvalues_batches, 3)
    assert capture.count_of("INSERT") == 3


@behaviour(
    "imv.returning-sort-by-parameter-order",
    doc="core/connections.html#engine-insertmanyvalues-returning-order",
    requires="2.0.10",
)
def test_insert_returning_sorted_by_parameter_order_matches_the_input(make_engine, engine, capture, target_facts):
    """``insert(table).returning(..., sort_by_parameter_order=True)`` executed with a list of parameter sets
    returns one row per parameter set, in the order the parameter sets were given, across pages: for a table
    with a server-generated integer primary key, through the ordered form the target documents (PostgreSQL:
    batches INSERTed ``ORDER BY sen_counter``; MariaDB: batches returning the key as a sort sentinel; SQLite:
    non-batched mode, one INSERT per parameter set; see fixtures/target_facts.toml).

    Docs: Engines and Connections > "Insert Many Values" Behavior for INSERT statements > Correlating RETURNING
    rows to parameter sets.
    """
    ordered_form = target_facts["ordered-returning-form"]
    paged = make_engine(insertmanyvalues_page_size=4)
    names = [f"item-{n:02d}" for n in range(10)]
    random.Random(20).shuffle(names)
    statement = insert(item_table).returning(item_table.c.id, item_table.c.name, sort_by_parameter_order=True)

    with capture.observe(), paged.begin() as connection:
        returned = [tuple(row) for row in connection.execute(statement, [{"name": name} for name in names])]

    inserts = capture.measure("INSERT statements", [sql for sql in capture.sql() if sql.upper().startswith("INSERT")])
    not_ordered = [sql for sql in inserts if not re.search(ordered_form["pattern"], sql)]
    assert capture.measure("returned names", [name for _, name in returned]) == names
    assert {name: id_ for id_, name in returned} == item_ids_by_name(engine)
    assert len(inserts) == ordered_form["statements"], "not the target's ordered RETURNING form (statement count)"
    assert not_ordered == [], "not the target's ordered RETURNING form (statement text)"


@behaviour("imv.orm-flush-batched-returning", doc="core/connections.html#engine-insertmanyvalues", requires="2.0")
def test_orm_flush_of_new_objects_is_batched_with_returning(make_engine, engine, capture, checks):
    """A ``Session`` flush of 12 new objects with server-generated primary keys, on an engine with
    ``insertmanyvalues_page_size=5``, runs 3 batched INSERT..RETURNING statements and gives every object its key.

    Docs: Engines and Connections > "Insert Many Values" Behavior for INSERT statements (the ORM unit of work
    uses it with ordered RETURNING; see Correlating RETURNING rows to parameter sets).
    """
    paged = make_engine(insertmanyvalues_page_size=5)
    users = [User(name=f"user-{n:02d}", fullname=f"User {n}") for n in range(12)]

    with capture.observe(), Session(paged) as session:
        session.add_all(users)
        session.flush()
        keys = {user.name: user.id for user in users}
        session.commit()

    checks.that("every object got a key", None not in keys.values(), got=keys, expected="no None key")
    checks.equal("primary keys", keys, user_ids_by_name(engine))
    # 12 objects in 3 pages of 5: 3 batched INSERT..RETURNING statements
    checks.equal("INSERT statements", capture.count_of("INSERT"), 3)
    checks.equal("insertmanyvalues statements", capture.insertmanyvalues_batches, 3)


@behaviour("imv.single-row-returning", doc="tutorial/data_insert.html#insert-returning")
def test_single_row_insert_returning_gives_the_server_generated_values(engine, capture, checks):
    """A single-row ``insert(table).values(...).returning(table.c.id, table.c.quantity)`` returns the
    server-generated id and server default of the new row from the INSERT statement itself.

    Docs: Unified Tutorial > Using INSERT Statements > INSERT...RETURNING.
    """
    statement = insert(item_table).values(name="widget").returning(item_table.c.id, item_table.c.quantity)

    with capture.observe(), engine.begin() as connection:
        returned_id, quantity = connection.execute(statement).one()

    statements = capture.measure("statements", capture.sql())
    assert len(statements) == 1
    assert statements[0].upper().startswith("INSERT") and "RETURNING" in statements[0].upper()
    checks.equal("returned id", returned_id, item_ids_by_name(engine)["widget"])
    checks.equal("returned server default", quantity, 0)


@behaviour("imv.return-defaults-inserted-pk", doc="core/dml.html#sqlalchemy.sql.expression.UpdateBase.return_defaults")
def test_return_defaults_gives_inserted_primary_key_and_server_default(engine, capture, checks):
    """A single-row ``insert(table).values(...).return_defaults()`` fetches the server-generated primary key
    and server defaults in the one INSERT round trip: ``CursorResult.inserted_primary_key`` equals the new row's
    id and ``CursorResult.returned_defaults`` carries its server default.

    Docs: Core > Insert, Updates, Deletes > ``UpdateBase.return_defaults()``; Unified Tutorial > Using INSERT
    Statements > Executing the Statement (``inserted_primary_key``, which an explicit ``returning()`` rules out).
    """
    statement = insert(item_table).values(name="widget").return_defaults()

    with capture.observe(), engine.begin() as connection:
        result = connection.execute(statement)
        primary_key = tuple(result.inserted_primary_key)
        returned = result.returned_defaults
        defaults = dict(returned._mapping) if returned is not None else None

    assert capture.measure("statements", capture.sql())[0].upper().startswith("INSERT")
    assert capture.round_trips == 1
    checks.equal("inserted_primary_key", primary_key, (item_ids_by_name(engine)["widget"],))
    checks.equal("returned_defaults", defaults, {"id": primary_key[0], "quantity": 0})


@behaviour(
    "imv.orm-bulk-insert-returning", doc="orm/queryguide/dml.html#getting-new-objects-with-returning", requires="2.0"
)
def test_orm_bulk_insert_returning_gives_objects_in_pages(make_engine, engine, capture, checks):
    """``Session.scalars(insert(User).returning(User), [...])`` with 12 parameter dictionaries, on an engine
    with ``insertmanyvalues_page_size=5``, runs 3 "insertmanyvalues" statements and returns 12 ``User``
    objects carrying their server-generated primary keys.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE statements > ORM Bulk INSERT Statements >
    Getting new objects with RETURNING.
    """
    paged = make_engine(insertmanyvalues_page_size=5)
    rows = [{"name": f"user-{n:02d}", "fullname": f"User {n}"} for n in range(12)]

    with capture.observe(), Session(paged) as session:
        users = session.scalars(insert(User).returning(User), rows).all()
        keys = {user.name: user.id for user in users}
        session.commit()

    checks.equal("objects returned", len(users), 12)
    checks.equal("primary keys", keys, user_ids_by_name(engine))
    checks.equal("insertmanyvalues statements", capture.insertmanyvalues_batches, 3)
    assert capture.count_of("INSERT") == 3


@behaviour("imv.delete-returning", doc="tutorial/data_update.html#using-returning-with-update-delete")
def test_delete_returning_gives_the_deleted_rows(engine, capture, checks):
    """``delete(table).where(...).returning(...)`` deletes the matched rows and returns one row for each.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Using RETURNING with UPDATE, DELETE.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": f"item-{n:02d}", "quantity": n} for n in range(1, 6)])

    statement = delete(item_table).where(item_table.c.quantity >= 4).returning(item_table.c.name)
    with capture.observe(), engine.begin() as connection:
        deleted = connection.execute(statement).scalars().all()

    assert capture.count_of("DELETE") == 1
    checks.equal("deleted names", sorted(deleted), ["item-04", "item-05"])
    checks.equal("names left", sorted(item_ids_by_name(engine)), ["item-01", "item-02", "item-03"])
