"""The conformance run as a user starts it: child pytest processes, real servers, real results files."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy

from fixtures.targets import DRIVERS, driver_for_url, parse_url
from reports.merge import expand_paths
from reports.schema import load_results
from tests.conftest import DATA, PROJECT_ROOT, clean_environment, leftovers_in, run_suite, start_child


def cells_by_behaviour(path):
    return {cell["behaviour"]: cell for cell in load_results(path)["cells"]}


def test_each_test_outcome_becomes_the_right_cell(tmp_path):
    results = tmp_path / "outcomes.json"
    completed = run_suite(
        str(DATA / "outcome_behaviours.py"),
        "--backend",
        "sqlite",
        "--results",
        str(results),
        environ=clean_environment(CONFORMANCE_EXPECTATIONS=str(DATA / "outcome_expectations.toml")),
    )
    assert completed.returncode == 1, completed.stdout[-2000:]  # a fail and an error make the run fail
    cells = cells_by_behaviour(results)
    outcomes = {behaviour: cell["outcome"] for behaviour, cell in cells.items()}
    assert outcomes == {
        "demo.passes": "pass",
        "demo.fails": "fail",
        "demo.differs": "differs",
        "demo.not-as-documented": "fail",
        "demo.known-issue": "fail",
        "demo.differs-then-teardown-fails": "error",
        "demo.stale": "fail",
        "demo.unsupported": "unsupported",
        "demo.unsupported-but-works": "unsupported",
        "demo.error": "error",
    }
    assert "deliberately wrong" in cells["demo.fails"]["reason"]
    assert cells["demo.fails"]["evidence"]["values"] == {"round trips": 1}
    assert cells["demo.differs"]["reason"].startswith("documented to differ on SQLite")
    assert cells["demo.differs"]["doc"].endswith("dialects/sqlite.html")
    assert "stale" in cells["demo.stale"]["reason"]
    assert cells["demo.unsupported"]["reason"] == "SQLite has no such thing"
    assert "the fixture broke" in cells["demo.error"]["reason"]
    assert cells["demo.differs"]["reason"].endswith("Observed: round trips: expected 2, got 1")
    assert cells["demo.differs"]["checks"][1] == {
        "name": "statements",
        "expected": ["SELECT 1"],
        "got": ["SELECT 1"],
        "ok": True,
    }
    assert cells["demo.not-as-documented"]["reason"].startswith("deviates, but not as documented: round trips got 1")
    assert cells["demo.not-as-documented"]["documented_deviation"] == "round trips: got 3"
    assert cells["demo.known-issue"]["known_issue"] == "https://github.com/example/project/issues/1"
    assert cells["demo.known-issue"]["reason"].startswith("known issue: https://github.com/example/project/issues/1")
    teardown = cells["demo.differs-then-teardown-fails"]["reason"]
    assert teardown.startswith("teardown failed: raised builtins.RuntimeError: the teardown broke after: round trips")
    assert "10 cells: 1 pass, 1 differs, 4 fail (1 known issue), 2 unsupported, 2 error" in completed.stdout


def test_unsupported_cells_run_on_request_and_a_stale_entry_is_a_fail(tmp_path):
    results = tmp_path / "unsupported.json"
    completed = run_suite(
        str(DATA / "outcome_behaviours.py"),
        "--backend",
        "sqlite",
        "--run-unsupported",
        "-k",
        "unsupported",
        "--results",
        str(results),
        environ=clean_environment(CONFORMANCE_EXPECTATIONS=str(DATA / "outcome_expectations.toml")),
    )
    assert completed.returncode == 1, completed.stdout[-2000:]
    cells = cells_by_behaviour(results)
    assert cells["demo.unsupported"]["outcome"] == "unsupported"  # still deviates: the entry holds
    assert cells["demo.unsupported"]["reason"] == "SQLite has no such thing (checked: assertion: never runs)"
    stale = cells["demo.unsupported-but-works"]
    assert stale["outcome"] == "fail" and stale["stale_expectation"] is True
    assert "stale registry entry: demo.unsupported-but-works" in completed.stdout


def test_sqlite_run_gives_evidence_for_every_cell_and_no_undocumented_difference(tmp_path):
    results = tmp_path / "sqlite.json"
    completed = run_suite("suites", "--backend", "sqlite", "--results", str(results))
    assert completed.returncode == 0, completed.stdout[-3000:]
    data = load_results(results)
    assert len(data["cells"]) >= 20
    assert {cell["area"] for cell in data["cells"]} >= {
        "transactions",
        "executemany",
        "returning",
        "autoflush",
        "cascade",
        "integrity",
    }
    for cell in data["cells"]:
        known_issue = cell["outcome"] == "fail" and cell.get("known_issue")  # registered: red, but expected
        assert cell["outcome"] in ("pass", "differs", "unsupported") or known_issue, cell
        if cell["outcome"] != "unsupported":  # an unsupported behaviour is not run: no evidence
            evidence = cell["evidence"]
            # statements, or measured values where the claim is that no SQL is emitted
            assert evidence["round_trips"] > 0 or evidence["values"], cell["behaviour"]
        if cell["outcome"] in ("differs", "unsupported") or known_issue:
            assert cell["reason"] and cell["doc"].startswith("https://"), cell["behaviour"]
    assert data["run"]["sqlalchemy"] == sqlalchemy.__version__
    assert data["cells"][0]["target"]["server"].startswith("SQLite ")


def test_a_run_without_results_writes_apart_from_what_the_report_merges_by_default():
    written = PROJECT_ROOT / "reports" / "results" / "direct" / "sqlite-pysqlite.json"
    written.unlink(missing_ok=True)
    completed = run_suite("suites/test_transactions.py", "--backend", "sqlite", "-k", "commit_as_you_go")
    assert completed.returncode == 0, completed.stdout[-3000:]
    try:
        assert f"results: {written}" in completed.stdout
        assert load_results(written)["cells"]
        assert written not in expand_paths([PROJECT_ROOT / "reports" / "results"])
    finally:
        written.unlink(missing_ok=True)


def database_names(server) -> list[str]:
    url = server.admin_url.set(drivername="postgresql+psycopg")
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT datname FROM pg_database").scalars().all()


def test_a_url_target_runs_in_a_scratch_database_it_drops_and_keeps_the_password_out(tmp_path, local_postgresql):
    before = database_names(local_postgresql)
    results = tmp_path / "url.json"
    url = local_postgresql.admin_url.render_as_string(hide_password=False)
    completed = run_suite(
        "suites/test_transactions.py",
        "--backend",
        "postgresql",
        "--results",
        str(results),
        environ=clean_environment(CONFORMANCE_PG_URL=url, CONFORMANCE_PROVISION="url"),
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    data = load_results(results)
    assert {cell["target"]["provisioned"] for cell in data["cells"]} == {"url"}
    assert all(cell["outcome"] == "pass" for cell in data["cells"])
    assert database_names(local_postgresql) == before
    password = local_postgresql.admin_url.password
    assert password not in results.read_text()
    assert password not in completed.stdout + completed.stderr


# A PostgreSQL driver this environment lacks (the tests env installs only psycopg).
MISSING_DRIVER = next(
    (
        driver.dialect_driver
        for driver in DRIVERS.values()
        if driver.backend == "postgresql" and importlib.util.find_spec(driver.module.split(".")[0]) is None
    ),
    None,
)


@pytest.mark.parametrize(
    ("arguments", "environ", "fragment"),
    [
        (
            ["--backend", "postgresql"],
            {"CONFORMANCE_PROVISION": "docker", "DOCKER_HOST": "tcp://127.0.0.1:9"},
            "no Docker engine answers",
        ),
        (["--backend", "postgresql", "--driver", "nosuchdriver"], {}, "unknown driver 'nosuchdriver'"),
        (["--backend", "oracle"], {}, "unknown backend 'oracle'"),
        (["--dburl", "postgresql+psycopg://u:secret@127.0.0.1:1/db"], {}, "cannot create a scratch database"),
        *(
            [(["--dburl", f"postgresql+{MISSING_DRIVER}://u:secret@127.0.0.1:1/db"], {}, "is not installed")]
            if MISSING_DRIVER
            else []
        ),
        (["--dburl", "postgresql://u:secret@127.0.0.1:notaport/db"], {}, "malformed database URL"),
    ],
)
def test_unusable_targets_end_with_one_clear_line_and_exit_2(tmp_path, arguments, environ, fragment):
    results = tmp_path / "none.json"
    completed = run_suite(
        "suites/test_transactions.py", *arguments, "--results", str(results), environ=clean_environment(**environ)
    )
    assert completed.returncode == 2
    output = completed.stdout + completed.stderr
    assert fragment in output
    assert "Traceback" not in output
    assert "secret" not in output
    assert not results.exists()


@pytest.mark.parametrize("entry_point", ["suites", "benchmarks"])
@pytest.mark.parametrize(
    ("arguments", "environ", "line"),
    [
        (["--backend", "oracle"], {}, "unknown backend 'oracle': choose one of sqlite, postgresql, mysql"),
        (["--backend", "pg", "--driver", "nosuchdriver"], {}, "unknown driver 'nosuchdriver' for postgresql"),
        (["--dburl", "postgresql://u:secret@127.0.0.1:notaport/db"], {}, "malformed database URL"),
        *([(["--backend", "pg", "--driver", MISSING_DRIVER], {}, "is not installed")] if MISSING_DRIVER else []),
        (["--backend", "mysql"], {"CONFORMANCE_PROVISION": "sometimes"}, "CONFORMANCE_PROVISION='sometimes'"),
        (["--backend", "mysql"], {"CONFORMANCE_PROVISION": "url"}, "CONFORMANCE_MYSQL_URL is not set"),
        (["--backend", "pg"], {"CONFORMANCE_PG_URL": "mysql://u:secret@h/db"}, "names a mysql server"),
        (
            ["--backend", "pg"],
            {"CONFORMANCE_PROVISION": "docker", "DOCKER_HOST": "tcp://127.0.0.1:9"},
            "no Docker engine answers",
        ),
    ],
)
def test_bad_input_gives_one_line_and_nothing_else(entry_point, arguments, environ, line):
    completed = run_suite(entry_point, *arguments, environ=clean_environment(**environ))
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.startswith("sqla-conformance: ") and completed.stderr.count("\n") == 1
    assert line in completed.stderr and "secret" not in completed.stderr


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@127.0.0.1/db", "psycopg"),
        ("mysql://u@127.0.0.1/db", "pymysql"),
        ("mariadb://u@127.0.0.1/db", "pymysql"),
        ("postgresql+psycopg2://u@127.0.0.1/db", "psycopg2"),
        ("mysql+mysqldb://u@127.0.0.1/db", "mysqlclient"),
    ],
)
def test_a_bare_url_runs_on_the_driver_of_the_default_target(url, driver):
    assert driver_for_url(parse_url(url)).name == driver


def test_a_run_leaves_no_server_or_directory_behind(tmp_path, private_tmp):
    for backend in ("postgresql", "mysql"):
        completed = run_suite(
            "suites/test_transactions.py",
            "--backend",
            backend,
            "--results",
            str(tmp_path / f"{backend}.json"),
            environ=clean_environment(TMPDIR=str(private_tmp)),
        )
        assert completed.returncode == 0, completed.stdout[-3000:]
    assert leftovers_in(private_tmp) == ([], [])


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_its_server_and_deletes_its_directory(tmp_path, private_tmp, stop_signal):
    ready = tmp_path / "ready"
    child = start_child(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            str(DATA / "slow_behaviour.py"),
            "--backend",
            "postgresql",
            "--results",
            str(tmp_path / "slow.json"),
        ],
        clean_environment(READY_FILE=str(ready), TMPDIR=str(private_tmp)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert child.poll() is None, child.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the child never got to its behaviour"
        time.sleep(0.1)
    assert leftovers_in(private_tmp)[1], "the child's server runs while the behaviour waits"
    child.send_signal(stop_signal)
    output = child.communicate(timeout=120)[0]
    assert child.returncode != 0
    assert leftovers_in(private_tmp) == ([], []), output[-2000:]
    recorded = load_results(tmp_path / "slow.json")  # what was recorded before the interrupt is kept
    assert [cell["behaviour"] for cell in recorded["cells"]] == ["demo.quick"]
    assert recorded["run"]["exit_status"] == 2  # pytest's "interrupted"
