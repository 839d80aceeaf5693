"""The bulk-insert benchmarks as a user runs them (quick mode, child pytest processes, real databases), and the
report's view of benchmark results, built from hand-made records."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re

import jinja2
import pytest
import sqlalchemy
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.engine import URL

from benchmarks.limits import limit_loader_for
from benchmarks.measure import fill_fraction_of_limit
from benchmarks.strategies import STRATEGIES
from benchmarks.workload import EPOCH, WORKLOADS
from fixtures.bridge import AsyncBridge
from fixtures.compat import lacks
from fixtures.plugin import create_target_engine
from fixtures.provision import create_scratch_database, drop_scratch_database, scratch_database_name
from fixtures.targets import DRIVERS, Target, admin_driver
from reports.benchmarks import build_benchmarks_view, chart_svg, recommendation, render_benchmarks_markdown
from reports.html import TEMPLATES
from reports.schema import load_results
from tests.conftest import clean_environment, run_suite

SQLALCHEMY_LAYERS = ("orm", "core")
needs_pytest_benchmark = pytest.mark.skipif(
    importlib.util.find_spec("pytest_benchmark") is None,
    reason="the benchmarks need pytest-benchmark: pip install -r requirements/bench.txt",
)


def run_quick_benchmarks(results, *target_arguments: str, environ: dict[str, str] | None = None):
    completed = run_suite(
        "benchmarks",
        *target_arguments,
        "--bench-mode",
        "quick",
        "--results",
        str(results),
        environ=environ or clean_environment(),
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    return load_results(results), completed


def assert_every_strategy_measured_and_verified(records, expected_target_driver: str) -> None:
    assert {record["strategy"] for record in records} == {strategy.id for strategy in STRATEGIES}
    for record in records:
        name = record["strategy"]
        assert record["target"]["driver"] == expected_target_driver, name
        assert record["outcome"] == "measured", (name, record["reason"])
        assert record["rows"] == 1000 and record["rounds"] == 3, name
        # an observed round, a traced round and three timed rounds, each counted afterwards
        assert record["rows_counted"] == [1000] * 5, name
        assert record["median_s"] > 0 and record["iqr_s"] >= 0 and record["rows_per_s"] > 0, name
        assert record["peak_mem_bytes"] > 0, name
        if record["layer"] in SQLALCHEMY_LAYERS:
            assert record["round_trips"] > 0, name
            assert record["statements"] and "INSERT INTO bench_customer" in record["statements"][0], name
        else:
            assert record["round_trips"] is None and record["round_trips_note"], name
        assert record["fraction_of_limit"] > 0, name
    # the limit is the fastest raw path: the physical limit's loader or the driver's own executemany
    raw = [record for record in records if record["layer"] in ("dbapi", "limit")]
    fastest_raw = max(raw, key=lambda record: record["rows_per_s"])
    assert fastest_raw["fraction_of_limit"] == 1.0 and all(record["fraction_of_limit"] <= 1.0 for record in raw)
    assert {record["limit_strategy"] for record in records} == {fastest_raw["strategy"]}


@needs_pytest_benchmark
def test_quick_benchmarks_on_sqlite_measure_and_verify_every_strategy(tmp_path):
    data, completed = run_quick_benchmarks(tmp_path / "bench-sqlite.json", "--backend", "sqlite")
    assert data["cells"] == []
    assert data["run"]["benchmark_settings"]["mode"] == "quick"
    records = data["benchmarks"]
    assert_every_strategy_measured_and_verified(records, "pysqlite")
    assert next(r for r in records if r["is_limit"])["method"] == "sqlite3 executemany in one transaction"
    assert "fastest SQLAlchemy path at 1,000 rows" in completed.stdout  # or "no single fastest ...": tied
    assert "Name (time in" not in completed.stdout  # pytest-benchmark's own 240-column table is off


@needs_pytest_benchmark
def test_quick_benchmarks_on_postgresql_reach_copy(tmp_path, local_postgresql):
    url = local_postgresql.admin_url.set(drivername="postgresql+psycopg")
    results = tmp_path / "bench-pg.json"
    data, _ = run_quick_benchmarks(results, "--dburl", url.render_as_string(hide_password=False))
    records = data["benchmarks"]
    assert_every_strategy_measured_and_verified(records, "psycopg")
    assert next(r for r in records if r["is_limit"])["method"] == "COPY FROM STDIN (psycopg cursor.copy)"
    assert local_postgresql.admin_url.password not in results.read_text()


@needs_pytest_benchmark
def test_quick_benchmarks_on_mariadb_reach_load_data(tmp_path, local_mysql):
    url = local_mysql.admin_url.set(drivername="mysql+pymysql")
    results = tmp_path / "bench-mysql.json"
    data, _ = run_quick_benchmarks(results, "--dburl", url.render_as_string(hide_password=False))
    records = data["benchmarks"]
    assert_every_strategy_measured_and_verified(records, "pymysql")
    assert next(r for r in records if r["is_limit"])["method"] == "LOAD DATA LOCAL INFILE"
    assert local_mysql.admin_url.password not in results.read_text()


@needs_pytest_benchmark
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--bench-mode", "fast"], "--bench-mode 'fast': choose quick or full"),
        (["--bench-sizes", "1000,many"], "--bench-sizes: 'many' is not a positive whole number"),
        (["--bench-rounds", "0"], "--bench-rounds: '0' is not a positive whole number"),
        (["--bench-row-shape", "tall"], "--bench-row-shape 'tall': choose narrow or wide"),
    ],
)
def test_bad_benchmark_options_stop_with_one_line_and_exit_2(arguments, message):
    completed = run_suite("benchmarks", "--backend", "sqlite", *arguments, environ=clean_environment())
    assert completed.returncode == 2
    assert completed.stdout == "" and completed.stderr == f"sqla-conformance: {message}\n"


# the values a text-format loader must escape or mark: tab, newline, carriage return, backslash, "\\N", NULL
AWKWARD_ROWS = [
    ("tab\there", "back\\slash and \\N", "new\nline", "carriage\rreturn", None, 0, -5, EPOCH, False),
    ("", "ünïcödé ✓", "x@example.com", "Zürich", "CH", None, 2**31 - 1, None, None),
    *WORKLOADS["wide"].rows(3),
]


@pytest.mark.parametrize("driver_name", ["psycopg", "psycopg2", "pymysql"])
def test_physical_limit_stores_awkward_values_unchanged(request, driver_name):
    """Counting rows cannot catch a mis-encoded COPY or LOAD DATA file; reading the values back can."""
    driver = DRIVERS[driver_name]
    skip_unless_installed(driver)
    server = request.getfixturevalue("local_postgresql" if driver.backend == "postgresql" else "local_mysql")
    name = scratch_database_name()
    url = create_scratch_database(server.admin_url, driver, name)
    request.addfinalizer(lambda: drop_scratch_database(server.admin_url, driver, name))
    loader = limit_loader_for(driver)
    engine = sqlalchemy.create_engine(url.update_query_dict(loader.url_query))
    request.addfinalizer(engine.dispose)
    assert load_awkward_rows_and_read_back(engine, loader) == AWKWARD_ROWS


# --- the report's view, from hand-made records ---------------------------------------------------------------

HOSTILE = '<script>alert("x")</script>'


def record(strategy, rows, rows_per_s, *, layer="core", is_limit=False, outcome="measured", **extra):
    median = rows / rows_per_s if rows_per_s else None
    base = {
        "strategy": strategy,
        "title": extra.pop("title", strategy),
        "method": extra.pop("method", strategy),
        "layer": layer,
        "is_limit": is_limit,
        "rows": rows,
        "row_shape": "narrow",
        "columns": 3,
        "target": {
            "backend": "postgresql",
            "driver": "psycopg",
            "driver_version": "3.3.9",
            "async": False,
            "server": "PostgreSQL 16.2",
            "sqlalchemy": "2.0.58",
        },
        "mode": "full",
        "outcome": outcome,
        "reason": extra.pop("reason", ""),
        "median_s": median,
        "iqr_s": median * 0.02 if median else None,
        "rounds": 7,
        "rows_per_s": rows_per_s,
        "round_trips": 101 if layer in SQLALCHEMY_LAYERS else None,
        "peak_mem_bytes": 3 << 20,
        "fraction_of_limit": None,
    }
    base.update(extra)
    return base


def hand_made_records():
    records = []
    for rows, scale in ((1000, 1.0), (100_000, 2.0)):
        limit_speed = 400_000 * scale
        records += [
            record(
                "physical_limit",
                rows,
                limit_speed,
                layer="limit",
                is_limit=True,
                method="COPY FROM STDIN",
                fraction_of_limit=1.0,
            ),
            record("core_executemany", rows, limit_speed / 2, fraction_of_limit=0.5),
            record("orm_bulk_insert", rows, limit_speed / 4, layer="orm", fraction_of_limit=0.25),
            record("dbapi_executemany", rows, limit_speed * 0.6, layer="dbapi", fraction_of_limit=0.6),
            record("evil", rows, limit_speed / 8, title=HOSTILE, fraction_of_limit=0.125),
        ]
    records.append(
        record("core_insert_returning", 1000, None, outcome="unsupported", reason="no RETURNING | here " + HOSTILE)
    )
    return records


def test_view_recommends_the_fastest_sqlalchemy_path_at_the_largest_size():
    view = build_benchmarks_view(hand_made_records())
    assert view is not None and len(view.sections) == 1
    section = view.sections[0]
    assert section.heading == "postgresql / psycopg 3.3.9"
    assert "PostgreSQL 16.2" in section.details and "SQLAlchemy 2.0.58" in section.details
    # the raw DBAPI path is faster, but it is not a SQLAlchemy path
    assert section.recommendation == (
        "fastest SQLAlchemy path at 100,000 rows: core_executemany, 400,000 rows/s, 50% of COPY FROM STDIN; "
        "fastest ORM path: orm_bulk_insert, 25%."
    )
    assert [group.rows for group in section.sizes] == [1000, 100_000]
    small = section.sizes[0].measurements
    assert [row.strategy for row in small][:2] == ["physical_limit", "dbapi_executemany"]  # fastest first
    assert small[-1].outcome == "unsupported" and "no RETURNING" in small[-1].reason
    core = next(row for row in small if row.strategy == "core_executemany")
    assert (core.spread, core.fraction_of_limit, core.round_trips, core.peak_memory) == (
        "2.0%",
        "50%",
        "101",
        "3.0 MiB",
    )
    dbapi = next(row for row in small if row.strategy == "dbapi_executemany")
    assert dbapi.round_trips == "not observable (DBAPI)"


def test_no_benchmarks_give_no_section():
    assert build_benchmarks_view([]) is None
    assert render_benchmarks_markdown([]) == ""


def test_chart_and_partial_escape_every_text():
    records = hand_made_records()
    records[0]["target"]["driver"] = '"><img src=x onerror=alert(1)>'
    for item in records:
        item["target"] = records[0]["target"]
    view = build_benchmarks_view(records)
    svg = view.sections[0].chart_svg
    assert isinstance(svg, Markup) and svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg
    assert svg.count("<polyline") == 5  # one line per measured strategy, across both sizes
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    html = environment.get_template("_benchmarks.html.j2").render(benchmarks_view=view)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "no RETURNING | here" in html
    assert 'id="bench-postgresql' in html and "fastest SQLAlchemy path" in html
    assert environment.get_template("_benchmarks.html.j2").render(benchmarks_view=None).strip() == ""


def test_chart_of_a_single_size_places_every_point_in_one_column():
    svg = chart_svg("one size", [r for r in hand_made_records() if r["rows"] == 1000])
    assert svg.count("<circle") == 5 and 'cx="270.0"' in svg


def test_markdown_keeps_its_table_intact_and_flags_a_wide_spread():
    records = hand_made_records()
    noisy = next(r for r in records if r["strategy"] == "core_executemany" and r["rows"] == 1000)
    noisy["iqr_s"] = noisy["median_s"] * 0.12
    markdown = render_benchmarks_markdown(records)
    assert "| 12.0% ⚠ |" in markdown and "IQR/median above 5%" in markdown
    assert markdown.count("⚠") == 2
    table_lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert table_lines[0].startswith("| strategy | rows | median | IQR/median | rows/s | fraction of limit |")
    # eight cells on every line: an escaped pipe inside a cell does not split it
    assert all(len(re.split(r"(?<!\\)\|", line)) == 10 for line in table_lines)
    assert "no RETURNING \\| here" in markdown
    assert "physical limit: COPY FROM STDIN" in markdown


def test_markdown_renders_on_github_as_one_table_per_target_with_its_notes_below_it():
    records = hand_made_records()
    noisy = next(r for r in records if r["strategy"] == "core_executemany" and r["rows"] == 1000)
    noisy["iqr_s"] = noisy["median_s"] * 0.12
    spread = {"before": {"what": "a loop", "rounds": 15, "median_s": 0.15, "iqr_ratio": 0.072}}
    for item in records:
        item["machine_spread"] = spread
    records.append(dict(records[1]))  # a repeated measurement: a note under the table
    html = MarkdownIt("commonmark").enable("table").render(render_benchmarks_markdown(records))
    [table] = re.findall(r"<table>.*?</table>", html, flags=re.DOTALL)
    assert table.count("<tr>") == 1 + 11  # the heading and the eleven measurements, nothing else
    assert "⚠ IQR/median" not in table and "Control" not in table and "note" not in table
    assert "<p>⚠ IQR/median above 5%: a busy machine, or too few rounds.</p>" in html
    assert "<p>Control: this machine's own IQR/median: 7.2% before the benchmarks (a loop, 15 rounds).</p>" in html
    assert "<li>note: core_executemany at 1,000 rows appears twice: kept the first</li>" in html


def test_fastest_is_claimed_only_beyond_both_spreads_otherwise_tied_within_noise():
    core = record("core_executemany", 100_000, 400_000, fraction_of_limit=0.5)
    orm = record("orm_bulk_insert", 100_000, 390_000, layer="orm", fraction_of_limit=0.49)
    # medians 250 ms and 256.4 ms: 6.4 ms apart, within the ORM path's IQR of 12.8 ms
    orm["iqr_s"] = orm["median_s"] * 0.05
    tied = recommendation([core, orm])
    assert tied.startswith("no single fastest SQLAlchemy path at 100,000 rows, tied within noise")
    assert "core_executemany (400,000 rows/s)" in tied and "orm_bulk_insert (390,000 rows/s)" in tied
    orm["iqr_s"] = orm["median_s"] * 0.01  # now the gap (6.4 ms) is beyond both IQRs (5 ms and 2.6 ms)
    assert recommendation([core, orm]).startswith("fastest SQLAlchemy path at 100,000 rows: core_executemany,")


def test_the_limit_is_the_fastest_raw_path_and_a_path_above_it_is_flagged():
    def measured(strategy, rows_per_s, layer, is_limit=False):
        return {**record(strategy, 1000, rows_per_s, layer=layer, is_limit=is_limit), "fraction_of_limit": None}

    records = [
        measured("physical_limit", 50_000, "limit", is_limit=True),
        measured("dbapi_executemany", 80_000, "dbapi"),
        measured("core_executemany", 120_000, "core"),  # faster than any raw path: noise at 1,000 rows
        measured("orm_bulk_insert", 40_000, "orm"),
    ]
    fill_fraction_of_limit(records)
    fractions = {item["strategy"]: round(item["fraction_of_limit"], 3) for item in records}
    assert fractions == {
        "physical_limit": 0.625,
        "dbapi_executemany": 1.0,
        "core_executemany": 1.5,
        "orm_bulk_insert": 0.5,
    }
    assert {item["limit_method"] for item in records} == {"dbapi_executemany"}
    [section] = build_benchmarks_view(records).sections
    rows = {row.strategy: row for row in section.sizes[0].measurements}
    assert rows["core_executemany"].above_limit and not rows["dbapi_executemany"].above_limit
    assert "150% of dbapi_executemany" in section.recommendation
    markdown = render_benchmarks_markdown(records)
    assert "| 150% ⚠ |" in markdown and "⚠ above 100% of the limit: faster than the fastest raw path" in markdown


# --- async drivers ---------------------------------------------------------------------------------------------


def skip_unless_installed(driver) -> None:
    if importlib.util.find_spec(driver.module) is None:
        pytest.skip(f"driver {driver.name} is not installed (pip install {driver.distribution})")
    missing = lacks(driver.requires_sqlalchemy)
    if missing:
        pytest.skip(f"the {driver.name} dialect {missing}")


def async_limit_engine(request, tmp_path, driver):
    """An engine of the kind the benchmarks give an async target (``AsyncEngine.sync_engine``) on a scratch
    database, with the limit loader's connect options, and the bridge it must run in."""
    loader = limit_loader_for(driver)
    if driver.backend == "sqlite":
        url = URL.create(f"sqlite+{driver.dialect_driver}", database=str(tmp_path / "limit.db"))
    else:
        server = request.getfixturevalue("local_postgresql" if driver.backend == "postgresql" else "local_mysql")
        admin, name = admin_driver(driver), scratch_database_name()
        url = create_scratch_database(server.admin_url, admin, name)
        request.addfinalizer(lambda: drop_scratch_database(server.admin_url, admin, name))
        url = url.set(drivername=f"{driver.backend}+{driver.dialect_driver}")
    bridge = AsyncBridge()
    request.addfinalizer(bridge.close)
    engine = create_target_engine(Target(driver, url.update_query_dict(loader.url_query), "url"))
    request.addfinalizer(lambda: bridge.call(True, engine.dispose))
    return engine, loader, bridge


def load_awkward_rows_and_read_back(engine, loader) -> list[tuple]:
    workload = WORKLOADS["wide"]
    workload.table.create(engine)
    assert loader.why_unsupported(engine) is None
    loader.load(engine, workload, AWKWARD_ROWS)
    with engine.connect() as connection:
        columns = [workload.table.c[column] for column in workload.columns]
        stored = connection.execute(sqlalchemy.select(*columns).order_by(workload.table.c.id)).all()
    return [tuple(row) for row in stored]


@pytest.mark.parametrize("driver_name", ["asyncpg", "psycopg_async", "aiosqlite", "aiomysql"])
def test_async_physical_limit_stores_awkward_values_unchanged(request, tmp_path, driver_name):
    """The async limits (asyncpg's binary COPY, psycopg's async COPY, aiosqlite's executemany, aiomysql's LOAD DATA
    file) run as the benchmarks run them, inside the bridge, and store every value as it was given."""
    driver = DRIVERS[driver_name]
    skip_unless_installed(driver)
    engine, loader, bridge = async_limit_engine(request, tmp_path, driver)
    assert bridge.call(True, load_awkward_rows_and_read_back, engine, loader) == AWKWARD_ROWS


def test_asyncmy_limit_is_unsupported_for_the_reason_it_gives(request, tmp_path):
    """asyncmy takes local_infile but cannot send the file; the reason given is what a load actually runs into."""
    driver = DRIVERS["asyncmy"]
    skip_unless_installed(driver)
    engine, loader, bridge = async_limit_engine(request, tmp_path, driver)
    reason = bridge.call(True, loader.why_unsupported, engine)
    if reason is None:
        pytest.skip(f"asyncmy {importlib.metadata.version('asyncmy')} is not known to fail: the limit is measured")
    assert "TypeError: Argument 'filename' has incorrect type" in reason
    workload = WORKLOADS["wide"]
    bridge.call(True, workload.table.create, engine)
    with pytest.raises(TypeError, match="Argument 'filename' has incorrect type"):
        bridge.call(True, loader.load, engine, workload, AWKWARD_ROWS)


@needs_pytest_benchmark
def test_quick_benchmarks_on_an_async_driver_run_in_the_bridge_and_reach_copy(tmp_path, local_postgresql):
    """asyncpg: every strategy measured through AsyncEngine.sync_engine, up to its copy_records_to_table limit."""
    skip_unless_installed(DRIVERS["asyncpg"])
    url = local_postgresql.admin_url.set(drivername="postgresql+asyncpg")
    results = tmp_path / "bench-pg-asyncpg.json"
    data, _ = run_quick_benchmarks(results, "--dburl", url.render_as_string(hide_password=False))
    records = data["benchmarks"]
    assert_every_strategy_measured_and_verified(records, "asyncpg")
    assert all(record["target"]["async"] for record in records)
    [limit] = [record for record in records if record["is_limit"]]
    assert limit["method"] == "COPY FROM STDIN, binary (asyncpg copy_records_to_table)"
    assert limit["rows_counted"] == [1000] * 5 and limit["rows_per_s"] > 0
