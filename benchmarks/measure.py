"""Measure one strategy loading N rows on one target: an observed round (round trips), a traced round (peak
memory), then pytest-benchmark's timed rounds; every round starts from an empty table and its rows are counted."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_benchmark.stats import Stats
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from benchmarks.strategies import LIMIT_STRATEGY_ID, LoadContext, Strategy
from benchmarks.workload import Workload
from fixtures.capture import Capture
from fixtures.targets import Target

MODES = ("quick", "full")
FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000,)
QUICK_ROUNDS = 3
# Full mode: more rounds where a round is short, so every median rests on a few seconds of work.
FULL_ROUNDS = {1_000: 15, 10_000: 9}
FULL_ROUNDS_LARGE = 7
STATEMENTS_KEPT = 6
# The control measurement: a fixed pure-Python loop (about 0.15 s here), timed in rounds like a strategy. Its
# IQR/median is the spread this machine gives any measurement, whatever is being measured.
CONTROL_LOOP = 1_500_000
CONTROL_ROUNDS = {"quick": 5, "full": 15}

EMPTY_TABLE_SQL = {
    "sqlite": "DELETE FROM {table}",
    "postgresql": "TRUNCATE TABLE {table} RESTART IDENTITY",
    "mysql": "TRUNCATE TABLE {table}",
}


@dataclass(frozen=True)
class BenchSettings:
    """What a run measures: quick (CI: small, few rounds) or full (for publishing)."""

    mode: str
    sizes: tuple[int, ...]
    row_shape: str
    rounds: int | None = None  # fixed number of timed rounds; None: by mode and size
    example_runs: int = 0  # runs of SQLAlchemy's own bulk_inserts example per mirrored strategy; 0: none

    def rounds_for(self, size: int) -> int:
        if self.rounds is not None:
            return self.rounds
        if self.mode == "quick":
            return QUICK_ROUNDS
        return FULL_ROUNDS.get(size, FULL_ROUNDS_LARGE)

    def as_record(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "sizes": list(self.sizes),
            "row_shape": self.row_shape,
            "rounds": {str(size): self.rounds_for(size) for size in self.sizes},
            "sqlalchemy_example_runs": self.example_runs,
        }


@dataclass
class TargetBench:
    """A target ready to be measured: its table, an engine for the timed and traced rounds (never with event
    listeners, which would slow it), and an engine for the observed round."""

    target: Target
    workload: Workload
    engine: Engine
    observed_engine: Engine
    settings: BenchSettings
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def context(self) -> LoadContext:
        return LoadContext(self.engine, self.workload, self.target.driver)

    def empty_table(self) -> None:
        table = self.engine.dialect.identifier_preparer.format_table(self.workload.table)
        with self.engine.begin() as connection:
            connection.exec_driver_sql(EMPTY_TABLE_SQL[self.target.backend].format(table=table))

    def count_rows(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(self.workload.table)).scalar_one()

    def start_round(self) -> None:
        """Untimed: an empty table, and no garbage of the previous round left for the collector."""
        self.empty_table()
        gc.collect()

    def new_record(self, strategy: Strategy, rows: int) -> dict[str, Any]:
        """The measurement's entry in the results, ``error`` until it has been measured and verified."""
        record: dict[str, Any] = {
            "strategy": strategy.id,
            "title": strategy.title,
            "method": strategy.method(self.context),
            "layer": strategy.layer,
            "is_limit": strategy.id == LIMIT_STRATEGY_ID,
            "mirrors": strategy.mirrors,
            "rows": rows,
            "row_shape": self.workload.shape,
            "columns": len(self.workload.columns) + 1,
            "chunk_rows": None,
            "transactions": 1,
            "target": self.target.as_record(),
            "mode": self.settings.mode,
            "outcome": "error",
            "reason": "the measurement did not finish",
            "median_s": None,
            "iqr_s": None,
            "rounds": 0,
            "rows_per_s": None,
            "round_trips": None,
            "peak_mem_bytes": None,
            "fraction_of_limit": None,
        }
        self.records.append(record)
        return record

    def observe_one_round(self, strategy: Strategy, rows: list[tuple]) -> Capture:
        """One untimed round on the observed engine: what SQLAlchemy sent, as the suite's capture records it."""
        self.start_round()
        capture = Capture()
        capture.attach(self.observed_engine)
        try:
            with capture.observe():
                strategy.load(LoadContext(self.observed_engine, self.workload, self.target.driver), rows)
        finally:
            capture.detach()
        return capture

    def trace_one_round(self, strategy: Strategy, rows: list[tuple]) -> int:
        """One untimed round under tracemalloc: the peak of Python memory allocated while loading."""
        self.start_round()
        return peak_python_memory(lambda: strategy.load(self.context, rows))


def peak_python_memory(action: Callable[[], object]) -> int:
    """Bytes: the most Python memory that ``action`` held at once (allocations made before it do not count)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def control_loop(iterations: int) -> int:
    total = 0
    for number in range(iterations):
        total += number * number % 7
    return total


def machine_spread(mode: str) -> dict[str, Any]:
    """Time the control loop like a strategy: the spread of a measurement with nothing to do with a database."""
    stats = Stats()
    for _ in range(CONTROL_ROUNDS[mode]):
        gc.collect()
        started = time.perf_counter()
        control_loop(CONTROL_LOOP)
        stats.update(time.perf_counter() - started)
    return {
        "what": f"a pure-Python loop of {CONTROL_LOOP:,} iterations",
        "rounds": stats.rounds,
        "median_s": stats.median,
        "iqr_ratio": stats.iqr / stats.median,
    }


def timing_fields(stats: Any, rows: int) -> dict[str, Any]:
    """pytest-benchmark's statistics of the timed rounds (seconds), and the rows per second at the median."""
    median = stats.median
    return {
        "median_s": median,
        "iqr_s": stats.iqr,
        "iqr_ratio": stats.iqr / median if median else None,
        "min_s": stats.min,
        "max_s": stats.max,
        "rounds": stats.rounds,
        "round_times_s": [round(value, 6) for value in stats.data],
        "rows_per_s": rows / median if median else None,
    }


def evidence_fields(strategy: Strategy, capture: Capture) -> dict[str, Any]:
    if not strategy.round_trips_observable:
        return {
            "round_trips": None,
            "round_trips_note": "raw DBAPI use: the driver's calls are not seen by SQLAlchemy's engine events",
        }
    return {
        "round_trips": capture.round_trips,
        "executemany": capture.used_executemany,
        "insertmanyvalues_batches": capture.insertmanyvalues_batches,
        "statements": [statement.render() for statement in capture.cursor_executions[:STATEMENTS_KEPT]],
    }


RAW_LAYERS = ("dbapi", "limit")  # the paths around SQLAlchemy: the fastest of them is the limit


def fill_fraction_of_limit(records: list[dict[str, Any]]) -> None:
    """fraction_of_limit = a strategy's rows/s / the rows/s of the fastest raw path (the backend's bulk loader, or
    the driver's own executemany when that was faster here), same target, size and row shape. No raw path goes
    above 100% by construction; the report flags a SQLAlchemy path measured above it."""
    fastest_raw: dict[tuple, dict[str, Any]] = {}
    for record in records:
        if record["layer"] in RAW_LAYERS and record["outcome"] == "measured" and record["rows_per_s"]:
            key = _comparable(record)
            if key not in fastest_raw or record["rows_per_s"] > fastest_raw[key]["rows_per_s"]:
                fastest_raw[key] = record
    for record in records:
        reference = fastest_raw.get(_comparable(record))
        if record["outcome"] == "measured" and reference is not None:
            record["fraction_of_limit"] = record["rows_per_s"] / reference["rows_per_s"]
            record["limit_strategy"] = reference["strategy"]
            record["limit_method"] = reference.get("method") or reference["strategy"]


def _comparable(record: dict[str, Any]) -> tuple:
    target = record["target"]
    return (target.get("backend"), target.get("driver"), target.get("server"), record["rows"], record["row_shape"])
