"""UUID values: the generic ``Uuid`` type (``as_uuid`` True and False) through every insert path, as a primary key
with ordered RETURNING and ORM defaults, its column type per backend, and the native ``UUID`` type (PostgreSQL,
MariaDB 10.7+); suites/test_types.py has the basic round trip and equality in WHERE."""

import uuid

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, inspect, select
from sqlalchemy.orm import registry

from fixtures.compat import UUID, Session, Uuid
from fixtures.insert_paths import check_every_path, round_trip_every_path, shared_tables, typed, value_table
from fixtures.plugin import behaviour

VALUES = [
    uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
    uuid.UUID("00000000-0000-0000-0000-000000000000"),
    uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),  # all digits as 32-character hex: no letters at all
]

metadata = MetaData()
uuid_table = value_table(metadata, "uu_values", Uuid)
uuid_string_table = value_table(metadata, "uu_strings", Uuid(as_uuid=False))
keyed_table = Table(
    "uu_keyed",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("position", Integer, nullable=False),
)
labelled_table = Table(
    "uu_labelled",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("label", String(20), nullable=False),
)


class Labelled:
    def __init__(self, label):
        self.label = label


registry().map_imperatively(Labelled, labelled_table)

uuid_tables = shared_tables(metadata)


@behaviour("uuid.every-insert-path", doc="core/type_basics.html#sqlalchemy.types.Uuid", requires="2.0")
def test_uuid_objects_survive_every_insert_path(engine, capture, checks, uuid_tables, target_facts):
    """A ``Uuid`` column (``as_uuid=True``, the default) returns ``uuid.UUID`` values, including the nil and the
    all-ones UUID, unchanged, as ``uuid.UUID``, through every insert path.

    Docs: Core > The Type Hierarchy > ``Uuid`` ("In its default mode of use, the Uuid datatype expects Python
    uuid objects").
    """
    returned = round_trip_every_path(engine, capture, uuid_table, VALUES, target_facts["insert-paths"])

    check_every_path(checks, returned, VALUES, typed)


@behaviour(
    "uuid.as-uuid-false-every-insert-path",
    doc="core/type_basics.html#sqlalchemy.types.Uuid.params.as_uuid",
    requires="2.0",
)
def test_uuid_strings_survive_every_insert_path(engine, capture, checks, uuid_tables, target_facts):
    """A ``Uuid(as_uuid=False)`` column accepts UUID strings, hyphenated or as 32 hexadecimal characters, and
    returns each as a ``str`` in the standard hyphenated form, through every insert path.

    Docs: Core > The Type Hierarchy > ``Uuid`` ("To have the Uuid datatype work with string-based Uuids (e.g. 32
    character hexadecimal strings), pass the Uuid.as_uuid parameter with the value False").
    """
    sent = [str(VALUES[0]), VALUES[1].hex, str(VALUES[2]), VALUES[3].hex]

    returned = round_trip_every_path(engine, capture, uuid_string_table, sent, target_facts["insert-paths"])

    check_every_path(checks, returned, [str(value) for value in VALUES], typed)


@behaviour(
    "uuid.primary-key-returning-order",
    doc="core/connections.html#engine-insertmanyvalues-returning-order",
    requires="2.0",
)
def test_uuid_primary_keys_come_back_in_parameter_order(engine, capture, checks, uuid_tables):
    """INSERT..RETURNING with ``sort_by_parameter_order=True`` into a table whose primary key is a client-side
    ``Uuid`` returns the rows in the order of the parameter sets, also across insertmanyvalues batches (page size
    4 for 10 rows).

    Docs: Working with Engines and Connections > "Insert Many Values" Behavior > Correlating RETURNING rows to
    parameter sets (client-generated primary key values are used to correlate).
    """
    keys = [uuid.UUID(int=(n * 0x9E3779B97F4A7C15) % 2**128) for n in range(10, 0, -1)]  # not in sorted order
    statement = insert(keyed_table).returning(keyed_table.c.id, keyed_table.c.position, sort_by_parameter_order=True)
    with engine.begin() as connection:
        connection.execute(keyed_table.delete())

    with capture.observe(), engine.connect() as connection:
        rows = connection.execution_options(insertmanyvalues_page_size=4).execute(
            statement, [{"id": key, "position": n} for n, key in enumerate(keys)]
        )
        returned = [tuple(row) for row in rows]
        connection.commit()

    checks.equal("returned (id, position)", returned, [(key, n) for n, key in enumerate(keys)])
    capture.measure("insertmanyvalues batches", capture.insertmanyvalues_batches)


@behaviour(
    "uuid.orm-default-primary-key",
    doc="core/defaults.html#python-executed-functions",
    requires="2.0",
)
def test_orm_flush_assigns_uuid_primary_keys_from_the_python_default(engine, capture, checks, uuid_tables):
    """Objects flushed together get their ``Uuid`` primary key from the column's Python-side default
    (``default=uuid.uuid4``): each object holds a ``uuid.UUID`` after the flush, and the row stored under that key
    is that object's.

    Docs: ORM > Table Configuration with Declarative (``uuid.UUID`` maps to ``Uuid``); Core > Column INSERT/UPDATE
    Defaults > Python-side defaults.
    """
    labels = [f"object {n}" for n in range(6)]
    with engine.begin() as connection:
        connection.execute(labelled_table.delete())

    with capture.observe(), Session(engine) as session:
        objects = [Labelled(label) for label in labels]
        session.add_all(objects)
        session.flush()
        assigned = {obj.id: obj.label for obj in objects}
        session.commit()
    with engine.connect() as connection:
        stored = dict(connection.execute(select(labelled_table.c.id, labelled_table.c.label)).all())

    checks.equal("key types", sorted({type(key).__name__ for key in assigned}), ["UUID"])
    checks.equal("distinct keys", len(assigned), len(labels))
    # the keys are random: compare them, record only the outcome (the gate compares recorded values between runs)
    checks.equal("each object's label stored under its key", stored == assigned, True)
    checks.equal("labels stored", sorted(stored.values()), labels)


@behaviour("uuid.column-type", doc="core/type_basics.html#sqlalchemy.types.Uuid", requires="2.0")
def test_uuid_column_uses_the_native_type_or_char_32(engine, capture, checks, uuid_tables, target_facts):
    """A ``Uuid`` column is created as the backend's native UUID type where SQLAlchemy uses one, else as
    ``CHAR(32)`` holding the 32-character hexadecimal form: the stored text has 32 hex digits without hyphens
    there.

    Docs: Core > The Type Hierarchy > ``Uuid`` ("For backends that have no native UUID datatype, the value will
    make use of CHAR(32) and store the UUID as a 32-character alphanumeric hex string").
    """
    expected_type = target_facts["uuid-column-type"]

    with capture.observe(), engine.connect() as connection:
        columns = {column["name"]: column for column in inspect(connection).get_columns("uu_keyed")}
    reflected = columns["id"]["type"].compile(dialect=engine.dialect)

    checks.equal("reflected column type", reflected, expected_type)


@behaviour("uuid.native-uuid-type", doc="core/type_basics.html#sqlalchemy.types.UUID", requires="2.0")
def test_native_uuid_type_round_trips_and_reflects(engine, capture, checks, make_tables):
    """The ``UUID`` type creates a column of the database's own ``UUID`` datatype (PostgreSQL; MariaDB 10.7+),
    which stores and returns ``uuid.UUID`` values unchanged, finds a row by ``uuid.UUID`` in WHERE, and reflects
    as ``UUID``.

    Docs: Core > The Type Hierarchy > ``UUID`` ("Represent the SQL UUID type ... only works on databases that have
    a SQL datatype named UUID").
    """
    table = Table("uu_native", MetaData(), Column("id", Integer, primary_key=True), Column("value", UUID))
    make_tables(table.metadata)

    with capture.observe():
        with engine.begin() as connection:
            connection.execute(insert(table), [{"id": n, "value": value} for n, value in enumerate(VALUES, 1)])
        with engine.connect() as connection:
            returned = connection.scalars(select(table.c.value).order_by(table.c.id)).all()
            found = connection.scalars(select(table.c.id).where(table.c.value == VALUES[2])).all()
            reflected = Table("uu_native", MetaData(), autoload_with=connection)
            through_reflected = connection.scalars(select(reflected.c.value).order_by(reflected.c.id)).all()

    checks.equal("returned", [typed(value) for value in returned], [typed(value) for value in VALUES])
    checks.equal("ids found by uuid", found, [3])
    checks.equal("reflected type", type(reflected.c.value.type).__name__, "UUID")
    checks.equal(
        "read through the reflected table",
        [typed(value) for value in through_reflected],
        [typed(value) for value in VALUES],
    )


@behaviour("uuid.in-list", doc="core/sqlelement.html#sqlalchemy.sql.expression.ColumnOperators.in_", requires="2.0")
def test_uuid_in_list_finds_the_rows(engine, capture, checks, uuid_tables):
    """``Uuid`` column ``.in_([uuid, uuid])`` converts each ``uuid.UUID`` of the expanded list as the column's type
    does and selects exactly those rows; ``not_in`` the others.

    Docs: SQL Expressions > Column Element Operators > ``ColumnOperators.in_()`` (an expanding bound parameter
    rendered per value at execution time).
    """
    with engine.begin() as connection:
        connection.execute(keyed_table.delete())
        connection.execute(insert(keyed_table), [{"id": value, "position": n} for n, value in enumerate(VALUES)])

    with capture.observe(), engine.connect() as connection:
        inside = connection.scalars(
            select(keyed_table.c.position)
            .where(keyed_table.c.id.in_([VALUES[3], VALUES[0]]))
            .order_by(keyed_table.c.position)
        ).all()
        outside = connection.scalars(
            select(keyed_table.c.position)
            .where(keyed_table.c.id.not_in([VALUES[3], VALUES[0]]))
            .order_by(keyed_table.c.position)
        ).all()

    checks.equal("positions in [3, 0]", inside, [0, 3])
    checks.equal("positions not in [3, 0]", outside, [1, 2])
