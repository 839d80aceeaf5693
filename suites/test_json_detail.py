"""JSON in detail: index and path access with each data caster, comparison in WHERE, SQL NULL vs JSON null,
unicode and escaping, the dialect's own JSON type, and documents through every insert path
(suites/test_types.py has the basic round trip and ``as_string()`` / ``as_integer()`` in WHERE)."""

from decimal import Decimal

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, cast, insert, null, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import registry

from fixtures.compat import Session
from fixtures.insert_paths import check_every_path, round_trip_every_path, shared_tables, typed, value_table
from fixtures.plugin import behaviour

DOCUMENTS = {
    1: {
        "name": "sandy",
        "ratio": 0.25,
        "active": True,
        "price": "ignored",
        "cost": 12.5,
        "tags": ["squirrel", "karate", "science"],
        "address": {"city": "Bikini Bottom", "rooms": [{"name": "dome", "size": 30}, {"name": "lab", "size": 12}]},
    },
    2: {
        "name": "patrick",
        "ratio": 2.5,
        "active": False,
        "cost": 0.75,
        "tags": ["starfish"],
        "address": {"city": "Bikini Bottom", "rooms": [{"name": "rock", "size": 1}]},
    },
    3: {
        "name": "gary",
        "ratio": -1.125,
        "active": True,
        "cost": 99.99,
        "tags": [],
        "address": {"city": "Pineapple", "rooms": []},
    },
}

# Values that need quoting or escaping in SQL or in JSON text, under keys a JSON path takes as they are.
ASCII_KEYED = {
    "two words": 'it\'s "quoted"',
    "line": "one\ntwo\tthree",
    "dotted.key": "dot",
    "percent %s": "100% %(name)s",
    "unicode": "squirrel 🐿 and 𝔘, café, 日本語",
    "path": "C:\\path\\n",
}
# Keys that json.dumps (SQLAlchemy's default serializer, ensure_ascii=True) writes with \\u escapes.
NON_ASCII_KEYED = {"clé": "valeur", "日本": "語", "emoji 🐿": "squirrel"}
# Keys that need escaping inside a quoted JSON path label.
PATH_ESCAPE_KEYED = {'say "hi"': "hello", "back\\slash": "slash"}
AWKWARD_DOCUMENT = {**ASCII_KEYED, **NON_ASCII_KEYED, **PATH_ESCAPE_KEYED}

metadata = MetaData()
documents_table = Table(
    "jd_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("doc", JSON),
)
awkward_table = Table(
    "jd_awkward",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("doc", JSON),
)
nulls_table = Table(
    "jd_nulls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("doc", JSON),
    Column("doc_none_as_null", JSON(none_as_null=True)),
)
paths_table = value_table(metadata, "jd_paths", JSON)

json_tables = shared_tables(metadata)


class NullsRow:
    pass


registry().map_imperatively(NullsRow, nulls_table)


@pytest.fixture(scope="module")
def documents(json_tables, engine, target, request):
    """The three documents and the awkward one, inserted once per target (read only by the behaviours)."""
    from fixtures.plugin import STATE

    def fill():
        with engine.begin() as connection:
            connection.execute(insert(documents_table), [{"id": key, "doc": doc} for key, doc in DOCUMENTS.items()])
            connection.execute(insert(awkward_table), {"id": 1, "doc": AWKWARD_DOCUMENT})

    request.config.stash[STATE].bridge.call(target.driver.is_async, fill)
    return documents_table


def select_by_id(engine, capture, *columns):
    """One row per document, in id order, of the given expressions."""
    with capture.observe(), engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns).order_by(documents_table.c.id))]


def ids_where(engine, capture, criterion):
    with capture.observe(), engine.connect() as connection:
        return connection.scalars(select(documents_table.c.id).where(criterion).order_by(documents_table.c.id)).all()


@behaviour("json.index-as-float", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_index_as_float_selects_and_compares_floats(engine, capture, checks, documents):
    """``column["key"].as_float()`` returns the JSON number as a Python ``float`` and compares as a number in
    WHERE (``> 0.5`` selects 2.5 only, not -1.125 or 0.25).

    Docs: Core > The Type Hierarchy > ``JSON.Comparator.as_float()``.
    """
    ratio = documents_table.c.doc["ratio"].as_float()

    selected = select_by_id(engine, capture, ratio)
    above = ids_where(engine, capture, ratio > 0.5)

    checks.equal(
        "ratios",
        [[type(value).__name__, value] for (value,) in selected],
        [["float", 0.25], ["float", 2.5], ["float", -1.125]],
    )
    checks.equal("ids where ratio > 0.5", above, [2])


@behaviour("json.index-as-boolean", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_index_as_boolean_selects_and_compares_booleans(engine, capture, checks, documents):
    """``column["key"].as_boolean()`` returns JSON ``true`` / ``false`` as Python ``True`` / ``False``, and
    ``as_boolean() == True`` in WHERE selects the rows whose element is ``true``.

    Docs: Core > The Type Hierarchy > ``JSON.Comparator.as_boolean()`` ("boolean comparison").
    """
    active = documents_table.c.doc["active"].as_boolean()

    selected = select_by_id(engine, capture, active)
    matching = ids_where(engine, capture, active == True)  # noqa: E712 (the documented spelling)

    checks.equal("active values", [value for (value,) in selected], [True, False, True])
    checks.equal("types", [type(value).__name__ for (value,) in selected], ["bool", "bool", "bool"])
    checks.equal("ids where active == True", matching, [1, 3])


@behaviour("json.index-as-numeric", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_index_as_numeric_returns_decimals(engine, capture, checks, documents):
    """``column["key"].as_numeric(10, 2)`` returns the JSON number as a ``Decimal`` with scale 2, and compares as
    a number in WHERE.

    Docs: Core > The Type Hierarchy > ``JSON.Comparator.as_numeric()`` (new in 1.4.0b2).
    """
    cost = documents_table.c.doc["cost"].as_numeric(10, 2)

    selected = select_by_id(engine, capture, cost)
    cheap = ids_where(engine, capture, cost < Decimal("13"))

    checks.equal(
        "costs",
        [[type(value).__name__, value] for (value,) in selected],
        [["Decimal", Decimal("12.50")], ["Decimal", Decimal("0.75")], ["Decimal", Decimal("99.99")]],
    )
    checks.equal("ids where cost < 13", cheap, [1, 2])


@behaviour("json.integer-index", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_integer_index_selects_array_elements_from_zero(engine, capture, checks, documents):
    """An integer index ``column["tags"][1]``-style (here ``column[("tags", 1)]`` and, on the array element,
    ``tags_column[0]``) addresses JSON array elements from zero; an index past the end gives ``None``.

    Docs: Core > The Type Hierarchy > ``JSON`` ("Integer index operations": ``data_table.c.data[3]``).
    """
    second_tag = documents_table.c.doc[("tags", 1)].as_string()
    first_tag = documents_table.c.doc["tags"][0].as_string()

    selected = select_by_id(engine, capture, first_tag, second_tag)

    checks.equal("tags[0], tags[1]", selected, [("squirrel", "karate"), ("starfish", None), (None, None)])


@behaviour("json.path-tuple", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_path_tuple_reaches_nested_elements(engine, capture, checks, documents):
    """A path index ``column[("address", "rooms", 1, "name")]`` reaches a nested element through objects and
    arrays; ``as_integer()`` and ``as_string()`` apply to it, and a path that does not exist gives ``None``.

    Docs: Core > The Type Hierarchy > ``JSON`` ("Path index operations": ``data_table.c.data[("key_1", "key_2",
    5, ..., "key_n")]``).
    """
    doc = documents_table.c.doc
    second_room = doc[("address", "rooms", 1, "name")].as_string()
    first_size = doc[("address", "rooms", 0, "size")].as_integer()

    selected = select_by_id(engine, capture, second_room, first_size)
    big_first_room = ids_where(engine, capture, first_size >= 30)

    checks.equal("rooms[1].name, rooms[0].size", selected, [("lab", 30), (None, 1), (None, None)])
    checks.equal("ids where rooms[0].size >= 30", big_first_room, [1])


@behaviour("json.index-returns-json", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_index_without_caster_returns_deserialized_json(engine, capture, checks, documents):
    """An index operation without a caster (or with ``as_json()``) has type ``JSON``: selecting it returns the
    element deserialized, a string as ``str``, a number as ``float``, an array as a ``list`` and an object as a
    ``dict``.

    Docs: Core > The Type Hierarchy > ``JSON`` ("Index operations ... return an expression object whose type
    defaults to JSON"); ``JSON.Comparator.as_json()``.
    """
    doc = documents_table.c.doc

    selected = select_by_id(
        engine, capture, doc["name"], doc["ratio"], doc["tags"], doc["address"].as_json(), doc[("address", "rooms", 0)]
    )

    expected = [
        [DOCUMENTS[key][name] for name in ("name", "ratio", "tags", "address")]
        + [(DOCUMENTS[key]["address"]["rooms"] or [None])[0]]
        for key in (1, 2, 3)
    ]
    checks.equal(
        "name, ratio, tags, address, rooms[0]",
        [[typed(value) for value in row] for row in selected],
        [[typed(value) for value in row] for row in expected],
    )


@behaviour("json.unicode-and-escaping", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_unicode_and_escaped_values_round_trip_and_index(engine, capture, checks, documents):
    """A document whose values hold non-ASCII and 4-byte characters, quotes, backslashes, control characters and
    percent signs, under keys with a space, a dot and a percent sign, comes back equal, and
    ``column[key].as_string()`` returns each value by its key.

    Docs: Core > The Type Hierarchy > ``JSON`` (keyed index operations ``data_table.c.data["some key"]``; the
    serializer is ``json.dumps``).
    """
    doc = awkward_table.c.doc
    keys = list(ASCII_KEYED)

    with capture.observe(), engine.connect() as connection:
        stored = connection.scalar(select(doc).where(awkward_table.c.id == 1))
        by_key = connection.execute(select(*[doc[key].as_string() for key in keys])).one()

    checks.equal("document", stored, AWKWARD_DOCUMENT)
    checks.equal("values by key", dict(zip(keys, by_key, strict=True)), ASCII_KEYED)


@behaviour("json.non-ascii-key-index", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_non_ascii_keys_are_indexable(engine, capture, checks, documents):
    """Keys with accented, CJK and 4-byte characters are ordinary JSON object keys: ``column["clé"].as_string()``
    returns the value stored under that key.

    Docs: Core > The Type Hierarchy > ``JSON`` (keyed index operations ``data_table.c.data["some key"]``).
    """
    doc = awkward_table.c.doc
    keys = list(NON_ASCII_KEYED)

    with capture.observe(), engine.connect() as connection:
        by_key = connection.execute(select(*[doc[key].as_string() for key in keys])).one()

    checks.equal("values by key", dict(zip(keys, by_key, strict=True)), NON_ASCII_KEYED)


@behaviour("json.key-needing-path-escape", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_keys_with_a_double_quote_or_backslash_are_indexable(engine, capture, checks, documents):
    """Keys that contain a double quote (``say "hi"``) or a backslash are ordinary JSON object keys:
    ``column['say "hi"'].as_string()`` returns the value stored under that key.

    Docs: Core > The Type Hierarchy > ``JSON`` (keyed index operations ``data_table.c.data["some key"]``).
    """
    doc = awkward_table.c.doc
    keys = list(PATH_ESCAPE_KEYED)

    with capture.observe(), engine.connect() as connection, checks.catch() as caught:
        by_key = connection.execute(select(*[doc[key].as_string() for key in keys])).one()

    checks.equal("error", caught.error and type(caught.error).__name__, None)
    checks.equal("values by key", None if caught.error else dict(zip(keys, by_key, strict=True)), PATH_ESCAPE_KEYED)


def sql_null_flags(engine, column) -> list:
    """For each row of jd_nulls in id order: whether the column holds SQL NULL (``IS NULL``)."""
    with engine.connect() as connection:
        return connection.scalars(select(column.is_(None)).order_by(nulls_table.c.id)).all()


def stored_text(engine, column) -> list:
    with engine.connect() as connection:
        return connection.scalars(select(cast(column, String(20))).order_by(nulls_table.c.id)).all()


NULL_VALUES = {"None": None, "JSON.NULL": JSON.NULL, "null()": null()}


def insert_null_forms(engine, capture, column_name):
    with engine.begin() as connection:
        connection.execute(nulls_table.delete())
    with capture.observe(), engine.begin() as connection:
        for number, value in enumerate(NULL_VALUES.values(), 1):
            connection.execute(insert(nulls_table), {"id": number, column_name: value})


@behaviour("json.none-as-json-null", doc="core/type_basics.html#sqlalchemy.types.JSON.params.none_as_null")
def test_none_persists_as_json_null_by_default(engine, capture, checks, json_tables):
    """With ``JSON()`` (``none_as_null=False``, the default), inserting ``None`` or ``JSON.NULL`` stores the JSON
    value ``null`` (not SQL NULL), and inserting ``null()`` stores SQL NULL; all three read back as ``None``.

    Docs: Core > The Type Hierarchy > ``JSON`` ("Support for JSON null vs. SQL NULL"; ``none_as_null``).
    """
    insert_null_forms(engine, capture, "doc")

    flags = sql_null_flags(engine, nulls_table.c.doc)
    text = stored_text(engine, nulls_table.c.doc)
    with engine.connect() as connection:
        values = connection.scalars(select(nulls_table.c.doc).order_by(nulls_table.c.id)).all()

    checks.equal("SQL NULL for None, JSON.NULL, null()", flags, [False, False, True])
    checks.equal("stored as text", text, ["null", "null", None])
    checks.equal("read back", values, [None, None, None])


@behaviour("json.none-as-null-true", doc="core/type_basics.html#sqlalchemy.types.JSON.params.none_as_null")
def test_none_as_null_true_persists_none_as_sql_null(engine, capture, checks, json_tables):
    """With ``JSON(none_as_null=True)``, inserting ``None`` stores SQL NULL, while ``JSON.NULL`` still stores the
    JSON value ``null`` ("regardless of this setting") and ``null()`` SQL NULL.

    Docs: Core > The Type Hierarchy > ``JSON.params.none_as_null``; ``JSON.NULL``.
    """
    insert_null_forms(engine, capture, "doc_none_as_null")

    flags = sql_null_flags(engine, nulls_table.c.doc_none_as_null)
    text = stored_text(engine, nulls_table.c.doc_none_as_null)

    checks.equal("SQL NULL for None, JSON.NULL, null()", flags, [True, False, True])
    checks.equal("stored as text", text, [None, "null", None])


@behaviour("json.orm-null-forms", doc="core/type_basics.html#sqlalchemy.types.JSON.NULL")
def test_orm_objects_persist_null_and_json_null_as_documented(engine, capture, checks, json_tables):
    """On ORM objects, ``json_value=null()`` always persists SQL NULL and ``json_value=JSON.NULL`` always the JSON
    value ``null``; ``None`` persists JSON ``null`` with ``none_as_null=False`` and SQL NULL with
    ``none_as_null=True``.

    Docs: Core > The Type Hierarchy > ``JSON.NULL`` (the ``MyObject(json_value=null())`` example).
    """
    with engine.begin() as connection:
        connection.execute(nulls_table.delete())
    forms = list(NULL_VALUES.values())

    with capture.observe(), Session(engine) as session:
        for number, value in enumerate(forms, 1):
            row = NullsRow()
            row.id, row.doc, row.doc_none_as_null = number, value, value
            session.add(row)
        session.commit()

    checks.equal(
        "doc: SQL NULL for None, JSON.NULL, null()", sql_null_flags(engine, nulls_table.c.doc), [False, False, True]
    )
    checks.equal(
        "doc_none_as_null: SQL NULL for None, JSON.NULL, null()",
        sql_null_flags(engine, nulls_table.c.doc_none_as_null),
        [True, False, True],
    )


@behaviour("json.where-is-null-vs-json-null", doc="core/type_basics.html#sqlalchemy.types.JSON.params.none_as_null")
def test_comparison_with_none_means_sql_null(engine, capture, checks, json_tables):
    """In a WHERE clause, ``column.is_(None)`` (and ``== None``) always means SQL NULL, also on a JSON column
    with ``none_as_null=False``: it matches the row inserted with ``null()``, not the rows holding JSON ``null``.

    Docs: Core > The Type Hierarchy > ``JSON.params.none_as_null`` ("when used in SQL comparison expressions, the
    Python value None continues to refer to SQL null, and not JSON NULL").
    """
    insert_null_forms(engine, capture, "doc")

    with capture.observe(), engine.connect() as connection:
        is_none = connection.scalars(select(nulls_table.c.id).where(nulls_table.c.doc.is_(None))).all()
        equals_none = connection.scalars(select(nulls_table.c.id).where(nulls_table.c.doc == None)).all()  # noqa: E711

    checks.equal("ids where doc IS NULL", is_none, [3])
    checks.equal("ids where doc == None", equals_none, [3])


NESTED_DOCUMENTS = [
    {"level": {"level": {"level": {"level": {"level": {"deep": [1, [2, [3, [4, {"five": 5}]]]]}}}}}},
    [None, True, False, 0, -1, 1.5, "", "text 🐿", {"": "empty key"}, []],
    {"big": 2**53, "small": -(2**53), "exp": 1e300, "tiny": 5e-324},
]


@behaviour("json.every-insert-path", doc="core/type_basics.html#sqlalchemy.types.JSON", requires="2.0")
def test_json_documents_survive_every_insert_path(engine, capture, checks, json_tables, target_facts):
    """Deeply nested documents, a top-level array of every JSON scalar (``null``, booleans, zero, an empty
    string, an empty key, an empty array) and numbers at the edge of a double (2**53, 1e300, 5e-324) come back
    equal, with the same Python types, through every insert path.

    Docs: Core > The Type Hierarchy > ``JSON``; Working with Engines and Connections > "Insert Many Values"
    Behavior for INSERT statements.
    """
    returned = round_trip_every_path(engine, capture, paths_table, NESTED_DOCUMENTS, target_facts["insert-paths"])

    check_every_path(checks, returned, NESTED_DOCUMENTS, repr)


DIALECT_JSON_TYPES = {
    "postgresql.JSONB": postgresql.JSONB,
    "mysql.JSON": mysql.JSON,
    "sqlite.JSON": sqlite.JSON,
}


@behaviour("json.dialect-type-index-and-path", doc="core/type_basics.html#sqlalchemy.types.JSON")
def test_dialect_json_type_supports_the_generic_operators(engine, capture, checks, make_tables, target_facts):
    """The dialect's own JSON type (``postgresql.JSONB`` on PostgreSQL) round-trips a document and supports the
    generic JSON index, path and casting operators: ``["key"].as_string()``, ``[("a", 0)].as_integer()``,
    ``["flag"].as_boolean()`` in WHERE.

    Docs: Core > The Type Hierarchy > ``JSON`` ("Additional operations may be available from the dialect-specific
    versions of JSON, such as postgresql.JSON and postgresql.JSONB"); PostgreSQL > ``JSONB``.
    """
    json_type = DIALECT_JSON_TYPES[target_facts["dialect-json-type"]]
    table = Table("jd_dialect_json", MetaData(), Column("id", Integer, primary_key=True), Column("doc", json_type))
    make_tables(table.metadata)
    sent = [{"name": "sandy", "a": [7, 8], "flag": True}, {"name": "🐿", "a": [9], "flag": False}]
    doc = table.c.doc

    with capture.observe():
        with engine.begin() as connection:
            connection.execute(insert(table), [{"id": n, "doc": value} for n, value in enumerate(sent, 1)])
        with engine.connect() as connection:
            stored = connection.scalars(select(doc).order_by(table.c.id)).all()
            parts = connection.execute(
                select(doc["name"].as_string(), doc[("a", 0)].as_integer()).order_by(table.c.id)
            ).all()
            flagged = connection.scalars(select(table.c.id).where(doc["flag"].as_boolean() == True)).all()  # noqa: E712

    checks.equal("documents", stored, sent)
    checks.equal("name, a[0]", [tuple(row) for row in parts], [("sandy", 7), ("🐿", 9)])
    checks.equal("ids where flag", flagged, [1])
