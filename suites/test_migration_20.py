"""The 1.4 -> 2.0 migration: what SQLAlchemy 2.0 documents for each change its migration guide lists, run the
same way on every target. A 1.4 target in legacy mode (``tox -e sa14legacy-*``: ``future=False`` engines and
Sessions) and, where the construct behaves differently there too, 1.4 in 2.0-style mode meet these claims as
registered differences (fixtures/expectations.toml), so a ``1.4 legacy -> 2.0`` gate flags each change on its cell.
The mode reaches a behaviour only through the ``engine`` fixture and ``fixtures.compat.Session``."""

import pytest
from sqlalchemy import MetaData, String, literal, select, text

from fixtures.compat import Session
from fixtures.models import Address, User, stored_users, user_table
from fixtures.plugin import behaviour


@pytest.mark.usefixtures("tables")
@behaviour("migration.no-library-autocommit-for-text-dml", doc="changelog/migration_20.html#migration-20-autocommit")
def test_text_dml_is_not_committed_by_the_library(engine, capture, checks):
    """Library-level autocommit is removed: an INSERT given as ``text()`` on a ``Connection`` is not committed by
    SQLAlchemy when the statement "looks like" DML; closing the connection without ``commit()`` rolls it back.

    Docs: SQLAlchemy 2.0 Major Migration Guide > Library-level (but not driver level) "Autocommit" removed from both
    Core and ORM.
    """
    with capture.observe(), engine.connect() as connection:
        connection.execute(text("INSERT INTO user_account (name, fullname) VALUES ('spongebob', 'Spongebob')"))

    checks.equal("COMMIT events", capture.kinds().count("commit"), 0)
    checks.equal("rows after close without commit()", stored_users(engine), [])


@behaviour("migration.engine-execute-removed", doc="changelog/migration_20.html#migration-20-implicit-execution")
def test_engine_has_no_execute(engine, checks):
    """ "Connectionless" execution is removed: ``Engine.execute()`` no longer runs a statement; statements run on a
    ``Connection`` from ``Engine.connect()`` or ``Engine.begin()``.

    Docs: SQLAlchemy 2.0 Major Migration Guide > "Implicit" and "Connectionless" execution, "bound metadata" removed.
    """
    with checks.catch() as calling:
        result = engine.execute(select(literal(1)))
        result.close()
    checks.equal("Engine.execute() ran the statement", calling.error is None, False)


@behaviour(
    "migration.execute-plain-string-refused",
    doc="changelog/migration_20.html#execute-method-more-strict-execution-options-are-more-prominent",
)
def test_execute_refuses_a_plain_string(engine, checks):
    """``Connection.execute()`` no longer accepts a plain SQL string: it raises ``ObjectNotExecutableError``; textual
    SQL is passed as ``text()`` (or to ``exec_driver_sql()``).

    Docs: SQLAlchemy 2.0 Major Migration Guide > execute() method more strict, execution options are more prominent.
    """
    with engine.connect() as connection, checks.catch() as executing:
        connection.execute("SELECT 1").close()
    checks.equal("exception", executing.exception_class, "sqlalchemy.exc.ObjectNotExecutableError")


@behaviour(
    "migration.execute-keyword-parameters-refused",
    doc="changelog/migration_20.html#execute-method-more-strict-execution-options-are-more-prominent",
)
def test_execute_refuses_keyword_parameters(engine, checks):
    """``Connection.execute()`` takes bound parameters only as a dictionary (or a list of them) in its
    ``parameters`` argument: parameters given as keyword arguments raise ``TypeError``.

    Docs: SQLAlchemy 2.0 Major Migration Guide > execute() method more strict, execution options are more prominent.
    """
    with engine.connect() as connection, checks.catch() as executing:
        connection.execute(text("SELECT :value"), value=5).close()
    checks.equal("exception", executing.exception_class, "builtins.TypeError")


@behaviour("migration.connection-begin-twice-refused", doc="core/connections.html#sqlalchemy.engine.Connection.begin")
def test_begin_inside_a_transaction_is_refused(engine, checks):
    """``Connection.begin()`` while the connection's transaction is in progress raises ``InvalidRequestError``:
    there are no "subtransaction" markers; nesting is ``begin_nested()`` (a SAVEPOINT).

    Docs: Core > Working with Engines and Connections > ``Connection.begin()``.
    """
    with engine.connect() as connection:
        outer = connection.begin()
        with checks.catch() as beginning:
            connection.begin()
        outer.rollback()
    checks.equal("exception", beginning.exception_class, "sqlalchemy.exc.InvalidRequestError")


@behaviour("migration.select-list-refused", doc="changelog/migration_20.html#migration-20-5284")
def test_select_refuses_a_list_of_columns(engine, checks):
    """``select()`` takes its columns positionally: the 1.x form ``select([col1, col2])`` raises ``ArgumentError``.

    Docs: SQLAlchemy 2.0 Major Migration Guide > select() no longer accepts varied constructor arguments, columns
    are passed positionally.
    """
    with checks.catch() as constructing:
        select([user_table.c.name])
    checks.equal("exception", constructing.exception_class, "sqlalchemy.exc.ArgumentError")


@behaviour("migration.row-contains-values", doc="changelog/migration_20.html#migration-20-result-rows")
def test_row_membership_tests_values(engine, checks):
    """A result ``Row`` acts like a named tuple: ``in`` tests the row's values, not its keys (key lookups go
    through ``Row._mapping``).

    Docs: SQLAlchemy 2.0 Major Migration Guide > Result rows act like named tuples.
    """
    with engine.connect() as connection:
        row = connection.execute(select(literal("spongebob", String).label("name"))).one()
    checks.equal("'spongebob' in row", "spongebob" in row, True)
    checks.equal("'name' in row", "name" in row, False)
    checks.equal("row._mapping['name']", row._mapping["name"], "spongebob")


@behaviour("migration.row-is-not-a-mapping", doc="changelog/migration_20.html#migration-20-result-rows")
def test_row_has_no_mapping_methods(engine, checks):
    """A result ``Row`` is a tuple, not a mapping: ``row["name"]`` raises ``TypeError`` (tuple indices are
    integers) and ``row.keys()`` does not exist; both live on ``Row._mapping``.

    Docs: SQLAlchemy 2.0 Major Migration Guide > Result rows act like named tuples.
    """
    with engine.connect() as connection:
        row = connection.execute(select(literal("spongebob", String).label("name"))).one()
    with checks.catch() as indexing:
        row["name"]
    with checks.catch() as listing:
        row.keys()
    checks.equal("row['name'] raises", indexing.exception_class, "builtins.TypeError")
    checks.equal("row.keys() raises", listing.exception_class, "builtins.AttributeError")
    checks.equal("row._mapping.keys()", list(row._mapping.keys()), ["name"])


@behaviour("migration.metadata-bind-removed", doc="changelog/migration_20.html#migration-20-implicit-execution")
def test_metadata_cannot_be_bound(engine, checks):
    """ "Bound metadata" is removed: ``MetaData(bind=engine)`` raises ``TypeError``; DDL and reflection take a
    connection or engine explicitly.

    Docs: SQLAlchemy 2.0 Major Migration Guide > "Implicit" and "Connectionless" execution, "bound metadata" removed.
    """
    with checks.catch() as binding:
        MetaData(bind=engine)
    checks.equal("exception", binding.exception_class, "builtins.TypeError")


@behaviour("migration.session-autocommit-removed", doc="changelog/migration_20.html#migration-20-session-autocommit")
def test_session_has_no_autocommit_mode(engine, checks):
    """The ``Session``'s "autocommit" mode is removed: ``Session(autocommit=True)`` is refused (the Session always
    begins a transaction on first use).

    Docs: SQLAlchemy 2.0 Major Migration Guide > Autocommit mode removed from Session; autobegin support added.
    """
    with checks.catch() as creating:
        Session(engine, autocommit=True).close()
    checks.equal("Session(autocommit=True) refused", creating.error is not None, True)


@behaviour(
    "migration.session-subtransactions-removed",
    doc="changelog/migration_20.html#migration-20-session-subtransaction",
)
def test_session_has_no_subtransactions(engine, checks):
    """Session "subtransactions" are removed: ``Session.begin(subtransactions=True)`` is refused; ``begin()`` is
    called once per transaction, and nesting is ``begin_nested()`` (a SAVEPOINT).

    Docs: SQLAlchemy 2.0 Major Migration Guide > Session "subtransaction" behavior removed.
    """
    with Session(engine) as session, checks.catch() as beginning:
        session.begin(subtransactions=True)
    checks.equal("begin(subtransactions=True) refused", beginning.error is not None, True)


@pytest.mark.usefixtures("tables")
@behaviour(
    "migration.query-join-by-string-refused", doc="changelog/migration_20.html#migration-20-orm-query-join-strings"
)
def test_query_join_refuses_a_relationship_name(engine, checks):
    """Joining along a relationship takes the attribute, not its name: ``Query.join("addresses")`` raises
    ``ArgumentError``; ``join(User.addresses)`` is the form.

    Docs: SQLAlchemy 2.0 Major Migration Guide > ORM Query - Joining / loading on relationships uses attributes,
    not strings.
    """
    with Session(engine) as session, checks.catch() as joining:
        session.query(User).join("addresses").all()
    checks.equal("exception", joining.exception_class, "sqlalchemy.exc.ArgumentError")


@behaviour("migration.no-cascade-from-collection-backref", doc="orm/cascades.html#back-populates-cascade")
def test_appending_to_a_new_parents_collection_does_not_cascade_it_into_the_session(engine, checks):
    """``cascade_backrefs`` is gone: appending an ``Address`` that is pending in a Session to the collection of a
    new ``User`` sets ``Address.user`` through the backref, but does not cascade the ``User`` into that Session.

    Docs: ORM > Cascades > Behavior of save-update cascade with bi-directional relationships.
    """
    with Session(engine) as session:
        address = Address(email_address="squidward@krustykrab.com")
        session.add(address)
        squidward = User(name="squidward", fullname="Squidward Tentacles")
        squidward.addresses.append(address)
        checks.equal("Address.user set by the backref", address.user is squidward, True)
        checks.equal("new user in the Session after append", squidward in session, False)
