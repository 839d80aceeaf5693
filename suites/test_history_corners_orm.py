"""ORM corners (autoflush, cascades, ORM-enabled INSERT/UPDATE/DELETE, loader criteria, post_update, session
state) where SQLAlchemy point releases changed observable behaviour; reports/history.toml names the releases.

Each behaviour states what the SQLAlchemy documentation says about its corner, never a ticket's own test.
"""

import warnings

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import aliased, column_property, relationship, selectinload, subqueryload

try:
    from sqlalchemy.orm.collections import attribute_keyed_dict
except ImportError:  # SQLAlchemy 1.4 names it attribute_mapped_collection (its behaviour requires 2.0)
    from sqlalchemy.orm.collections import attribute_mapped_collection as attribute_keyed_dict

from fixtures.compat import Session, declarative_base
from fixtures.models import Address, User, user_table
from fixtures.plugin import behaviour

CornerBase = declarative_base()


class Owner(CornerBase):
    """An owner whose pets are deleted with it, and never lazy-loaded on attribute access (``lazy="raise"``)."""

    __tablename__ = "history_owner"
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    pets = relationship("Pet", cascade="all, delete-orphan", lazy="raise")


class Pet(CornerBase):
    __tablename__ = "history_pet"
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    owner_id = Column(Integer, ForeignKey("history_owner.id"), nullable=False)


class Staff(CornerBase):
    """The base of a joined-inheritance hierarchy whose subclasses load with it (``with_polymorphic="*"``)."""

    __tablename__ = "history_staff"
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    kind = Column(String(20), nullable=False)
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "staff", "with_polymorphic": "*"}  # noqa: RUF012


class Engineer(Staff):
    __tablename__ = "history_engineer"
    id = Column(Integer, ForeignKey("history_staff.id"), primary_key=True)
    language = Column(String(20))
    __mapper_args__ = {"polymorphic_identity": "engineer"}  # noqa: RUF012


enrolment = Table(
    "history_enrolment",
    CornerBase.metadata,
    Column("student_id", ForeignKey("history_student.id"), primary_key=True),
    Column("course_id", ForeignKey("history_course.id"), primary_key=True),
    Column("active", Boolean, nullable=False),
)


class Student(CornerBase):
    __tablename__ = "history_student"
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    courses = relationship("Course", secondary=enrolment)


class Course(CornerBase):
    __tablename__ = "history_course"
    id = Column(Integer, primary_key=True)
    title = Column(String(30), nullable=False)


class Gauge(CornerBase):
    """A row with a SQL-expression attribute (``column_property``)."""

    __tablename__ = "history_gauge"
    id = Column(Integer, primary_key=True)
    low = Column(Integer, nullable=False)
    high = Column(Integer, nullable=False)
    span = column_property(high - low)


class Board(CornerBase):
    """A board pointing at one of its own cards (``post_update``), versioned with ``version_id_col``."""

    __tablename__ = "history_board"
    id = Column(Integer, primary_key=True)
    title = Column(String(30), nullable=False)
    pinned_id = Column(Integer, ForeignKey("history_card.id", use_alter=True, name="fk_board_pinned"))
    version = Column(Integer, nullable=False)
    cards = relationship("Card", foreign_keys="Card.board_id", back_populates="board", post_update=True)
    pinned = relationship("Card", foreign_keys=[pinned_id], post_update=True)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Card(CornerBase):
    __tablename__ = "history_card"
    id = Column(Integer, primary_key=True)
    text = Column(String(30), nullable=False)
    board_id = Column(Integer, ForeignKey("history_board.id"))
    board = relationship("Board", foreign_keys=[board_id], back_populates="cards")


class Note(CornerBase):
    __tablename__ = "history_note"
    id = Column(Integer, primary_key=True)
    title = Column(String(30), nullable=False)
    notebook_id = Column(Integer, ForeignKey("history_notebook.id"))

    @property
    def slug(self):
        return self.title.lower()


class Notebook(CornerBase):
    """Notes kept in a dictionary keyed by a plain Python property of the note (``attribute_keyed_dict``)."""

    __tablename__ = "history_notebook"
    id = Column(Integer, primary_key=True)
    notes = relationship(Note, collection_class=attribute_keyed_dict("slug"))


@pytest.fixture
def corner_tables(make_tables, tables):
    return make_tables(CornerBase.metadata)


def _exception_name(caught):
    return caught.error and type(caught.error).__name__


def _add_users(session, *names):
    users = [User(name=name, fullname=name.title()) for name in names]
    session.add_all(users)
    session.commit()
    return users


@behaviour("orm.autoflush-for-statements-naming-entities", doc="orm/session_basics.html#flushing", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_autoflush_runs_for_statements_referring_to_mapped_attributes(engine, capture, checks):
    """With autoflush (the default), ``Session.execute()`` flushes pending changes before running a statement
    that refers to ORM-mapped entities or attributes, wherever they appear: in a function, in a WHERE clause, in
    an arithmetic expression of several attributes.

    Docs: ORM > Session Basics > Flushing ("... before issuing a query ... via Session.execute()").
    """
    with Session(engine) as session:
        _add_users(session, "sandy")
        results = {}
        statements = {
            "select(func.count(User.id))": select(func.count(User.id)),
            "Core columns WHERE User.name": select(user_table.c.name).where(
                User.name.in_(["patrick", "squidward", "gary"])
            ),
            "select(User.id + User.id + User.id)": select(User.id + User.id + User.id),
        }  # fmt: skip
        with capture.observe():
            for (label, statement), name in zip(statements.items(), ("patrick", "squidward", "gary"), strict=True):
                session.add(User(name=name))
                results[label] = len(session.execute(statement).all()) if "count" not in label else None
                if "count" in label:
                    results[label] = session.execute(statement).scalar_one()

    checks.equal("rows for select(func.count(User.id))", results["select(func.count(User.id))"], 2)
    checks.equal("rows for Core columns WHERE User.name", results["Core columns WHERE User.name"], 2)
    checks.equal("rows for select(User.id + User.id + User.id)", results["select(User.id + User.id + User.id)"], 4)


@behaviour(
    "orm.core-update-with-embedded-query",
    doc="orm/queryguide/query.html#sqlalchemy.orm.Query.scalar_subquery",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_core_update_with_a_query_subquery_runs_in_a_session(engine, capture, checks):
    """A legacy ``Query`` of plain columns can be embedded as a subquery (``Query.scalar_subquery()``) in a
    Core ``update()`` that the Session executes; the UPDATE changes the rows the subquery selects.

    Docs: ORM Querying Guide > Legacy Query API > ``Query.scalar_subquery()``.
    """
    with Session(engine) as session:
        _add_users(session, "sandy", "patrick")
        with capture.observe(), checks.catch() as caught:
            wanted = session.query(user_table.c.id).filter(user_table.c.name == "sandy").scalar_subquery()
            session.execute(update(user_table).where(user_table.c.id == wanted).values(fullname="Sandy Squirrel"))
            session.commit()
    with engine.connect() as connection:
        stored = dict(connection.execute(select(user_table.c.name, user_table.c.fullname)).all())
    checks.equal("UPDATE raises", _exception_name(caught), None)
    checks.equal("fullnames after the UPDATE", stored, {"sandy": "Sandy Squirrel", "patrick": "Patrick"})


@behaviour(
    "orm.bulk-update-needs-primary-keys", doc="orm/queryguide/dml.html#orm-bulk-update-by-primary-key", requires="2.0"
)
@pytest.mark.usefixtures("tables")
def test_bulk_update_by_primary_key_without_keys_raises(engine, capture, checks):
    """ORM bulk UPDATE by primary key (``session.execute(update(User), [dicts])``) locates each row by the
    primary key in its dictionary: dictionaries without it are refused with ``InvalidRequestError`` and no
    row changes; with it each row gets its own values.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > ORM Bulk UPDATE by Primary Key.
    """
    with Session(engine) as session:
        sandy, patrick = _add_users(session, "sandy", "patrick")
        ids = {"sandy": sandy.id, "patrick": patrick.id}
        with capture.observe(), checks.catch() as without_keys:
            session.execute(update(User), [{"name": "sandy", "fullname": "no key"}])
        session.rollback()
        session.execute(update(User), [{"id": ids["sandy"], "fullname": "Sandy Squirrel"}])
        session.commit()
    with engine.connect() as connection:
        stored = dict(connection.execute(select(user_table.c.name, user_table.c.fullname)).all())
    checks.equal("bulk UPDATE without primary keys raises", _exception_name(without_keys), "InvalidRequestError")
    checks.equal("fullnames after the updates", stored, {"sandy": "Sandy Squirrel", "patrick": "Patrick"})


@behaviour("orm.insert-values-bindparam", doc="orm/queryguide/dml.html#orm-bulk-insert-statements", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_orm_insert_with_bindparam_in_values(engine, capture, checks):
    """An ORM-enabled ``insert(User).values(...)`` whose values include ``bindparam()`` objects runs through
    ``Session.execute()`` with the parameter values given: once with one dictionary, once per dictionary in a list.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > ORM Bulk INSERT Statements.
    """
    statement = insert(User).values(name=bindparam("new_name"), fullname=bindparam("new_fullname"))
    with Session(engine) as session, capture.observe(), checks.catch() as caught:
        session.execute(statement, {"new_name": "sandy", "new_fullname": "Sandy Cheeks"})
        session.execute(statement, [{"new_name": "patrick", "new_fullname": "Patrick Star"}])
        session.commit()
    with engine.connect() as connection:
        stored = dict(connection.execute(select(user_table.c.name, user_table.c.fullname)).all())
    checks.equal("INSERT raises", _exception_name(caught), None)
    checks.equal("rows inserted", stored, {"sandy": "Sandy Cheeks", "patrick": "Patrick Star"})


@behaviour(
    "orm.bulk-insert-returning-columns",
    doc="orm/queryguide/dml.html#getting-new-objects-with-returning",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_orm_bulk_insert_returning_one_column_inserts_the_given_columns(engine, capture, checks):
    """ORM bulk INSERT with ``returning(User.id)`` inserts the columns given in the dictionaries and returns the
    new primary keys, one per dictionary.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Getting new objects with RETURNING.
    """
    with Session(engine) as session, capture.observe():
        ids = session.scalars(
            insert(User).returning(User.id),
            [{"name": "sandy", "fullname": "Sandy Cheeks"}, {"name": "patrick", "fullname": "Patrick Star"}],
        ).all()
        session.commit()
    with engine.connect() as connection:
        stored = dict(connection.execute(select(user_table.c.name, user_table.c.id)).all())
    inserts = [sql for sql in capture.sql() if sql.lstrip().upper().startswith("INSERT")]
    column_lists = [sql.split("VALUES")[0].replace(")", ",") for sql in inserts]
    columns = sorted({name for listed in column_lists for name in ("id", "name", "fullname") if f"{name}," in listed})
    checks.equal("returned ids", sorted(ids), sorted(stored.values()))
    checks.equal("columns named by the INSERT", columns, ["fullname", "name"])


@behaviour(
    "orm.upsert-returning-populate-existing",
    doc="orm/queryguide/dml.html#orm-queryguide-upsert-returning",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_orm_upsert_returning_with_populate_existing_refreshes_objects(engine, capture, checks, target_facts):
    """An ORM upsert with ``returning(User)`` executed with ``populate_existing=True`` refreshes the objects
    already in the Session with the values the database returned.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Using ORM upsert with RETURNING
    (``populate_existing``).
    """
    with Session(engine) as session:
        (sandy,) = _add_users(session, "sandy")
        checks.equal("fullname before", sandy.fullname, "Sandy")
        statement = _upsert_fullname(target_facts["upsert-construct"]).returning(User)
        with capture.observe():
            returned = session.scalars(
                statement, [{"name": "sandy", "fullname": "Sandy Squirrel"}],
                execution_options={"populate_existing": True},
            ).all()  # fmt: skip
        checks.same("returned object is the Session's", returned == [sandy], True)
        checks.equal("fullname on the object after the upsert", sandy.__dict__.get("fullname"), "Sandy Squirrel")


def _upsert_fullname(construct):
    if construct == "mysql.insert().on_duplicate_key_update()":
        statement = mysql.insert(User)
        return statement.on_duplicate_key_update(fullname=statement.inserted.fullname)
    dialect_insert = {"postgresql.insert().on_conflict_do_update()": postgresql.insert}.get(construct, sqlite.insert)
    statement = dialect_insert(User)
    return statement.on_conflict_do_update(index_elements=[User.name], set_={"fullname": statement.excluded.fullname})


@behaviour("orm.cascade-collection-replaced", doc="orm/cascades.html#save-update", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_replacing_a_collection_cascades_every_member_into_the_session(engine, capture, checks):
    """save-update cascade puts into the Session every object of a collection assigned to a persistent object,
    also one that was already a member of the collection (through the backref) without being in the Session.

    Docs: ORM > Cascades > save-update.
    """
    with Session(engine) as session:
        (sandy,) = _add_users(session, "sandy")
        checks.equal("addresses before", sandy.addresses, [])  # loaded: the backref below appends without a load
        first = Address(email_address="sandy@example.com", user=sandy)  # backref only: not cascaded (2.0)
        second = Address(email_address="sandy@bikini.example")
        sandy.addresses = [first, second]
        checks.equal("objects in the Session after the assignment", [first in session, second in session], [True, True])
        with capture.observe():
            session.commit()
    with engine.connect() as connection:
        emails = connection.scalars(select(Address.email_address).order_by(Address.email_address)).all()
    checks.equal("stored addresses", emails, ["sandy@bikini.example", "sandy@example.com"])


@behaviour(
    "orm.delete-cascade-with-raiseload",
    doc="orm/queryguide/relationships.html#prevent-lazy-with-raiseload",
    requires="2.0",
)
def test_session_delete_loads_a_raiseload_collection_to_cascade(engine, corner_tables, capture, checks):
    """``lazy="raise"`` refuses loading on attribute access only: ``Session.delete()`` of the parent loads the
    collection it must cascade to, and the flush deletes the parent and its children.

    Docs: ORM Querying Guide > Relationship Loading Techniques > Preventing unwanted lazy loads using raiseload.
    """
    with Session(engine) as session:
        session.add(Owner(name="sandy", pets=[Pet(name="gary"), Pet(name="snail")]))
        session.commit()
        owner = session.scalars(select(Owner)).one()
        with checks.catch() as attribute_access:
            owner.pets  # noqa: B018 (the access is the point)
        with capture.observe(), checks.catch() as deleting:
            session.delete(owner)
            session.commit()
    with engine.connect() as connection:
        left = connection.scalar(select(func.count()).select_from(Pet.__table__))
    checks.equal("attribute access raises", _exception_name(attribute_access), "InvalidRequestError")
    checks.equal("delete raises", _exception_name(deleting), None)
    checks.equal("pets left", left, 0)


@behaviour(
    "orm.update-on-polymorphic-base",
    doc="orm/queryguide/dml.html#orm-update-and-delete-with-custom-where-criteria",
    requires="2.0",
)
def test_orm_update_of_a_polymorphic_base_updates_its_own_table(engine, corner_tables, capture, checks):
    """An ORM-enabled ``update()`` of the base class of a joined-inheritance hierarchy, mapped to load its
    subclasses polymorphically, updates the base table's matching rows (of every subclass).

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > ORM UPDATE and DELETE with Custom WHERE
    Criteria.
    """
    with Session(engine) as session:
        session.add_all([Staff(name="sandy"), Engineer(name="patrick", language="sql")])
        session.commit()
        with capture.observe(), checks.catch() as caught:
            result = session.execute(
                update(Staff).where(Staff.name.in_(["sandy", "patrick"])).values(name=Staff.name + "!"),
                execution_options={"synchronize_session": False},
            )
            matched = result.rowcount
            session.commit()
    with engine.connect() as connection:
        names = connection.scalars(select(Staff.__table__.c.name).order_by(Staff.__table__.c.name)).all()
    checks.equal("UPDATE raises", _exception_name(caught), None)
    checks.equal("rows matched", caught.error is None and matched, 2)
    checks.equal("names after the UPDATE", names, ["patrick!", "sandy!"])


@behaviour(
    "orm.join-relationship-and-secondary",
    doc="orm/queryguide/select.html#combining-relationship-with-custom-on-criteria",
    requires="2.0",
)
def test_join_along_many_to_many_with_criteria_on_the_secondary_table(engine, corner_tables, capture, checks):
    """``relationship.and_()`` adds criteria to the ON clause of a join along a relationship, also criteria on
    the ``secondary`` table of a many-to-many relationship: only the pairs whose association row matches join.

    Docs: ORM Querying Guide > Writing SELECT statements for ORM Mapped Classes > Combining Relationship with
    Custom ON Criteria.
    """
    with Session(engine) as session:
        maths, art = Course(title="maths"), Course(title="art")
        session.add_all([Student(name="sandy"), maths, art])
        session.flush()
        sandy = session.scalars(select(Student)).one()
        session.execute(insert(enrolment), [
            {"student_id": sandy.id, "course_id": maths.id, "active": True},
            {"student_id": sandy.id, "course_id": art.id, "active": False},
        ])  # fmt: skip
        session.commit()
        with capture.observe(), checks.catch() as caught:
            rows = session.execute(
                select(Student.name, Course.title)
                .join(Student.courses.and_(enrolment.c.active == True))  # noqa: E712 (SQL comparison)
                .order_by(Course.title)
            ).all()
    checks.equal("join raises", _exception_name(caught), None)
    checks.equal("pairs joined", caught.error is None and [list(row) for row in rows], [["sandy", "maths"]])


@behaviour(
    "orm.eager-load-criteria-per-execution",
    doc="orm/queryguide/relationships.html#adding-criteria-to-loader-options",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_eager_loader_criteria_take_each_executions_values(engine, capture, checks):
    """Criteria added to an eager loader option with ``.and_()`` filter the related objects it loads, with the
    values of each execution (the statement is cached, its values are not): for ``subqueryload`` and
    ``selectinload``, and along an ``of_type()`` target.

    Docs: ORM Querying Guide > Relationship Loading Techniques > Adding Criteria to loader options.
    """
    with Session(engine) as session:
        session.add(User(name="sandy", addresses=[Address(email_address=e) for e in ("a@one", "b@two", "c@one")]))
        session.commit()

    def emails(option_for):
        loaded = {}
        for suffix in ("%@one", "%@two"):
            with Session(engine) as session:
                user = session.scalars(select(User).options(option_for(suffix))).one()
                loaded[suffix] = sorted(address.email_address for address in user.addresses)
        return loaded

    aliased_address = aliased(Address)
    with capture.observe():
        by_subquery = emails(lambda suffix: subqueryload(User.addresses.and_(Address.email_address.like(suffix))))
        by_selectin = emails(lambda suffix: selectinload(User.addresses.and_(Address.email_address.like(suffix))))
        by_of_type = emails(
            lambda suffix: subqueryload(
                User.addresses.of_type(aliased_address).and_(aliased_address.email_address.like(suffix))
            )
        )
    expected = {"%@one": ["a@one", "c@one"], "%@two": ["b@two"]}
    checks.equal("subqueryload with criteria", by_subquery, expected)
    checks.equal("selectinload with criteria", by_selectin, expected)
    checks.equal("subqueryload of_type with criteria", by_of_type, expected)


@behaviour(
    "orm.returning-column-property", doc="orm/queryguide/dml.html#getting-new-objects-with-returning", requires="2.0"
)
def test_insert_returning_entities_with_a_column_property(engine, corner_tables, capture, checks):
    """ORM bulk INSERT with ``returning(Gauge)`` returns objects whose ``column_property`` SQL expression is
    loaded from the same statement, as a SELECT of them would load it.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Getting new objects with RETURNING.
    """
    with Session(engine) as session, capture.observe(), checks.catch() as caught:
        gauges = session.scalars(insert(Gauge).returning(Gauge), [{"low": 1, "high": 5}, {"low": 2, "high": 9}]).all()
        spans = sorted(gauge.span for gauge in gauges)
    checks.equal("INSERT..RETURNING raises", _exception_name(caught), None)
    checks.equal("spans of the returned objects", caught.error is None and spans, [4, 7])


@behaviour(
    "orm.update-returning-with-fetch",
    doc="orm/queryguide/dml.html#using-returning-with-update-delete-and-custom-where-criteria",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_orm_update_returning_with_fetch_synchronization(engine, capture, checks):
    """An ORM-enabled ``update()`` with ``returning()`` of chosen columns returns each row's values under the
    columns asked for, and with ``synchronize_session="fetch"`` the matched objects in the Session get the new
    values.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Using RETURNING with UPDATE/DELETE and
    Custom WHERE Criteria.
    """
    with Session(engine) as session:
        sandy, patrick = _add_users(session, "sandy", "patrick")
        with capture.observe(), checks.catch() as caught:
            rows = session.execute(
                update(User)
                .where(User.name == "sandy")
                .values(fullname="Sandy Squirrel")
                .returning(User.fullname, User.name),
                execution_options={"synchronize_session": "fetch"},
            ).all()
        returned = (
            [[row._mapping[User.name], row._mapping[User.fullname]] for row in rows] if not caught.error else None
        )
        seen = [sandy.fullname, patrick.fullname]
    checks.equal("UPDATE raises", _exception_name(caught), None)
    checks.equal("rows returned by column", returned, [["sandy", "Sandy Squirrel"]])
    checks.equal("fullnames on the objects", seen, ["Sandy Squirrel", "Patrick"])


@behaviour(
    "orm.update-returning-populate-existing",
    doc="orm/queryguide/dml.html#using-returning-with-update-delete-and-custom-where-criteria",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_orm_update_returning_entities_with_populate_existing(engine, capture, checks):
    """An ORM-enabled ``update().returning(User)`` executed with ``populate_existing=True`` returns the
    Session's objects refreshed with the updated values.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Using RETURNING with UPDATE/DELETE and
    Custom WHERE Criteria; ORM Querying Guide > Populate Existing.
    """
    with Session(engine) as session:
        (sandy,) = _add_users(session, "sandy")
        with capture.observe(), checks.catch() as caught:
            returned = session.scalars(
                update(User).where(User.name == "sandy").values(fullname="Sandy Squirrel").returning(User),
                execution_options={"populate_existing": True, "synchronize_session": False},
            ).all()
        checks.equal("UPDATE raises", _exception_name(caught), None)
        checks.same("returned object is the Session's", caught.error is None and returned == [sandy], True)
        checks.equal("fullname on the object", sandy.__dict__.get("fullname"), "Sandy Squirrel")


@behaviour(
    "orm.post-update-with-version-counter",
    doc="orm/relationship_persistence.html#rows-that-point-to-themselves-mutually-dependent-rows",
    requires="2.0",
)
def test_post_update_rows_use_the_current_version(engine, corner_tables, capture, checks):
    """With ``post_update=True`` the ORM sets a mutually dependent foreign key in a second UPDATE; on a
    versioned row (``version_id_col``) that UPDATE, and a later DELETE, compare the version the row has by then,
    so neither raises ``StaleDataError`` and the version counts every UPDATE.

    Docs: ORM > Special Relationship Persistence Patterns > Rows that point to themselves / Mutually Dependent
    Rows; ORM > Configuring a Version Counter.
    """
    with Session(engine) as session:
        board = Board(title="todo")
        session.add(board)
        session.commit()
        card = Card(text="first", board=board)
        with capture.observe(), checks.catch() as updating:
            board.title = "doing"
            board.pinned = card
            session.commit()
        checks.equal("flush of a change and a post_update raises", _exception_name(updating), None)
        if updating.error:
            session.rollback()
        with checks.catch() as deleting:
            session.delete(board)
            session.commit()
        checks.equal("delete of the versioned row raises", _exception_name(deleting), None)
    with engine.connect() as connection:
        boards = connection.scalar(select(func.count()).select_from(Board.__table__))
    checks.equal("boards left", boards, 0)


@behaviour(
    "orm.post-update-delete-parent",
    doc="orm/relationship_persistence.html#rows-that-point-to-themselves-mutually-dependent-rows",
    requires="2.0",
)
def test_deleting_a_post_update_parent_nulls_children_once(engine, corner_tables, capture, checks):
    """Deleting the parent of a one-to-many ``post_update`` relationship sets the foreign key of each remaining
    child to NULL in one UPDATE per child, before the parent's DELETE.

    Docs: ORM > Special Relationship Persistence Patterns > Rows that point to themselves / Mutually Dependent
    Rows.
    """
    with Session(engine) as session:
        board = Board(title="todo", cards=[Card(text="first")])
        session.add(board)
        session.commit()
        with capture.observe():
            session.delete(board)
            session.commit()
    statements = capture.sql()
    updates = [sql for sql in statements if sql.lstrip().upper().startswith("UPDATE HISTORY_CARD")]
    order = [sql.split()[0].upper() for sql in statements if sql.split()[0].upper() in ("UPDATE", "DELETE")]
    with engine.connect() as connection:
        cards = connection.execute(select(Card.text, Card.board_id)).all()
    checks.equal("UPDATEs of the child row", len(updates), 1)
    checks.equal("UPDATE before DELETE", order, ["UPDATE", "DELETE"])
    checks.equal("children left", [list(row) for row in cards], [["first", None]])


@behaviour(
    "orm.add-cte-unreferenced", doc="core/selectable.html#sqlalchemy.sql.expression.HasCTE.add_cte", requires="2.0"
)
@pytest.mark.usefixtures("tables")
def test_orm_select_renders_a_cte_added_with_add_cte(engine, capture, checks):
    """``add_cte()`` renders the given CTE in the statement's WITH clause even when nothing else in the
    statement refers to it, also for an ORM-enabled ``select()``.

    Docs: SQL Statements > ``HasCTE.add_cte()``.
    """
    extra = select(User.id).where(User.name == "nobody").cte("history_unreferenced")
    with Session(engine) as session, capture.observe():
        session.scalars(select(User).add_cte(extra)).all()
    selects = [sql for sql in capture.sql() if "history_unreferenced" in sql]
    checks.equal("statements naming the CTE", len(selects), 1)


@behaviour(
    "session.flush-reusing-an-expired-identity",
    doc="orm/session_state_management.html#session-object-states",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_flush_of_a_new_object_taking_a_rolled_back_identity(engine, capture, checks):
    """A rollback expires the objects the transaction loaded and leaves them in the identity map; a new object
    whose generated primary key is that of such an object (its row was rolled back) is flushed with its INSERT
    alone, takes the identity, and no warning is emitted.

    Docs: ORM > Managing Session State > Session Object States; Session Basics > Rolling Back.
    """
    with Session(engine) as session:
        session.execute(insert(User).values(id=1, name="sandy"))
        loaded = session.get(User, 1)
        session.rollback()
        checks.same("loaded object expired", inspect(loaded).expired, True)
        patrick = User(name="patrick")
        session.add(patrick)
        with capture.observe(), warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            session.flush()
        holder = session.get(User, patrick.id)
        session.commit()
    verbs = [sql.split()[0].upper() for sql in capture.sql()]
    checks.equal("statements of the flush", verbs, ["INSERT"])
    checks.equal("warnings of the flush", [str(w.message)[:60] for w in warned], [])
    checks.same("identity map holds the new object", holder is patrick, True)


@behaviour("orm.keyed-dict-by-python-property", doc="orm/collection_api.html#dictionary-collections", requires="2.0")
def test_attribute_keyed_dict_keys_by_a_plain_python_property(engine, corner_tables, capture, checks):
    """``attribute_keyed_dict(name)`` keys a dictionary collection by an attribute of each member, also a plain
    Python property: the collection loaded from the database is keyed by that property's values.

    Docs: ORM > Collection Customization and API Details > Dictionary Collections.
    """
    with Session(engine) as session, checks.catch() as caught:
        notebook = Notebook()
        notebook.notes["groceries"] = Note(title="Groceries")
        session.add(notebook)
        session.commit()
        notebook_id = notebook.id
    checks.equal("adding a note raises", _exception_name(caught), None)
    keys = None
    with Session(engine) as session, capture.observe(), checks.catch() as loading:
        keys = sorted(session.get(Notebook, notebook_id).notes) if not caught.error else None
    checks.equal("loading raises", _exception_name(loading), None)
    checks.equal("keys of the loaded collection", keys, ["groceries"])


class Keeper(CornerBase):
    """A keeper whose animals load eagerly by default (``lazy="selectin"``)."""

    __tablename__ = "history_keeper"
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    animals = relationship("Animal", lazy="selectin")


class Animal(CornerBase):
    """A table whose INSERTs use no RETURNING (``implicit_returning=False``)."""

    __tablename__ = "history_animal"
    __table_args__ = {"implicit_returning": False}  # noqa: RUF012
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    keeper_id = Column(Integer, ForeignKey("history_keeper.id"))


@behaviour(
    "orm.query-enable-eagerloads-false",
    doc="orm/queryguide/query.html#sqlalchemy.orm.Query.enable_eagerloads",
    requires="2.0",
)
def test_enable_eagerloads_false_turns_off_mapper_configured_eager_loading(engine, corner_tables, capture, checks):
    """``Query.enable_eagerloads(False)`` turns off eager loading, also the eager loading configured on the
    mapping (``lazy="selectin"``): the query emits its own SELECT only, and the collection loads on access.

    Docs: ORM Querying Guide > Legacy Query API > ``Query.enable_eagerloads()``.
    """
    with Session(engine) as session:
        session.add(Keeper(name="sandy", animals=[Animal(name="gary")]))
        session.commit()
    with Session(engine) as session:
        with capture.observe():
            keepers = session.query(Keeper).enable_eagerloads(False).all()
        statements_for_query = len(capture.sql())
        loaded_before_access = "animals" in keepers[0].__dict__
    checks.equal("statements of the query", statements_for_query, 1)
    checks.equal("collection loaded before access", loaded_before_access, False)


@behaviour(
    "orm.bulk-insert-without-returning", doc="orm/queryguide/dml.html#orm-bulk-insert-statements", requires="2.0"
)
def test_orm_bulk_insert_and_flush_into_a_table_without_implicit_returning(engine, corner_tables, capture, checks):
    """On a table with ``implicit_returning=False`` the ORM inserts without RETURNING: an ORM bulk INSERT of a
    list of dictionaries stores every row, and a flush of new objects gives each its generated primary key.

    Docs: ORM Querying Guide > ORM Bulk INSERT Statements; Core > ``Table.implicit_returning``.
    """
    with Session(engine) as session, capture.observe(), checks.catch() as caught:
        session.execute(insert(Animal), [{"name": "gary"}, {"name": "snail"}])
        flushed = [Animal(name="larry"), Animal(name="rocky")]
        session.add_all(flushed)
        session.flush()
        ids = [animal.id for animal in flushed]
        session.commit()
    with engine.connect() as connection:
        stored = dict(connection.execute(select(Animal.name, Animal.id)).all())
    checks.equal("inserts raise", _exception_name(caught), None)
    checks.equal("rows stored", sorted(stored), ["gary", "larry", "rocky", "snail"])
    checks.equal(
        "primary keys of the flushed objects", caught.error is None and ids, [stored.get("larry"), stored.get("rocky")]
    )


@behaviour(
    "orm.bulk-save-objects-identity",
    doc="orm/session_api.html#sqlalchemy.orm.Session.bulk_save_objects",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_bulk_save_objects_with_return_defaults_gives_objects_their_identity(engine, capture, checks):
    """``Session.bulk_save_objects(objects, return_defaults=True)`` fetches each new row's primary key and sets
    it on the object, whose identity key is then ``(class, (primary key,), None)`` as for any persistent object.

    Docs: ORM > Session API > ``Session.bulk_save_objects()``; ``InstanceState.identity_key``.
    """
    users = [User(name="sandy"), User(name="patrick")]
    with Session(engine) as session, capture.observe():
        session.bulk_save_objects(users, return_defaults=True)
        session.commit()
    keys = [inspect(user).key for user in users]
    checks.equal("identity keys", keys, [(User, (user.id,), None) for user in users])
    checks.equal("primary keys set", all(user.id for user in users), True)


@behaviour("orm.do-orm-execute-listener-transparent", doc="orm/session_events.html#execute-events", requires="2.0")
def test_a_do_orm_execute_listener_returning_nothing_changes_nothing(engine, corner_tables, capture, checks):
    """A ``do_orm_execute`` listener that returns None lets the statement run as it would without it: the same
    objects and eagerly loaded collections, also with ``yield_per`` and ``selectinload``.

    Docs: ORM > Tracking queries, object and Session Changes with Events > Execute Events.
    """
    with Session(engine) as session:
        session.add_all([Keeper(name=name, animals=[Animal(name=f"{name}'s pet")]) for name in ("sandy", "patrick")])
        session.commit()
    seen = []
    with Session(engine) as session:
        event.listen(session, "do_orm_execute", lambda state: seen.append(state.is_select))
        with capture.observe(), checks.catch() as caught:
            statement = select(Keeper).options(selectinload(Keeper.animals)).order_by(Keeper.name)
            keepers = session.scalars(statement.execution_options(yield_per=10)).all()
            pets = [[animal.name for animal in keeper.animals] for keeper in keepers]
    checks.equal("select raises", _exception_name(caught), None)
    checks.equal("pets of each keeper", caught.error is None and pets, [["patrick's pet"], ["sandy's pet"]])
    checks.equal("listener saw selects", bool(seen) and all(seen), True)
