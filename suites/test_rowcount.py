"""``CursorResult.rowcount``: rows matched by UPDATE and DELETE, with and without RETURNING, for one parameter
set and for many (executemany), and for INSERT with ``preserve_rowcount``.

The table is created once per module and target; every behaviour starts from the same six rows.
"""

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, delete, insert, select, update

from fixtures.plugin import STATE, behaviour

ROWCOUNT_DOC = "core/connections.html#sqlalchemy.engine.CursorResult.rowcount"

metadata = MetaData()
counted_table = Table(
    "rc_counted",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("grp", Integer, nullable=False),
    Column("label", String(20), nullable=False),
)
copy_table = Table(
    "rc_copy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(20), nullable=False),
)
ROWS = [{"id": number, "grp": number % 3, "label": "old"} for number in range(1, 7)]


@pytest.fixture(scope="module")
def rowcount_tables(request, target, engine):
    bridge = request.config.stash[STATE].bridge
    bridge.call(target.driver.is_async, metadata.create_all, engine)
    yield metadata
    bridge.call(target.driver.is_async, metadata.drop_all, engine)


@pytest.fixture
def seeded(rowcount_tables, engine):
    """Six rows, grp = id % 3 (so two rows in each group), all labelled 'old'; an empty copy table."""
    with engine.begin() as connection:
        connection.execute(delete(copy_table))
        connection.execute(delete(counted_table))
        connection.execute(insert(counted_table), ROWS)


def _labels(connection):
    rows = connection.execute(select(counted_table.c.id, counted_table.c.label).order_by(counted_table.c.id))
    return {row[0]: row[1] for row in rows}


@behaviour("rowcount.update-counts-matched-rows", doc=ROWCOUNT_DOC)
@pytest.mark.usefixtures("seeded")
def test_update_rowcount_counts_matched_rows(engine, capture, checks):
    """``rowcount`` of a single-parameter UPDATE is the number of rows *matched* by its WHERE clause, also when
    the SET values equal what the rows already hold ("on backends that feature both styles, such as MySQL,
    rowcount is configured to return the match count in all cases").

    Docs: Core > Working with Engines and Connections > ``CursorResult.rowcount``.
    """
    statement = update(counted_table).where(counted_table.c.grp == 1).values(label="new")
    with capture.observe(), engine.begin() as connection:
        changed = connection.execute(statement).rowcount
        unchanged = connection.execute(statement).rowcount  # same values again: matched, not modified

    checks.equal("rowcount of the UPDATE", changed, 2)
    checks.equal("rowcount of the same UPDATE again", unchanged, 2)


@behaviour("rowcount.delete-counts-deleted-rows", doc=ROWCOUNT_DOC)
@pytest.mark.usefixtures("seeded")
def test_delete_rowcount_counts_deleted_rows(engine, capture, checks):
    """``rowcount`` of a single-parameter DELETE is the number of rows its WHERE clause matched (and deleted);
    one matching no row reports 0.

    Docs: Core > Working with Engines and Connections > ``CursorResult.rowcount``.
    """
    with capture.observe(), engine.begin() as connection:
        deleted = connection.execute(delete(counted_table).where(counted_table.c.grp == 0)).rowcount
        none = connection.execute(delete(counted_table).where(counted_table.c.id > 100)).rowcount

    checks.equal("rowcount of the DELETE", deleted, 2)
    checks.equal("rowcount of a DELETE matching nothing", none, 0)


@behaviour("rowcount.update-returning", doc=ROWCOUNT_DOC)
@pytest.mark.usefixtures("seeded")
def test_update_returning_rows_and_rowcount(engine, capture, checks):
    """An UPDATE..RETURNING returns one row per updated row, and its ``rowcount`` is the number of rows matched
    (the dialect flag ``supports_sane_rowcount_returning``; "statements that use RETURNING may not support
    rowcount, returning a -1 value instead").

    Docs: Core > Working with Engines and Connections > ``CursorResult.rowcount``.
    """
    statement = update(counted_table).where(counted_table.c.grp == 2).values(label="new").returning(counted_table.c.id)
    with capture.observe(), engine.begin() as connection:
        result = connection.execute(statement)
        returned = sorted(result.scalars().all())
        rowcount = result.rowcount

    checks.equal("rows returned", returned, [2, 5])
    checks.equal("rowcount", rowcount, 2)


@behaviour("rowcount.delete-returning", doc=ROWCOUNT_DOC)
@pytest.mark.usefixtures("seeded")
def test_delete_returning_rows_and_rowcount(engine, capture, checks):
    """A DELETE..RETURNING returns one row per deleted row, and its ``rowcount`` is the number of rows matched
    (the dialect flag ``supports_sane_rowcount_returning``; "statements that use RETURNING may not support
    rowcount, returning a -1 value instead").

    Docs: Core > Working with Engines and Connections > ``CursorResult.rowcount``.
    """
    statement = delete(counted_table).where(counted_table.c.grp == 2).returning(counted_table.c.id)
    with capture.observe(), engine.begin() as connection:
        result = connection.execute(statement)
        returned = sorted(result.scalars().all())
        rowcount = result.rowcount

    with engine.connect() as connection:
        checks.equal("ids left", sorted(_labels(connection)), [1, 3, 4, 6])
    checks.equal("rows returned", returned, [2, 5])
    checks.equal("rowcount", rowcount, 2)


@behaviour("rowcount.executemany-update", doc=ROWCOUNT_DOC)
@pytest.mark.usefixtures("seeded")
def test_executemany_update_rowcount_is_the_sum(engine, capture, checks):
    """An UPDATE executed with three parameter sets (executemany) updates each matched row; with a dialect and
    driver that sum the matched rows (``supports_sane_multi_rowcount``) ``rowcount`` is that sum, 2 here, since
    one parameter set matches nothing ("most DBAPIs do not sum ... and will return -1").

    Docs: Core > Working with Engines and Connections > ``CursorResult.rowcount``.
    """
    statement = update(counted_table).where(counted_table.c.id == bindparam("key")).values(label=bindparam("new"))
    parameters = [{"key": 1, "new": "one"}, {"key": 4, "new": "four"}, {"key": 99, "new": "none"}]
    with capture.observe(), engine.begin() as connection:
        rowcount = connection.execute(statement, parameters).rowcount

    with engine.connect() as connection:
        labels = _labels(connection)
    checks.equal("labels", [labels[key] for key in (1, 2, 4)], ["one", "old", "four"])
    checks.equal("rowcount", rowcount, 2)
    checks.equal("executemany used", capture.used_executemany, True)


@behaviour("rowcount.executemany-delete", doc=ROWCOUNT_DOC)
@pytest.mark.usefixtures("seeded")
def test_executemany_delete_rowcount_is_the_sum(engine, capture, checks):
    """A DELETE executed with three parameter sets (executemany) deletes each matched row; with a dialect and
    driver that sum the matched rows (``supports_sane_multi_rowcount``) ``rowcount`` is that sum, 2 here, since
    one parameter set matches nothing.

    Docs: Core > Working with Engines and Connections > ``CursorResult.rowcount``.
    """
    statement = delete(counted_table).where(counted_table.c.id == bindparam("key"))
    with capture.observe(), engine.begin() as connection:
        rowcount = connection.execute(statement, [{"key": 3}, {"key": 6}, {"key": 99}]).rowcount

    with engine.connect() as connection:
        checks.equal("ids left", sorted(_labels(connection)), [1, 2, 4, 5])
    checks.equal("rowcount", rowcount, 2)


@behaviour(
    "rowcount.preserve-rowcount-insert",
    doc="core/connections.html#sqlalchemy.engine.Connection.execution_options",
    requires="2.0.28",
)
@pytest.mark.usefixtures("seeded")
def test_preserve_rowcount_counts_inserted_rows(engine, capture, checks):
    """With the ``preserve_rowcount`` execution option, ``rowcount`` is kept for INSERT too: an
    INSERT..FROM SELECT of three rows reports 3, and an INSERT of four parameter sets reports 4 where the
    driver sums the rows of an executemany ("most DBAPIs do not sum ... and will return -1").

    Docs: Core > Working with Engines and Connections > ``Connection.execution_options.preserve_rowcount``;
    ``CursorResult.rowcount``.
    """
    from_select = insert(copy_table).from_select(
        ["id", "label"], select(counted_table.c.id, counted_table.c.label).where(counted_table.c.id <= 3)
    )
    many = [{"id": 10 + number, "label": "many"} for number in range(4)]
    with capture.observe(), engine.connect().execution_options(preserve_rowcount=True) as connection:
        from_select_count = connection.execute(from_select).rowcount
        many_count = connection.execute(insert(copy_table), many).rowcount
        connection.commit()

    checks.equal("rowcount of INSERT..FROM SELECT", from_select_count, 3)
    checks.equal("rowcount of the four-parameter-set INSERT", many_count, 4)
