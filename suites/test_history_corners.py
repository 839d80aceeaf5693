"""Corners next to the tutorial where SQLAlchemy point releases changed observable behaviour (reports/history.toml).

Each behaviour states what the SQLAlchemy documentation says about its corner; the history catalogue names the
releases whose change it shows.
"""

import decimal

import pytest
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    FetchedValue,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    case,
    cast,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import relationship, validates

from fixtures.compat import Session, declarative_base
from fixtures.models import User, item_table, user_table
from fixtures.plugin import behaviour

HistoryBase = declarative_base()


class VersionedNote(HistoryBase):
    """A row whose ``version_id`` the ORM increments on every UPDATE (``version_id_col``)."""

    __tablename__ = "history_versioned_note"
    id = Column(Integer, primary_key=True)
    title = Column(String(50), nullable=False)
    version_id = Column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 (declarative reads it once)


class Shelf(HistoryBase):
    """A shelf whose ``books`` collection has a validator; the books set their shelf through the backref."""

    __tablename__ = "history_shelf"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    books = relationship("ShelfBook", back_populates="shelf")

    @validates("books")
    def validate_book(self, key, book):
        self.__dict__.setdefault("validated_titles", []).append(book.title)
        return book


class ShelfBook(HistoryBase):
    __tablename__ = "history_shelf_book"
    id = Column(Integer, primary_key=True)
    title = Column(String(50), nullable=False)
    shelf_id = Column(Integer, ForeignKey("history_shelf.id"))
    shelf = relationship("Shelf", back_populates="books")


class Palette(HistoryBase):
    """A JSON list column tracked in place by ``MutableList``."""

    __tablename__ = "history_palette"
    id = Column(Integer, primary_key=True)
    colours = Column(MutableList.as_mutable(JSON))


class Preferences(HistoryBase):
    """JSON columns tracked in place: a ``MutableDict`` and a ``MutableList``."""

    __tablename__ = "history_preferences"
    id = Column(Integer, primary_key=True)
    settings = Column(MutableDict.as_mutable(JSON))
    tags = Column(MutableList.as_mutable(JSON))


class Ticket(HistoryBase):
    """A row whose ``revision`` every UPDATE sets through the column's ``onupdate`` default."""

    __tablename__ = "history_ticket"
    id = Column(Integer, primary_key=True)
    name = Column(String(30), nullable=False)
    title = Column(String(50), nullable=False)
    revision = Column(Integer, nullable=False, default=0, onupdate=1)
    # set by the server on UPDATE (a trigger or ON UPDATE clause, not created here): the ORM must expire it
    stamp = Column(Integer, server_default="0", server_onupdate=FetchedValue())


class Measurement(HistoryBase):
    __tablename__ = "history_measurement"
    id = Column(Integer, primary_key=True)
    reading = Column(Float, nullable=False)
    precise = Column(Float(precision=53))  # a FLOAT(p): the precision is the column's, never a NUMERIC scale


gadget_metadata = MetaData()
# A named CHECK constraint followed, in the same CREATE TABLE, by an unnamed constraint of another kind.
gadget_table = Table(
    "history_gadget",
    gadget_metadata,
    Column("id", Integer, primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("code", String(20), nullable=False),
    CheckConstraint("quantity >= 0", name="ck_gadget_quantity"),
    UniqueConstraint("code"),
)

# The upsert construct each dialect documents (the per-target fact "upsert-construct", as in suites/test_dml.py),
# here updating the conflicting row's fullname to the proposed one followed by literal text with a percent sign.
SUFFIX = literal_column("' (100%)'", String)


def _on_conflict_update_fullname_with_suffix(dialect_insert):
    def build():
        statement = dialect_insert(user_table)
        return statement.on_conflict_do_update(
            index_elements=[user_table.c.name], set_={"fullname": statement.excluded.fullname + SUFFIX}
        )

    return build


def _on_duplicate_key_update_fullname_with_suffix():
    statement = mysql.insert(user_table)
    return statement.on_duplicate_key_update(fullname=statement.inserted.fullname + SUFFIX)


UPSERT_WITH_SUFFIX_BY_CONSTRUCT = {
    "postgresql.insert().on_conflict_do_update()": _on_conflict_update_fullname_with_suffix(postgresql.insert),
    "sqlite.insert().on_conflict_do_update()": _on_conflict_update_fullname_with_suffix(sqlite.insert),
    "mysql.insert().on_duplicate_key_update()": _on_duplicate_key_update_fullname_with_suffix,
}

READINGS = [1.5, -2.25, 12.125, 0.0625]  # exact in binary, and within the 6 digits a single-precision FLOAT shows


@pytest.fixture
def history_tables(make_tables):
    return make_tables(HistoryBase.metadata)


@behaviour("sql.percent-text-literal", doc="core/sqlelement.html#sqlalchemy.sql.expression.text", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_percent_format_text_inside_textual_sql_is_literal(engine, capture, checks):
    """Text inside ``text()`` and ``literal_column()`` is literal SQL, also text that looks like a bound
    parameter in a driver's own format (``'%(name)s'``), so the server receives and returns the string as
    written, and a comparison against it matches that string.

    Docs: SQL Statements and Expressions API > Column Elements and Expressions > ``text()``.
    """
    with engine.begin() as connection:
        connection.execute(insert(item_table), [{"name": "%(name)s"}, {"name": "plain"}])

    with capture.observe(), engine.connect() as connection:
        from_text = connection.execute(text("SELECT '%(name)s'")).scalar_one()
        from_literal_column = connection.execute(select(literal_column("'%(name)s'"))).scalar_one()
        matching = connection.scalars(
            select(item_table.c.name).where(item_table.c.name == literal_column("'%(name)s'"))
        ).all()

    checks.equal("text() result", from_text, "%(name)s")
    checks.equal("literal_column() result", from_literal_column, "%(name)s")
    checks.equal("rows matching literal_column('%(name)s')", matching, ["%(name)s"])


@behaviour("orm.version-counter", doc="orm/versioning.html#simple-version-counting", requires="2.0")
def test_version_counter_increments_and_detects_a_stale_update(engine, history_tables, capture, checks):
    """With ``version_id_col`` on an integer column, the ORM sets it to 1 on INSERT, increments it on every
    UPDATE, puts the old value in the UPDATE's WHERE clause, and raises ``StaleDataError`` when that UPDATE
    matches no row because another transaction changed the row first.

    Docs: ORM > Configuring a Version Counter > Simple Version Counting.
    """
    with Session(engine) as session:
        note = VersionedNote(title="draft")
        session.add(note)
        session.commit()
        checks.equal("version after INSERT", note.version_id, 1)
        with capture.observe():
            note.title = "second draft"
            session.flush()
        checks.equal("version after one UPDATE", note.version_id, 2)
        updates = [sql for sql in capture.sql() if sql.lstrip().upper().startswith("UPDATE")]
        checks.that(
            "UPDATE compares the old version",
            len(updates) == 1 and "version_id" in updates[0].split("WHERE", 1)[-1],
            got=updates,
            expected="one UPDATE whose WHERE clause names version_id",
        )
        session.commit()
        note_id = note.id

    with Session(engine) as stale, Session(engine) as other:
        stale_note = stale.get(VersionedNote, note_id)
        other.get(VersionedNote, note_id).title = "changed elsewhere"
        other.commit()
        stale_note.title = "stale change"
        with checks.catch() as caught:
            stale.flush()
        checks.equal("stale UPDATE raises", type(caught.error).__name__, "StaleDataError")
        stale.rollback()

    with engine.connect() as connection:
        stored = connection.execute(select(VersionedNote.title, VersionedNote.version_id)).one()
    checks.equal("stored title and version", list(stored), ["changed elsewhere", 3])


@behaviour(
    "orm.bulk-insert-mappings-return-defaults",
    doc="orm/session_api.html#sqlalchemy.orm.Session.bulk_insert_mappings",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_bulk_insert_mappings_with_return_defaults_fills_in_primary_keys(engine, capture, checks):
    """``Session.bulk_insert_mappings(..., return_defaults=True)`` fetches the server-generated primary key of
    each row and puts it into the dictionary that was passed in.

    Docs: ORM > Session API > ``Session.bulk_insert_mappings.return_defaults``.
    """
    mappings = [{"name": "spongebob"}, {"name": "sandy"}, {"name": "patrick"}]
    with capture.observe(), Session(engine) as session:
        session.bulk_insert_mappings(User, mappings, return_defaults=True)
        session.commit()

    with engine.connect() as connection:
        stored = dict(connection.execute(select(user_table.c.name, user_table.c.id)).all())
    checks.equal("rows stored", sorted(stored), ["patrick", "sandy", "spongebob"])
    checks.equal(
        "primary keys put into the mappings",
        {mapping["name"]: mapping.get("id") for mapping in mappings},
        stored,
    )


@behaviour(
    "reflection.check-constraint-before-unique",
    doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_check_constraints",
    requires="2.0",
)
def test_check_constraint_reflected_when_another_constraint_follows(engine, make_tables, capture, checks):
    """``Inspector.get_check_constraints()`` returns each named CHECK constraint of a table with its name and
    its SQL expression, also when other constraints (here an unnamed UNIQUE constraint) follow it in the table's DDL.

    Docs: Reflecting Database Objects > Fine Grained Reflection with Inspector > ``get_check_constraints()``.
    """
    make_tables(gadget_metadata)
    with capture.observe():
        reflected = inspect(engine).get_check_constraints("history_gadget")
        unique = inspect(engine).get_unique_constraints("history_gadget")

    checks.equal("CHECK constraint names", [constraint["name"] for constraint in reflected], ["ck_gadget_quantity"])
    sqltext = " ".join(str(constraint.get("sqltext")) for constraint in reflected)
    checks.that(
        "CHECK expression is the constraint's own",
        "quantity" in sqltext and "0" in sqltext and "code" not in sqltext.lower() and "unique" not in sqltext.lower(),
        got=sqltext,
        expected="an expression naming quantity and 0, nothing of the UNIQUE constraint after it",
    )
    checks.equal("UNIQUE constraint columns", [constraint["column_names"] for constraint in unique], [["code"]])


@behaviour("orm.validates-backref", doc="orm/mapped_attributes.html#simple-validators", requires="2.0")
def test_collection_validator_runs_for_changes_made_through_the_backref(engine, history_tables, capture, checks):
    """A ``@validates`` validator of a collection is called when the collection changes, also when the change
    comes from the other side of a bidirectional relationship (``include_backrefs`` defaults to True).

    Docs: ORM > Changing Attribute Behavior > Simple Validators.
    """
    with Session(engine) as session:
        shelf = Shelf(name="fiction")
        appended = ShelfBook(title="Dune")
        shelf.books.append(appended)
        through_backref = ShelfBook(title="Emma")
        through_backref.shelf = shelf
        checks.equal("titles the validator saw", shelf.__dict__.get("validated_titles"), ["Dune", "Emma"])
        session.add(shelf)
        with capture.observe():
            session.commit()

    with engine.connect() as connection:
        stored = connection.execute(
            select(ShelfBook.title, Shelf.name).join(Shelf, ShelfBook.shelf_id == Shelf.id).order_by(ShelfBook.title)
        ).all()
    checks.equal("stored books and shelves", [list(row) for row in stored], [["Dune", "fiction"], ["Emma", "fiction"]])


@behaviour(
    "orm.mutable-list-item-assignment",
    doc="orm/extensions/mutable.html#sqlalchemy.ext.mutable.MutableList",
    requires="2.0",
)
def test_mutable_list_tracks_assigning_a_string_to_an_index(engine, history_tables, capture, checks):
    """A ``MutableList`` column records in-place changes: assigning a new value to one index marks the object
    dirty, and the next flush stores the whole list with that element replaced.

    Docs: ORM Extensions > Mutation Tracking > ``MutableList``.
    """
    with Session(engine) as session:
        palette = Palette(colours=["red", "green"])
        session.add(palette)
        session.commit()
        with checks.catch() as caught:
            palette.colours[0] = "blue"
        checks.equal("assignment raises", caught.error and type(caught.error).__name__, None)
        checks.same("object dirty after the assignment", palette in session.dirty, True)
        with capture.observe():
            session.commit()
        palette_id = palette.id

    with engine.connect() as connection:
        stored = connection.scalar(select(Palette.colours).where(Palette.id == palette_id))
    checks.equal("stored list", stored, ["blue", "green"])


@behaviour(
    "orm.update-evaluate-expires-sql-expressions",
    doc="orm/queryguide/dml.html#selecting-a-synchronization-strategy",
    requires="2.0",
)
def test_orm_update_evaluate_refreshes_every_matched_object(engine, history_tables, capture, checks):
    """An ORM-enabled ``update()`` with ``synchronize_session="evaluate"`` synchronizes every matched object
    in the Session: each UPDATEd attribute is refreshed with its new value or expired so that it re-populates on
    next access: a column SET to a SQL expression the ORM cannot evaluate in Python, a column the UPDATE sets
    through its ``onupdate`` default, and a column the server sets on UPDATE (``server_onupdate``), expired.

    Docs: ORM Querying Guide > ORM-Enabled INSERT, UPDATE, and DELETE > Selecting a Synchronization Strategy.
    """
    with Session(engine) as session:
        session.add_all([Ticket(name=name, title=name.title()) for name in ("sandy", "patrick", "squidward")])
        session.commit()
        tickets = {ticket.name: ticket for ticket in session.scalars(select(Ticket))}
        with capture.observe():
            session.execute(
                update(Ticket)
                .where(Ticket.name.in_(["sandy", "patrick"]))
                .values(title=func.upper(Ticket.name) + literal(" (moved)")),
                execution_options={"synchronize_session": "evaluate"},
            )
        expired = {name: "stamp" in inspect(ticket).expired_attributes for name, ticket in sorted(tickets.items())}
        seen = {name: [ticket.title, ticket.revision] for name, ticket in sorted(tickets.items())}
        session.commit()

    checks.equal(
        "titles and revisions seen on the objects after the UPDATE",
        seen,
        {"patrick": ["PATRICK (moved)", 1], "sandy": ["SANDY (moved)", 1], "squidward": ["Squidward", 0]},
    )
    checks.equal(
        "server_onupdate column expired after the UPDATE", expired, {"patrick": True, "sandy": True, "squidward": False}
    )


@behaviour(
    "sql.in-list-of-orm-attributes",
    doc="core/sqlelement.html#sqlalchemy.sql.expression.ColumnOperators.in_",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_in_accepts_a_list_of_orm_attributes(engine, capture, checks):
    """``ColumnOperators.in_()`` accepts a list of column expressions, ORM-mapped attributes included:
    ``literal(value).in_([User.name, User.fullname])`` is true for the rows where either column equals value.

    Docs: Column Elements and Expressions > ``ColumnOperators.in_()``.
    """
    with Session(engine) as session:
        session.add_all([User(name="sandy", fullname="Sandy Cheeks"), User(name="patrick", fullname="sandy")])
        session.add(User(name="squidward", fullname="Squidward Tentacles"))
        session.commit()
        with capture.observe(), checks.catch() as caught:
            names = session.scalars(
                select(User.name).where(literal("sandy").in_([User.name, User.fullname])).order_by(User.name)
            ).all()
    checks.equal("statement raises", caught.error and type(caught.error).__name__, None)
    checks.equal("names matched", caught.error is None and names, ["patrick", "sandy"])


@behaviour("imv.float-values-round-trip", doc="core/connections.html#engine-insertmanyvalues", requires="2.0")
def test_float_values_keep_their_fraction_through_every_insert_path(engine, history_tables, capture, checks):
    """Floating point values inserted through a single INSERT, an executemany INSERT, an "insertmanyvalues"
    INSERT..RETURNING and an ORM flush of several objects are stored with their fractional part, in a ``Float``
    column and in a ``Float(precision=53)`` column.

    Docs: Engines and Connections > "Insert Many Values" Behavior for INSERT statements; Type Basics > ``Float``.
    """
    table = Measurement.__table__
    rows = [{"reading": value, "precise": value} for value in READINGS]
    with capture.observe():
        with engine.begin() as connection:
            connection.execute(insert(table), rows[0])
            connection.execute(insert(table), rows)
            returned = connection.execute(insert(table).returning(table.c.reading, table.c.precise), rows).all()
            returned = sorted(list(row) for row in returned)
        with Session(engine) as session:
            session.add_all([Measurement(**row) for row in rows])
            session.commit()

    with engine.connect() as connection:
        stored = [
            list(row) for row in connection.execute(select(table.c.reading, table.c.precise).order_by(table.c.id))
        ]
    pairs = [[value, value] for value in READINGS]
    checks.equal("single INSERT", stored[:1], pairs[:1])
    checks.equal("executemany INSERT", stored[1:5], pairs)
    checks.equal("insertmanyvalues INSERT..RETURNING, stored", stored[5:9], pairs)
    checks.equal("insertmanyvalues INSERT..RETURNING, returned", returned, sorted(pairs))
    checks.equal("ORM flush of several objects", stored[9:], pairs)


@behaviour(
    "dml.upsert-executemany-literal-text",
    doc="tutorial/dbapi_transactions.html#sending-multiple-parameters",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_upsert_with_a_list_of_parameters_keeps_literal_text_of_its_update_clause(
    engine, capture, checks, target_facts
):
    """An upsert (``insert().on_conflict_do_update()`` / ``insert().on_duplicate_key_update()``) executed with
    a list of parameter sets runs for every set ("executemany" style): the conflicting row is updated with the
    update clause's expression, literal text in it (``' (100%)'``) included as written, and the new row is inserted.

    Docs: Working with Transactions and the DBAPI > Sending Multiple Parameters; Dialects > PostgreSQL / SQLite >
    INSERT…ON CONFLICT (Upsert); MySQL and MariaDB > INSERT…ON DUPLICATE KEY UPDATE (Upsert).
    """
    with engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "sandy", "fullname": "Sandy Cheeks"})
    statement = UPSERT_WITH_SUFFIX_BY_CONSTRUCT[target_facts["upsert-construct"]]()

    with capture.observe(), engine.begin() as connection:
        connection.execute(
            statement,
            [{"name": "sandy", "fullname": "Sandy Squirrel"}, {"name": "squidward", "fullname": "Squidward Tentacles"}],
        )
    capture.measure("executed as", capture.kinds())

    with engine.connect() as connection:
        stored = dict(connection.execute(select(user_table.c.name, user_table.c.fullname)).all())
    checks.equal(
        "fullnames after the upsert", stored, {"sandy": "Sandy Squirrel (100%)", "squidward": "Squidward Tentacles"}
    )


@behaviour(
    "orm.mutable-in-place-operators",
    doc="orm/extensions/mutable.html#sqlalchemy.ext.mutable.MutableDict",
    requires="2.0",
)
def test_mutable_dict_and_list_track_in_place_operators(engine, history_tables, capture, checks):
    """``MutableDict`` and ``MutableList`` emit change events for every in-place change of the value, so the
    object becomes dirty and the next flush stores the new value: ``settings |= {...}`` on a dict, ``tags *= 2``
    and ``tags += [...]`` on a list.

    Docs: ORM Extensions > Mutation Tracking > ``MutableDict``, ``MutableList``.
    """
    with Session(engine) as session:
        preferences = Preferences(settings={"theme": "dark"}, tags=["a"])
        session.add(preferences)
        session.commit()
        preferences.settings |= {"font": "mono"}
        checks.same("dirty after dict |=", preferences in session.dirty, True)
        session.commit()
        preferences.tags *= 2
        checks.same("dirty after list *=", preferences in session.dirty, True)
        session.commit()
        preferences.tags += ["b"]
        with capture.observe():
            session.commit()
        preferences_id = preferences.id

    with engine.connect() as connection:
        stored = connection.execute(
            select(Preferences.settings, Preferences.tags).where(Preferences.id == preferences_id)
        ).one()
    checks.equal("stored dict", stored[0], {"theme": "dark", "font": "mono"})
    checks.equal("stored list", stored[1], ["a", "a", "b"])


@behaviour("session.get-from-identity-map", doc="orm/session_basics.html#get-by-primary-key", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_session_get_of_a_present_object_emits_no_sql(engine, capture, checks):
    """``Session.get()`` returns the object already in the Session's identity map without emitting SQL, also
    when ``with_for_update=False`` is passed (no locking asked: the same as the default); ``populate_existing``
    asks the database again.

    Docs: ORM > Session Basics > Get by Primary Key.
    """
    with Session(engine) as session:
        sandy = User(name="sandy", fullname="Sandy Cheeks")
        session.add(sandy)
        session.commit()
        sandy_id = sandy.id
        session.refresh(sandy)
        with capture.observe():
            plain = session.get(User, sandy_id)
            statements_for_plain = len(capture.sql())
            without_lock = session.get(User, sandy_id, with_for_update=False)
            statements_without_lock = len(capture.sql()) - statements_for_plain
            refreshed = session.get(User, sandy_id, populate_existing=True)
            statements_populate = len(capture.sql()) - statements_for_plain - statements_without_lock

    checks.same("get() returns the identity-map object", plain is sandy, True)
    checks.same("get(with_for_update=False) returns it", without_lock is sandy, True)
    checks.same("get(populate_existing=True) returns it", refreshed is sandy, True)
    checks.equal("statements for get()", statements_for_plain, 0)
    checks.equal("statements for get(with_for_update=False)", statements_without_lock, 0)
    checks.equal("statements for get(populate_existing=True)", statements_populate, 1)


@behaviour(
    "select.unary-expression-result-type",
    doc="core/sqlelement.html#sqlalchemy.sql.expression.cast",
    requires="2.0",
)
def test_negated_expression_is_returned_as_its_type(engine, capture, checks):
    """A selected expression keeps its SQL type through operators such as negation, and the result applies
    that type's result processing: ``select(-cast(..., Numeric(10, 2)))`` returns a ``Decimal``, like the
    expression without the minus sign.

    Docs: Column Elements and Expressions > ``cast()`` ("the type ... also serves as the type of the result").
    """
    price = cast(literal("1.25"), Numeric(10, 2))
    with capture.observe(), engine.connect() as connection:
        positive = connection.execute(select(price)).scalar_one()
        negative = connection.execute(select(-price)).scalar_one()

    checks.equal("type of cast(...)", type(positive).__name__, "Decimal")
    checks.equal("type of -cast(...)", type(negative).__name__, "Decimal")
    checks.equal("value of -cast(...)", negative, decimal.Decimal("-1.25"))


@behaviour(
    "reflection.handwritten-constraint-names",
    doc="core/reflection.html#fine-grained-reflection-with-inspector",
    requires="2.0",
)
def test_constraint_names_reflected_from_handwritten_ddl(engine, capture, checks):
    """``Inspector.get_unique_constraints()`` returns the name given by ``CONSTRAINT <name>`` in the table's
    DDL, also for hand-written DDL that puts the name and the constraint on separate lines.

    Docs: Reflecting Database Objects > Fine Grained Reflection with Inspector.
    """
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE history_handwritten (\n"
                "  id INTEGER NOT NULL PRIMARY KEY,\n"
                "  code VARCHAR(20) NOT NULL,\n"
                "  CONSTRAINT uq_handwritten_code\n    UNIQUE (code)\n"
                ")"
            )
        )
    try:
        with capture.observe():
            unique = inspect(engine).get_unique_constraints("history_handwritten")
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE history_handwritten"))

    checks.equal(
        "UNIQUE constraints", [[c["name"], c["column_names"]] for c in unique], [["uq_handwritten_code", ["code"]]]
    )


@behaviour(
    "select.expanding-in-beside-other-parameters",
    doc="core/sqlelement.html#sqlalchemy.sql.expression.bindparam",
    requires="2.0",
)
@pytest.mark.usefixtures("tables")
def test_expanding_in_parameter_leaves_other_parameters_alone(engine, capture, checks):
    """An "expanding" bound parameter (``bindparam(..., expanding=True)``, as ``in_()`` uses) is rendered as one
    parameter per list element at execution time; every other bound parameter of the statement keeps its own
    value, whatever its name.

    Docs: Column Elements and Expressions > ``bindparam()`` (``expanding``).
    """
    with engine.begin() as connection:
        connection.execute(
            insert(item_table),
            [{"name": "cup", "quantity": 5}, {"name": "mug", "quantity": 1}, {"name": "pot", "quantity": 5}],
        )
        ids = dict(connection.execute(select(item_table.c.name, item_table.c.id)).all())
    statement = (
        select(item_table.c.name)
        .where(item_table.c.id.in_(bindparam("ids", expanding=True)))
        .where(item_table.c.quantity == bindparam("ids_1"))
        .order_by(item_table.c.name)
    )
    with capture.observe(), engine.connect() as connection:
        names = connection.scalars(statement, {"ids": [ids["cup"], ids["mug"]], "ids_1": 5}).all()

    checks.equal("names with id in the list and quantity 5", names, ["cup"])


@behaviour("session.usable-after-rollback-of-failed-bulk", doc="orm/session_basics.html#rolling-back", requires="2.0")
@pytest.mark.usefixtures("tables")
def test_session_is_usable_after_rollback_following_a_failed_flush_and_bulk_call(engine, capture, checks):
    """After a flush fails, the Session refuses further work until ``Session.rollback()`` is called (a bulk
    method such as ``bulk_insert_mappings()`` too raises ``PendingRollbackError``); after the rollback the
    Session flushes and commits normally.

    Docs: ORM > Session Basics > Rolling Back.
    """
    with engine.begin() as connection:
        connection.execute(insert(user_table), {"name": "sandy", "fullname": "Sandy Cheeks"})

    with Session(engine) as session:
        session.add(User(name="sandy", fullname="Sandy Again"))
        with checks.catch() as failed_flush:
            session.flush()
        checks.equal("failed flush raises", type(failed_flush.error).__name__, "IntegrityError")
        with checks.catch() as bulk:
            session.bulk_insert_mappings(User, [{"name": "patrick"}])
        checks.equal("bulk call before rollback raises", type(bulk.error).__name__, "PendingRollbackError")
        session.rollback()
        session.add(User(name="squidward", fullname="Squidward Tentacles"))
        with capture.observe(), checks.catch() as after_rollback:
            session.commit()
        checks.equal("commit after rollback raises", after_rollback.error and type(after_rollback.error).__name__, None)

    with engine.connect() as connection:
        names = connection.scalars(select(user_table.c.name).order_by(user_table.c.name)).all()
    checks.equal("stored names", names, ["sandy", "squidward"])


@behaviour("select.case-result-type", doc="core/sqlelement.html#sqlalchemy.sql.expression.case", requires="2.0")
def test_case_takes_the_type_of_its_typed_results(engine, capture, checks):
    """``case()`` takes its type from its result expressions, also when a later WHEN returns an untyped
    ``None``: a CASE whose results are ``Numeric`` or NULL returns ``Decimal`` values.

    Docs: Column Elements and Expressions > ``case()``.
    """
    price = cast(literal("1.25"), Numeric(10, 2))
    expression = case((literal(1) == 1, price), (literal(1) == 2, None))
    with capture.observe(), engine.connect() as connection:
        value = connection.execute(select(expression)).scalar_one()

    checks.equal("type of the CASE result", type(value).__name__, "Decimal")
    checks.equal("value of the CASE result", value, decimal.Decimal("1.25"))


def _on_conflict_update_from_bound_parameter(dialect_insert):
    def build():
        statement = dialect_insert(user_table)
        return statement.on_conflict_do_update(
            index_elements=[user_table.c.name], set_={"fullname": bindparam("new_fullname")}
        ).returning(user_table.c.name)

    return build


def _on_duplicate_key_update_from_bound_parameter():
    statement = mysql.insert(user_table)
    return statement.on_duplicate_key_update(fullname=bindparam("new_fullname")).returning(user_table.c.name)


UPSERT_FROM_BOUND_PARAMETER_BY_CONSTRUCT = {
    "postgresql.insert().on_conflict_do_update()": _on_conflict_update_from_bound_parameter(postgresql.insert),
    "sqlite.insert().on_conflict_do_update()": _on_conflict_update_from_bound_parameter(sqlite.insert),
    "mysql.insert().on_duplicate_key_update()": _on_duplicate_key_update_from_bound_parameter,
}


@behaviour(
    "dml.upsert-returning-bound-update-values", doc="core/connections.html#engine-insertmanyvalues", requires="2.0"
)
@pytest.mark.usefixtures("tables")
def test_upsert_with_returning_applies_each_parameter_sets_update_value(engine, capture, checks, target_facts):
    """An upsert with RETURNING whose update clause takes a bound parameter (``bindparam("new_fullname")``),
    executed with a list of parameter sets, updates each conflicting row with the value of its own parameter
    set, and returns one row per parameter set.

    Docs: Engines and Connections > "Insert Many Values" Behavior for INSERT statements; Dialects > PostgreSQL /
    SQLite > INSERT…ON CONFLICT (Upsert); MySQL and MariaDB > INSERT…ON DUPLICATE KEY UPDATE (Upsert).
    """
    with engine.begin() as connection:
        connection.execute(
            insert(user_table),
            [{"name": "sandy", "fullname": "Sandy Cheeks"}, {"name": "patrick", "fullname": "Patrick Star"}],
        )
    statement = UPSERT_FROM_BOUND_PARAMETER_BY_CONSTRUCT[target_facts["upsert-construct"]]()

    with capture.observe(), engine.begin() as connection:
        returned = connection.execute(
            statement,
            [
                {"name": "sandy", "fullname": "-", "new_fullname": "Sandy Squirrel"},
                {"name": "patrick", "fullname": "-", "new_fullname": "Patrick Starfish"},
            ],
        ).scalars()
        returned = sorted(returned)

    with engine.connect() as connection:
        stored = dict(connection.execute(select(user_table.c.name, user_table.c.fullname)).all())
    checks.equal("names returned", returned, ["patrick", "sandy"])
    checks.equal("fullnames after the upsert", stored, {"sandy": "Sandy Squirrel", "patrick": "Patrick Starfish"})
