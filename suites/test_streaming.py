"""Server-side cursors: ``stream_results``, ``yield_per``, ``partitions()`` and ``fetchmany()`` over streamed results,
and the ORM's ``yield_per``.

How many rows the server has produced is observed with a counter the SELECT advances on every row it produces
(a sequence's next value, target fact "row-counter"), read from a second connection while the result is open.

Docs: Core > Working with Engines and Connections > Using Server Side Cursors (a.k.a. stream results); ORM Querying
Guide > Fetching Large Result Sets with Yield Per.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, String, Table, insert, literal_column, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import joinedload

from fixtures.compat import Session, declarative_base
from fixtures.models import User, address_table, user_table
from fixtures.plugin import behaviour

STREAM_DOC = "core/connections.html#using-server-side-cursors-a-k-a-stream-results"
ORM_YIELD_PER_DOC = "orm/queryguide/api.html#fetching-large-result-sets-with-yield-per"
DIGITS = 20  # rows of the digit table; the counting SELECT cross-joins it three times: 8000 rows
PAD = "x" * 1000  # 24 MB in all: more than a loopback socket buffers (up to 6 MB read + 4 MB write on Linux)

StreamBase = declarative_base()


class Digit(StreamBase):
    __tablename__ = "st_digit"
    id = Column(Integer, primary_key=True)
    pad = Column(String(1000), nullable=False)


@pytest.fixture(scope="module")
def digits(engine: Engine) -> Iterator[Table]:
    """Twenty rows, ids 1 to 20, created once for the module: the behaviours only read them."""
    StreamBase.metadata.create_all(engine)
    table = Digit.__table__
    with engine.begin() as connection:
        connection.execute(insert(table), [{"id": number, "pad": PAD} for number in range(1, DIGITS + 1)])
    yield table
    StreamBase.metadata.drop_all(engine)


class RowCounter:
    """A counter the server advances once per row it produces (target fact "row-counter", read in the test body,
    so that a target without one fails the behaviour rather than its setup)."""

    def __init__(self, engine: Engine, target_facts) -> None:
        self.engine, self.target_facts, self.fact = engine, target_facts, None

    def sql(self, key: str) -> str:
        return self.fact[key].format(name="st_row_counter")

    def start(self) -> "RowCounter":
        self.fact = self.target_facts["row-counter"]
        with self.engine.begin() as connection:
            connection.exec_driver_sql(self.sql("drop"))
            connection.exec_driver_sql(self.sql("create"))
        return self

    def produced(self) -> int:
        with self.engine.connect() as connection:
            return connection.exec_driver_sql(self.sql("read")).scalar_one()

    def counting_select(self, table: Table):
        """8000 rows (every combination of three ids; the join conditions always hold), each numbered by the counter
        as the server produces it."""
        a, b, c = table.alias("a"), table.alias("b"), table.alias("c")
        every_a_b = b.c.id + DIGITS > a.c.id
        every_b_c = c.c.id + DIGITS > b.c.id
        return select(literal_column(self.sql("next")).label("n"), a.c.pad, b.c.pad, c.c.pad).select_from(
            a.join(b, every_a_b).join(c, every_b_c)
        )

    def drop(self) -> None:
        if self.fact is not None:
            with self.engine.begin() as connection:
                connection.exec_driver_sql(self.sql("drop"))


@pytest.fixture
def counter(engine, digits, target_facts) -> Iterator[RowCounter]:
    made = RowCounter(engine, target_facts)
    yield made
    made.drop()


def first_partition_then_rest(counter: RowCounter, result, partitions) -> tuple[int, int, list[int]]:
    """The size of the first partition, how many rows the server had produced when it arrived, and every n."""
    first = next(partitions)
    produced = counter.produced()
    numbers = [row.n for row in first] + [row.n for partition in partitions for row in partition]
    result.close()
    return len(first), produced, numbers


TOTAL = DIGITS**3


def check_rows_pending(checks, capture, produced: int) -> None:
    """Fewer than all rows produced when the first partition arrives. How many exactly depends on how far the server
    runs ahead of the client (MariaDB fills the socket buffers: a different count on every run), so the count is kept
    as a per-run value and the check records it only when it is out of range."""
    capture.measure("rows produced by the server at the first partition (this run)", produced, varies_per_run=True)
    pending = 100 <= produced < TOTAL
    checks.that(
        "rows produced by the server at the first partition",
        pending,
        got=f"at least 100 and fewer than {TOTAL}" if pending else produced,
        expected=f"at least 100 and fewer than {TOTAL}",
    )


@behaviour("stream.yield-per-server-side", doc=STREAM_DOC)
def test_yield_per_leaves_rows_pending_in_the_server(engine, counter, digits, capture, checks):
    """With ``execution_options(yield_per=100)`` the first partition holds 100 rows and arrives while the server
    has produced only part of the 8000-row result ("server side cursors mode is selected"); all 8000 rows follow.

    Docs: Core > Working with Engines and Connections > Using Server Side Cursors > Streaming with a fixed buffer
    via yield_per.
    """
    with capture.observe(), engine.connect() as connection:
        result = connection.execution_options(yield_per=100).execute(counter.start().counting_select(digits))
        size, produced, numbers = first_partition_then_rest(counter, result, result.partitions())

    checks.equal("first partition", size, 100)
    check_rows_pending(checks, capture, produced)
    checks.equal("rows received (sorted n == 1..8000)", sorted(numbers) == list(range(1, TOTAL + 1)), True)


@behaviour("stream.stream-results-server-side", doc="core/connections.html#engine-stream-results-sr")
def test_stream_results_leaves_rows_pending_in_the_server(engine, counter, digits, capture, checks):
    """With ``execution_options(stream_results=True)`` and ``partitions(100)``, the first partition of 100 rows
    arrives while the server has produced only part of the 8000-row result; all 8000 rows follow.

    Docs: Core > Working with Engines and Connections > Using Server Side Cursors > Streaming with a dynamically
    growing buffer using stream_results.
    """
    with capture.observe(), engine.connect() as connection:
        result = connection.execution_options(stream_results=True).execute(counter.start().counting_select(digits))
        size, produced, numbers = first_partition_then_rest(counter, result, result.partitions(100))

    checks.equal("first partition", size, 100)
    check_rows_pending(checks, capture, produced)
    checks.equal("rows received (sorted n == 1..8000)", sorted(numbers) == list(range(1, TOTAL + 1)), True)


@behaviour("stream.buffered-by-default", doc=STREAM_DOC)
def test_without_stream_results_the_whole_result_is_fetched_first(engine, counter, digits, capture, checks):
    """Without ``stream_results`` the dialect uses a buffered, client side cursor: by the time the first partition
    of 100 rows arrives the server has produced all 8000 rows.

    Docs: Core > Working with Engines and Connections > Using Server Side Cursors ("defaults to a buffered,
    'client side' cursor where the full set of results is pulled into memory before any fetch methods are called").
    """
    with capture.observe(), engine.connect() as connection:
        result = connection.execute(counter.start().counting_select(digits))
        size, produced, numbers = first_partition_then_rest(counter, result, result.partitions(100))

    checks.equal("first partition", size, 100)
    checks.equal("rows produced by the server at the first partition", produced, TOTAL)
    checks.equal("rows received (sorted n == 1..8000)", sorted(numbers) == list(range(1, TOTAL + 1)), True)


@behaviour("stream.yield-per-partition-size", doc=STREAM_DOC)
def test_yield_per_sets_the_default_partition_size(engine, digits, capture, checks):
    """``execution_options(yield_per=7)`` over 20 rows: ``partitions()`` without a size yields 7, 7 and 6 rows, in
    the statement's order.

    Docs: Core > Using Server Side Cursors > Streaming with a fixed buffer via yield_per ("The default partition
    size used by the Result.partitions() method ... will be made equal to this integer size").
    """
    with capture.observe(), engine.connect() as connection:
        result = connection.execution_options(yield_per=7).execute(select(digits.c.id).order_by(digits.c.id))
        partitions = [[number for (number,) in partition] for partition in result.partitions()]

    checks.equal("partition sizes", [len(partition) for partition in partitions], [7, 7, 6])
    checks.equal("ids in order", [number for partition in partitions for number in partition], list(range(1, 21)))


@behaviour("stream.fetchmany-sizes", doc="core/connections.html#sqlalchemy.engine.Result.fetchmany")
def test_fetchmany_over_a_streamed_result_with_a_small_buffer(engine, digits, capture, checks):
    """``fetchmany(3)`` over a 20-row result streamed with ``stream_results=True, max_row_buffer=4`` returns 3 rows
    at a time across the buffer refills, then 2, then an empty list, in the statement's order.

    Docs: Core > Using Server Side Cursors > Streaming with a dynamically growing buffer using stream_results
    (``max_row_buffer``); ``Result.fetchmany()``.
    """
    with capture.observe(), engine.connect() as connection:
        streamed = connection.execution_options(stream_results=True, max_row_buffer=4)
        result = streamed.execute(select(digits.c.id).order_by(digits.c.id))
        batches = [[number for (number,) in result.fetchmany(3)] for _ in range(8)]

    checks.equal("batch sizes", [len(batch) for batch in batches], [3, 3, 3, 3, 3, 3, 2, 0])
    checks.equal("ids in order", [number for batch in batches for number in batch], list(range(1, 21)))


@behaviour("stream.orm-yield-per", doc=ORM_YIELD_PER_DOC)
def test_orm_yield_per_yields_objects_in_partitions(engine, digits, capture, checks):
    """``Session.execute(select(Digit), execution_options={"yield_per": 6}).scalars().partitions()`` yields the 20
    objects in lists of 6, 6, 6 and 2, in the statement's order.

    Docs: ORM Querying Guide > ORM API Features for Querying > Fetching Large Result Sets with Yield Per.
    """
    with capture.observe(), Session(engine) as session:
        result = session.execute(select(Digit).order_by(Digit.id), execution_options={"yield_per": 6}).scalars()
        partitions = [[digit.id for digit in partition] for partition in result.partitions()]

    checks.equal("partition sizes", [len(partition) for partition in partitions], [6, 6, 6, 2])
    checks.equal("ids in order", [number for partition in partitions for number in partition], list(range(1, 21)))


@pytest.mark.usefixtures("tables")
@behaviour("stream.orm-yield-per-refuses-joined-collection", doc=ORM_YIELD_PER_DOC)
def test_orm_yield_per_refuses_joined_eager_loading_of_a_collection(engine, capture, checks):
    """``Session.execute()`` of a statement with ``joinedload()`` of a collection and ``yield_per`` raises
    ``InvalidRequestError``: the two are not compatible.

    Docs: ORM Querying Guide > Fetching Large Result Sets with Yield Per ("not compatible with 'subquery' eager
    loading loading or 'joined' eager loading when using collections").
    """
    with engine.begin() as connection:
        connection.execute(insert(user_table), [{"id": 1, "name": "sandy"}])
        connection.execute(insert(address_table), [{"user_id": 1, "email_address": "sandy@example.com"}])
    statement = select(User).options(joinedload(User.addresses))
    with capture.observe(), Session(engine) as session, checks.catch() as caught:
        session.execute(statement, execution_options={"yield_per": 10})

    checks.that(
        "exception",
        isinstance(caught.error, InvalidRequestError),
        got=caught.exception_class,
        expected="sqlalchemy.exc.InvalidRequestError",
    )
