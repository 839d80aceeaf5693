"""Reflection beyond tables and columns: CHECK constraints, views, schemas, temporary tables, the ``get_multi_*``
methods, and the ``has_*`` probes.

Docs: Core > Reflecting Database Objects > Fine Grained Reflection with Inspector; Specifying the Schema Name;
Translation of Schema Names.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine

from fixtures.plugin import behaviour, create_target_engine
from fixtures.target_facts import facts_of_target

INSPECTOR_DOC = "core/reflection.html#sqlalchemy.engine.reflection.Inspector."
DETAIL_TABLES = ["rd_item", "rd_part"]
VIEW_SQL = "CREATE VIEW rd_item_view AS SELECT id, name FROM rd_item WHERE quantity > 5"
ITEMS = [(1, "bolt", 10), (2, "nut", 3), (3, "gear", 7)]


def detail_schema() -> MetaData:
    """An item table with a named CHECK constraint, a part table with a named foreign key and a named index, and
    a sequence (created only where the backend has sequences)."""
    metadata = MetaData()
    Table(
        "rd_item",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(20), nullable=False),
        Column("quantity", Integer, nullable=False),
        CheckConstraint("quantity >= 0", name="ck_rd_item_quantity"),
    )
    Table(
        "rd_part",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer, ForeignKey("rd_item.id", name="fk_rd_part_item"), nullable=False),
        Column("label", String(20)),
        Index("ix_rd_part_label", "label"),
    )
    Sequence("rd_counter_seq", start=5, metadata=metadata)
    return metadata


@pytest.fixture(scope="module")
def detail(engine: Engine) -> Iterator[MetaData]:
    """The schema above with three items and a view of the items with quantity > 5, created once for the module:
    the behaviours only read it."""
    metadata = detail_schema()
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(metadata.tables["rd_item"]),
            [dict(zip(("id", "name", "quantity"), row, strict=True)) for row in ITEMS],
        )
        connection.execute(text(VIEW_SQL))
    yield metadata
    with engine.begin() as connection:
        connection.execute(text("DROP VIEW rd_item_view"))
    metadata.drop_all(engine)


def squeezed(sql: object) -> str:
    """SQL text without quotes, parentheses or whitespace, lower case: how backends spell it differs in those."""
    return "".join(ch for ch in str(sql) if ch not in '()`"[] \t\n').lower()


@behaviour("reflect.check-constraints", doc=INSPECTOR_DOC + "get_check_constraints")
def test_inspector_reads_check_constraints(engine, detail, capture, checks):
    """``Inspector.get_check_constraints()`` returns a named ``CheckConstraint`` with its name and its SQL text.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_check_constraints()``.
    """
    with capture.observe():
        constraints = inspect(engine).get_check_constraints("rd_item")

    checks.equal(
        "check constraints (name, SQL without quotes, parentheses, spaces)",
        [(constraint["name"], squeezed(constraint["sqltext"])) for constraint in constraints],
        [("ck_rd_item_quantity", "quantity>=0")],
    )


@behaviour("reflect.view-names", doc=INSPECTOR_DOC + "get_view_names")
def test_inspector_lists_views_apart_from_tables(engine, detail, capture, checks):
    """``Inspector.get_view_names()`` lists a created view and not the tables; ``get_table_names()`` lists the
    tables and not the view.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_view_names()``, ``Inspector.get_table_names()``.
    """
    with capture.observe():
        inspector = inspect(engine)
        views, tables = inspector.get_view_names(), inspector.get_table_names()

    ours = {"rd_item", "rd_part", "rd_item_view"}
    checks.equal("views", sorted(set(views) & ours), ["rd_item_view"])
    checks.equal("tables", sorted(set(tables) & ours), ["rd_item", "rd_part"])


@behaviour("reflect.view-definition", doc=INSPECTOR_DOC + "get_view_definition")
def test_inspector_reads_the_view_definition(engine, detail, capture, checks):
    """``Inspector.get_view_definition()`` returns the view's SELECT: it selects from ``rd_item`` with the view's
    condition ``quantity > 5`` (each database spells the text its own way).

    Docs: Core > Reflecting Database Objects > ``Inspector.get_view_definition()``.
    """
    with capture.observe():
        definition = inspect(engine).get_view_definition("rd_item_view")

    text_of = squeezed(definition)
    shown = " ".join(str(definition).split())
    # from the SELECT on: MariaDB's CREATE .. DEFINER=`user`@`host` prefix names the server's user, not the view
    shown = shown[max(shown.lower().find("select"), 0) :]
    checks.that(
        "definition",
        "select" in text_of and "fromrd_item" in text_of.replace(".", " ").replace(" ", "") and "quantity>5" in text_of,
        got=shown,
        expected="SELECT id, name FROM rd_item WHERE quantity > 5",
    )


@behaviour("reflect.view-as-table", doc="core/reflection.html#reflecting-views")
def test_a_view_reflects_as_a_table_and_selects_its_rows(engine, detail, capture, checks):
    """``Table("rd_item_view", metadata, autoload_with=engine)`` reflects a view like a table: its columns in order,
    and a SELECT from it returns the rows the view's condition keeps.

    Docs: Core > Reflecting Database Objects > Reflecting Views.
    """
    with capture.observe():
        view = Table("rd_item_view", MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            rows = [tuple(row) for row in connection.execute(select(view).order_by(view.c.id))]

    checks.equal("columns", view.columns.keys(), ["id", "name"])
    checks.equal("rows", rows, [(1, "bolt"), (3, "gear")])


@behaviour("reflect.has-table", doc=INSPECTOR_DOC + "has_table", requires="2.0")
def test_has_table_finds_tables_and_views(engine, detail, capture, checks):
    """``Inspector.has_table()`` is True for a table and for a view, False for a name that does not exist.

    Docs: Core > Reflecting Database Objects > ``Inspector.has_table()`` ("Return True if the backend has a table,
    view, or temporary table of the given name"; views formally supported from 2.0).
    """
    with capture.observe():
        inspector = inspect(engine)
        found = {name: inspector.has_table(name) for name in ("rd_item", "rd_item_view", "rd_missing")}

    checks.equal("has_table", found, {"rd_item": True, "rd_item_view": True, "rd_missing": False})


@behaviour("reflect.has-index", doc=INSPECTOR_DOC + "has_index", requires="2.0")
def test_has_index_finds_a_named_index(engine, detail, capture, checks):
    """``Inspector.has_index(table, name)`` is True for an index declared on the table and False for another name.

    Docs: Core > Reflecting Database Objects > ``Inspector.has_index()``.
    """
    with capture.observe():
        inspector = inspect(engine)
        found = {name: inspector.has_index("rd_part", name) for name in ("ix_rd_part_label", "ix_rd_part_missing")}

    checks.equal("has_index", found, {"ix_rd_part_label": True, "ix_rd_part_missing": False})


@behaviour("reflect.has-sequence", doc=INSPECTOR_DOC + "has_sequence")
def test_has_sequence_and_sequence_names(engine, detail, capture, checks):
    """``Inspector.has_sequence()`` is True for a sequence ``create_all`` created and False for another name, and
    ``Inspector.get_sequence_names()`` lists it.

    Docs: Core > Reflecting Database Objects > ``Inspector.has_sequence()``, ``Inspector.get_sequence_names()``.
    """
    with capture.observe():
        inspector = inspect(engine)
        found = {name: inspector.has_sequence(name) for name in ("rd_counter_seq", "rd_missing_seq")}
        names = inspector.get_sequence_names()

    checks.equal("has_sequence", found, {"rd_counter_seq": True, "rd_missing_seq": False})
    checks.equal("rd_counter_seq in get_sequence_names()", "rd_counter_seq" in names, True)


@behaviour("reflect.get-multi-columns", doc=INSPECTOR_DOC + "get_multi_columns", requires="2.0")
def test_get_multi_columns_keys_tables_by_schema_and_name(engine, detail, capture, checks):
    """``Inspector.get_multi_columns(filter_names=[...])`` returns one entry per table, keyed by ``(None, name)``
    for the default schema, with the columns in declared order.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_multi_columns()``.
    """
    with capture.observe():
        found = inspect(engine).get_multi_columns(filter_names=DETAIL_TABLES)

    checks.equal(
        "columns by table",
        {key: [column["name"] for column in columns] for key, columns in found.items()},
        {(None, "rd_item"): ["id", "name", "quantity"], (None, "rd_part"): ["id", "item_id", "label"]},
    )


@behaviour("reflect.get-multi-pk-constraint", doc=INSPECTOR_DOC + "get_multi_pk_constraint", requires="2.0")
def test_get_multi_pk_constraint(engine, detail, capture, checks):
    """``Inspector.get_multi_pk_constraint(filter_names=[...])`` returns each table's primary key columns, keyed
    by ``(None, name)``.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_multi_pk_constraint()``.
    """
    with capture.observe():
        found = inspect(engine).get_multi_pk_constraint(filter_names=DETAIL_TABLES)

    checks.equal(
        "primary key columns by table",
        {key: constraint["constrained_columns"] for key, constraint in found.items()},
        {(None, "rd_item"): ["id"], (None, "rd_part"): ["id"]},
    )


@behaviour("reflect.get-multi-foreign-keys", doc=INSPECTOR_DOC + "get_multi_foreign_keys", requires="2.0")
def test_get_multi_foreign_keys(engine, detail, capture, checks):
    """``Inspector.get_multi_foreign_keys(filter_names=[...])`` returns each table's foreign keys (an empty list for
    a table without one), keyed by ``(None, name)``, with name, columns and referred table and columns.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_multi_foreign_keys()``.
    """
    with capture.observe():
        found = inspect(engine).get_multi_foreign_keys(filter_names=DETAIL_TABLES)

    checks.equal(
        "foreign keys by table",
        {
            key: [(fk["name"], fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]) for fk in fks]
            for key, fks in found.items()
        },
        {(None, "rd_item"): [], (None, "rd_part"): [("fk_rd_part_item", ["item_id"], "rd_item", ["id"])]},
    )


@behaviour("reflect.get-multi-indexes", doc=INSPECTOR_DOC + "get_multi_indexes", requires="2.0")
def test_get_multi_indexes(engine, detail, capture, checks):
    """``Inspector.get_multi_indexes(filter_names=[...])`` returns an entry per table keyed by ``(None, name)``, and
    the declared index is among the part table's, with its columns and not unique.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_multi_indexes()``.
    """
    with capture.observe():
        found = inspect(engine).get_multi_indexes(filter_names=DETAIL_TABLES)

    checks.equal("tables", sorted(found), [(None, "rd_item"), (None, "rd_part")])
    checks.equal(
        "declared index",
        [
            (index["name"], index["column_names"], bool(index["unique"]))
            for index in found.get((None, "rd_part"), [])
            if index["name"] == "ix_rd_part_label"
        ],
        [("ix_rd_part_label", ["label"], False)],
    )


@behaviour("reflect.get-multi-check-constraints", doc=INSPECTOR_DOC + "get_multi_check_constraints", requires="2.0")
def test_get_multi_check_constraints(engine, detail, capture, checks):
    """``Inspector.get_multi_check_constraints(filter_names=[...])`` returns each table's CHECK constraints keyed by
    ``(None, name)``: the item table's named constraint with its SQL text, nothing for the part table.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_multi_check_constraints()``.
    """
    with capture.observe():
        found = inspect(engine).get_multi_check_constraints(filter_names=DETAIL_TABLES)

    checks.equal(
        "check constraints by table (name, SQL without quotes, parentheses, spaces)",
        {key: [(ck["name"], squeezed(ck["sqltext"])) for ck in constraints] for key, constraints in found.items()},
        {(None, "rd_item"): [("ck_rd_item_quantity", "quantity>=0")], (None, "rd_part"): []},
    )


@behaviour("reflect.get-multi-kind", doc=INSPECTOR_DOC + "get_multi_columns", requires="2.0")
def test_get_multi_columns_kind_selects_tables_or_views(engine, detail, capture, checks):
    """``Inspector.get_multi_columns()`` reflects tables only by default (``kind=ObjectKind.TABLE``), views with
    ``kind=ObjectKind.VIEW``, and both with ``kind=ObjectKind.ANY``.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_multi_columns()`` ("kind ... Defaults to
    ObjectKind.TABLE"); ``ObjectKind``.
    """
    from sqlalchemy.engine.reflection import ObjectKind  # SQLAlchemy 2.0+

    names = [*DETAIL_TABLES, "rd_item_view"]
    with capture.observe():
        inspector = inspect(engine)
        by_kind = {
            kind.name: sorted(table for _, table in inspector.get_multi_columns(filter_names=names, kind=kind))
            for kind in (ObjectKind.TABLE, ObjectKind.VIEW, ObjectKind.ANY)
        }
        default = sorted(table for _, table in inspector.get_multi_columns(filter_names=names))

    checks.equal("default kind", default, ["rd_item", "rd_part"])
    checks.equal(
        "by kind",
        by_kind,
        {"TABLE": ["rd_item", "rd_part"], "VIEW": ["rd_item_view"], "ANY": ["rd_item", "rd_item_view", "rd_part"]},
    )


# --- temporary tables -------------------------------------------------------------------------------------------


def temporary_table() -> Table:
    return Table(
        "rd_scratch",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("note", String(20)),
        prefixes=["TEMPORARY"],
    )


@behaviour("reflect.temp-table-names", doc=INSPECTOR_DOC + "get_temp_table_names")
def test_get_temp_table_names_lists_the_connections_temporary_table(engine, capture, checks):
    """A ``Table(..., prefixes=["TEMPORARY"])`` created on a connection is listed by that connection's
    ``Inspector.get_temp_table_names()`` and not by ``get_table_names()``.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_temp_table_names()``; ``Table.prefixes``.
    """
    scratch = temporary_table()
    with capture.observe(), engine.connect() as connection:
        scratch.create(connection)
        try:
            inspector = inspect(connection)
            temporary, tables = inspector.get_temp_table_names(), inspector.get_table_names()
        finally:
            scratch.drop(connection)

    create = [sql for sql in capture.sql() if sql.upper().startswith("CREATE")]
    checks.equal("CREATE statement starts", [" ".join(sql.split()[:3]) for sql in create], ["CREATE TEMPORARY TABLE"])
    checks.equal("rd_scratch in get_temp_table_names()", "rd_scratch" in temporary, True)
    checks.equal("rd_scratch in get_table_names()", "rd_scratch" in tables, False)


@behaviour(
    "ddl.temporary-table-connection-local",
    doc="core/metadata.html#sqlalchemy.schema.Table.params.prefixes",
    requires="2.0",
)
def test_a_temporary_table_is_seen_only_by_its_connection(engine, capture, checks):
    """A TEMPORARY table created on one connection holds rows there and ``has_table()`` finds it there; another
    connection's ``has_table()`` does not see it.

    Docs: Core > Describing Databases with MetaData > ``Table.prefixes``; ``Inspector.has_table()`` ("a table,
    view, or temporary table of the given name").
    """
    scratch = temporary_table()
    with capture.observe(), engine.connect() as connection:
        scratch.create(connection)
        connection.execute(insert(scratch), [{"id": 1, "note": "a"}, {"id": 2, "note": "b"}])
        rows = connection.execute(select(scratch.c.note).order_by(scratch.c.id)).scalars().all()
        here = inspect(connection).has_table("rd_scratch")
        with engine.connect() as other:
            elsewhere = inspect(other).has_table("rd_scratch")
        scratch.drop(connection)

    checks.equal("rows on the creating connection", rows, ["a", "b"])
    checks.equal("has_table on the creating connection", here, True)
    checks.equal("has_table on another connection", elsewhere, False)


# --- a second schema ----------------------------------------------------------------------------------------------


def schema_name(fact: dict, engine: Engine) -> str:
    return fact["name"].format(database=engine.url.database)


@pytest.fixture(scope="module")
def other_schema(request, target) -> Iterator[tuple[Engine, str]]:
    """An engine of the target and a second schema it can reach, created as the target fact "second-schema" says
    (a PostgreSQL schema, a MySQL database, an SQLite database ATTACHed on every connection), removed afterwards."""
    fact = facts_of_target(request.config, target)["second-schema"]
    schema_engine = create_target_engine(target)
    name = schema_name(fact, schema_engine)

    def run(statements: list[str], execute) -> None:
        for statement in statements:
            execute(statement.format(name=name, database=schema_engine.url.database))

    if fact["per_connection"]:

        @event.listens_for(schema_engine, "connect")
        def create_on_connect(dbapi_connection, connection_record) -> None:
            cursor = dbapi_connection.cursor()
            run(fact["create"], cursor.execute)
            cursor.close()

    else:
        with schema_engine.begin() as connection:
            run(fact["create"], connection.exec_driver_sql)
    yield schema_engine, name
    with schema_engine.begin() as connection:
        run(fact["drop"], connection.exec_driver_sql)
    schema_engine.dispose()


def things(schema: str | None) -> Table:
    return Table(
        "rd_thing", MetaData(schema=schema), Column("id", Integer, primary_key=True), Column("name", String(20))
    )


@behaviour("schema.table-schema-argument", doc="core/metadata.html#specifying-the-schema-name")
def test_table_with_schema_lives_in_that_schema(other_schema, target_facts, capture, checks):
    """``Table(..., schema=name)`` is created in that schema: rows round-trip through it, the inspector lists it
    under ``get_table_names(schema=name)`` and not in the default schema.

    Docs: Core > Describing Databases with MetaData > Specifying the Schema Name.
    """
    schema_engine, name = other_schema
    capture.measure("second schema", target_facts["second-schema"]["create"])
    table = things(name)
    capture.attach(schema_engine)
    with capture.observe():
        table.metadata.create_all(schema_engine)
        try:
            with schema_engine.begin() as connection:
                connection.execute(insert(table), [{"id": 1, "name": "left"}, {"id": 2, "name": "right"}])
            with schema_engine.connect() as connection:
                rows = connection.execute(select(table.c.name).order_by(table.c.id)).scalars().all()
            inspector = inspect(schema_engine)
            in_schema, in_default = inspector.get_table_names(schema=name), inspector.get_table_names()
        finally:
            table.metadata.drop_all(schema_engine)

    checks.equal("rows", rows, ["left", "right"])
    checks.equal("rd_thing in the schema", "rd_thing" in in_schema, True)
    checks.equal("rd_thing in the default schema", "rd_thing" in in_default, False)


@behaviour("schema.translate-map", doc="core/connections.html#translation-of-schema-names")
def test_schema_translate_map_redirects_a_table_without_schema(other_schema, target_facts, capture, checks):
    """With ``execution_options(schema_translate_map={None: name})``, a ``Table`` declared without a schema is
    created in, written to and read from the schema ``name``: the statements name it, the default schema has no
    such table.

    Docs: Core > Working with Engines and Connections > Translation of Schema Names.
    """
    schema_engine, name = other_schema
    capture.measure("second schema", target_facts["second-schema"]["create"])
    table = things(None)
    translated = schema_engine.execution_options(schema_translate_map={None: name})
    capture.attach(schema_engine)
    with capture.observe():
        table.metadata.create_all(translated)
        try:
            with translated.begin() as connection:
                connection.execute(insert(table), [{"id": 1, "name": "translated"}])
                rows = connection.execute(select(table.c.name)).scalars().all()
            inspector = inspect(schema_engine)
            in_schema, in_default = inspector.get_table_names(schema=name), inspector.get_table_names()
        finally:
            table.metadata.drop_all(translated)

    dml = [
        sql.replace("`", "").replace('"', "")
        for sql in capture.sql()
        if sql.split()[0].upper() in ("CREATE", "INSERT", "SELECT") and "rd_thing" in sql
    ][:3]
    checks.equal(
        "statements naming the schema",
        [f"{name}.rd_thing" in sql for sql in dml],
        [True, True, True],
    )
    checks.equal("rows", rows, ["translated"])
    checks.equal("rd_thing in the schema", "rd_thing" in in_schema, True)
    checks.equal("rd_thing in the default schema", "rd_thing" in in_default, False)


@behaviour("reflect.schema-names", doc=INSPECTOR_DOC + "get_schema_names")
def test_get_schema_names_lists_the_second_schema(other_schema, target_facts, capture, checks):
    """``Inspector.get_schema_names()`` lists a schema created (or attached) besides the default one, and
    ``Inspector.default_schema_name`` is not that schema.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_schema_names()``, ``Inspector.default_schema_name``.
    """
    schema_engine, name = other_schema
    capture.measure("second schema", target_facts["second-schema"]["create"])
    capture.attach(schema_engine)
    with capture.observe():
        inspector = inspect(schema_engine)
        names, default = inspector.get_schema_names(), inspector.default_schema_name

    checks.equal("second schema listed", name in names, True)
    checks.equal("default schema is another one", default != name and default in names, True)
