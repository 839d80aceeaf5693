"""Reflection: what ``Table(..., autoload_with=)`` and the ``Inspector`` read back from a schema SQLAlchemy created."""

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
    select,
)

from fixtures.plugin import behaviour

SCHEMA_TABLES = ("reflect_child", "reflect_link", "reflect_parent")


def declared_schema() -> MetaData:
    """A parent with a unique constraint and comments, a child with a named foreign key and two indexes, and a link
    table with a composite primary key."""
    metadata = MetaData()
    Table(
        "reflect_parent",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("code", String(20), nullable=False),
        Column("name", String(50), comment="display name"),
        Column("price", Numeric(10, 2)),
        Column("notes", Text),
        Column("created", DateTime),
        UniqueConstraint("code", name="uq_reflect_parent_code"),
        comment="parents of children",
    )
    Table(
        "reflect_child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column(
            "parent_id",
            Integer,
            ForeignKey("reflect_parent.id", name="fk_reflect_child_parent", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("label", String(30)),
        Index("ix_reflect_child_label", "label"),
        Index("ux_reflect_child_parent_label", "parent_id", "label", unique=True),
    )
    Table(
        "reflect_link",
        metadata,
        Column("parent_id", Integer, primary_key=True),
        Column("tag", String(20), primary_key=True),
    )
    return metadata


def column_signature(column: Column) -> tuple:
    """What a column is in generic terms: name, generic type with its length / precision, nullability, primary key."""
    generic = column.type.as_generic()
    sizes = tuple(getattr(generic, attribute, None) for attribute in ("length", "precision", "scale"))
    return (column.name, type(generic).__name__, sizes, column.nullable, column.primary_key)


def schema_signature(metadata: MetaData) -> dict[str, list[tuple]]:
    return {
        name: [column_signature(column) for column in metadata.tables[name].columns]
        + sorted(("foreign key", fk.parent.name, fk.target_fullname) for fk in metadata.tables[name].foreign_keys)
        for name in SCHEMA_TABLES
    }


@behaviour("reflect.table-autoload-with", doc="tutorial/metadata.html#table-reflection")
def test_table_autoload_with_reflects_columns_keys_and_the_referred_table(engine, make_tables, capture, checks):
    """``Table("reflect_child", metadata, autoload_with=engine)`` loads the table's columns, primary key and
    foreign key from the database, reflects the table its foreign key refers to into the same ``MetaData``,
    and the reflected tables can be used in INSERT and SELECT.

    Docs: Unified Tutorial > Working with Database Metadata > Table Reflection; Core > Reflecting Database Objects.
    """
    make_tables(declared_schema())
    metadata = MetaData()
    with capture.observe():
        child = Table("reflect_child", metadata, autoload_with=engine)
    parent = metadata.tables.get("reflect_parent")
    with engine.begin() as connection:
        connection.execute(insert(parent), {"id": 1, "code": "p1"})
        connection.execute(insert(child), {"id": 7, "parent_id": 1, "label": "first"})
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(select(child.c.id, parent.c.code).join_from(child, parent))]

    assert capture.round_trips >= 1
    checks.equal("reflected columns", child.columns.keys(), ["id", "parent_id", "label"])
    checks.equal("primary key", child.primary_key.columns.keys(), ["id"])
    checks.equal("foreign keys", sorted(fk.target_fullname for fk in child.foreign_keys), ["reflect_parent.id"])
    checks.equal("tables in the MetaData", sorted(metadata.tables), ["reflect_child", "reflect_parent"])
    checks.equal("rows joined through the reflected tables", rows, [(7, "p1")])


@behaviour(
    "reflect.inspector-table-names", doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_table_names"
)
def test_inspector_lists_created_tables_and_not_dropped_ones(engine, make_tables, capture, checks):
    """``inspect(engine).get_table_names()`` lists the tables ``create_all`` created, and a new inspector no
    longer lists them once ``drop_all`` has dropped them.

    Docs: Core > Reflecting Database Objects > Fine Grained Reflection with Inspector.
    """
    metadata = make_tables(declared_schema())
    with capture.observe():
        after_create = inspect(engine).get_table_names()
    metadata.drop_all(engine)
    with capture.observe():
        after_drop = inspect(engine).get_table_names()

    assert capture.round_trips >= 2
    checks.equal("ours after create_all", sorted(set(after_create) & set(SCHEMA_TABLES)), list(SCHEMA_TABLES))
    checks.equal("ours after drop_all", sorted(set(after_drop) & set(SCHEMA_TABLES)), [])


@behaviour("reflect.column-types", doc="core/reflection.html#reflecting-with-database-agnostic-types")
def test_inspector_columns_have_the_declared_generic_types(engine, make_tables, capture):
    """``Inspector.get_columns()`` returns the columns in declared order, each with a type of the declared generic
    class (Integer, String with its length, Numeric with precision and scale, Text, DateTime) and its nullability.

    Docs: Core > Reflecting Database Objects > Reflecting with Database-Agnostic Types; ``Inspector.get_columns()``.
    """
    make_tables(declared_schema())
    with capture.observe():
        columns = inspect(engine).get_columns("reflect_parent")

    reflected = capture.measure(
        "reflected columns", [(column["name"], repr(column["type"]), column["nullable"]) for column in columns]
    )
    types = {column["name"]: column["type"] for column in columns}
    assert [name for name, _, _ in reflected] == ["id", "code", "name", "price", "notes", "created"]
    assert [nullable for _, _, nullable in reflected] == [False, False, True, True, True, True]
    assert isinstance(types["id"], Integer)
    assert isinstance(types["code"], String) and types["code"].length == 20
    assert isinstance(types["name"], String) and types["name"].length == 50
    assert isinstance(types["price"], Numeric) and (types["price"].precision, types["price"].scale) == (10, 2)
    assert isinstance(types["notes"], Text)
    assert isinstance(types["created"], DateTime)


@behaviour("reflect.primary-key", doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_pk_constraint")
def test_inspector_reads_single_and_composite_primary_keys(engine, make_tables, capture, checks):
    """``Inspector.get_pk_constraint()`` returns the primary key columns, for a composite key in declared order.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_pk_constraint()``.
    """
    make_tables(declared_schema())
    with capture.observe():
        inspector = inspect(engine)
        single = inspector.get_pk_constraint("reflect_parent")["constrained_columns"]
        composite = inspector.get_pk_constraint("reflect_link")["constrained_columns"]

    assert capture.round_trips >= 1
    checks.equal("reflect_parent primary key", single, ["id"])
    checks.equal("reflect_link primary key", composite, ["parent_id", "tag"])


@behaviour("reflect.foreign-keys", doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_foreign_keys")
def test_inspector_reads_foreign_keys_with_name_and_ondelete(engine, make_tables, capture):
    """``Inspector.get_foreign_keys()`` returns each foreign key with its name, local columns, referred table and
    columns, and its ON DELETE rule.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_foreign_keys()``.
    """
    make_tables(declared_schema())
    with capture.observe():
        foreign_keys = inspect(engine).get_foreign_keys("reflect_child")

    found = capture.measure(
        "foreign keys",
        [
            {
                "name": fk["name"],
                "columns": fk["constrained_columns"],
                "refers to": f"{fk['referred_table']}({', '.join(fk['referred_columns'])})",
                "ondelete": fk.get("options", {}).get("ondelete"),
            }
            for fk in foreign_keys
        ],
    )
    assert found == [
        {
            "name": "fk_reflect_child_parent",
            "columns": ["parent_id"],
            "refers to": "reflect_parent(id)",
            "ondelete": "CASCADE",
        }
    ]


@behaviour("reflect.indexes", doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_indexes")
def test_inspector_reads_declared_indexes(engine, make_tables, capture):
    """``Inspector.get_indexes()`` returns each declared index by name, with its columns in order and whether it
    is unique.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_indexes()``.
    """
    make_tables(declared_schema())
    with capture.observe():
        indexes = inspect(engine).get_indexes("reflect_child")

    found = capture.measure(
        "indexes", {index["name"]: (index["column_names"], bool(index["unique"])) for index in indexes}
    )
    assert found.get("ix_reflect_child_label") == (["label"], False)
    assert found.get("ux_reflect_child_parent_label") == (["parent_id", "label"], True)


@behaviour(
    "reflect.unique-constraints",
    doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_unique_constraints",
)
def test_inspector_reads_unique_constraints(engine, make_tables, capture):
    """``Inspector.get_unique_constraints()`` returns a declared ``UniqueConstraint`` with its name and columns.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_unique_constraints()``.
    """
    make_tables(declared_schema())
    with capture.observe():
        constraints = inspect(engine).get_unique_constraints("reflect_parent")

    found = capture.measure(
        "unique constraints", [(constraint["name"], constraint["column_names"]) for constraint in constraints]
    )
    assert found == [("uq_reflect_parent_code", ["code"])]


@behaviour("reflect.comments", doc="core/reflection.html#sqlalchemy.engine.reflection.Inspector.get_table_comment")
def test_inspector_reads_table_and_column_comments(engine, make_tables, capture, checks):
    """``Table(comment=...)`` and ``Column(comment=...)`` are stored by ``create_all`` and read back by
    ``Inspector.get_table_comment()`` and ``Inspector.get_columns()``.

    Docs: Core > Reflecting Database Objects > ``Inspector.get_table_comment()``; ``Table.comment``,
    ``Column.comment``.
    """
    make_tables(declared_schema())
    with capture.observe():
        inspector = inspect(engine)
        table_comment = inspector.get_table_comment("reflect_parent")["text"]
        column_comments = {column["name"]: column.get("comment") for column in inspector.get_columns("reflect_parent")}

    checks.equal("table comment", table_comment, "parents of children")
    checks.equal(
        "column comments",
        column_comments,
        {
            "id": None,
            "code": None,
            "name": "display name",
            "price": None,
            "notes": None,
            "created": None,
        },
    )


@behaviour("reflect.round-trip", doc="core/reflection.html#reflecting-all-tables-at-once")
def test_declared_created_reflected_created_again_keeps_the_columns(engine, make_tables, capture, checks):
    """A schema declared in Python, created, reflected with ``MetaData.reflect()``, dropped and created again from
    the reflected ``MetaData`` reflects back with the same columns (generic type, length, precision, nullability,
    primary key) and foreign keys as declared.

    Docs: Core > Reflecting Database Objects > Reflecting All Tables at Once; Reflecting with Database-Agnostic
    Types.
    """
    declared = make_tables(declared_schema())
    first = MetaData()
    with capture.observe():
        first.reflect(engine, only=list(SCHEMA_TABLES))
    declared.drop_all(engine)
    with capture.observe():
        first.create_all(engine, checkfirst=False)
    second = MetaData()
    second.reflect(engine, only=list(SCHEMA_TABLES))

    assert capture.count_of("CREATE TABLE") == len(SCHEMA_TABLES)
    expected = capture.measure("declared", schema_signature(declared))
    checks.equal("first reflection", schema_signature(first), expected)
    checks.equal("reflection of the re-created tables", schema_signature(second), expected)
