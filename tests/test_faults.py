"""Faults with real servers and real processes: a server killed in the middle of a run, two runs on
one server at once, leftovers of a run killed outright, and bad connection input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import sqlalchemy

from fixtures.provision import OWNER_FILE, SCRATCH_PREFIX
from reports.schema import load_results
from tests.conftest import DATA, PROJECT_ROOT, clean_environment, leftovers_in, run_child, run_suite, start_child


def start_run(tmp_path: Path, module: str, *arguments: str, **environ: str) -> subprocess.Popen:
    return start_child(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(DATA / module), *arguments],
        clean_environment(**environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for(path: Path, child: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert child.poll() is None, child.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the child never got there"
        time.sleep(0.05)


def server_process_groups(directory: Path) -> set[int]:
    return {os.getpgid(pid) for pid in leftovers_in(directory)[1]}


def test_killing_the_server_mid_run_makes_the_remaining_cells_errors_in_a_complete_results_file(tmp_path, private_tmp):
    ready, killed, results = tmp_path / "ready", tmp_path / "killed", tmp_path / "killed.json"
    child = start_run(
        tmp_path,
        "server_dies.py",
        "--backend",
        "postgresql",
        "--results",
        str(results),
        READY_FILE=str(ready),
        SERVER_KILLED_FILE=str(killed),
        TMPDIR=str(private_tmp),
    )
    wait_for(ready, child)
    groups = server_process_groups(private_tmp)
    assert groups, "the run's own server is up"
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    killed.write_text("killed")
    output = child.communicate(timeout=120)[0]

    assert child.returncode == 1, output[-3000:]
    outcomes = {cell["behaviour"]: (cell["outcome"], cell["reason"]) for cell in load_results(results)["cells"]}
    assert outcomes["demo.before-the-kill"][0] == "pass"
    for behaviour in ("demo.during-the-kill", "demo.after-the-kill-1", "demo.after-the-kill-2"):
        outcome, reason = outcomes[behaviour]
        assert outcome == "error", (behaviour, reason)
        assert reason.startswith("server lost: "), reason
    assert leftovers_in(private_tmp) == ([], [])


def test_the_gate_counts_cells_of_a_lost_server_as_regressions(tmp_path):
    healthy = tmp_path / "healthy.json"
    assert run_suite(str(DATA / "server_dies.py"), "--results", str(healthy)).returncode == 0
    lost = json.loads(healthy.read_text())
    for cell in lost["cells"][1:]:
        cell["outcome"], cell["reason"] = "error", "server lost: connection refused"
    candidate = tmp_path / "lost.json"
    candidate.write_text(json.dumps(lost))

    gate = subprocess.run(
        [sys.executable, "-m", "reports", "gate", str(healthy), str(candidate)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "demo.after-the-kill-2" in gate.stdout


def test_two_runs_on_one_server_at_once_stay_in_their_own_databases(tmp_path, local_postgresql):
    url = local_postgresql.admin_url.set(drivername="postgresql+psycopg")
    admin = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)

    def databases() -> set[str]:
        with admin.connect() as connection:
            return {row[0] for row in connection.exec_driver_sql("SELECT datname FROM pg_database")}

    before = databases()
    text = url.render_as_string(hide_password=False)
    runs = [
        start_run(tmp_path, "../../suites/test_dml.py", "--dburl", text, "--results", str(tmp_path / f"run{n}.json"))
        for n in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]

    for number, (run, output) in enumerate(zip(runs, outputs, strict=True)):
        assert run.returncode == 0, output[-3000:]
        cells = load_results(tmp_path / f"run{number}.json")["cells"]
        assert cells and {cell["outcome"] for cell in cells} <= {"pass", "differs", "unsupported"}
    assert databases() == before  # nothing it did not create was touched; its own were dropped
    admin.dispose()


def test_leftovers_of_a_run_killed_outright_are_cleaned_by_the_next_run_and_the_command(
    tmp_path, private_tmp, local_postgresql
):
    ready = tmp_path / "ready"
    child = start_run(
        tmp_path,
        "slow_behaviour.py",
        "--backend",
        "postgresql",
        "--results",
        str(tmp_path / "x.json"),
        READY_FILE=str(ready),
        TMPDIR=str(private_tmp),
    )
    wait_for(ready, child)
    child.kill()  # SIGKILL: no atexit, no cleanup
    child.communicate(timeout=30)
    directories, servers = leftovers_in(private_tmp)
    assert servers and directories, "the killed run left its server and directory"
    assert all((Path(directory) / OWNER_FILE).read_text() == str(child.pid) for directory in directories)

    url = local_postgresql.admin_url.set(drivername="postgresql+psycopg")
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool)
    dead, alive = f"{SCRATCH_PREFIX}{child.pid}_0badc0de", f"{SCRATCH_PREFIX}{os.getpid()}_0badc0de"
    with admin.connect() as connection:
        for name in (dead, alive):
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')

    cleaned = run_child(
        [sys.executable, "-m", "fixtures.leftovers", "--dburl", url.render_as_string(hide_password=False)],
        clean_environment(TMPDIR=str(private_tmp)),
        timeout=120,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert local_postgresql.admin_url.password not in cleaned.stdout + cleaned.stderr
    assert leftovers_in(private_tmp) == ([], [])
    with admin.connect() as connection:
        names = {row[0] for row in connection.exec_driver_sql("SELECT datname FROM pg_database")}
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{alive}"')
    admin.dispose()
    assert dead not in names
    assert alive in names  # a live run's database is never touched


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"password": "wrong-password"}, "password authentication failed"),
        ({"database": "no_such_database"}, 'database "no_such_database" does not exist'),
        ({"host": "192.0.2.1"}, "cannot create a scratch database"),  # TEST-NET-1: never answers
    ],
    ids=["wrong-password", "missing-database", "unreachable-host"],
)
def test_bad_connection_input_ends_with_one_line_on_stderr_and_exit_2(tmp_path, local_postgresql, change, fragment):
    url = local_postgresql.admin_url.set(drivername="postgresql+psycopg", **change)
    completed = run_suite(
        str(DATA / "slow_behaviour.py"),
        "--dburl",
        url.render_as_string(hide_password=False),
        "--results",
        str(tmp_path / "none.json"),
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and fragment in completed.stderr, completed.stderr
    assert completed.stdout == "", completed.stdout  # the line comes before pytest's session header
    assert "Traceback" not in completed.stdout + completed.stderr
    assert url.password not in completed.stdout + completed.stderr
    assert not (tmp_path / "none.json").exists()


def test_a_child_past_its_time_limit_is_stopped_with_its_whole_process_group(tmp_path):
    grandchild = tmp_path / "grandchild.pid"
    with pytest.raises(pytest.fail.Exception, match="did not finish in 2 s"):
        run_child(["sh", "-c", f"sleep 300 & echo $! > {grandchild}; wait"], timeout=2)
    pid = int(grandchild.read_text())
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the grandchild outlived the time limit"
        time.sleep(0.1)
