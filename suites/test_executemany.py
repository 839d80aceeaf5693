"""Executemany: a list of parameter sets reaches the DBAPI in one call; UPDATE / DELETE report rows matched."""

import pytest
from sqlalchemy import bindparam, delete, insert, select, text, update

from fixtures.models import item_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")


def item_rows(engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(select(item_table.c.name, item_table.c.quantity).order_by(item_table.c.name))
        ]


def seed_items(engine, rows: list[dict]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(item_table), rows)


@behaviour("executemany.text-insert-list", doc="tutorial/dbapi_transactions.html#sending-multiple-parameters")
def test_text_insert_with_a_list_of_parameters_is_one_executemany(engine, capture, checks):
    """A list of parameter dictionaries given to one ``Connection.execute(text("INSERT ..."), [...])`` reaches
    the DBAPI as one ``cursor.executemany()`` call carrying every parameter set, and every row is inserted.

    Docs: Unified Tutorial > Working with Transactions and the DBAPI > Sending Multiple Parameters.
    """
    rows = [{"name": f"item-{n:02d}", "quantity": n} for n in range(1, 6)]

    with capture.observe(), engine.begin() as connection:
        connection.execute(text("INSERT INTO item (name, quantity) VALUES (:name, :quantity)"), rows)

    calls = capture.measure("dbapi call", [(call.kind, call.parameter_sets) for call in capture.cursor_executions])
    assert calls == [("executemany", len(rows))]
    checks.equal("rows after the block", item_rows(engine), [(r["name"], r["quantity"]) for r in rows])


@behaviour(
    "executemany.core-insert-list",
    doc="tutorial/data_insert.html#insert-usually-generates-the-values-clause-automatically",
)
def test_core_insert_with_a_list_of_parameters_is_not_one_execute_per_row(engine, capture, checks):
    """``Connection.execute(insert(table), [...])`` without RETURNING sends all parameter sets in one DBAPI
    round trip, either one ``cursor.executemany()`` or one "insertmanyvalues" batch, never one execute per row.

    Docs: Unified Tutorial > Using INSERT Statements > INSERT usually generates the "values" clause automatically;
    Engines and Connections > "Insert Many Values" Behavior for INSERT statements.
    """
    rows = [{"name": f"item-{n:02d}", "quantity": n} for n in range(1, 13)]

    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(item_table), rows)

    inserts = [call for call in capture.cursor_executions if call.sql.upper().startswith("INSERT")]
    capture.measure("dbapi call", sorted({call.kind for call in inserts}))
    checks.equal("INSERT round trips", len(inserts), 1)
    assert inserts[0].kind in ("executemany", "insertmanyvalues")
    checks.equal("rows after the block", item_rows(engine), [(r["name"], r["quantity"]) for r in rows])


@behaviour("executemany.update-rowcount", doc="tutorial/data_update.html#getting-affected-row-count-from-update-delete")
def test_update_executemany_rowcount_is_the_total_of_matched_rows(engine, capture, checks):
    """``CursorResult.rowcount`` of an ``update().where(... == bindparam(...))`` executed with a list of
    parameter sets, sent as one ``cursor.executemany()``, is the total number of rows matched by all sets.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Getting Affected Row Count from UPDATE, DELETE
    (rowcount for an executemany depends on the DBAPI); ``CursorResult.rowcount``.
    """
    seed_items(
        engine,
        [
            {"name": "apple", "quantity": 1},
            {"name": "pear", "quantity": 2},
            {"name": "plum", "quantity": 3},
            {"name": "plum", "quantity": 4},
            {"name": "quince", "quantity": 5},
        ],
    )
    statement = (
        update(item_table).where(item_table.c.name == bindparam("target")).values(quantity=bindparam("new_quantity"))
    )
    parameter_sets = [
        {"target": "apple", "new_quantity": 10},  # matches 1
        {"target": "plum", "new_quantity": 30},  # matches 2
        {"target": "fig", "new_quantity": 99},  # matches none
    ]

    with capture.observe(), engine.begin() as connection:
        result = connection.execute(statement, parameter_sets)
        rowcount = result.rowcount
        capture.measure("dialect.supports_sane_multi_rowcount", connection.dialect.supports_sane_multi_rowcount)

    calls = [(call.kind, call.parameter_sets) for call in capture.cursor_executions]
    checks.equal("dbapi call", calls, [("executemany", len(parameter_sets))])
    checks.equal(
        "rows after the block",
        item_rows(engine),
        [("apple", 10), ("pear", 2), ("plum", 30), ("plum", 30), ("quince", 5)],
    )
    checks.equal("rowcount", rowcount, 3)


@behaviour(
    "executemany.update-rowcount-counts-matched-rows",
    doc="tutorial/data_update.html#getting-affected-row-count-from-update-delete",
)
def test_update_rowcount_counts_matched_rows_not_changed_rows(engine, capture, checks):
    """``CursorResult.rowcount`` of a single UPDATE is the number of rows its WHERE clause matched, including
    rows whose values the UPDATE did not actually change.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Getting Affected Row Count from UPDATE, DELETE
    ("It does not matter if the row were actually modified or not"); ``CursorResult.rowcount``.
    """
    seed_items(
        engine,
        [
            {"name": "apple", "quantity": 7},
            {"name": "pear", "quantity": 7},
            {"name": "plum", "quantity": 3},
            {"name": "quince", "quantity": 20},
        ],
    )

    with capture.observe(), engine.begin() as connection:
        result = connection.execute(update(item_table).where(item_table.c.quantity < 10).values(quantity=7))
        rowcount = result.rowcount

    assert capture.count_of("UPDATE") == 1
    checks.equal(
        "rows after the block",
        item_rows(engine),
        [
            ("apple", 7),
            ("pear", 7),
            ("plum", 7),
            ("quince", 20),
        ],
    )
    checks.equal("rowcount (3 matched, 1 changed)", rowcount, 3)


@behaviour("executemany.delete-rowcount", doc="tutorial/data_update.html#getting-affected-row-count-from-update-delete")
def test_delete_rowcount_is_the_number_of_rows_deleted(engine, capture, checks):
    """``CursorResult.rowcount`` of a single DELETE statement is the number of rows its WHERE clause matched.

    Docs: Unified Tutorial > Using UPDATE and DELETE Statements > Getting Affected Row Count from UPDATE, DELETE.
    """
    seed_items(engine, [{"name": f"item-{n:02d}", "quantity": n} for n in range(1, 6)])

    with capture.observe(), engine.begin() as connection:
        result = connection.execute(delete(item_table).where(item_table.c.quantity <= 3))
        rowcount = result.rowcount

    assert capture.count_of("DELETE") == 1
    checks.equal("rows after the block", item_rows(engine), [("item-04", 4), ("item-05", 5)])
    checks.equal("rowcount", rowcount, 3)
