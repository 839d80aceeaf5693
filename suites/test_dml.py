"""DML: UPDATE and DELETE beyond one table (RETURNING, other tables' criteria), multi-row VALUES, and upserts."""

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite

from fixtures.models import address_table, item_table, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")


def seed_users_with_addresses(engine) -> None:
    """The tutorial's users: spongebob and sandy with addresses (sandy has two), patrick without one."""
    with engine.begin() as connection:
        connection.execute(
            insert(user_table),
            [
                {"name": "spongebob", "fullname": "Spongebob Squarepants"},
                {"name": "sandy", "fullname": "Sandy Cheeks"},
                {"name": "patrick", "fullname": "Patrick Star"},
            ],
        )
        user_ids = dict(connection.execute(select(user_table.c.name, user_table.c.id)).all())
        connection.execute(
            insert(address_table),
            [
                {"user_id": user_ids["spongebob"], "email_address": "spongebob@sqlalchemy.org"},
                {"user_id": user_ids["sandy"], "email_address": "sandy@sqlalchemy.org"},
                {"user_id": user_ids["sandy"], "email_address": "sandy@squirrelpower.org"},
            ],
        )


def fullnames(engine) -> dict[str, str | None]:
    with engine.connect() as connection:
        return dict(connection.execute(select(user_table.c.name, user_table.c.fullname)).all())


def email_addresses(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(select(address_table.c.email_address).order_by(address_table.c.id)).all()


def item_quantities(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(item_table.c.name, item_table.c.quantity)).all())


# Upserts are not one generic construct: each dialect documents its own insert() with its own clause
# (PostgreSQL and SQLite: INSERT .. ON CONFLICT, MySQL and MariaDB: INSERT .. ON DUPLICATE KEY UPDATE / INSERT
# IGNORE). Which construct a target uses is a per-target fact (fixtures/target_facts.toml); these maps build each
# construct, keyed by the fact's value. The behaviours run the same steps and assertions everywhere.
def _on_conflict_update_fullname(dialect_insert):
    def build(rows: list[dict]):
        statement = dialect_insert(user_table).values(rows)
        return statement.on_conflict_do_update(
            index_elements=[user_table.c.name], set_={"fullname": statement.excluded.fullname}
        )

    return build


def _on_duplicate_key_update_fullname(rows: list[dict]):
    statement = mysql.insert(user_table).values(rows)
    return statement.on_duplicate_key_update(fullname=statement.inserted.fullname)


UPSERT_FULLNAME_BY_CONSTRUCT = {
    "postgresql.insert().on_conflict_do_update()": _on_conflict_update_fullname(postgresql.insert),
    "sqlite.insert().on_conflict_do_update()": _on_conflict_update_fullname(sqlite.insert),
    "mysql.insert().on_duplicate_key_update()": _on_duplicate_key_update_fullname,
}

INSERT_SKIPPING_DUPLICATE_USERS_BY_CONSTRUCT = {
    "postgresql.insert().on_conflict_do_nothing()": lambda rows: (
        postgresql.insert(user_table).values(rows).on_conflict_do_nothing()
    ),
    "sqlite.insert().on_conflict_do_nothing()": lambda rows: (
        sqlite.insert(user_table).values(rows).on_conflict_do_nothing()
    ),
    "insert().prefix_with('IGNORE')": lambda rows: insert(user_table).values(rows).prefix_with("IGNORE"),
}


@behaviour("dml.update-returning", doc="tutorial/data_update.html#using-returning-with-update-delete")
def test_update_returning_gives_the_new_values(engine, capture, checks):
    """``update(table).where(...).values(...).returning(...)`` updates the matched rows and returns one row for
    each, carrying the values *after* the update.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Using RETURNING with UPDATE, DELETE.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": f"item-{n:02d}", "quantity": n} for n in range(1, 6)])
    statement = (
        update(item_table)
        .where(item_table.c.quantity >= 4)
        .values(quantity=item_table.c.quantity * 10)
        .returning(item_table.c.name, item_table.c.quantity)
    )

    with capture.observe(), engine.begin() as connection:
        returned = sorted(tuple(row) for row in connection.execute(statement))

    assert capture.measure("statements", capture.sql()) and capture.round_trips == 1
    checks.equal("returned rows", returned, [("item-04", 40), ("item-05", 50)])
    checks.equal(
        "quantities after the block",
        item_quantities(engine),
        {
            "item-01": 1,
            "item-02": 2,
            "item-03": 3,
            "item-04": 40,
            "item-05": 50,
        },
    )


@behaviour("dml.update-from-other-table", doc="tutorial/data_update.html#update-from")
def test_update_with_criteria_on_another_table_is_one_update_from(engine, capture, checks):
    """An ``update(user_table)`` whose WHERE clause names ``address_table`` renders one UPDATE..FROM (MySQL: a
    multiple-table UPDATE) and changes only the users joined to the matching address.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > UPDATE..FROM.
    """
    seed_users_with_addresses(engine)
    statement = (
        update(user_table)
        .where(user_table.c.id == address_table.c.user_id)
        .where(address_table.c.email_address == "sandy@squirrelpower.org")
        .values(fullname="Sandy Squirrel")
    )

    with capture.observe(), engine.begin() as connection:
        matched = connection.execute(statement).rowcount

    statements = capture.measure("statements", capture.sql())
    assert len(statements) == 1 and statements[0].upper().startswith("UPDATE")
    assert "address" in statements[0].split("WHERE")[0], "the second table is not in the UPDATE's FROM / table list"
    checks.equal("rowcount", matched, 1)
    checks.equal(
        "fullnames after the block",
        fullnames(engine),
        {
            "spongebob": "Spongebob Squarepants",
            "sandy": "Sandy Squirrel",
            "patrick": "Patrick Star",
        },
    )


@behaviour("dml.update-correlated-subquery", doc="tutorial/data_update.html#correlated-updates")
def test_update_from_a_correlated_scalar_subquery_sets_each_row(engine, capture, checks):
    """``update(user_table).values(fullname=<scalar subquery correlated to user_table>)`` sets each user's
    fullname from their own first address in one UPDATE, and to NULL where the subquery finds no row.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Correlated Updates.
    """
    seed_users_with_addresses(engine)
    first_address = (
        select(address_table.c.email_address)
        .where(address_table.c.user_id == user_table.c.id)
        .order_by(address_table.c.id)
        .limit(1)
        .scalar_subquery()
    )

    with capture.observe(), engine.begin() as connection:
        connection.execute(update(user_table).values(fullname=first_address))

    assert capture.measure("statements", capture.sql())[0].upper().startswith("UPDATE")
    assert capture.round_trips == 1
    checks.equal(
        "fullnames after the block",
        fullnames(engine),
        {
            "spongebob": "spongebob@sqlalchemy.org",
            "sandy": "sandy@sqlalchemy.org",
            "patrick": None,
        },
    )


@behaviour("dml.delete-with-other-table-criteria", doc="tutorial/data_update.html#multiple-table-deletes")
def test_delete_with_criteria_on_another_table_is_one_multiple_table_delete(engine, capture, checks):
    """A ``delete(address_table)`` whose WHERE clause names ``user_table`` renders one multiple-table DELETE
    (PostgreSQL ``DELETE .. USING``, MySQL ``DELETE FROM .. USING``) and deletes only the joined addresses.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Multiple Table Deletes.
    """
    seed_users_with_addresses(engine)
    statement = (
        delete(address_table).where(address_table.c.user_id == user_table.c.id).where(user_table.c.name == "sandy")
    )

    with capture.observe(), engine.begin() as connection:
        deleted = connection.execute(statement).rowcount

    statements = capture.measure("statements", capture.sql())
    assert len(statements) == 1 and statements[0].upper().startswith("DELETE")
    checks.equal("rowcount", deleted, 2)
    checks.equal("addresses after the block", email_addresses(engine), ["spongebob@sqlalchemy.org"])


@behaviour("dml.multi-row-insert-values", doc="core/dml.html#sqlalchemy.sql.expression.ValuesBase.values")
def test_insert_values_with_a_list_is_one_multi_row_statement(engine, capture, checks):
    """``insert(table).values([{...}, {...}, {...}])`` renders one INSERT with a multi-row VALUES clause, sent in
    one ``cursor.execute()`` (not ``executemany``), and inserts every row.

    Docs: Core > Insert, Updates, Deletes > ``ValuesBase.values()`` ("a list of dictionaries ... multiple VALUES
    clause").
    """
    rows = [{"name": "bolt", "quantity": 3}, {"name": "nut", "quantity": 5}, {"name": "washer", "quantity": 7}]

    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(item_table).values(rows))

    calls = capture.measure("dbapi calls", [(call.kind, call.sql) for call in capture.cursor_executions])
    assert [kind for kind, _ in calls] == ["execute"]
    assert calls[0][1].upper().count("), (") == len(rows) - 1, "expected one VALUES group per row"
    checks.equal("rows after the block", item_quantities(engine), {"bolt": 3, "nut": 5, "washer": 7})


@behaviour("dml.upsert-updates-existing-row", doc="dialects/postgresql.html#insert-on-conflict-upsert")
def test_upsert_updates_the_conflicting_row_and_inserts_the_new_one(engine, capture, target_facts):
    """An upsert (PostgreSQL / SQLite ``insert().on_conflict_do_update()``, MySQL / MariaDB
    ``insert().on_duplicate_key_update()``) of two users, one whose unique name exists, is one INSERT statement
    that updates the existing row from the proposed values and inserts the new one.

    Docs: Dialects > PostgreSQL > INSERT…ON CONFLICT (Upsert); SQLite > INSERT…ON CONFLICT (Upsert);
    MySQL and MariaDB > INSERT…ON DUPLICATE KEY UPDATE (Upsert).
    """
    seed_users_with_addresses(engine)
    build_upsert = UPSERT_FULLNAME_BY_CONSTRUCT[target_facts["upsert-construct"]]
    statement = build_upsert(
        [{"name": "sandy", "fullname": "Sandy Squirrel"}, {"name": "squidward", "fullname": "Squidward Tentacles"}]
    )

    with capture.observe(), engine.begin() as connection:
        connection.execute(statement)

    statements = capture.measure("statements", capture.sql())
    assert len(statements) == 1 and statements[0].upper().startswith("INSERT")
    assert capture.measure("fullnames after the block", fullnames(engine)) == {
        "spongebob": "Spongebob Squarepants",
        "sandy": "Sandy Squirrel",
        "patrick": "Patrick Star",
        "squidward": "Squidward Tentacles",
    }


@behaviour("dml.insert-skipping-duplicates", doc="dialects/sqlite.html#insert-on-conflict-upsert")
def test_insert_skipping_duplicates_inserts_the_rest_without_error(engine, capture, target_facts):
    """An INSERT that skips conflicting rows (PostgreSQL / SQLite ``insert().on_conflict_do_nothing()``,
    MySQL / MariaDB ``insert().prefix_with("IGNORE")``) of two users, one whose unique name exists, raises
    nothing, leaves the existing row unchanged and inserts the new one.

    Docs: Dialects > SQLite > INSERT…ON CONFLICT (Upsert) (``on_conflict_do_nothing``); PostgreSQL > INSERT…ON
    CONFLICT (Upsert); Core > ``Insert.prefix_with()``.
    """
    seed_users_with_addresses(engine)
    build_insert = INSERT_SKIPPING_DUPLICATE_USERS_BY_CONSTRUCT[target_facts["insert-skipping-duplicates-construct"]]
    statement = build_insert(
        [{"name": "sandy", "fullname": "Sandy Squirrel"}, {"name": "squidward", "fullname": "Squidward Tentacles"}]
    )

    with capture.observe(), engine.begin() as connection:
        connection.execute(statement)

    statements = capture.measure("statements", capture.sql())
    assert len(statements) == 1 and statements[0].upper().startswith("INSERT")
    assert capture.exception is None
    assert capture.measure("fullnames after the block", fullnames(engine)) == {
        "spongebob": "Spongebob Squarepants",
        "sandy": "Sandy Cheeks",
        "patrick": "Patrick Star",
        "squidward": "Squidward Tentacles",
    }
