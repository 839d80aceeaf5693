"""Provisioning: how a server is chosen, and that local servers are real, private and cleaned up."""

from __future__ import annotations

import os

import psutil
import pytest
import sqlalchemy

from fixtures.provision import (
    HOW_TO_GET,
    ProvisioningError,
    ServerPool,
    choose_provisioning,
    create_scratch_database,
    docker_engine_answers,
    drop_scratch_database,
    find_mysql_binaries,
    find_postgres_bindir,
    scratch_database_name,
    start_docker_server,
    start_local_postgresql,
)
from fixtures.targets import DRIVERS


def always(answer: bool):
    return lambda: answer


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_url_wins_over_docker_and_local(backend):
    variable = {"postgresql": "CONFORMANCE_PG_URL", "mysql": "CONFORMANCE_MYSQL_URL"}[backend]
    environ = {variable: f"{backend}://u:p@127.0.0.1/db"}
    assert choose_provisioning(backend, environ, always(True), always(True)) == "url"


def test_docker_is_chosen_automatically_where_an_engine_answers():
    assert choose_provisioning("postgresql", {}, always(True), always(True)) == "docker"


def test_local_binaries_are_used_when_no_docker_engine_answers():
    assert choose_provisioning("mysql", {}, always(False), always(True)) == "local"


def test_forcing_a_choice_overrides_the_automatic_order():
    environ = {"CONFORMANCE_PG_URL": "postgresql://u@h/db", "CONFORMANCE_PROVISION": "local"}
    assert choose_provisioning("postgresql", environ, always(True), always(True)) == "local"
    environ["CONFORMANCE_PROVISION"] = "docker"
    assert choose_provisioning("postgresql", environ, always(True), always(True)) == "docker"


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_no_server_at_all_says_how_to_get_one(backend):
    with pytest.raises(ProvisioningError) as raised:
        choose_provisioning(backend, {}, always(False), always(False))
    message = str(raised.value)
    assert "\n" not in message
    assert "Docker" in message and "CONFORMANCE_" in message and "apt-get install" in message
    assert HOW_TO_GET[backend] in message


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"CONFORMANCE_PROVISION": "docker"}, "no Docker engine answers"),
        ({"CONFORMANCE_PROVISION": "url"}, "CONFORMANCE_PG_URL is not set"),
        ({"CONFORMANCE_PROVISION": "kubernetes"}, "is not one of url, docker, local"),
    ],
)
def test_an_impossible_forced_choice_is_a_clear_error(environ, fragment):
    with pytest.raises(ProvisioningError, match=fragment):
        choose_provisioning("postgresql", environ, always(False), always(True))


def test_docker_probe_answers_false_when_the_engine_is_unreachable(monkeypatch, unused_loopback_port):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{unused_loopback_port}")
    assert docker_engine_answers(timeout_s=2) is False


def test_the_docker_path_fails_with_one_line_when_docker_is_absent(monkeypatch, unused_loopback_port):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{unused_loopback_port}")
    with pytest.raises(ProvisioningError) as raised:
        start_docker_server("postgresql", {})
    assert "could not start a postgres:16 container" in str(raised.value)
    pool = ServerPool(environ={"CONFORMANCE_PROVISION": "docker", "DOCKER_HOST": os.environ["DOCKER_HOST"]})
    with pytest.raises(ProvisioningError, match="no Docker engine answers"):
        pool.server_for("mysql")


def test_local_binaries_are_found_on_this_machine():
    assert find_postgres_bindir() is not None, "PostgreSQL binaries (initdb, postgres) are needed for the local path"
    assert find_mysql_binaries() is not None, "mariadbd or mysqld is needed for the local path"


@pytest.mark.parametrize("server_fixture", ["local_postgresql", "local_mysql"])
def test_local_server_listens_on_loopback_and_requires_its_password(request, server_fixture):
    server = request.getfixturevalue(server_fixture)
    assert server.how == "local"
    assert server.admin_url.host == "127.0.0.1"
    driver = DRIVERS["psycopg" if server.backend == "postgresql" else "pymysql"]
    url = server.admin_url.set(drivername=f"{driver.backend}+{driver.dialect_driver}")
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    query = "SHOW listen_addresses" if server.backend == "postgresql" else "SELECT @@bind_address"
    with engine.connect() as connection:
        assert connection.exec_driver_sql(query).scalar() == "127.0.0.1"
    wrong = sqlalchemy.create_engine(url.set(password="not-the-password"), poolclass=sqlalchemy.pool.NullPool)
    with pytest.raises(sqlalchemy.exc.OperationalError), wrong.connect():
        pass
    assert "***" in server.admin_url.render_as_string(hide_password=True)


@pytest.mark.parametrize("server_fixture", ["local_postgresql", "local_mysql"])
def test_scratch_database_is_created_and_dropped(request, server_fixture):
    server = request.getfixturevalue(server_fixture)
    driver = DRIVERS["psycopg" if server.backend == "postgresql" else "pymysql"]
    name = scratch_database_name()
    url = create_scratch_database(server.admin_url, driver, name)
    assert url.database == name
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    drop_scratch_database(server.admin_url, driver, name)
    listing = "SELECT datname FROM pg_database" if server.backend == "postgresql" else "SHOW DATABASES"
    admin = sqlalchemy.create_engine(
        server.admin_url.set(drivername=url.drivername), poolclass=sqlalchemy.pool.NullPool
    )
    with admin.connect() as connection:
        assert name not in connection.exec_driver_sql(listing).scalars().all()


def test_stopping_a_local_server_ends_its_process_and_deletes_its_directory():
    server = start_local_postgresql()
    port = server.admin_url.port
    assert server.workdir is not None and server.workdir.is_dir()
    assert any(conn.laddr.port == port for conn in psutil.net_connections("tcp") if conn.status == "LISTEN")
    server.stop()
    assert not any(conn.laddr.port == port for conn in psutil.net_connections("tcp") if conn.status == "LISTEN")
    assert not server.workdir.exists()
