"""Relationships and loading: how related objects are kept in step in Python, loaded (lazy, selectin, joined,
raise), cascaded into the Session, and linked through a many-to-many association table."""

import re
import warnings

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, Table, exc, insert, select
from sqlalchemy.orm import joinedload, raiseload, relationship, selectinload

from fixtures.compat import Session, declarative_base
from fixtures.models import Address, User, address_table, user_table
from fixtures.plugin import behaviour

TABLE_NAMED = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+[`\"]?(\w+)", re.IGNORECASE)

CourseBase = declarative_base()

enrolment_table = Table(
    "rel_enrolment",
    CourseBase.metadata,
    Column("student_id", ForeignKey("rel_student.id"), primary_key=True),
    Column("course_id", ForeignKey("rel_course.id"), primary_key=True),
)


class Student(CourseBase):
    """A student enrolled in courses through the ``rel_enrolment`` association table."""

    __tablename__ = "rel_student"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    courses = relationship("Course", secondary=enrolment_table, back_populates="students")


class Course(CourseBase):
    __tablename__ = "rel_course"
    id = Column(Integer, primary_key=True)
    title = Column(String(50), nullable=False)
    students = relationship("Student", secondary=enrolment_table, back_populates="courses")


def steps(capture) -> list[tuple[str, str]]:
    """(verb, first table named) of each observed statement."""
    seen = []
    for sql in capture.sql():
        table = TABLE_NAMED.search(sql)
        seen.append((sql.split(None, 1)[0].upper(), table.group(1).lower() if table else "?"))
    return seen


def add_users_with_addresses(engine) -> dict[str, int]:
    """Commit sandy (two addresses), patrick (one) and squidward (none) outside the observed window;
    return the users' primary keys by name."""
    with engine.begin() as connection:
        for name in ("sandy", "patrick", "squidward"):
            connection.execute(insert(user_table), {"name": name, "fullname": name.title()})
        ids = {name: id_ for name, id_ in connection.execute(select(user_table.c.name, user_table.c.id))}
        connection.execute(
            insert(address_table),
            [
                {"user_id": ids["sandy"], "email_address": "sandy@sqlalchemy.org"},
                {"user_id": ids["sandy"], "email_address": "sandy@squirrelpower.org"},
                {"user_id": ids["patrick"], "email_address": "patrick@bikinibottom.org"},
            ],
        )
        return ids


def stored_addresses(engine) -> list[tuple[str, str]]:
    """(user name, email address) of every stored address."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(user_table.c.name, address_table.c.email_address)
            .join_from(address_table, user_table)
            .order_by(address_table.c.email_address)
        )
        return [tuple(row) for row in rows]


def emails_by_user(users) -> dict[str, list[str]]:
    return {user.name: sorted(address.email_address for address in user.addresses) for user in users}


EXPECTED_EMAILS = {
    "patrick": ["patrick@bikinibottom.org"],
    "sandy": ["sandy@sqlalchemy.org", "sandy@squirrelpower.org"],
    "squidward": [],
}


@behaviour(
    "rel.back-populates-syncs-in-python",
    doc="tutorial/orm_related_objects.html#persisting-and-loading-relationships",
)
@pytest.mark.usefixtures("tables")
def test_back_populates_keeps_both_sides_in_step_without_sql(engine, capture, checks):
    """With ``back_populates``, appending a child to a parent's collection sets the child's many-to-one
    attribute, and setting a child's many-to-one attribute appends it to the parent's collection, in Python,
    before any flush (no SQL); the flush then stores both links.

    Docs: Unified Tutorial > Working with ORM Related Objects > Persisting and Loading Relationships.
    """
    add_users_with_addresses(engine)
    with Session(engine) as session:
        users = session.scalars(select(User).options(selectinload(User.addresses)).order_by(User.name)).all()
        patrick, sandy, _squidward = users
        with capture.observe():
            appended = Address(email_address="sandy@treedome.org")
            sandy.addresses.append(appended)
            parent_of_appended = capture.measure("appended.user after append", appended.user.name)
            assigned = Address(email_address="patrick@rock.org")
            session.add(assigned)
            assigned.user = patrick
            in_collection = capture.measure("assigned in patrick.addresses", assigned in patrick.addresses)
        statements_before_flush = capture.measure("statements before flush", len(capture.statements))
        session.commit()

    assert parent_of_appended == "sandy"
    assert in_collection is True
    assert statements_before_flush == 0
    checks.equal(
        "addresses stored",
        stored_addresses(engine),
        [
            ("patrick", "patrick@bikinibottom.org"),
            ("patrick", "patrick@rock.org"),
            ("sandy", "sandy@sqlalchemy.org"),
            ("sandy", "sandy@squirrelpower.org"),
            ("sandy", "sandy@treedome.org"),
        ],
    )


@behaviour("rel.lazy-load-once", doc="orm/queryguide/relationships.html#lazy-loading")
@pytest.mark.usefixtures("tables")
def test_lazy_collection_selects_once_on_first_access(engine, capture, checks):
    """A ``relationship()`` with the default lazy loading emits exactly one SELECT of the related table on
    first access of the collection, and none on the second access.

    Docs: ORM Querying Guide > Relationship Loading Techniques > Lazy Loading; Unified Tutorial > Working with
    ORM Related Objects > Loading Relationships.
    """
    sandy_id = add_users_with_addresses(engine)["sandy"]
    with Session(engine) as session:
        sandy = session.get(User, sandy_id)
        loaded_before = capture.measure("collection loaded before access", "addresses" in sandy.__dict__)
        with capture.observe():
            first = [address.email_address for address in sandy.addresses]
            statements_after_first = len(capture.statements)
            second = [address.email_address for address in sandy.addresses]
            added_by_second = len(capture.statements) - statements_after_first

    assert loaded_before is False
    checks.equal("statements (verb, table)", steps(capture), [("SELECT", "address")])
    checks.equal("statements added by the second access", added_by_second, 0)
    assert sorted(first) == sorted(second) == EXPECTED_EMAILS["sandy"]
    assert [email for name, email in stored_addresses(engine) if name == "sandy"] == EXPECTED_EMAILS["sandy"]


@behaviour("rel.selectinload-one-in-query", doc="orm/queryguide/relationships.html#selectin-eager-loading")
@pytest.mark.usefixtures("tables")
def test_selectinload_loads_all_collections_with_one_in_select(engine, capture, checks):
    """``selectinload()`` loads the collections of all parents in one extra SELECT with ``IN (...)`` of their
    primary keys; accessing the collections afterwards emits no SQL.

    Docs: ORM Querying Guide > Relationship Loading Techniques > Select IN loading.
    """
    add_users_with_addresses(engine)
    with Session(engine) as session, capture.observe():
        users = session.scalars(select(User).options(selectinload(User.addresses)).order_by(User.name)).all()
        statements_for_query = len(capture.statements)
        emails = emails_by_user(users)
        added_by_access = capture.measure("statements added by access", len(capture.statements) - statements_for_query)

    checks.equal(
        "statements (verb, table)",
        steps(capture),
        [
            ("SELECT", "user_account"),
            ("SELECT", "address"),
        ],
    )
    assert " IN " in capture.sql()[1].upper()
    assert added_by_access == 0
    checks.equal("addresses loaded", emails, EXPECTED_EMAILS)


@behaviour("rel.joinedload-left-outer-join", doc="orm/queryguide/relationships.html#joined-eager-loading")
@pytest.mark.usefixtures("tables")
def test_joinedload_loads_collections_in_the_same_select(engine, capture, checks):
    """``joinedload()`` loads the collections in the same SELECT through a LEFT OUTER JOIN, so a parent without
    children is still returned (with an empty collection), and access emits no more SQL.

    Docs: ORM Querying Guide > Relationship Loading Techniques > Joined Eager Loading.
    """
    add_users_with_addresses(engine)
    with Session(engine) as session, capture.observe():
        result = session.scalars(select(User).options(joinedload(User.addresses)).order_by(User.name))
        users = result.unique().all()
        emails = emails_by_user(users)

    checks.equal("statements (verb, table)", steps(capture), [("SELECT", "user_account")])
    assert "LEFT OUTER JOIN" in capture.sql()[0].upper()
    checks.equal("addresses loaded", emails, EXPECTED_EMAILS)


@behaviour(
    "rel.raiseload-refuses-lazy-load",
    doc="orm/queryguide/relationships.html#preventing-unwanted-lazy-loads-using-raiseload",
)
@pytest.mark.usefixtures("tables")
def test_raiseload_raises_instead_of_loading(engine, capture, checks):
    """With ``raiseload()``, accessing the unloaded collection raises ``InvalidRequestError`` and emits no SQL.

    Docs: ORM Querying Guide > Relationship Loading Techniques > Preventing unwanted lazy loads using raiseload.
    """
    sandy_id = add_users_with_addresses(engine)["sandy"]
    with Session(engine) as session:
        sandy = session.scalars(select(User).where(User.id == sandy_id).options(raiseload(User.addresses))).one()
        with pytest.raises(exc.InvalidRequestError), capture.observe():
            _ = sandy.addresses
        loaded_after = capture.measure("collection loaded after the attempt", "addresses" in sandy.__dict__)

    checks.equal("statements emitted", len(capture.statements), 0)
    assert capture.exception["sqlalchemy"] == "sqlalchemy.exc.InvalidRequestError"
    assert loaded_after is False
    assert len([email for name, email in stored_addresses(engine) if name == "sandy"]) == 2


@behaviour("rel.save-update-cascade-on-append", doc="orm/cascades.html#save-update")
@pytest.mark.usefixtures("tables")
def test_child_appended_to_persistent_parent_joins_the_session(engine, capture, checks):
    """ "save-update" cascade also acts on attribute events: a new object appended to the collection of a parent
    already in the Session becomes pending in that Session without ``Session.add()``, and the flush INSERTs it
    with the parent's key.

    Docs: ORM > Cascades > save-update.
    """
    patrick_id = add_users_with_addresses(engine)["patrick"]
    address = Address(email_address="patrick@krustykrab.com")
    with Session(engine) as session:
        patrick = session.get(User, patrick_id)
        with capture.observe():
            patrick.addresses.append(address)
            pending = capture.measure("appended object pending in the Session", address in session.new)
            session.commit()

    assert pending is True
    checks.equal("statements (verb, table)", steps(capture), [("SELECT", "address"), ("INSERT", "address")])
    assert [email for name, email in stored_addresses(engine) if name == "patrick"] == [
        "patrick@bikinibottom.org",
        "patrick@krustykrab.com",
    ]


@behaviour("rel.no-cascade-from-backref-assignment", doc="orm/cascades.html#back-populates-cascade")
@pytest.mark.usefixtures("tables")
def test_assigning_the_many_to_one_side_does_not_cascade_into_the_session(engine, capture, checks):
    """ "save-update" cascade runs in one direction only: assigning a persistent parent to a new child's
    many-to-one attribute does not put the child into the Session (2.0 behaviour, ``cascade_backrefs`` gone),
    so the flush INSERTs nothing (SQLAlchemy 2.0 warns that the child is not in the Session);
    ``Session.add(child)`` stores it.

    Docs: ORM > Cascades > Behavior of save-update cascade with bi-directional relationships.
    """
    patrick_id = add_users_with_addresses(engine)["patrick"]
    with Session(engine) as session:
        patrick = session.get(User, patrick_id)
        address = Address(email_address="patrick@krustykrab.com")
        with capture.observe():
            address.user = patrick
            in_session = capture.measure("child in the Session after assignment", address in session)
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter("always", exc.SAWarning)
                session.flush()
        capture.measure("warnings at flush", [str(warning.message) for warning in warned])
        inserted_without_add = capture.measure("INSERTs without add()", capture.count_of("INSERT"))
        with capture.observe():
            session.add(address)
            session.commit()

    checks.same("child in the Session after assignment", in_session, False)
    checks.equal("INSERTs without add()", inserted_without_add, 0)
    checks.equal("address INSERTs in all", capture.count_of("INSERT"), 1)
    assert [email for name, email in stored_addresses(engine) if name == "patrick"] == [
        "patrick@bikinibottom.org",
        "patrick@krustykrab.com",
    ]


@behaviour("rel.many-to-many-secondary-rows", doc="orm/basic_relationships.html#many-to-many")
def test_many_to_many_inserts_and_deletes_association_rows(engine, capture, make_tables, checks):
    """With ``relationship(secondary=table)``, the ORM INSERTs a row into the association table for each
    object added to the collection, and DELETEs the row when an object is removed, leaving both ends stored.

    Docs: ORM > Basic Relationship Patterns > Many To Many.
    """
    make_tables(CourseBase.metadata)
    sandy = Student(name="sandy", courses=[Course(title="karate"), Course(title="science")])
    with Session(engine) as session:
        with capture.observe():
            session.add(sandy)
            session.flush()
        adding = capture.measure("statements (verb, table) when adding", steps(capture))
        karate = next(course for course in sandy.courses if course.title == "karate")
        with capture.observe():
            sandy.courses.remove(karate)
            session.commit()
        removing = capture.measure("statements (verb, table) when removing", steps(capture)[len(adding) :])

    assert set(adding[:-1]) == {("INSERT", "rel_student"), ("INSERT", "rel_course")}
    assert adding[-1] == ("INSERT", "rel_enrolment")
    assert removing == [("DELETE", "rel_enrolment")]
    with engine.connect() as connection:
        enrolled = connection.execute(
            select(Student.name, Course.title).join_from(enrolment_table, Student).join(Course)
        ).all()
        courses = connection.scalars(select(Course.title).order_by(Course.title)).all()
    checks.equal("enrolments stored", [tuple(row) for row in enrolled], [("sandy", "science")])
    checks.equal("courses stored", courses, ["karate", "science"])
