"""Values through every insert path: a value of each generic type comes back unchanged, as the documented Python
type, whether it was inserted by a single execute, Core executemany, insertmanyvalues with RETURNING, an ORM flush
or an ORM bulk INSERT (fixtures/insert_paths.py; suites/test_types.py checks one path per type)."""

import enum
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Unicode,
    UnicodeText,
    func,
    insert,
    select,
)

from fixtures.compat import Session
from fixtures.insert_paths import (
    check_every_path,
    insert_through,
    round_trip_every_path,
    shared_tables,
    typed,
    value_table,
)
from fixtures.plugin import behaviour


class Mood(enum.Enum):
    HAPPY = "h"
    GRUMPY = "g"
    SLEEPY = "s"


metadata = MetaData()
numeric_table = value_table(metadata, "rt_numeric", Numeric(12, 4))
numeric_float_table = value_table(metadata, "rt_numeric_float", Numeric(12, 4, asdecimal=False))
biginteger_table = value_table(metadata, "rt_biginteger", BigInteger)
native_enum_table = value_table(metadata, "rt_native_enum", Enum(Mood, name="rt_mood"))
plain_enum_table = value_table(metadata, "rt_plain_enum", Enum(Mood, native_enum=False, length=10))
validated_enum_table = value_table(
    metadata, "rt_validated_enum", Enum("on", "off", native_enum=False, validate_strings=True)
)
binary_table = value_table(metadata, "rt_binary", LargeBinary)
unicode_table = value_table(metadata, "rt_unicode", Unicode(40))
unicode_text_table = value_table(metadata, "rt_unicode_text", UnicodeText)
escapes_table = value_table(metadata, "rt_escapes", String(60))
boolean_table = value_table(metadata, "rt_boolean", Boolean)

round_trip_tables = shared_tables(metadata)

NUMERIC_VALUES = [Decimal("12345678.1234"), Decimal("-0.0001"), Decimal("0.1000"), Decimal("-99999999.9999")]


@behaviour("roundtrip.numeric-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.Numeric", requires="2.0")
def test_numeric_decimals_survive_every_insert_path(engine, capture, checks, round_trip_tables, target_facts):
    """A ``Numeric(12, 4)`` column returns ``Decimal`` values with 12 significant digits (within what every backend
    stores exactly) unchanged, as ``decimal.Decimal``, through every insert path.

    Docs: Core > The Type Hierarchy > ``Numeric`` (``asdecimal=True`` by default); Working with Engines and
    Connections > "Insert Many Values" Behavior for INSERT statements.
    """
    returned = round_trip_every_path(engine, capture, numeric_table, NUMERIC_VALUES, target_facts["insert-paths"])

    check_every_path(checks, returned, NUMERIC_VALUES, typed)


@behaviour(
    "roundtrip.numeric-asdecimal-false-every-insert-path",
    doc="core/type_basics.html#sqlalchemy.types.Numeric.params.asdecimal",
    requires="2.0",
)
def test_numeric_asdecimal_false_returns_floats_through_every_insert_path(
    engine, capture, checks, round_trip_tables, target_facts
):
    """A ``Numeric(12, 4, asdecimal=False)`` column accepts ``Decimal`` values and returns them as Python
    ``float`` (the nearest double) through every insert path.

    Docs: Core > The Type Hierarchy > ``Numeric`` (``asdecimal``: "return whether or not values should be sent as
    Python Decimal objects, or as floats").
    """
    returned = round_trip_every_path(engine, capture, numeric_float_table, NUMERIC_VALUES, target_facts["insert-paths"])

    check_every_path(checks, returned, [float(value) for value in NUMERIC_VALUES], typed)


@behaviour(
    "roundtrip.biginteger-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.BigInteger", requires="2.0"
)
def test_biginteger_limits_survive_every_insert_path(engine, capture, checks, round_trip_tables, target_facts):
    """A ``BigInteger`` column returns the 64-bit limits and values just past the 32-bit range exactly, as ``int``,
    through every insert path.

    Docs: Core > The Type Hierarchy > ``BigInteger``.
    """
    values = [2**63 - 1, -(2**63), 2**31, -(2**31) - 1]

    returned = round_trip_every_path(engine, capture, biginteger_table, values, target_facts["insert-paths"])

    check_every_path(checks, returned, values, typed)


@behaviour("roundtrip.enum-native-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.Enum", requires="2.0")
def test_native_enum_members_survive_every_insert_path(engine, capture, checks, round_trip_tables, target_facts):
    """An ``Enum(PythonEnumClass)`` column (a native ENUM type where the backend has one) accepts enum members and
    returns the same members through every insert path.

    Docs: Core > The Type Hierarchy > ``Enum`` ("Using Enum with a PEP-435 enum class").
    """
    values = [Mood.GRUMPY, Mood.HAPPY, Mood.SLEEPY, Mood.GRUMPY]

    returned = round_trip_every_path(engine, capture, native_enum_table, values, target_facts["insert-paths"])

    check_every_path(checks, returned, values, typed)


@behaviour(
    "roundtrip.enum-non-native-every-insert-path",
    doc="core/type_basics.html#sqlalchemy.types.Enum.params.native_enum",
    requires="2.0",
)
def test_non_native_enum_stores_names_through_every_insert_path(
    engine, capture, checks, round_trip_tables, target_facts
):
    """An ``Enum(PythonEnumClass, native_enum=False)`` column (a VARCHAR) accepts enum members and also their
    *names* as strings, and returns the members through every insert path.

    Docs: Core > The Type Hierarchy > ``Enum`` (``native_enum=False``: "a VARCHAR datatype will be used";
    string names of the members are accepted).
    """
    sent = [Mood.HAPPY, "SLEEPY", Mood.GRUMPY, "HAPPY"]

    returned = round_trip_every_path(engine, capture, plain_enum_table, sent, target_facts["insert-paths"])

    check_every_path(checks, returned, [Mood.HAPPY, Mood.SLEEPY, Mood.GRUMPY, Mood.HAPPY], typed)


@behaviour(
    "roundtrip.enum-validate-strings",
    doc="core/type_basics.html#sqlalchemy.types.Enum.params.validate_strings",
    requires="2.0",
)
def test_enum_validate_strings_refuses_an_unknown_string_on_every_insert_path(
    engine, capture, checks, round_trip_tables, target_facts
):
    """With ``Enum(..., validate_strings=True)``, a string that is not one of the enumerated values raises
    ``StatementError`` (from a ``LookupError``) before the INSERT reaches the database, on every insert path.

    Docs: Core > The Type Hierarchy > ``Enum`` (``validate_strings``: "string values that are passed will be
    validated against the list of enumerated values ... a LookupError is raised").
    """
    for number, path in enumerate(target_facts["insert-paths"], 1):
        rows = [
            {"id": number * 100, "path": path, "value": "dim"},
            {"id": number * 100 + 1, "path": path, "value": "on"},
        ]
        with capture.observe(), checks.catch() as caught:
            insert_through(engine, validated_enum_table, path, rows)
        error = caught.error
        checks.equal(
            f"error via {path}",
            [type(error).__name__, type(getattr(error, "orig", None)).__name__],
            ["StatementError", "LookupError"],
        )
    checks.equal("INSERT statements sent", capture.count_of("INSERT"), 0)
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(validated_enum_table))
    checks.equal("rows stored", stored, 0)


@behaviour(
    "roundtrip.large-binary-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.LargeBinary", requires="2.0"
)
def test_large_binary_with_nul_bytes_survives_every_insert_path(
    engine, capture, checks, round_trip_tables, target_facts
):
    """A ``LargeBinary`` column returns byte strings with NUL bytes (leading, trailing, alone), all 256 byte values
    and an empty value unchanged, as ``bytes``, through every insert path.

    Docs: Core > The Type Hierarchy > ``LargeBinary``.
    """
    values = [b"\x00leading", b"trailing\x00", b"\x00", bytes(range(256)), b""]

    returned = round_trip_every_path(engine, capture, binary_table, values, target_facts["insert-paths"])

    check_every_path(checks, returned, values, typed)


UNICODE_VALUES = ["naïve café", "日本語テキスト", "snake 🐍 party 🎉", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓", "Ω≈ç√∫"]


@behaviour("roundtrip.unicode-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.Unicode", requires="2.0")
def test_unicode_4_byte_characters_survive_every_insert_path(engine, capture, checks, round_trip_tables, target_facts):
    """A ``Unicode(40)`` column returns strings with accents, CJK and 4-byte UTF-8 characters (emoji, U+1D518)
    unchanged, as ``str``, through every insert path.

    Docs: Core > The Type Hierarchy > ``Unicode``; MySQL and MariaDB > Unicode (``utf8mb4``).
    """
    returned = round_trip_every_path(engine, capture, unicode_table, UNICODE_VALUES, target_facts["insert-paths"])

    check_every_path(checks, returned, UNICODE_VALUES, typed)


@behaviour(
    "roundtrip.unicode-text-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.UnicodeText", requires="2.0"
)
def test_unicode_text_survives_every_insert_path(engine, capture, checks, round_trip_tables, target_facts):
    """A ``UnicodeText`` column returns long text (a 4-byte character repeated 5000 times, i.e. 20000 UTF-8 bytes)
    and multi-line text unchanged, as ``str``, through every insert path.

    Docs: Core > The Type Hierarchy > ``UnicodeText`` ("An unbounded-length Unicode string type").
    """
    values = ["🐿" * 5000, "line one\nline two\r\n\ttabbed ✓", ""]

    returned = round_trip_every_path(engine, capture, unicode_text_table, values, target_facts["insert-paths"])

    check_every_path(checks, returned, values, typed)


@behaviour(
    "roundtrip.string-escapes-every-insert-path",
    doc="tutorial/dbapi_transactions.html#sending-parameters",
    requires="2.0",
)
def test_strings_with_quotes_and_placeholders_survive_every_insert_path(
    engine, capture, checks, round_trip_tables, target_facts
):
    """Bound string values that contain quotes, backslashes, percent signs and text shaped like a driver's
    placeholder (``%s``, ``%(name)s``, ``?``, ``:name``, ``$1``) are sent as data, never as SQL or as parameters,
    and come back unchanged through every insert path.

    Docs: Working with Engines and Connections > bound parameters ("Sending Parameters": values are passed
    separately from the SQL string).
    """
    values = ['it\'s "quoted"', "back\\slash \\n \\'", "100% %s %(name)s %%", "? :name $1 @p1", "'); DROP TABLE x; --"]

    returned = round_trip_every_path(engine, capture, escapes_table, values, target_facts["insert-paths"])

    check_every_path(checks, returned, values, typed)


@behaviour("roundtrip.boolean-every-insert-path", doc="core/type_basics.html#sqlalchemy.types.Boolean", requires="2.0")
def test_boolean_and_none_survive_every_insert_path(engine, capture, checks, round_trip_tables, target_facts):
    """A ``Boolean`` column returns ``True``, ``False`` and ``None`` as ``bool`` / ``None`` (never ``1`` / ``0``)
    through every insert path.

    Docs: Core > The Type Hierarchy > ``Boolean``.
    """
    values = [True, False, None, True]

    returned = round_trip_every_path(engine, capture, boolean_table, values, target_facts["insert-paths"])

    check_every_path(checks, returned, values, typed)


@behaviour(
    "roundtrip.orm-bulk-insert-returning-values",
    doc="orm/queryguide/dml.html#getting-new-objects-with-returning",
    requires="2.0",
)
def test_orm_bulk_insert_returning_gives_objects_with_the_sent_values(engine, capture, checks, round_trip_tables):
    """ORM bulk ``insert(Mapped).returning(Mapped)`` with a list of Decimal values gives back ORM objects, in
    parameter order with ``sort_by_parameter_order=True``, whose values are the sent ``Decimal`` values.

    Docs: ORM Querying Guide > ORM-Enabled INSERT > Getting new objects with RETURNING.
    """
    row_class = numeric_table.info["row_class"]
    rows = [{"id": 900 + n, "path": "bulk returning", "value": value} for n, value in enumerate(NUMERIC_VALUES)]
    with engine.begin() as connection:
        connection.execute(numeric_table.delete())

    with capture.observe(), Session(engine) as session:
        objects = session.scalars(insert(row_class).returning(row_class, sort_by_parameter_order=True), rows).all()
        got = [[obj.id, typed(obj.value)] for obj in objects]
        session.commit()

    checks.equal("objects returned", got, [[row["id"], typed(row["value"])] for row in rows])
