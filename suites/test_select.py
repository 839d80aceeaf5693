"""SELECT: joins, grouping, subqueries, CTEs, set operations, window functions and operators, as the tutorial
builds them with ``select()``, run against each backend."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    desc,
    except_,
    func,
    insert,
    intersect,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import relationship

from fixtures.compat import Session, declarative_base
from fixtures.plugin import behaviour

# The tutorial's user_account / address pair, under names of this module's own; the address's user_id is
# nullable so that an address without a user can exist for the FULL OUTER JOIN.
Base = declarative_base()


class User(Base):
    __tablename__ = "select_user_account"
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    fullname = Column(String(100))
    addresses = relationship("Address", back_populates="user")


class Address(Base):
    __tablename__ = "select_address"
    id = Column(Integer, primary_key=True)
    email_address = Column(String(100), nullable=False)
    user_id = Column(Integer, ForeignKey("select_user_account.id"))
    user = relationship("User", back_populates="addresses")


user_table = User.__table__
address_table = Address.__table__

TUTORIAL_USERS = [
    {"id": 1, "name": "spongebob", "fullname": "Spongebob Squarepants"},
    {"id": 2, "name": "sandy", "fullname": "Sandy Cheeks"},
    {"id": 3, "name": "patrick", "fullname": "Patrick Star"},
]
TUTORIAL_ADDRESSES = [
    {"id": 1, "email_address": "spongebob@sqlalchemy.org", "user_id": 1},
    {"id": 2, "email_address": "sandy@sqlalchemy.org", "user_id": 2},
    {"id": 3, "email_address": "sandy@squirrelpower.org", "user_id": 2},
]

# A small staff hierarchy (manager_id points at the manager) with departments and salaries.
staff_metadata = MetaData()
employee_table = Table(
    "select_employee",
    staff_metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(30), nullable=False),
    Column("department", String(30), nullable=False),
    Column("salary", Integer, nullable=False),
    Column("manager_id", Integer, ForeignKey("select_employee.id")),
)

EMPLOYEES = [
    {"id": 1, "name": "ada", "department": "board", "salary": 300, "manager_id": None},
    {"id": 2, "name": "bob", "department": "engineering", "salary": 200, "manager_id": 1},
    {"id": 3, "name": "cy", "department": "sales", "salary": 180, "manager_id": 1},
    {"id": 4, "name": "dee", "department": "engineering", "salary": 150, "manager_id": 2},
    {"id": 5, "name": "eve", "department": "engineering", "salary": 120, "manager_id": 4},
    {"id": 6, "name": "fay", "department": "sales", "salary": 110, "manager_id": 3},
]


@pytest.fixture
def accounts(make_tables, engine):
    """The tutorial's three users and their three addresses (patrick has none), committed."""
    make_tables(Base.metadata)
    with engine.begin() as connection:
        connection.execute(insert(user_table), TUTORIAL_USERS)
        connection.execute(insert(address_table), TUTORIAL_ADDRESSES)


@pytest.fixture
def staff(make_tables, engine):
    """Six employees in three departments, ada at the top, committed."""
    make_tables(staff_metadata)
    with engine.begin() as connection:
        connection.execute(insert(employee_table), EMPLOYEES)


def run(engine, capture, statement):
    """Execute one statement inside the observed window and return its rows as plain tuples."""
    with capture.observe(), engine.connect() as connection:
        return [tuple(row) for row in connection.execute(statement)]


def only_statement(capture) -> str:
    """The single statement the behaviour sent, upper-cased for keyword checks."""
    statements = capture.sql()
    assert len(statements) == 1, f"expected one statement, got {statements}"
    return statements[0].upper()


# The upper-cased FROM clause of a user_account -> address join whose ON clause comes from the foreign key
# (MySQL spells the inner join "INNER JOIN").
USER_JOIN_ADDRESS_ON_FOREIGN_KEY = (
    r"FROM SELECT_USER_ACCOUNT (INNER )?JOIN SELECT_ADDRESS ON SELECT_USER_ACCOUNT\.ID = SELECT_ADDRESS\.USER_ID"
)


# --- WHERE and joins -------------------------------------------------------------------------------


@behaviour("select.where-and-or", doc="tutorial/data_select.html#the-where-clause")
def test_where_with_and_or_combines_criteria(accounts, engine, capture, checks):
    """``where(and_(or_(a, b), c))`` renders the OR group in parentheses joined by AND, and returns only rows
    matching both the OR group and the AND criterion.

    Docs: Unified Tutorial > Using SELECT Statements > The WHERE clause (``and_()`` / ``or_()``).
    """
    statement = (
        select(address_table.c.email_address)
        .where(
            and_(
                or_(user_table.c.name == "spongebob", user_table.c.name == "sandy"),
                address_table.c.user_id == user_table.c.id,
                address_table.c.email_address != "sandy@squirrelpower.org",
            )
        )
        .order_by(address_table.c.id)
    )

    rows = run(engine, capture, statement)

    sql = only_statement(capture)
    assert " OR " in sql and " AND " in sql and "(" in sql.split("WHERE", 1)[1]
    checks.equal("rows", rows, [("spongebob@sqlalchemy.org",), ("sandy@sqlalchemy.org",)])


@behaviour("select.core-join-infers-on-clause", doc="tutorial/data_select.html#explicit-from-clauses-and-joins")
def test_core_join_infers_on_clause_from_foreign_key(accounts, engine, capture, checks):
    """``select(user.c.name, address.c.email_address).join(address)`` infers the left side and the ON clause
    from the single foreign key between the tables: ``user_account JOIN address ON user_account.id =
    address.user_id``, one row per address.

    Docs: Unified Tutorial > Using SELECT Statements > Explicit FROM clauses and JOINs; Setting the ON Clause.
    """
    statement = (
        select(user_table.c.name, address_table.c.email_address).join(address_table).order_by(address_table.c.id)
    )

    rows = run(engine, capture, statement)

    sql = only_statement(capture)
    assert re.search(USER_JOIN_ADDRESS_ON_FOREIGN_KEY, sql)
    checks.equal(
        "rows",
        rows,
        [
            ("spongebob", "spongebob@sqlalchemy.org"),
            ("sandy", "sandy@sqlalchemy.org"),
            ("sandy", "sandy@squirrelpower.org"),
        ],
    )


@behaviour("select.orm-join-relationship", doc="orm/queryguide/select.html#simple-relationship-joins")
def test_orm_join_along_a_relationship(accounts, engine, capture, checks):
    """``select(User).join(User.addresses).where(Address.email_address == ...)`` joins along the relationship
    (the ON clause comes from it) and returns the ``User`` object owning the matched address.

    Docs: ORM Querying Guide > Writing SELECT statements for ORM Mapped Classes > Joins > Simple Relationship
    Joins; Unified Tutorial > Working with ORM Related Objects > Using Relationships to Join.
    """
    statement = select(User).join(User.addresses).where(Address.email_address == "sandy@squirrelpower.org")

    with capture.observe(), Session(engine) as session:
        found = [(user.id, user.name) for user in session.scalars(statement)]

    sql = only_statement(capture)
    assert re.search(USER_JOIN_ADDRESS_ON_FOREIGN_KEY, sql)
    checks.equal("users found", found, [(2, "sandy")])


@behaviour("select.join-from", doc="tutorial/data_select.html#explicit-from-clauses-and-joins")
def test_join_from_sets_both_sides(accounts, engine, capture, checks):
    """``select(address.c.email_address, user.c.name).join_from(user, address)`` puts the left side first
    although the columns name the right side first, and joins on the foreign key.

    Docs: Unified Tutorial > Using SELECT Statements > Explicit FROM clauses and JOINs (``Select.join_from()``).
    """
    statement = (
        select(address_table.c.email_address, user_table.c.name)
        .join_from(user_table, address_table)
        .where(user_table.c.name == "sandy")
        .order_by(address_table.c.id)
    )

    rows = run(engine, capture, statement)

    sql = only_statement(capture)
    assert re.search(USER_JOIN_ADDRESS_ON_FOREIGN_KEY, sql)
    checks.equal("rows", rows, [("sandy@sqlalchemy.org", "sandy"), ("sandy@squirrelpower.org", "sandy")])


@behaviour("select.left-outer-join", doc="tutorial/data_select.html#outer-and-full-join")
def test_left_outer_join_keeps_unmatched_rows(accounts, engine, capture, checks):
    """``join(address, isouter=True)`` renders LEFT OUTER JOIN and keeps users without an address, with NULL in
    the address columns.

    Docs: Unified Tutorial > Using SELECT Statements > OUTER and FULL join.
    """
    statement = (
        select(user_table.c.name, address_table.c.email_address)
        .join(address_table, isouter=True)
        .order_by(user_table.c.id, address_table.c.id)
    )

    rows = run(engine, capture, statement)

    assert "LEFT OUTER JOIN" in only_statement(capture)
    checks.equal(
        "rows",
        rows,
        [
            ("spongebob", "spongebob@sqlalchemy.org"),
            ("sandy", "sandy@sqlalchemy.org"),
            ("sandy", "sandy@squirrelpower.org"),
            ("patrick", None),
        ],
    )


@behaviour("select.full-outer-join", doc="tutorial/data_select.html#outer-and-full-join")
def test_full_outer_join_keeps_unmatched_rows_of_both_sides(accounts, engine, capture):
    """``join(address, full=True)`` renders FULL OUTER JOIN and keeps unmatched rows of both sides: a user
    without an address and an address without a user, each with NULLs for the other side.

    Docs: Unified Tutorial > Using SELECT Statements > OUTER and FULL join.
    """
    with engine.begin() as connection:
        connection.execute(insert(address_table).values(id=4, email_address="nobody@example.org", user_id=None))
    statement = select(user_table.c.name, address_table.c.email_address).join(address_table, full=True)

    rows = run(engine, capture, statement)

    assert "FULL OUTER JOIN" in only_statement(capture)
    assert sorted(capture.measure("rows", rows), key=repr) == sorted(
        [
            ("spongebob", "spongebob@sqlalchemy.org"),
            ("sandy", "sandy@sqlalchemy.org"),
            ("sandy", "sandy@squirrelpower.org"),
            ("patrick", None),
            (None, "nobody@example.org"),
        ],
        key=repr,
    )


# --- grouping and ordering ------------------------------------------------------------------------


@behaviour("select.group-by-having", doc="tutorial/data_select.html#aggregate-functions-with-group-by-having")
def test_group_by_having_filters_groups(accounts, engine, capture, checks):
    """``group_by(User.name).having(func.count(Address.id) > 1)`` aggregates per group and keeps only the groups
    whose count passes the HAVING condition: the tutorial's ``[('sandy', 2)]``.

    Docs: Unified Tutorial > Using SELECT Statements > Aggregate functions with GROUP BY / HAVING.
    """
    statement = (
        select(User.name, func.count(Address.id).label("count"))
        .join(Address)
        .group_by(User.name)
        .having(func.count(Address.id) > 1)
    )

    rows = run(engine, capture, statement)

    sql = only_statement(capture)
    assert "GROUP BY" in sql and "HAVING" in sql
    checks.equal("rows", rows, [("sandy", 2)])


@behaviour("select.order-by-label", doc="tutorial/data_select.html#ordering-or-grouping-by-a-label")
def test_order_by_a_label_name(accounts, engine, capture, checks):
    """``order_by(desc("num_addresses"))`` refers to the labelled aggregate in the columns clause by its name
    (``ORDER BY num_addresses DESC``) and sorts by it.

    Docs: Unified Tutorial > Using SELECT Statements > Ordering or Grouping by a Label.
    """
    statement = (
        select(address_table.c.user_id, func.count(address_table.c.id).label("num_addresses"))
        .group_by("user_id")
        .order_by(desc("num_addresses"))
    )

    rows = run(engine, capture, statement)

    assert "ORDER BY NUM_ADDRESSES DESC" in only_statement(capture)
    checks.equal("rows", rows, [(2, 2), (1, 1)])


@behaviour("select.limit-offset", doc="core/selectable.html#sqlalchemy.sql.expression.Select.limit")
def test_limit_and_offset_page_through_ordered_rows(accounts, engine, capture, checks):
    """``order_by(...).limit(1).offset(1)`` skips the first row and returns only the next one.

    Docs: Core > SELECT and Related Constructs > ``Select.limit()`` / ``Select.offset()``.
    """
    statement = select(user_table.c.name).order_by(user_table.c.id).limit(1).offset(1)

    rows = run(engine, capture, statement)

    assert "LIMIT" in only_statement(capture)
    checks.equal("rows", rows, [("sandy",)])


@behaviour("select.nulls-first-last", doc="core/sqlelement.html#sqlalchemy.sql.expression.nulls_first")
def test_nulls_first_and_nulls_last_place_null_rows(staff, engine, capture):
    """``order_by(col.asc().nulls_first())`` puts the row whose column is NULL first and
    ``order_by(col.asc().nulls_last())`` puts it last, whatever the backend's default NULL ordering.

    Docs: Core > Column Elements and Expressions > ``nulls_first()`` / ``nulls_last()``.
    """
    manager = employee_table.c.manager_id
    first = select(employee_table.c.name).order_by(manager.asc().nulls_first(), employee_table.c.id)
    last = select(employee_table.c.name).order_by(manager.asc().nulls_last(), employee_table.c.id)

    with capture.observe(), engine.connect() as connection:
        nulls_first = connection.execute(first).scalars().all()
        nulls_last = connection.execute(last).scalars().all()

    sql = " ".join(capture.sql()).upper()
    assert "NULLS FIRST" in sql and "NULLS LAST" in sql
    assert capture.measure("nulls first", nulls_first)[0] == "ada"
    assert capture.measure("nulls last", nulls_last)[-1] == "ada"
    assert sorted(nulls_first) == sorted(nulls_last) == sorted(row["name"] for row in EMPLOYEES)


# --- subqueries and CTEs ----------------------------------------------------------------------------


def address_counts():
    """The tutorial's per-user address count, to be made a subquery or a CTE."""
    return select(func.count(address_table.c.id).label("count"), address_table.c.user_id).group_by(
        address_table.c.user_id
    )


@behaviour("select.subquery-joined", doc="tutorial/data_select.html#subqueries-and-ctes")
def test_subquery_joined_to_a_table(accounts, engine, capture, checks):
    """A ``Select.subquery()`` of per-user address counts is joined back to ``user_account`` with
    ``join_from()``, the ON clause inferred through the subquery's derived ``user_id`` column.

    Docs: Unified Tutorial > Using SELECT Statements > Subqueries and CTEs.
    """
    counts = address_counts().subquery()
    statement = select(user_table.c.name, counts.c.count).join_from(user_table, counts).order_by(user_table.c.id)

    rows = run(engine, capture, statement)

    sql = only_statement(capture)
    assert "JOIN (SELECT COUNT(" in sql and ".USER_ID" in sql.rsplit(" ON ", 1)[1]
    checks.equal("rows", rows, [("spongebob", 1), ("sandy", 2)])


@behaviour("select.cte", doc="tutorial/data_select.html#common-table-expressions-ctes")
def test_cte_used_like_a_subquery(accounts, engine, capture, checks):
    """The same per-user counts as ``Select.cte()`` render as ``WITH anon_1 AS (...) SELECT ...`` and join back
    to ``user_account`` in the same way as the subquery.

    Docs: Unified Tutorial > Using SELECT Statements > Subqueries and CTEs > Common Table Expressions (CTEs).
    """
    counts = address_counts().cte()
    statement = select(user_table.c.name, counts.c.count).join_from(user_table, counts).order_by(user_table.c.id)

    rows = run(engine, capture, statement)

    sql = only_statement(capture)
    assert sql.startswith("WITH ") and " AS (SELECT COUNT(" in sql
    checks.equal("rows", rows, [("spongebob", 1), ("sandy", 2)])


@behaviour("select.recursive-cte", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.cte")
def test_recursive_cte_walks_a_hierarchy(staff, engine, capture, checks):
    """``cte(recursive=True)`` with ``union_all()`` of the anchor and a join back to the CTE renders
    ``WITH RECURSIVE`` and returns the anchor row plus every row reached through it: bob and all below him.

    Docs: Core > SELECT and Related Constructs > ``HasCTE.cte()`` (recursive example).
    """
    chain = (
        select(employee_table.c.id, employee_table.c.name)
        .where(employee_table.c.name == "bob")
        .cte("reports_to_bob", recursive=True)
    )
    chain = chain.union_all(
        select(employee_table.c.id, employee_table.c.name).join(chain, employee_table.c.manager_id == chain.c.id)
    )
    statement = select(chain.c.name).order_by(chain.c.id)

    rows = run(engine, capture, statement)

    assert only_statement(capture).startswith("WITH RECURSIVE")
    checks.equal("rows", rows, [("bob",), ("dee",), ("eve",)])


@behaviour("select.scalar-subquery", doc="tutorial/data_select.html#scalar-and-correlated-subqueries")
def test_scalar_subquery_in_where(accounts, engine, capture, checks):
    """``Select.scalar_subquery()`` of one column and row is usable as a value: addresses whose ``user_id``
    equals ``(SELECT id FROM user_account WHERE name = 'sandy')``.

    Docs: Unified Tutorial > Using SELECT Statements > Scalar and Correlated Subqueries.
    """
    sandy_id = select(user_table.c.id).where(user_table.c.name == "sandy").scalar_subquery()
    statement = (
        select(address_table.c.email_address).where(address_table.c.user_id == sandy_id).order_by(address_table.c.id)
    )

    rows = run(engine, capture, statement)

    assert "= (SELECT" in only_statement(capture)
    checks.equal("rows", rows, [("sandy@sqlalchemy.org",), ("sandy@squirrelpower.org",)])


@behaviour("select.correlated-subquery", doc="tutorial/data_select.html#scalar-and-correlated-subqueries")
def test_correlated_subquery_counts_per_row(accounts, engine, capture, checks):
    """A scalar subquery referring to ``user_account`` is auto-correlated when embedded in a SELECT from
    ``user_account``: its FROM lists only ``address``, and it yields each user's own address count (0 for
    patrick).

    Docs: Unified Tutorial > Using SELECT Statements > Scalar and Correlated Subqueries.
    """
    address_count = (
        select(func.count(address_table.c.id)).where(user_table.c.id == address_table.c.user_id).scalar_subquery()
    )
    statement = select(user_table.c.name, address_count.label("address_count")).order_by(user_table.c.id)

    rows = run(engine, capture, statement)

    subquery = only_statement(capture).split("(SELECT", 1)[1]
    subquery_from = subquery.split(" FROM ", 1)[1].split(" WHERE ", 1)[0]
    checks.equal("FROM of the subquery", subquery_from, "SELECT_ADDRESS")
    checks.equal("rows", rows, [("spongebob", 1), ("sandy", 2), ("patrick", 0)])


@behaviour("select.exists", doc="tutorial/data_select.html#exists-subqueries")
def test_exists_and_not_exists(accounts, engine, capture, checks):
    """``Select.exists()`` used in WHERE returns the users that have an address; negated with ``~`` it renders
    NOT (EXISTS ...) and returns the user that has none.

    Docs: Unified Tutorial > Using SELECT Statements > EXISTS subqueries.
    """
    has_address = select(address_table.c.id).where(user_table.c.id == address_table.c.user_id).exists()

    with capture.observe(), engine.connect() as connection:
        with_address = (
            connection.execute(select(user_table.c.name).where(has_address).order_by(user_table.c.id)).scalars().all()
        )
        without_address = connection.execute(select(user_table.c.name).where(~has_address)).scalars().all()

    statements = [sql.upper() for sql in capture.sql()]
    assert "WHERE EXISTS (SELECT" in statements[0] and "NOT (EXISTS (SELECT" in statements[1]
    checks.equal("with an address", with_address, ["spongebob", "sandy"])
    checks.equal("without an address", without_address, ["patrick"])


@behaviour("select.lateral", doc="tutorial/data_select.html#lateral-correlation")
def test_lateral_subquery_correlates_to_the_left_side(accounts, engine, capture):
    """``Select.lateral()`` renders ``JOIN LATERAL (...)`` whose subquery refers to the table on the left of the
    join, giving each user's own address count.

    Docs: Unified Tutorial > Using SELECT Statements > Scalar and Correlated Subqueries > LATERAL correlation.
    """
    per_user = (
        select(func.count(address_table.c.id).label("address_count"), address_table.c.user_id)
        .where(user_table.c.id == address_table.c.user_id)
        .group_by(address_table.c.user_id)
        .lateral()
    )
    statement = select(user_table.c.name, per_user.c.address_count).join_from(user_table, per_user)

    rows = run(engine, capture, statement)

    assert "JOIN LATERAL (SELECT" in only_statement(capture)
    assert sorted(capture.measure("rows", rows)) == [("sandy", 2), ("spongebob", 1)]


# --- set operations ---------------------------------------------------------------------------------


def names_where(*names):
    return select(user_table.c.name).where(user_table.c.name.in_(names))


@behaviour("select.union", doc="tutorial/data_select.html#union-union-all-and-other-set-operations")
def test_union_removes_duplicate_rows(accounts, engine, capture):
    """``union(a, b)`` returns the rows of both SELECTs with duplicates removed.

    Docs: Unified Tutorial > Using SELECT Statements > UNION, UNION ALL and other set operations.
    """
    rows = run(engine, capture, union(names_where("sandy", "spongebob"), names_where("sandy", "patrick")))

    sql = only_statement(capture)
    assert " UNION SELECT " in sql.replace("(", "").replace(")", "")
    assert sorted(capture.measure("rows", rows)) == [("patrick",), ("sandy",), ("spongebob",)]


@behaviour("select.union-all", doc="tutorial/data_select.html#union-union-all-and-other-set-operations")
def test_union_all_keeps_duplicate_rows(accounts, engine, capture):
    """``union_all(a, b)`` returns every row of both SELECTs, duplicates included.

    Docs: Unified Tutorial > Using SELECT Statements > UNION, UNION ALL and other set operations.
    """
    rows = run(engine, capture, union_all(names_where("sandy", "spongebob"), names_where("sandy", "patrick")))

    assert "UNION ALL" in only_statement(capture)
    assert sorted(capture.measure("rows", rows)) == [("patrick",), ("sandy",), ("sandy",), ("spongebob",)]


@behaviour("select.intersect", doc="core/selectable.html#sqlalchemy.sql.expression.intersect")
def test_intersect_keeps_rows_in_both(accounts, engine, capture):
    """``intersect(a, b)`` returns the distinct rows present in both SELECTs: the user ids that have addresses.

    Docs: Core > SELECT and Related Constructs > ``intersect()``; Unified Tutorial > UNION, UNION ALL and other
    set operations.
    """
    statement = intersect(select(user_table.c.id), select(address_table.c.user_id))

    rows = run(engine, capture, statement)

    assert "INTERSECT" in only_statement(capture)
    assert sorted(capture.measure("rows", rows)) == [(1,), (2,)]


@behaviour("select.except", doc="core/selectable.html#sqlalchemy.sql.expression.except_")
def test_except_removes_rows_of_the_second(accounts, engine, capture, checks):
    """``except_(a, b)`` returns the distinct rows of the first SELECT absent from the second: the user ids
    without an address.

    Docs: Core > SELECT and Related Constructs > ``except_()``; Unified Tutorial > UNION, UNION ALL and other
    set operations.
    """
    statement = except_(select(user_table.c.id), select(address_table.c.user_id))

    rows = run(engine, capture, statement)

    assert "EXCEPT" in only_statement(capture)
    checks.equal("rows", rows, [(3,)])


# --- window functions and operators ---------------------------------------------------------------


@behaviour("select.window-row-number", doc="tutorial/data_select.html#using-window-functions")
def test_row_number_over_partition(staff, engine, capture, checks):
    """``func.row_number().over(partition_by=department, order_by=salary.desc())`` numbers the rows from 1
    within each department, highest salary first.

    Docs: Unified Tutorial > Using SELECT Statements > Working with SQL Functions > Using Window Functions.
    """
    rank = func.row_number().over(partition_by=employee_table.c.department, order_by=employee_table.c.salary.desc())
    statement = select(employee_table.c.name, rank.label("rank_in_department"))

    rows = run(engine, capture, statement)

    assert "ROW_NUMBER() OVER (PARTITION BY" in only_statement(capture)
    checks.equal(
        "rank by name",
        dict(rows),
        {
            "ada": 1,
            "bob": 1,
            "dee": 2,
            "eve": 3,
            "cy": 1,
            "fay": 2,
        },
    )


@behaviour("select.like-case-sensitive", doc="core/operators.html#string-comparisons")
def test_like_is_case_sensitive(accounts, engine, capture, checks):
    """``like()`` renders SQL LIKE, which the SQL standard defines as case-sensitive: ``fullname LIKE 'sandy%'``
    does not match 'Sandy Cheeks' while ``LIKE 'Sandy%'`` does.

    Docs: Core > Operator Reference > String Comparisons (``ColumnOperators.like()``, and ``ilike()`` for the
    case-insensitive form).
    """
    with capture.observe(), engine.connect() as connection:
        lower = connection.execute(select(user_table.c.name).where(user_table.c.fullname.like("sandy%")))
        lower_matches = lower.scalars().all()
        exact = connection.execute(select(user_table.c.name).where(user_table.c.fullname.like("Sandy%")))
        exact_matches = exact.scalars().all()

    checks.equal("statements rendering LIKE", [" LIKE " in sql.upper() for sql in capture.sql()], [True, True])
    checks.equal("LIKE 'Sandy%'", exact_matches, ["sandy"])
    checks.equal("LIKE 'sandy%'", lower_matches, [])


@behaviour("select.ilike-case-insensitive", doc="core/operators.html#string-comparisons")
def test_ilike_is_case_insensitive_everywhere(accounts, engine, capture, checks):
    """``ilike()`` matches regardless of case on every backend: ILIKE where the database has it, otherwise
    ``lower(x) LIKE lower(y)``.

    Docs: Core > Operator Reference > String Comparisons (``ColumnOperators.ilike()``).
    """
    statement = select(user_table.c.name).where(user_table.c.fullname.ilike("sANDY%"))

    rows = run(engine, capture, statement)

    sql = only_statement(capture)
    assert " ILIKE " in sql or "LOWER(" in sql
    checks.equal("rows", rows, [("sandy",)])


DIVISION_DOC = (
    "changelog/whatsnew_20.html#python-division-operator-performs-true-division-for-all-backends-added-floor-division"
)


@behaviour("select.integer-true-division", doc=DIVISION_DOC)
def test_slash_on_integers_is_true_division(engine, capture, checks):
    """In SQLAlchemy 2.0 ``/`` between two integer expressions performs true division on every backend:
    7 / 2 is 3.5 (a Decimal or float), not the integer 3.

    Docs: What's New in SQLAlchemy 2.0 > Python division operator performs true division for all backends;
    added floor division.
    """
    seven, two = literal(7, Integer), literal(2, Integer)

    quotient = run(engine, capture, select(seven / two))[0][0]

    checks.equal("7 / 2", quotient, Decimal("3.5"))  # an integer 3 is not equal to 3.5


@behaviour("select.integer-floor-division", doc=DIVISION_DOC, requires="2.0")
def test_double_slash_on_integers_is_floor_division(engine, capture, checks):
    """In SQLAlchemy 2.0 ``//`` between two integer expressions performs floor division returning an integer
    on every backend: 7 // 2 is 3, also where SQL ``/`` is true division (rendered as ``FLOOR(a / b)``).

    Docs: What's New in SQLAlchemy 2.0 > Python division operator performs true division for all backends;
    added floor division.
    """
    seven, two = literal(7, Integer), literal(2, Integer)

    quotient = run(engine, capture, select(seven // two))[0][0]

    checks.equal("7 // 2", quotient, 3)
    assert int(quotient) == quotient


@behaviour("select.floor-division-negative", doc=DIVISION_DOC, requires="2.0")
def test_double_slash_floors_negative_quotients(engine, capture, checks):
    """``//`` is floor division as in Python, so a negative quotient rounds down: -7 // 2 is -4.

    Docs: What's New in SQLAlchemy 2.0 > Python division operator performs true division for all backends;
    added floor division.
    """
    minus_seven, two = literal(-7, Integer), literal(2, Integer)

    quotient = run(engine, capture, select(minus_seven // two))[0][0]

    checks.equal("-7 // 2", quotient, -4)
