"""Bulk-insert benchmarks: every strategy loads N rows on every target, timed by pytest-benchmark, and the rows
it stored are counted after every round."""

from __future__ import annotations

import os
import time

import pytest

from benchmarks.measure import TargetBench, evidence_fields, timing_fields
from benchmarks.sqla_example import Example, ExampleUnavailable, summary
from benchmarks.strategies import STRATEGIES, Strategy


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda strategy: strategy.id)
def test_bulk_insert(
    benchmark, bench: TargetBench | str, strategy: Strategy, rows: int, sqla_example: Example | str | None
) -> None:
    """Load ``rows`` rows with ``strategy`` in one transaction; every round stores exactly ``rows`` rows."""
    if benchmark.disabled:
        pytest.skip("pytest-benchmark is disabled (--benchmark-disable): nothing would be timed")
    if isinstance(bench, str):
        pytest.skip(f"unsupported: {bench}")
    record = bench.new_record(strategy, rows)
    reason = strategy.why_unsupported(bench.context)
    if reason:
        record.update(outcome="unsupported", reason=reason)
        pytest.skip(f"unsupported: {reason}")
    record["chunk_rows"] = strategy.chunk_rows(bench.context)
    data = bench.workload.rows(rows)
    counted: list[int] = []
    try:
        capture = bench.observe_one_round(strategy, data)
        counted.append(bench.count_rows())
        record.update(evidence_fields(strategy, capture))
        peak = bench.trace_one_round(strategy, data)
        counted.append(bench.count_rows())
        record["peak_mem_bytes"] = peak
        load_before = os.getloadavg()[0]
        benchmark.pedantic(
            strategy.load,
            args=(bench.context, data),
            setup=bench.start_round,
            teardown=lambda *arguments: counted.append(bench.count_rows()),
            rounds=bench.settings.rounds_for(rows),
        )
        # other work on the machine is the usual cause of a wide spread: keep it beside the figures
        record["load_average_1m"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
        if sqla_example is not None and strategy.mirrors:
            record["sqlalchemy_example"] = second_opinion(sqla_example, bench, strategy, data, counted)
    except Exception as error:
        record["reason"] = " ".join(f"{type(error).__name__}: {error}".split())[:600]
        raise
    record["rows_counted"] = counted
    wrong = [count for count in counted if count != rows]
    if wrong:
        record.update(outcome="fail", reason=f"a round stored {wrong[0]} rows instead of {rows}")
    else:
        record.update(timing_fields(benchmark.stats.stats, rows), outcome="measured", reason="")
    assert counted and not wrong, f"rows stored per round: {counted}, expected {rows} each"
    if record["round_trips"] is not None:
        assert record["round_trips"] > 0, "SQLAlchemy sent nothing to the database"


def second_opinion(
    example: Example | str, bench: TargetBench, strategy: Strategy, data: list[tuple], counted: list[int]
) -> dict:
    """SQLAlchemy's own example loading the same number of rows on the same server, or why it could not.

    Each run of the example is paired with one more round of ours right after it, and the comparison is the median
    of the pairs' ratios: this machine's speed drifts by tens of percent over minutes, and a pair shares the drift.
    """
    test = str(strategy.mirrors)
    if isinstance(example, str):
        return {"test": test, "unavailable": example}
    if bench.target.driver.is_async:
        return {"test": test, "unavailable": "SQLAlchemy's bulk_inserts example runs synchronous engines only"}
    if test not in example.tests:
        return {"test": test, "unavailable": f"SQLAlchemy {example.version}'s bulk_inserts example has no {test}"}
    url = bench.engine.url.render_as_string(hide_password=False)
    theirs: list[float] = []
    ours: list[float] = []
    try:
        for _ in range(bench.settings.example_runs):
            theirs.append(example.run(url, test, len(data)))
            bench.start_round()
            started = time.perf_counter()
            strategy.load(bench.context, data)
            ours.append(time.perf_counter() - started)
            counted.append(bench.count_rows())
    except ExampleUnavailable as error:
        return {"test": test, "unavailable": str(error)}
    return summary(test, len(data), theirs, ours)
