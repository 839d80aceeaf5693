"""Bulk-insert benchmarks: every strategy loads N rows on every target, timed by pytest-benchmark, and the rows
it stored are counted after every round."""

from __future__ import annotations

import os

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
    except Exception as error:
        record["reason"] = " ".join(f"{type(error).__name__}: {error}".split())[:600]
        raise
    record["rows_counted"] = counted
    wrong = [count for count in counted if count != rows]
    if wrong:
        record.update(outcome="fail", reason=f"a round stored {wrong[0]} rows instead of {rows}")
    else:
        record.update(timing_fields(benchmark.stats.stats, rows), outcome="measured", reason="")
        if sqla_example is not None and strategy.mirrors:
            record["sqlalchemy_example"] = second_opinion(sqla_example, bench, strategy.mirrors, record)
    assert counted and not wrong, f"rows stored per round: {counted}, expected {rows} each"
    if record["round_trips"] is not None:
        assert record["round_trips"] > 0, "SQLAlchemy sent nothing to the database"


def second_opinion(example: Example | str, bench: TargetBench, test: str, record: dict) -> dict:
    """SQLAlchemy's own example loading the same number of rows on the same server, or why it could not."""
    if isinstance(example, str):
        return {"test": test, "unavailable": example}
    if bench.target.driver.is_async:
        return {"test": test, "unavailable": "SQLAlchemy's bulk_inserts example runs synchronous engines only"}
    if test not in example.tests:
        return {"test": test, "unavailable": f"SQLAlchemy {example.version}'s bulk_inserts example has no {test}"}
    url = bench.engine.url.render_as_string(hide_password=False)
    try:
        runs = [example.run(url, test, record["rows"]) for _ in range(bench.settings.example_runs)]
    except ExampleUnavailable as error:
        return {"test": test, "unavailable": str(error)}
    return summary(test, record["rows"], runs, record["rows_per_s"])
