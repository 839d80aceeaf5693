"""Common table expressions with INSERT, UPDATE and DELETE: a CTE feeding INSERT..FROM SELECT, riding on top of
an UPDATE or DELETE, a DML statement inside a CTE, ``add_cte()``, nesting and RECURSIVE.

The two tables are created once per module and target; every behaviour starts from the same six source rows.
"""

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, literal, select, true, update

from fixtures.plugin import STATE, behaviour

metadata = MetaData()
source_table = Table(
    "cte_source",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("score", Integer, nullable=False),
)
archive_table = Table(
    "cte_archive",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("score", Integer, nullable=False),
    Column("note", String(20), default="archived"),
)

SOURCE_ROWS = [{"id": number, "score": number * 10} for number in range(1, 7)]


@pytest.fixture(scope="module")
def cte_tables(request, target, engine):
    bridge = request.config.stash[STATE].bridge
    bridge.call(target.driver.is_async, metadata.create_all, engine)
    yield metadata
    bridge.call(target.driver.is_async, metadata.drop_all, engine)


@pytest.fixture
def seeded(cte_tables, engine):
    """Six source rows (scores 10..60) and an empty archive."""
    with engine.begin() as connection:
        connection.execute(delete(archive_table))
        connection.execute(delete(source_table))
        connection.execute(insert(source_table), SOURCE_ROWS)


def _scores(connection):
    return dict(connection.execute(select(source_table.c.id, source_table.c.score).order_by(source_table.c.id)).all())


def _archive(connection):
    return [
        tuple(row)
        for row in connection.execute(
            select(archive_table.c.id, archive_table.c.score).order_by(archive_table.c.id)
        ).all()
    ]


def _first_with(capture, verb):
    """The statement of the given verb that was sent, and whether it opens with its WITH clause."""
    sent = [sql for sql in capture.sql() if verb in sql.upper()]
    return sent[0].lstrip().upper() if sent else ""


@behaviour("cte.insert-from-select-with-cte", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.cte")
@pytest.mark.usefixtures("seeded")
def test_insert_from_select_draws_rows_from_a_cte(engine, capture, checks):
    """``insert().from_select()`` with a SELECT from a CTE inserts the rows the CTE yields, the CTE being a
    consumer of rows for an INSERT ("CTEs can also be applied to DML constructs ... as a consumer of CTE rows").

    Docs: SQL Statements and Expressions API > Selectables > ``HasCTE.cte()``.
    """
    high = select(source_table.c.id, source_table.c.score).where(source_table.c.score > 30).cte("high")
    statement = insert(archive_table).from_select(["id", "score"], select(high.c.id, high.c.score))
    with capture.observe(), engine.begin() as connection:
        connection.execute(statement)

    with engine.connect() as connection:
        checks.equal("archived rows", _archive(connection), [(4, 40), (5, 50), (6, 60)])
    sent = _first_with(capture, "INSERT")
    checks.that("the INSERT carries the CTE", "WITH HIGH AS" in sent, got=sent, expected="WITH high AS (...)")


@behaviour("cte.update-where-cte", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.cte")
@pytest.mark.usefixtures("seeded")
def test_update_whose_where_clause_selects_from_a_cte(engine, capture, checks):
    """An UPDATE whose WHERE clause selects from a CTE renders the CTE in a WITH clause at the top of the UPDATE,
    updates exactly the rows the CTE names, and reports them in ``CursorResult.rowcount``.

    Docs: SQL Statements and Expressions API > Selectables > ``HasCTE.cte()``; Working with Data > Updating
    and Deleting Rows with Core > Getting Affected Row Count from UPDATE, DELETE.
    """
    low = select(source_table.c.id).where(source_table.c.score < 30).cte("low")
    statement = update(source_table).where(source_table.c.id.in_(select(low.c.id))).values(score=0)
    with capture.observe(), engine.begin() as connection:
        rowcount = connection.execute(statement).rowcount

    with engine.connect() as connection:
        checks.equal("scores after", _scores(connection), {1: 0, 2: 0, 3: 30, 4: 40, 5: 50, 6: 60})
    checks.equal("rowcount", rowcount, 2)
    sent = _first_with(capture, "UPDATE")
    checks.that("WITH opens the UPDATE", sent.startswith("WITH LOW AS"), got=sent, expected="WITH low AS (...) UPDATE")


@behaviour("cte.delete-where-cte", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.cte")
@pytest.mark.usefixtures("seeded")
def test_delete_whose_where_clause_selects_from_a_cte(engine, capture, checks):
    """A DELETE whose WHERE clause selects from a CTE renders the CTE in a WITH clause at the top of the DELETE,
    deletes exactly the rows the CTE names, and reports them in ``CursorResult.rowcount``.

    Docs: SQL Statements and Expressions API > Selectables > ``HasCTE.cte()``; Working with Data > Updating
    and Deleting Rows with Core > Getting Affected Row Count from UPDATE, DELETE.
    """
    odd = select(source_table.c.id).where(source_table.c.id.in_([1, 3, 5])).cte("odd")
    statement = delete(source_table).where(source_table.c.id.in_(select(odd.c.id)))
    with capture.observe(), engine.begin() as connection:
        rowcount = connection.execute(statement).rowcount

    with engine.connect() as connection:
        checks.equal("ids left", sorted(_scores(connection)), [2, 4, 6])
    checks.equal("rowcount", rowcount, 3)
    sent = _first_with(capture, "DELETE")
    checks.that("WITH opens the DELETE", sent.startswith("WITH ODD AS"), got=sent, expected="WITH odd AS (...) DELETE")


@behaviour("cte.dml-inside-cte", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.cte")
@pytest.mark.usefixtures("seeded")
def test_delete_returning_inside_a_cte_feeds_an_insert(engine, capture, checks):
    """A DELETE..RETURNING made into a CTE is a source of rows: an INSERT..FROM SELECT over it moves the deleted
    rows in one statement ("both as a source of CTE rows when combined with RETURNING, as well as a consumer").

    Docs: SQL Statements and Expressions API > Selectables > ``HasCTE.cte()``.
    """
    moved = (
        delete(source_table)
        .where(source_table.c.score >= 50)
        .returning(source_table.c.id, source_table.c.score)
        .cte("moved")
    )
    statement = insert(archive_table).from_select(["id", "score"], select(moved.c.id, moved.c.score))
    with capture.observe(), engine.begin() as connection:
        connection.execute(statement)

    with engine.connect() as connection:
        checks.equal("ids left in the source", sorted(_scores(connection)), [1, 2, 3, 4])
        checks.equal("archived rows", _archive(connection), [(5, 50), (6, 60)])
    checks.equal("statements sent", len(capture.sql()), 1)


@behaviour("cte.add-cte-unreferenced-dml", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.add_cte")
@pytest.mark.usefixtures("seeded")
def test_add_cte_runs_an_insert_the_select_does_not_reference(engine, capture, checks):
    """``HasCTE.add_cte()`` renders the given CTE in the WITH clause "even if not referenced elsewhere", so an
    INSERT made into a CTE and added to a SELECT runs along with it, and the SELECT returns its own rows.

    Docs: SQL Statements and Expressions API > Selectables > ``HasCTE.add_cte()``.
    """
    new_row = insert(archive_table).values(id=100, score=1).returning(archive_table.c.id).cte("new_row")
    statement = select(source_table.c.id).where(source_table.c.id < 3).order_by(source_table.c.id).add_cte(new_row)
    with capture.observe(), engine.begin() as connection:
        selected = connection.execute(statement).scalars().all()

    with engine.connect() as connection:
        checks.equal("archived rows", _archive(connection), [(100, 1)])
    checks.equal("rows the SELECT returned", selected, [1, 2])


@behaviour("cte.nesting", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.cte")
@pytest.mark.usefixtures("seeded")
def test_nested_cte_is_local_to_its_statement(engine, capture, checks):
    """With ``nesting=True`` a CTE is rendered locally inside the statement that uses it, so it may reuse the
    name of a top-level CTE: the documented example selects 'root' from the outer ``value_a`` and 'nesting'
    from the nested one.

    Docs: SQL Statements and Expressions API > Selectables > ``HasCTE.cte()``, Example 4, Nesting CTE.
    """
    value_a = select(literal("root").label("n")).cte("value_a")
    value_a_nested = select(literal("nesting").label("n")).cte("value_a", nesting=True)
    value_b = select(value_a_nested.c.n).cte("value_b")
    statement = select(value_a.c.n.label("a"), value_b.c.n.label("b")).select_from(value_a.join(value_b, true()))
    with capture.observe(), engine.connect() as connection:
        row = connection.execute(statement).one()

    checks.equal("row", tuple(row), ("root", "nesting"))
    sent = capture.sql()[0].upper() if capture.sql() else ""
    checks.equal("WITH clauses rendered", sent.count("WITH "), 2)


@behaviour("cte.recursive-insert-from-select", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.cte")
@pytest.mark.usefixtures("seeded")
def test_recursive_cte_feeds_insert_from_select(engine, capture, checks):
    """``cte(recursive=True)`` renders ``WITH RECURSIVE``; a recursive CTE counting 1..5 (a seed row, then a
    UNION ALL drawing on the rows selected so far) feeds an INSERT..FROM SELECT with its five rows.

    Docs: SQL Statements and Expressions API > Selectables > ``HasCTE.cte()``, ``recursive`` and Example 2.
    """
    counter = select(literal(1).label("n")).cte("counter", recursive=True)
    counter = counter.union_all(select(counter.c.n + 1).where(counter.c.n < 5))
    statement = insert(archive_table).from_select(["id", "score"], select(counter.c.n + 200, counter.c.n * 2))
    with capture.observe(), engine.begin() as connection:
        connection.execute(statement)

    with engine.connect() as connection:
        checks.equal("archived rows", _archive(connection), [(201, 2), (202, 4), (203, 6), (204, 8), (205, 10)])
    sent = _first_with(capture, "INSERT")
    checks.that("WITH RECURSIVE rendered", "WITH RECURSIVE COUNTER" in sent, got=sent, expected="WITH RECURSIVE")
