"""Cascades: what the ORM, or the database for ``passive_deletes``, does to related rows on add and delete."""

import re

import pytest
from sqlalchemy import func, select

from fixtures.compat import Session
from fixtures.models import Address, Author, Book, User, address_table, user_table
from fixtures.plugin import behaviour

pytestmark = pytest.mark.usefixtures("tables")

TABLE_NAMED = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+[`\"]?(\w+)", re.IGNORECASE)


def steps(capture) -> list[tuple[str, str]]:
    """(verb, first table named) of each observed statement, consecutive repeats collapsed, so one statement
    per row and one executemany of all rows read the same."""
    seen: list[tuple[str, str]] = []
    for sql in capture.sql():
        table = TABLE_NAMED.search(sql)
        step = (sql.split(None, 1)[0].upper(), table.group(1).lower() if table else "?")
        if not seen or seen[-1] != step:
            seen.append(step)
    return seen


def row_count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def add_user_with_addresses(engine) -> int:
    """Commit a user with two addresses outside the observed window; return the user's primary key."""
    with Session(engine) as session:
        sandy = User(name="sandy", fullname="Sandy Cheeks")
        sandy.addresses = [
            Address(email_address="sandy@sqlalchemy.org"),
            Address(email_address="sandy@squirrelpower.org"),
        ]
        session.add(sandy)
        session.commit()
        return sandy.id


def add_author_with_books(engine) -> int:
    """Commit an author with two books outside the observed window; return the author's primary key."""
    with Session(engine) as session:
        author = Author(name="Ursula", books=[Book(title="The Dispossessed"), Book(title="The Lathe of Heaven")])
        session.add(author)
        session.commit()
        return author.id


@behaviour("cascade.delete-cascades-to-children", doc="orm/cascades.html#delete")
def test_delete_cascades_to_loaded_children_first(engine, capture, checks):
    """With ``cascade="all, delete-orphan"``, ``Session.delete(parent)`` loads the collection (SELECT) and
    DELETEs the child rows before the parent row.

    Docs: ORM > Cascades > delete; Unified Tutorial > Data Manipulation with the ORM > Deleting ORM Objects.
    """
    sandy_id = add_user_with_addresses(engine)
    with Session(engine) as session:
        sandy = session.get(User, sandy_id)
        with capture.observe():
            session.delete(sandy)
            session.flush()
        session.commit()

    checks.equal(
        "statements (verb, table)",
        steps(capture),
        [
            ("SELECT", "address"),
            ("DELETE", "address"),
            ("DELETE", "user_account"),
        ],
    )
    checks.equal("address rows left", row_count(engine, address_table), 0)
    checks.equal("user rows left", row_count(engine, user_table), 0)


@behaviour("cascade.delete-orphan-on-remove", doc="orm/cascades.html#delete-orphan")
def test_removed_child_is_deleted_as_orphan(engine, capture, checks):
    """With ``delete-orphan``, a child removed from its parent's collection is DELETEd at the next flush.

    Docs: ORM > Cascades > delete-orphan.
    """
    sandy_id = add_user_with_addresses(engine)
    with Session(engine) as session:
        sandy = session.get(User, sandy_id)
        orphan, kept = sandy.addresses
        with capture.observe():
            sandy.addresses.remove(orphan)
            session.flush()
        kept_email = kept.email_address
        session.commit()

    checks.equal("statements (verb, table)", steps(capture), [("DELETE", "address")])
    with engine.connect() as connection:
        left = connection.scalars(select(address_table.c.email_address)).all()
    checks.equal("addresses left", left, [kept_email])


@behaviour("cascade.save-update-adds-children", doc="orm/cascades.html#save-update")
def test_adding_parent_cascades_children_into_session(engine, capture, checks):
    """``Session.add(parent)`` cascades ("save-update") to the objects in its collections, so the flush
    INSERTs the parent row and then the child rows.

    Docs: ORM > Cascades > save-update.
    """
    sandy = User(name="sandy", fullname="Sandy Cheeks")
    sandy.addresses = [Address(email_address="sandy@sqlalchemy.org"), Address(email_address="sandy@squirrelpower.org")]
    with Session(engine) as session, capture.observe():
        session.add(sandy)
        in_session = capture.measure("pending after add()", sorted(type(obj).__name__ for obj in session.new))
        session.commit()

    assert in_session == ["Address", "Address", "User"]
    checks.equal(
        "statements (verb, table)",
        steps(capture),
        [
            ("INSERT", "user_account"),
            ("INSERT", "address"),
        ],
    )
    with engine.connect() as connection:
        rows = connection.execute(
            select(user_table.c.name, address_table.c.email_address)
            .join_from(address_table, user_table)
            .order_by(address_table.c.email_address)
        ).all()
    checks.equal(
        "addresses stored",
        [tuple(row) for row in rows],
        [
            ("sandy", "sandy@sqlalchemy.org"),
            ("sandy", "sandy@squirrelpower.org"),
        ],
    )


@behaviour("cascade.passive-deletes-database-cascade", doc="orm/cascades.html#passive-deletes")
def test_passive_deletes_leaves_children_to_database(engine, capture, checks):
    """With ``passive_deletes=True`` and ``ForeignKey(ondelete="CASCADE")``, deleting a parent whose children
    are not loaded emits only the parent's DELETE, and the database deletes the child rows.

    Docs: ORM > Cascades > Using foreign key ON DELETE cascade with ORM relationships.
    """
    author_id = add_author_with_books(engine)
    with Session(engine) as session:
        author = session.get(Author, author_id)
        with capture.observe():
            session.delete(author)
            session.flush()
        session.commit()

    checks.equal("statements (verb, table)", steps(capture), [("DELETE", "author")])
    checks.equal("author rows left", row_count(engine, Author.__table__), 0)
    checks.equal("book rows left", row_count(engine, Book.__table__), 0)
