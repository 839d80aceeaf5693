"""Computed and identity columns: their DDL, the values the database gives them on every insert path, and how
they reflect.

Docs: Core > Column INSERT/UPDATE Defaults > Computed Columns (GENERATED ALWAYS AS); Identity Columns
(GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY); Reflecting Database Objects > ``Inspector.get_columns()``.
"""

from sqlalchemy import Column, Computed, Identity, Integer, MetaData, Sequence, String, Table, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from fixtures.compat import Session, declarative_base
from fixtures.plugin import behaviour

COMPUTED_DOC = "core/defaults.html#computed-ddl"
IDENTITY_DOC = "core/defaults.html#identity-ddl"

ComputedBase = declarative_base()


class Rectangle(ComputedBase):
    """A row whose ``area`` the database computes from ``width`` and ``height`` (stored)."""

    __tablename__ = "ci_rectangle"
    id = Column(Integer, primary_key=True)
    width = Column(Integer, nullable=False)
    height = Column(Integer, nullable=False)
    area = Column(Integer, Computed("width * height", persisted=True))


class Badge(ComputedBase):
    """A row numbered by an identity column."""

    __tablename__ = "ci_badge"
    id = Column(Integer, Identity(), primary_key=True)
    label = Column(String(20), nullable=False)


class Ticket(ComputedBase):
    """A row whose key comes from a sequence starting at 1000 and stepping by 10."""

    __tablename__ = "ci_ticket"
    id = Column(Integer, Sequence("ci_ticket_id_seq", start=1000, increment=10), primary_key=True)
    subject = Column(String(20), nullable=False)


def rectangles(persisted) -> Table:
    return Table(
        "ci_rect_core",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("width", Integer, nullable=False),
        Column("height", Integer, nullable=False),
        Column("area", Integer, Computed("width * height", persisted=persisted)),
    )


def badges(identity: Identity) -> Table:
    return Table(
        "ci_badge_core",
        MetaData(),
        Column("id", Integer, identity, primary_key=True),
        Column("label", String(20), nullable=False),
    )


def create_table_statement(capture) -> str:
    return next((sql for sql in capture.sql() if sql.upper().startswith("CREATE TABLE")), "")


def column_definition(create: str, column: str) -> str | None:
    """The definition of ``column`` in a CREATE TABLE statement (its name to the next comma), without quotes."""
    for part in create.replace("`", "").replace('"', "").split(","):
        words = part.split()
        if column in words:
            return " ".join(words[words.index(column) :])
    return None


def areas(engine, table) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(select(table.c.width, table.c.height, table.c.area).order_by(table.c.id))
        ]


@behaviour("computed.ddl-stored", doc=COMPUTED_DOC)
def test_computed_persisted_renders_stored_and_the_database_computes(engine, make_tables, capture, checks):
    """``Column("area", Integer, Computed("width * height", persisted=True))`` is created as
    ``GENERATED ALWAYS AS (width * height) STORED``, the column is left out of the INSERT, and the database
    fills it in.

    Docs: Core > Column INSERT/UPDATE Defaults > Computed Columns (GENERATED ALWAYS AS); ``Computed.persisted``.
    """
    table = rectangles(persisted=True)
    with capture.observe():
        make_tables(table.metadata)
        with engine.begin() as connection:
            connection.execute(insert(table), {"width": 2, "height": 3})

    clause = column_definition(create_table_statement(capture), "area")
    checks.that(
        "area column DDL",
        clause is not None and "GENERATED ALWAYS AS (width * height)" in clause and clause.upper().endswith("STORED"),
        got=clause,
        expected="area INTEGER GENERATED ALWAYS AS (width * height) STORED",
    )
    inserted = [sql for sql in capture.sql() if sql.upper().startswith("INSERT")]
    checks.equal("area in the INSERT", ["area" in sql.split("VALUES")[0] for sql in inserted], [False])
    checks.equal("stored rows", areas(engine, table), [(2, 3, 6)])


@behaviour("computed.ddl-virtual", doc=COMPUTED_DOC)
def test_computed_not_persisted_renders_virtual(engine, make_tables, capture, checks):
    """``Computed("width * height", persisted=False)`` is created as ``GENERATED ALWAYS AS (width * height)
    VIRTUAL`` and the database computes the value when it is read.

    Docs: Core > Column INSERT/UPDATE Defaults > Computed Columns ("persisted ... True or False to indicate if the
    STORED or VIRTUAL keyword should be rendered in DDL, however this will raise an error if the keyword is not
    supported by the target backend").
    """
    table = rectangles(persisted=False)
    with capture.observe():
        make_tables(table.metadata)
        with engine.begin() as connection:
            connection.execute(insert(table), [{"width": 4, "height": 5}, {"width": 1, "height": 7}])

    clause = column_definition(create_table_statement(capture), "area")
    checks.that(
        "area column DDL",
        clause is not None and "GENERATED ALWAYS AS (width * height)" in clause and clause.upper().endswith("VIRTUAL"),
        got=clause,
        expected="area INTEGER GENERATED ALWAYS AS (width * height) VIRTUAL",
    )
    checks.equal("stored rows", areas(engine, table), [(4, 5, 20), (1, 7, 7)])


@behaviour("computed.values-executemany", doc=COMPUTED_DOC)
def test_computed_values_after_executemany(engine, make_tables, capture, checks):
    """An ``insert()`` executed with a list of parameter sets (executemany, no RETURNING) leaves the computed column
    out of the statement, and every row gets its own computed value.

    Docs: Core > Column INSERT/UPDATE Defaults > Computed Columns ("treated as a default generating column when
    INSERT and UPDATE statements are generated"); Unified Tutorial > Sending Multiple Parameters.
    """
    table = make_tables(rectangles(persisted=None).metadata).tables["ci_rect_core"]
    rows = [{"width": width, "height": width + 1} for width in range(1, 6)]
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(table), rows)

    checks.equal("area in the INSERT", any("area" in sql.split("VALUES")[0] for sql in capture.sql()), False)
    checks.equal("stored rows", areas(engine, table), [(w, w + 1, w * (w + 1)) for w in range(1, 6)])


@behaviour("computed.returning-insertmanyvalues", doc=COMPUTED_DOC, requires="2.0")
def test_computed_values_returned_by_insertmanyvalues_in_order(engine, make_tables, capture, checks):
    """``insert().returning(table.c.area, sort_by_parameter_order=True)`` with several parameter sets returns each
    row's computed value, in the order of the parameter sets (insertmanyvalues).

    Docs: Core > Column INSERT/UPDATE Defaults > Computed Columns ("part of the RETURNING clause ... for databases
    which support RETURNING"); Working with Engines and Connections > "Insert Many Values" Behavior for INSERT
    statements > Correlating RETURNING rows to parameter sets.
    """
    table = make_tables(rectangles(persisted=None).metadata).tables["ci_rect_core"]
    rows = [{"width": width, "height": 10 - width} for width in (9, 2, 7, 4)]
    statement = insert(table).returning(table.c.width, table.c.area, sort_by_parameter_order=True)
    with capture.observe(), engine.begin() as connection:
        returned = [tuple(row) for row in connection.execute(statement, rows)]

    checks.equal("returned (width, area)", returned, [(9, 9), (2, 16), (7, 21), (4, 24)])
    checks.equal("stored rows", sorted(areas(engine, table)), sorted((w, 10 - w, w * (10 - w)) for w in (9, 2, 7, 4)))


@behaviour("computed.orm-flush-fetches-value", doc=COMPUTED_DOC)
def test_orm_flush_makes_the_computed_value_available(engine, make_tables, capture, checks):
    """After ``Session.flush()`` of new objects with a ``Computed`` column, the attribute holds the value the database
    computed (fetched with RETURNING where the database has it, else loaded when the attribute is read).

    Docs: Core > Column INSERT/UPDATE Defaults > Computed Columns ("it will be fetched as a generating column when
    using the ORM"); ORM > Integrating with Server-Generated Values.
    """
    make_tables(ComputedBase.metadata)
    with capture.observe(), Session(engine) as session:
        shapes = [Rectangle(width=3, height=4), Rectangle(width=5, height=6), Rectangle(width=7, height=1)]
        session.add_all(shapes)
        session.flush()
        flushed = [shape.area for shape in shapes]
        session.commit()

    checks.equal("area after flush", flushed, [12, 30, 7])


@behaviour("computed.orm-update-refreshes-value", doc=COMPUTED_DOC)
def test_orm_update_refreshes_the_computed_value(engine, make_tables, capture, checks):
    """After changing ``width`` of a persistent object and flushing, the ``Computed`` attribute reads the value the
    database recomputed ("server onupdate" generator), not the one loaded before the UPDATE.

    Docs: Core > Column INSERT/UPDATE Defaults > Computed Columns ("will set itself up as both the 'server
    default' and 'server onupdate' generator").
    """
    make_tables(ComputedBase.metadata)
    with Session(engine) as session:
        shape = Rectangle(width=3, height=4)
        session.add(shape)
        session.commit()
        before = shape.area
        with capture.observe():
            shape.width = 10
            session.flush()
            after = shape.area
        session.commit()

    checks.equal("area before", before, 12)
    checks.equal("area after the UPDATE", after, 40)


@behaviour("reflect.computed-column", doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_columns")
def test_inspector_reads_the_computed_expression(engine, make_tables, capture, checks):
    """``Inspector.get_columns()`` gives a computed column a ``computed`` entry with its SQL expression and whether
    it is persisted, and no ``computed`` entry to ordinary columns.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_columns()``; ``ReflectedColumn.computed``,
    ``ReflectedComputed``.
    """
    make_tables(rectangles(persisted=True).metadata)
    with capture.observe():
        columns = {column["name"]: column for column in inspect(engine).get_columns("ci_rect_core")}

    computed = columns["area"].get("computed") or {}
    expression = "".join(ch for ch in str(computed.get("sqltext", "")) if ch not in '()`" ').lower()
    checks.equal("area expression (without quotes, parentheses, spaces)", expression, "width*height")
    checks.equal("area persisted", computed.get("persisted"), True)
    checks.equal(
        "columns with a computed entry", sorted(name for name, c in columns.items() if c.get("computed")), ["area"]
    )


@behaviour("identity.always-rejects-explicit-value", doc=IDENTITY_DOC)
def test_identity_always_rejects_an_explicit_value(engine, make_tables, capture, checks):
    """``Identity(always=True)`` is created as ``GENERATED ALWAYS AS IDENTITY``: an INSERT that gives the column a
    value is refused by the database (a ``DBAPIError``), and an INSERT without one gets the generated value 1.

    Docs: Core > Column INSERT/UPDATE Defaults > Identity Columns ("require that the database generates the value
    of the column, ignoring the value passed with the statement or raising an error, depending on the backend").
    """
    table = badges(Identity(always=True))
    with capture.observe():
        make_tables(table.metadata)
        with checks.catch() as caught, engine.begin() as connection:
            connection.execute(insert(table), {"id": 50, "label": "explicit"})
        with engine.begin() as connection:
            generated = connection.execute(insert(table), {"label": "generated"}).inserted_primary_key[0]

    create = create_table_statement(capture)
    checks.that(
        "identity clause",
        "GENERATED ALWAYS AS IDENTITY" in create,
        got=column_definition(create, "id"),
        expected="id INTEGER GENERATED ALWAYS AS IDENTITY",
    )
    checks.that(
        "explicit id refused",
        isinstance(caught.error, DBAPIError),
        got=caught.exception_class,
        expected="a DBAPIError subclass",
    )
    checks.equal("generated id", generated, 1)
    with engine.connect() as connection:
        checks.equal("stored ids", connection.scalars(select(table.c.id).order_by(table.c.id)).all(), [1])


@behaviour("identity.by-default-accepts-explicit-value", doc=IDENTITY_DOC)
def test_identity_by_default_accepts_an_explicit_value(engine, make_tables, capture, checks):
    """With ``Identity()`` (``always=False``, BY DEFAULT) the database generates 1 for a row inserted without an id,
    and keeps the value an INSERT gives explicitly.

    Docs: Core > Column INSERT/UPDATE Defaults > Identity Columns ("The database will generate a value for the
    ``id`` column upon insert ... if the statement did not already contain a value"); ``Identity.always``.
    """
    table = make_tables(badges(Identity()).metadata).tables["ci_badge_core"]
    with capture.observe(), engine.begin() as connection:
        generated = connection.execute(insert(table), {"label": "generated"}).inserted_primary_key[0]
        explicit = connection.execute(insert(table), {"id": 50, "label": "explicit"}).inserted_primary_key[0]

    checks.equal("inserted primary keys", [generated, explicit], [1, 50])
    with engine.connect() as connection:
        stored = [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]
    checks.equal("stored rows", stored, [(1, "generated"), (50, "explicit")])


@behaviour("identity.executemany-and-insertmanyvalues", doc=IDENTITY_DOC, requires="2.0")
def test_identity_values_through_executemany_and_insertmanyvalues(engine, make_tables, capture, checks):
    """Rows inserted into an ``Identity()`` table by executemany get 1, 2, 3; a following
    ``insert().returning(id, sort_by_parameter_order=True)`` of three more returns 4, 5, 6 in parameter order, each
    matching the stored row.

    Docs: Core > Column INSERT/UPDATE Defaults > Identity Columns ("part of the RETURNING clause"); Working with
    Engines and Connections > "Insert Many Values" Behavior for INSERT statements.
    """
    table = make_tables(badges(Identity()).metadata).tables["ci_badge_core"]
    statement = insert(table).returning(table.c.id, table.c.label, sort_by_parameter_order=True)
    with capture.observe(), engine.begin() as connection:
        connection.execute(insert(table), [{"label": label} for label in ("a", "b", "c")])
        returned = [tuple(row) for row in connection.execute(statement, [{"label": label} for label in "zyx"])]

    checks.equal("returned (id, label)", returned, [(4, "z"), (5, "y"), (6, "x")])
    with engine.connect() as connection:
        stored = [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]
    checks.equal("stored rows", stored, [(1, "a"), (2, "b"), (3, "c"), (4, "z"), (5, "y"), (6, "x")])


@behaviour("identity.orm-flush-assigns-keys", doc=IDENTITY_DOC)
def test_orm_flush_assigns_identity_keys_to_objects(engine, make_tables, capture, checks):
    """``Session.flush()`` of four new objects of a class whose key is an ``Identity()`` column gives each object the
    key the database generated for its own row, 1 to 4 in the order they were added.

    Docs: Core > Column INSERT/UPDATE Defaults > Identity Columns ("it will be fetched as a generating column when
    using the ORM"); ORM > Integrating with Server-Generated Values.
    """
    make_tables(ComputedBase.metadata)
    labels = ["first", "second", "third", "fourth"]
    with capture.observe(), Session(engine) as session:
        objects = [Badge(label=label) for label in labels]
        session.add_all(objects)
        session.flush()
        keys = {badge.label: badge.id for badge in objects}
        session.commit()

    checks.equal("keys on the objects", keys, {"first": 1, "second": 2, "third": 3, "fourth": 4})
    with engine.connect() as connection:
        stored = dict(tuple(row) for row in connection.execute(select(Badge.label, Badge.id)))
    checks.equal("stored keys", stored, keys)


@behaviour("reflect.identity-column", doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_columns")
def test_inspector_reads_identity_options(engine, make_tables, capture, checks):
    """``Inspector.get_columns()`` gives an identity column an ``identity`` entry with ``always``, ``start`` and
    ``increment`` as declared (``Identity(always=True, start=10, increment=5)``).

    Docs: Core > Reflecting Database Objects > ``Inspector.get_columns()``; ``ReflectedColumn.identity``,
    ``ReflectedIdentity``.
    """
    make_tables(badges(Identity(always=True, start=10, increment=5)).metadata)
    with capture.observe():
        columns = {column["name"]: column for column in inspect(engine).get_columns("ci_badge_core")}

    identity = columns["id"].get("identity") or {}
    checks.equal(
        "identity of id (always, start, increment)",
        [identity.get("always"), identity.get("start"), identity.get("increment")],
        [True, 10, 5],
    )
    checks.equal("identity of label", columns["label"].get("identity"), None)


@behaviour("sequence.orm-primary-key", doc="core/defaults.html#defining-sequences")
def test_orm_flush_takes_keys_from_the_sequence(engine, make_tables, capture, checks):
    """A primary key column with ``Sequence("ci_ticket_id_seq", start=1000, increment=10)`` gives three objects
    flushed together the keys 1000, 1010 and 1020, in the order they were added, and ``create_all`` creates the
    sequence.

    Docs: Core > Column INSERT/UPDATE Defaults > Defining Sequences; Associating a Sequence on a SERIAL column.
    """
    with capture.observe():
        make_tables(ComputedBase.metadata)
        with Session(engine) as session:
            tickets = [Ticket(subject=subject) for subject in ("printer", "network", "login")]
            session.add_all(tickets)
            session.flush()
            keys = [ticket.id for ticket in tickets]
            session.commit()

    created = [sql for sql in capture.sql() if sql.upper().startswith("CREATE SEQUENCE")]
    checks.equal("sequences created", [sql.split()[2].strip('`"') for sql in created], ["ci_ticket_id_seq"])
    checks.equal("keys", keys, [1000, 1010, 1020])
