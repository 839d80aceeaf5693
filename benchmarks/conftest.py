"""The pytest side of the benchmarks: options, the targets (provisioned by the suite's own machinery), a
measurable table per target, and the ``benchmarks`` list of the results file written at the end."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from benchmarks.limits import limit_loader_for
from benchmarks.measure import (
    FULL_SIZES,
    MODES,
    QUICK_SIZES,
    BenchSettings,
    TargetBench,
    fill_fraction_of_limit,
    machine_spread,
)
from benchmarks.sqla_example import Example, ExampleUnavailable, example_for
from benchmarks.workload import WORKLOADS
from fixtures.plugin import STATE, create_target_engine, or_exit, provision_all_targets, resolve_target
from fixtures.results import now_iso, run_metadata
from fixtures.targets import Target
from reports.benchmarks import render_benchmarks_markdown
from reports.schema import SCHEMA_VERSION, write_results

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS = pytest.StashKey[BenchSettings]()
RECORDS = pytest.StashKey[list]()
STARTED = pytest.StashKey[str]()
WRITTEN = pytest.StashKey[Path]()
SPREAD = pytest.StashKey[dict]()  # the control measurement, before and after the benchmarks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sqla-conformance benchmarks")
    group.addoption(
        "--bench-mode",
        default=None,
        help="quick (sizes 1,000, 3 rounds; the default when CI is set) or full (1,000 / 10,000 / 100,000 rows)",
    )
    group.addoption("--bench-sizes", default=None, help="row counts to load, comma-separated, e.g. 1000,1000000")
    group.addoption("--bench-rounds", default=None, help="timed rounds per measurement (default: by mode and size)")
    group.addoption("--bench-row-shape", default="narrow", help="narrow (id + two strings) or wide (id + 9 columns)")
    group.addoption(
        "--bench-sqla-example",
        default=None,
        metavar="RUNS",
        help="also run SQLAlchemy's own examples/performance/bulk_inserts.py RUNS times per strategy it has, on the "
        "same server, and keep its median beside ours (fetched from PyPI's source distribution, or "
        "CONFORMANCE_SQLA_SDIST)",
    )
    group.addoption(
        "--bench-pytest-table",
        action="store_true",
        help="also print pytest-benchmark's own table (240 columns; off by default: ours comes after the run)",
    )


NO_PYTEST_BENCHMARK = "the benchmarks need pytest-benchmark: pip install -r requirements/bench.txt"


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Unusable benchmark options end the run before it starts: one line on stderr and nothing else."""
    if config.option.help or config.option.version:
        return None
    try:
        if not config.pluginmanager.hasplugin("benchmark"):
            raise ValueError(NO_PYTEST_BENCHMARK)
        read_settings(config)
    except ValueError as error:
        sys.stderr.write(f"sqla-conformance: {error}\n")
        return 2
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark's own, which reads --benchmark-quiet
def pytest_configure(config: pytest.Config) -> None:
    # the same checks, for a run where this conftest is found only during collection (after pytest_cmdline_main)
    if not config.pluginmanager.hasplugin("benchmark"):
        pytest.exit(f"sqla-conformance: {NO_PYTEST_BENCHMARK}", 2)
    if not config.getoption("bench_pytest_table"):
        config.option.benchmark_quiet = True
    try:
        config.stash[SETTINGS] = read_settings(config)
    except ValueError as error:
        pytest.exit(f"sqla-conformance: {error}", 2)
    config.stash[RECORDS] = []
    config.stash[STARTED] = now_iso()


def read_settings(config: pytest.Config) -> BenchSettings:
    mode = config.getoption("bench_mode") or ("quick" if os.environ.get("CI") else "full")
    if mode not in MODES:
        raise ValueError(f"--bench-mode {mode!r}: choose quick or full")
    shape = config.getoption("bench_row_shape")
    if shape not in WORKLOADS:
        raise ValueError(f"--bench-row-shape {shape!r}: choose {' or '.join(WORKLOADS)}")
    sizes = QUICK_SIZES if mode == "quick" else FULL_SIZES
    if config.getoption("bench_sizes"):
        sizes = tuple(positive_integer("--bench-sizes", part) for part in config.getoption("bench_sizes").split(","))
    rounds = config.getoption("bench_rounds")
    example_runs = config.getoption("bench_sqla_example")
    return BenchSettings(
        mode,
        sizes,
        shape,
        positive_integer("--bench-rounds", rounds) if rounds else None,
        positive_integer("--bench-sqla-example", example_runs) if example_runs else 0,
    )


def positive_integer(option: str, text: str) -> int:
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{option}: {text.strip()!r} is not a positive whole number")
    return value


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_target" in metafunc.fixturenames:
        specs = or_exit(metafunc.config.stash[STATE].specs)
        metafunc.parametrize("bench_target", [spec.id for spec in specs], indirect=True, scope="session")
    if "rows" in metafunc.fixturenames:
        metafunc.parametrize("rows", metafunc.config.stash[SETTINGS].sizes)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Provision every target before the first measurement, so a missing server stops the run at once."""
    if session.config.option.collectonly:
        return
    if any("bench_target" in getattr(item, "fixturenames", ()) for item in session.items):
        provision_all_targets(session.config)
        session.config.stash[SPREAD] = {"before": machine_spread(session.config.stash[SETTINGS].mode)}


@pytest.fixture(scope="session")
def sqla_example(request: pytest.FixtureRequest) -> Example | str | None:
    """SQLAlchemy's own bulk_inserts example for the installed version, why it is unavailable, or None (not asked)."""
    if not request.config.stash[SETTINGS].example_runs:
        return None
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n{line}", file=sys.stderr, flush=True)

    try:
        return example_for(sqlalchemy.__version__, say)
    except ExampleUnavailable as error:
        return str(error)


@pytest.fixture(scope="session")
def bench_target(request: pytest.FixtureRequest) -> Target:
    return resolve_target(request)


@pytest.fixture(scope="session")
def bench(request: pytest.FixtureRequest, bench_target: Target) -> Iterator[TargetBench | str]:
    """The target ready to measure, or why it cannot be measured (then every measurement says so)."""
    settings = request.config.stash[SETTINGS]
    why_not = getattr(bench_target, "unusable", None)
    if why_not:
        yield why_not
        return
    loader = limit_loader_for(bench_target.driver)
    measured = bench_target
    if loader and loader.url_query:
        # the physical limit needs a connection option (LOAD DATA LOCAL INFILE); every strategy gets the same
        measured = dataclasses.replace(bench_target, url=bench_target.url.update_query_dict(loader.url_query))
    workload = WORKLOADS[settings.row_shape]
    # An async target's items run in the suite's async bridge, and with them this setup. The teardown may run in
    # the next target's setup, outside the bridge: ``in_bridge`` puts it back there (a plain call for sync drivers).
    bridge, is_async = request.config.stash[STATE].bridge, bench_target.driver.is_async

    def in_bridge(function: Any, *args: Any, **kwargs: Any) -> Any:
        return bridge.call(is_async, function, *args, **kwargs)

    engine = create_target_engine(measured)
    observed_engine = create_target_engine(measured)
    try:
        in_bridge(workload.table.drop, engine, checkfirst=True)
        in_bridge(workload.table.create, engine)
        # first connect (dialect initialisation) before any observed round
        in_bridge(lambda: observed_engine.connect().close())
        yield TargetBench(bench_target, workload, engine, observed_engine, settings, request.config.stash[RECORDS])
        in_bridge(workload.table.drop, engine, checkfirst=True)
    finally:
        in_bridge(observed_engine.dispose)
        in_bridge(engine.dispose)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    records = session.config.stash.get(RECORDS, [])
    if not records or hasattr(session.config, "workerinput"):
        return
    fill_fraction_of_limit(records)
    spread = session.config.stash.get(SPREAD, {})
    if spread:
        spread["after"] = machine_spread(session.config.stash[SETTINGS].mode)
        for record in records:
            record["machine_spread"] = spread
    path = results_path(session.config)
    label = path.stem
    run = run_metadata(session.config.stash[STARTED], label, PROJECT_ROOT)
    run["exit_status"] = int(exitstatus)
    run["benchmark_settings"] = session.config.stash[SETTINGS].as_record()
    run["cpu_count"] = os.cpu_count()
    run["machine_spread"] = spread
    write_results(path, {"schema_version": SCHEMA_VERSION, "run": run, "cells": [], "benchmarks": records})
    session.config.stash[WRITTEN] = path


def results_path(config: pytest.Config) -> Path:
    """--results (tox names it), else a file under reports/results/direct/, which the report does not merge
    by default, like the suites' own runs by hand."""
    chosen = config.getoption("results")
    if chosen:
        return Path(chosen)
    name = "bench-" + "+".join(spec.id for spec in config.stash[STATE].specs())
    return PROJECT_ROOT / "reports" / "results" / "direct" / f"{name}.json"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    records = config.stash.get(RECORDS, [])
    if not records:
        return
    terminalreporter.section("sqla-conformance benchmarks")
    for line in render_benchmarks_markdown(records).splitlines():
        terminalreporter.write_line(line)
    written = config.stash.get(WRITTEN, None)
    if written:
        terminalreporter.write_line(f"results: {written}")
