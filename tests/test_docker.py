"""The container path against a real Docker engine: published on loopback only, a password that
appears nowhere, LOAD DATA LOCAL INFILE, a container lost mid-run, and no container left behind
after a normal run, Ctrl-C, or the run after a ``kill -9``.

These need an engine and the images (``eval "$(.ci/docker-engine up)"`` provides both, CI does it);
without one they skip and say why, unless ``CONFORMANCE_REQUIRE_DOCKER=1`` (CI) makes that a failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import sqlalchemy

from fixtures.provision import (
    HOST_LABEL,
    IMAGE_VARIABLES,
    OWNER_LABEL,
    ProvisioningError,
    Server,
    configure_testcontainers,
    docker_engine_answers,
    start_docker_server,
)
from reports.schema import load_results
from tests.conftest import PROJECT_ROOT, clean_environment
from tests.test_faults import start_run, wait_for

IMAGES = {backend: os.environ.get(variable, "") for backend, variable in IMAGE_VARIABLES.items()}


@pytest.fixture(scope="module")
def docker_client() -> Iterator[object]:
    why = None
    if not docker_engine_answers():
        why = 'no Docker engine answers (start one with: eval "$(.ci/docker-engine up)")'
    elif not all(IMAGES.values()):
        why = "CONFORMANCE_PG_IMAGE and CONFORMANCE_MYSQL_IMAGE name no images to run"
    if why:
        if os.environ.get("CONFORMANCE_REQUIRE_DOCKER") == "1":
            pytest.fail(f"CONFORMANCE_REQUIRE_DOCKER=1 but {why}")
        pytest.skip(why)
    import docker

    client = docker.from_env()
    yield client
    client.close()


def test_an_engine_on_another_machine_is_refused_with_one_line():
    """Ports published on that machine's loopback cannot be reached from here."""
    with pytest.raises(ProvisioningError, match="is not on this machine") as raised:
        configure_testcontainers({"DOCKER_HOST": "tcp://192.0.2.1:2375"})
    assert "\n" not in str(raised.value)
    configure_testcontainers({"DOCKER_HOST": "tcp://127.0.0.1:2375"})  # a local engine over TCP is fine


def containers_of(client, pid: int) -> list:
    """Containers a run with process id ``pid`` on this host started (running or not)."""
    labels = [f"{HOST_LABEL}={socket.gethostname()}", f"{OWNER_LABEL}={pid}"]
    return client.containers.list(all=True, filters={"label": labels})


@pytest.fixture(params=["postgresql", "mysql"])
def container_server(request, docker_client) -> Iterator[Server]:
    environ = {IMAGE_VARIABLES[request.param]: IMAGES[request.param], **os.environ}
    server = start_docker_server(request.param, environ)
    yield server
    server.stop()


def test_a_container_listens_on_loopback_only_and_requires_its_generated_password(docker_client, container_server):
    (container,) = containers_of(docker_client, os.getpid())
    container_port = f"{5432 if container_server.backend == 'postgresql' else 3306}/tcp"
    bindings = container.attrs["HostConfig"]["PortBindings"][container_port]
    assert [binding["HostIp"] for binding in bindings] == ["127.0.0.1"]
    port = container_server.admin_url.port
    listening = {
        connection.laddr.ip
        for connection in psutil.net_connections("inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }
    assert listening == {"127.0.0.1"}, listening

    driver = "psycopg" if container_server.backend == "postgresql" else "pymysql"
    url = container_server.admin_url.set(drivername=f"{container_server.backend}+{driver}")
    with sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool).connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    wrong = sqlalchemy.create_engine(url.set(password="not-the-password"), poolclass=sqlalchemy.pool.NullPool)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        wrong.connect()
    assert len(container_server.admin_url.password) >= 20


def test_a_mysql_container_accepts_load_data_local_infile(docker_client, tmp_path):
    """The benchmarks' physical limit. MySQL 8 refuses it unless the server runs with --local-infile=1
    (which the suite passes); MariaDB allows it by default, so there this shows the path works."""
    environ = {"CONFORMANCE_MYSQL_IMAGE": IMAGES["mysql"], **os.environ}
    server = start_docker_server("mysql", environ)
    try:
        data = tmp_path / "rows.tsv"
        data.write_text("1\tone\n2\ttwo\n")
        url = server.admin_url.set(drivername="mysql+pymysql")
        engine = sqlalchemy.create_engine(url, connect_args={"local_infile": True}, poolclass=sqlalchemy.pool.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE loaded (id INT PRIMARY KEY, name VARCHAR(10))")
            connection.exec_driver_sql(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE loaded")
            assert connection.exec_driver_sql("SELECT name FROM loaded ORDER BY id").scalars().all() == ["one", "two"]
    finally:
        server.stop()


def test_stopping_a_container_server_removes_the_container(docker_client):
    environ = {"CONFORMANCE_PG_IMAGE": IMAGES["postgresql"], **os.environ}
    server = start_docker_server("postgresql", environ)
    assert len(containers_of(docker_client, os.getpid())) == 1
    server.stop()
    assert containers_of(docker_client, os.getpid()) == []


# --- whole runs in a child process --------------------------------------------------------------


def start_docker_run(tmp_path: Path, module: str, backend: str, **environ: str) -> subprocess.Popen:
    """A run of ``module`` on ``backend`` in a container (stderr joined to stdout)."""
    return start_run(
        tmp_path,
        module,
        "--backend",
        backend,
        "--results",
        str(tmp_path / "results.json"),
        CONFORMANCE_PROVISION="docker",
        CONFORMANCE_PG_IMAGE=IMAGES["postgresql"],
        CONFORMANCE_MYSQL_IMAGE=IMAGES["mysql"],
        **environ,
    )


CONTAINER_START_S = 180  # a container start under load takes longer than a local server's


def container_password(container) -> str:
    environment = dict(entry.split("=", 1) for entry in container.attrs["Config"]["Env"])
    return environment.get("POSTGRES_PASSWORD") or environment["MYSQL_ROOT_PASSWORD"]


def test_a_normal_run_removes_its_container_and_its_password_appears_nowhere(docker_client, tmp_path):
    ready, go_on = tmp_path / "ready", tmp_path / "go-on"
    child = start_docker_run(
        tmp_path, "server_dies.py", "postgresql", READY_FILE=str(ready), SERVER_KILLED_FILE=str(go_on)
    )
    wait_for(ready, child, CONTAINER_START_S)
    (container,) = containers_of(docker_client, child.pid)
    password = container_password(container)
    go_on.write_text("the server stays up")
    output = child.communicate(timeout=180)[0]

    assert child.returncode == 0, output[-3000:]
    assert containers_of(docker_client, child.pid) == []
    results = (tmp_path / "results.json").read_text()
    assert {cell["outcome"] for cell in load_results(tmp_path / "results.json")["cells"]} == {"pass"}
    report = subprocess.run(
        [sys.executable, "-m", "reports", "build", str(tmp_path), "-o", str(tmp_path / "html")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    written = results + output + report.stdout + report.stderr
    written += "".join(page.read_text() for page in (tmp_path / "html").rglob("*.html"))
    assert password not in written
    assert '"server": "PostgreSQL ' in results


def test_ctrl_c_removes_the_container(docker_client, tmp_path):
    ready = tmp_path / "ready"
    child = start_docker_run(tmp_path, "slow_behaviour.py", "mysql", READY_FILE=str(ready))
    wait_for(ready, child, CONTAINER_START_S)
    assert len(containers_of(docker_client, child.pid)) == 1
    os.killpg(child.pid, signal.SIGINT)
    child.communicate(timeout=120)

    assert containers_of(docker_client, child.pid) == []
    assert (tmp_path / "results.json").exists()


def test_the_run_after_a_kill_9_removes_the_dead_runs_container(docker_client, tmp_path):
    ready = tmp_path / "ready"
    child = start_docker_run(tmp_path, "slow_behaviour.py", "postgresql", READY_FILE=str(ready))
    wait_for(ready, child, CONTAINER_START_S)
    os.killpg(child.pid, signal.SIGKILL)  # no atexit, no cleanup
    child.communicate(timeout=30)
    assert len(containers_of(docker_client, child.pid)) == 1, "the killed run left its container"

    dry = subprocess.run(
        [sys.executable, "-m", "fixtures.leftovers", "--dry-run"],
        cwd=PROJECT_ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dry.returncode == 0 and "would remove container" in dry.stdout, dry.stdout + dry.stderr
    assert len(containers_of(docker_client, child.pid)) == 1

    ready.unlink()
    after = start_docker_run(tmp_path, "slow_behaviour.py", "postgresql", READY_FILE=str(ready))
    wait_for(ready, after, CONTAINER_START_S)  # the next run has started, cleaned, and started its own container
    assert containers_of(docker_client, child.pid) == []
    os.killpg(after.pid, signal.SIGINT)
    after.communicate(timeout=120)
    assert containers_of(docker_client, after.pid) == []


def test_a_container_lost_mid_run_gives_server_lost_errors_in_a_complete_results_file(docker_client, tmp_path):
    ready, killed = tmp_path / "ready", tmp_path / "killed"
    child = start_docker_run(tmp_path, "server_dies.py", "mysql", READY_FILE=str(ready), SERVER_KILLED_FILE=str(killed))
    wait_for(ready, child, CONTAINER_START_S)
    (container,) = containers_of(docker_client, child.pid)
    container.kill()
    killed.write_text("killed")
    output = child.communicate(timeout=180)[0]

    assert child.returncode == 1, output[-3000:]
    outcomes = {cell["behaviour"]: cell for cell in load_results(tmp_path / "results.json")["cells"]}
    assert outcomes["demo.before-the-kill"]["outcome"] == "pass"
    for behaviour in ("demo.during-the-kill", "demo.after-the-kill-1", "demo.after-the-kill-2"):
        assert outcomes[behaviour]["outcome"] == "error", outcomes[behaviour]
        assert outcomes[behaviour]["reason"].startswith("server lost"), outcomes[behaviour]["reason"]
    assert containers_of(docker_client, child.pid) == []
