"""IN with an empty list, tuple IN, and how many rows a SELECT takes: LIMIT/OFFSET as bound parameters, as
literal values, as SQL expressions, and the FETCH FIRST clause.

The one table is created once per module and target and only read: six rows, ``grp`` = id % 3.
"""

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, literal, or_, select, tuple_

from fixtures.plugin import STATE, behaviour

metadata = MetaData()
item_table = Table(
    "inl_item",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("grp", Integer, nullable=False),
    Column("code", String(10), nullable=False),
)
ROWS = [{"id": number, "grp": number % 3, "code": f"c{number}"} for number in range(1, 7)]
ALL_IDS = [1, 2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def items(request, target, engine):
    """The six rows, read-only for every behaviour of the module."""
    bridge = request.config.stash[STATE].bridge

    def create():
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(item_table), ROWS)

    bridge.call(target.driver.is_async, create)
    yield item_table
    bridge.call(target.driver.is_async, metadata.drop_all, engine)


def _ids(connection, statement, parameters=None):
    return connection.execute(statement, parameters or {}).scalars().all()


def by_id():
    return select(item_table.c.id).order_by(item_table.c.id)


# --- empty IN -----------------------------------------------------------------------------------------


@behaviour("in.empty-in-is-false", doc="core/sqlelement.html#sqlalchemy.sql.expression.ColumnOperators.in_")
@pytest.mark.usefixtures("items")
def test_in_an_empty_list_matches_no_row(engine, capture, checks):
    """``column.in_([])`` renders an "empty set" expression that is false for every row, so it selects nothing
    alone and leaves the other side of an OR to decide.

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``ColumnOperators.in_()``
    (empty IN expressions).
    """
    with capture.observe(), engine.connect() as connection:
        alone = _ids(connection, by_id().where(item_table.c.grp.in_([])))
        with_or = _ids(connection, by_id().where(or_(item_table.c.grp.in_([]), item_table.c.id == 2)))

    checks.equal("rows of IN ()", alone, [])
    checks.equal("rows of IN () OR id = 2", with_or, [2])


@behaviour("in.empty-not-in-is-true", doc="core/sqlelement.html#sqlalchemy.sql.expression.ColumnOperators.not_in")
@pytest.mark.usefixtures("items")
def test_not_in_an_empty_list_matches_every_row(engine, capture, checks):
    """``column.not_in([])`` is the negation of the empty IN: true for every row, so every row is selected.

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``ColumnOperators.not_in()``.
    """
    with capture.observe(), engine.connect() as connection:
        selected = _ids(connection, by_id().where(item_table.c.grp.not_in([])))

    checks.equal("rows of NOT IN ()", selected, ALL_IDS)


@behaviour("in.expanding-bindparam-empty", doc="core/sqlelement.html#sqlalchemy.sql.expression.bindparam")
@pytest.mark.usefixtures("items")
def test_expanding_bindparam_takes_an_empty_list_and_then_a_full_one(engine, capture, checks):
    """An IN against ``bindparam(..., expanding=True)`` is one cached statement whose list is given at execution
    time: executed with an empty list it selects nothing, executed again with two values it selects their rows.

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``bindparam()``,
    ``expanding``; ``ColumnOperators.in_()``.
    """
    statement = by_id().where(item_table.c.id.in_(bindparam("wanted", expanding=True)))
    with capture.observe(), engine.connect() as connection:
        empty = _ids(connection, statement, {"wanted": []})
        full = _ids(connection, statement, {"wanted": [2, 5]})

    checks.equal("rows for []", empty, [])
    checks.equal("rows for [2, 5]", full, [2, 5])


# --- tuple IN -------------------------------------------------------------------------------------------


@behaviour("in.tuple-in", doc="core/sqlelement.html#sqlalchemy.sql.expression.tuple_")
@pytest.mark.usefixtures("items")
def test_tuple_in_matches_rows_by_pairs_of_values(engine, capture, checks):
    """``tuple_(a, b).in_([(x1, y1), ...])`` selects the rows whose pair of values is one of the listed pairs,
    and only those (a pair that matches one column only selects nothing).

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``tuple_()``.
    """
    pairs = [(1, "c1"), (2, "c5"), (0, "c1")]  # (0, 'c1'): grp of 3 and 6, code of 1: no row
    with capture.observe(), engine.connect() as connection:
        selected = _ids(connection, by_id().where(tuple_(item_table.c.grp, item_table.c.code).in_(pairs)))

    checks.equal("rows", selected, [1, 5])


@behaviour("in.tuple-in-empty", doc="core/sqlelement.html#sqlalchemy.sql.expression.tuple_")
@pytest.mark.usefixtures("items")
def test_tuple_in_and_not_in_an_empty_list(engine, capture, checks):
    """A tuple IN against an empty list is an empty-set expression too: ``in_([])`` selects no row and
    ``not_in([])`` every row.

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``tuple_()``;
    ``ColumnOperators.in_()`` (empty IN expressions).
    """
    pair = tuple_(item_table.c.grp, item_table.c.code)
    with capture.observe(), engine.connect() as connection:
        in_empty = _ids(connection, by_id().where(pair.in_([])))
        not_in_empty = _ids(connection, by_id().where(pair.not_in([])))

    checks.equal("rows of IN ()", in_empty, [])
    checks.equal("rows of NOT IN ()", not_in_empty, ALL_IDS)


@behaviour("in.tuple-in-expanding", doc="core/sqlelement.html#sqlalchemy.sql.expression.ColumnOperators.in_")
@pytest.mark.usefixtures("items")
def test_tuple_in_an_expanding_bindparam_of_pairs(engine, capture, checks):
    """A tuple IN against an expanding ``bindparam()`` takes a list of tuples at execution time ("a list of
    tuples may be provided"), and each tuple is matched as a whole.

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``ColumnOperators.in_()``.
    """
    statement = by_id().where(tuple_(item_table.c.grp, item_table.c.code).in_(bindparam("pairs", expanding=True)))
    with capture.observe(), engine.connect() as connection:
        selected = _ids(connection, statement, {"pairs": [(0, "c3"), (1, "c4"), (1, "c5")]})

    checks.equal("rows", selected, [3, 4])


# --- LIMIT / OFFSET -------------------------------------------------------------------------------------------


@behaviour("limit.bound-parameters", doc="core/selectable.html#sqlalchemy.sql.expression.GenerativeSelect.limit")
@pytest.mark.usefixtures("items")
def test_limit_and_offset_are_bound_parameters_of_one_statement(engine, capture, checks):
    """``limit()`` and ``offset()`` with integers take that many rows after skipping that many; the integers are
    bound parameters, so two SELECTs differing only in them send the same SQL text.

    Docs: SQL Statements and Expressions API > Selectables > ``GenerativeSelect.limit()``, ``offset()``.
    """
    with capture.observe(), engine.connect() as connection:
        first = _ids(connection, by_id().limit(2).offset(1))
        second = _ids(connection, by_id().limit(3).offset(2))

    checks.equal("rows of LIMIT 2 OFFSET 1", first, [2, 3])
    checks.equal("rows of LIMIT 3 OFFSET 2", second, [3, 4, 5])
    sent = capture.sql()
    checks.that(
        "same SQL text for both",
        len(sent) == 2 and sent[0] == sent[1],
        got=sent,
        expected="two identical statements (the limits are parameters)",
    )


@behaviour("limit.literal-execute", doc="core/sqlelement.html#sqlalchemy.sql.expression.bindparam")
@pytest.mark.usefixtures("items")
def test_limit_with_literal_execute_renders_the_value_into_the_statement(engine, capture, checks):
    """A ``bindparam(..., literal_execute=True)`` given to ``limit()`` is rendered as a literal into the SQL sent
    at execution time ("rendered ... at statement execution time"), and limits the rows as the value says.

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``bindparam()``,
    ``literal_execute``.
    """
    statement = by_id().limit(bindparam("how_many", type_=Integer, literal_execute=True))
    with capture.observe(), engine.connect() as connection:
        two = _ids(connection, statement, {"how_many": 2})
        four = _ids(connection, statement, {"how_many": 4})

    checks.equal("rows for 2", two, [1, 2])
    checks.equal("rows for 4", four, [1, 2, 3, 4])
    sent = capture.sql()
    checks.that(
        "values rendered into the SQL",
        len(sent) == 2 and " 2" in sent[0].split("LIMIT", 1)[-1] and " 4" in sent[1].split("LIMIT", 1)[-1],
        got=sent,
        expected="LIMIT 2, then LIMIT 4, in the SQL text",
    )


@behaviour("limit.sql-expression", doc="core/selectable.html#sqlalchemy.sql.expression.GenerativeSelect.limit")
@pytest.mark.usefixtures("items")
def test_limit_and_offset_accept_a_sql_expression(engine, capture, checks):
    """``limit()`` and ``offset()`` accept "a SQL expression that provides an integer result": LIMIT 1 + 1
    OFFSET 0 + 3 takes two rows after skipping three.

    Docs: SQL Statements and Expressions API > Selectables > ``GenerativeSelect.limit()``, ``offset()``.
    """
    statement = by_id().limit(literal(1) + 1).offset(literal(0) + 3)
    with capture.observe(), engine.connect() as connection:
        selected = _ids(connection, statement)

    checks.equal("rows", selected, [4, 5])


# --- FETCH FIRST ------------------------------------------------------------------------------------------------


@behaviour("limit.fetch-first", doc="core/selectable.html#sqlalchemy.sql.expression.GenerativeSelect.fetch")
@pytest.mark.usefixtures("items")
def test_fetch_first_takes_that_many_rows(engine, capture, checks):
    """``Select.fetch(2)`` renders the SQL standard ``FETCH FIRST 2 ROWS ONLY`` and takes the first two rows of
    the ordering; with ``offset(3)`` it takes two rows after skipping three.

    Docs: SQL Statements and Expressions API > Selectables > ``GenerativeSelect.fetch()``.
    """
    with capture.observe(), engine.connect() as connection:
        first = _ids(connection, by_id().fetch(2))
        after_offset = _ids(connection, by_id().offset(3).fetch(2))

    checks.equal("rows of FETCH FIRST 2", first, [1, 2])
    checks.equal("rows of OFFSET 3 FETCH FIRST 2", after_offset, [4, 5])
    sent = " ".join(capture.sql()).upper()
    checks.that("FETCH FIRST rendered", "FETCH FIRST" in sent, got=capture.sql(), expected="FETCH FIRST .. ROWS ONLY")


@behaviour("limit.fetch-with-ties", doc="core/selectable.html#sqlalchemy.sql.expression.GenerativeSelect.fetch")
@pytest.mark.usefixtures("items")
def test_fetch_with_ties_takes_the_rows_that_tie_with_the_last(engine, capture, checks):
    """``Select.fetch(n, with_ties=True)`` renders ``FETCH FIRST n ROWS WITH TIES``: besides the first n rows
    of the ordering it returns every row that ties with the last of them on the ORDER BY value.

    Docs: SQL Statements and Expressions API > Selectables > ``GenerativeSelect.fetch()``, ``with_ties``.
    """
    statement = select(item_table.c.grp).order_by(item_table.c.grp).fetch(1, with_ties=True)
    with capture.observe(), engine.connect() as connection:
        selected = connection.execute(statement).scalars().all()

    checks.equal("grp values returned", selected, [0, 0])
