"""Firebird 3, a third-party dialect on a server the project provisions itself (fixtures/firebird.py): a private
server on loopback with its own configuration, security database and generated password, stopped and deleted at
the end; and a few behaviours run on it through sqlalchemy-firebird, in a child run as tox -e firebird does.

The Python side (sqlalchemy-firebird, firebird-driver 2) cannot share the tests' environment: firebird-driver 2
requires python-dateutil~=2.8, which requirements/constraints.txt excludes (requirements/firebird.txt). The child
run gets them, pinned by requirements/firebird.txt, from a directory of its own put first on its PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fixtures.firebird import find_firebird_binaries, start_local_firebird
from fixtures.provision import Server
from tests.conftest import PROJECT_ROOT, clean_environment, leftovers_in

FIREBIRD_PINS = PROJECT_ROOT / "requirements" / "firebird.txt"
# the Python side of the dialect, installed for the child run; the rest comes from the tests' environment
DIALECT_DISTRIBUTIONS = (
    "sqlalchemy-firebird",
    "firebird-driver",
    "firebird-base",
    "protobuf",
    "python-dateutil",
    "six",
)

pytestmark = pytest.mark.skipif(
    find_firebird_binaries() is None and not os.environ.get("CI"),
    reason="Firebird 3 is not installed here (apt-get install firebird3.0-server; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def firebird() -> Iterator[Server]:
    server = start_local_firebird()
    yield server
    server.stop()


def isql(server: Server, sql: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Firebird's own client over TCP, as any client would reach the server (the password in its environment)."""
    binaries = find_firebird_binaries()
    assert binaries is not None
    url = server.admin_url
    environment = {
        **os.environ,
        "ISC_USER": url.username or "",
        "ISC_PASSWORD": url.password if password is None else password,
    }
    return subprocess.run(
        [str(binaries.isql), "-q", "-b", f"{url.host}/{url.port}:{url.database}"],
        input=sql,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


def listening_addresses(port: int) -> set[str]:
    return {
        conn.laddr.ip for conn in psutil.net_connections("tcp") if conn.status == "LISTEN" and conn.laddr.port == port
    }


def test_the_server_is_private_and_listens_on_loopback_only(firebird: Server) -> None:
    assert firebird.how == "local" and firebird.workdir is not None
    assert listening_addresses(firebird.admin_url.port) == {"127.0.0.1"}
    configuration = (firebird.workdir / "firebird.conf").read_text()
    assert "RemoteBindAddress = 127.0.0.1" in configuration
    assert f"RemoteServicePort = {firebird.admin_url.port}" in configuration
    assert f"SecurityDatabase = {firebird.workdir / 'security3.fdb'}" in configuration
    # the password reached the security database and nothing else the run keeps
    assert not (firebird.workdir / "init.sql").exists()
    for path in firebird.workdir.rglob("*"):
        if path.is_file() and path.suffix != ".fdb":
            assert firebird.admin_url.password not in path.read_text(errors="replace"), path
    # the server's own view: its root directory and lock directory are the run's
    server_processes = [
        p for p in psutil.process_iter(["cmdline"]) if str(firebird.workdir) in " ".join(p.info["cmdline"] or [])
    ]
    assert len(server_processes) == 1
    assert server_processes[0].environ().get("FIREBIRD") == str(firebird.workdir)


def test_the_generated_password_is_required(firebird: Server) -> None:
    answered = isql(
        firebird, "SELECT MON$REMOTE_ADDRESS FROM MON$ATTACHMENTS WHERE MON$ATTACHMENT_ID = CURRENT_CONNECTION;"
    )
    assert answered.returncode == 0, answered.stderr
    assert "127.0.0.1" in answered.stdout
    refused = isql(firebird, "SELECT 1 FROM RDB$DATABASE;", password="not-the-password")
    assert refused.returncode != 0
    assert "password" in refused.stderr.lower()


def test_stopping_ends_the_process_and_deletes_the_directory() -> None:
    server = start_local_firebird()
    port, directory = server.admin_url.port, server.workdir
    assert directory is not None and listening_addresses(port)
    server.stop()
    assert not listening_addresses(port)
    assert not directory.exists()


@pytest.fixture(scope="module")
def dialect_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sqlalchemy-firebird and firebird-driver 2, at requirements/firebird.txt's pins, in a directory of their own."""
    directory = tmp_path_factory.mktemp("firebird-packages")
    pins = [
        line.strip()
        for line in FIREBIRD_PINS.read_text().splitlines()
        if line.strip() and not line.startswith("#") and line.split("==")[0].lower() in DIALECT_DISTRIBUTIONS
    ]
    assert len(pins) == len(DIALECT_DISTRIBUTIONS), pins
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--target", str(directory), *pins],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return directory


BEHAVIOURS = (
    "test_commit_as_you_go_commits_each_unit_and_begins_again"
    " or test_duplicate_key_raises_integrity_error_at_flush_not_add"
    " or test_not_null_violation_raises_integrity_error"
)


def test_behaviours_run_on_a_provisioned_firebird(dialect_packages: Path, private_tmp: Path) -> None:
    """A child run as tox -e firebird does (--backend firebird: the server is provisioned by the run itself)."""
    results = private_tmp / "firebird.json"
    environment = clean_environment(
        PYTHONPATH=os.pathsep.join([str(dialect_packages), str(PROJECT_ROOT)]), TMPDIR=str(private_tmp)
    )
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q", "--backend", "firebird",
         "--results", str(results), "-k", BEHAVIOURS],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=environment, timeout=600,
    )  # fmt: skip
    assert results.is_file(), ran.stdout[-2000:] + ran.stderr[-2000:]
    run = json.loads(results.read_text())
    cells = run["cells"]
    assert cells, ran.stdout[-2000:]
    assert {cell["target"]["backend"] for cell in cells} == {"firebird"}
    assert {cell["target"]["flavour"] for cell in cells} == {"Firebird"}
    assert all(cell["target"]["server_version"].startswith("3.") for cell in cells)
    assert all(cell["target"]["provisioned"] == "local" for cell in cells)
    outcomes = {cell["behaviour"]: cell["outcome"] for cell in cells}
    assert "error" not in outcomes.values(), outcomes
    assert outcomes.get("txn.commit-as-you-go") == "pass", outcomes
    # the run stopped its server and removed its directory
    assert leftovers_in(private_tmp) == ([], [])


def test_firebird_pins_repeat_the_shared_pins() -> None:
    """requirements/firebird.txt replaces constraints.txt for tox -e firebird: a package pinned in both has the same
    version in both, except python-dateutil (the reason the file exists)."""

    def pins(path: Path) -> dict[str, str]:
        found = {}
        for line in path.read_text().splitlines():
            if "==" in line and not line.lstrip().startswith("#"):
                name, version = line.split("#")[0].strip().split("==")
                found[name.lower()] = version
        return found

    shared, firebird = pins(PROJECT_ROOT / "requirements" / "constraints.txt"), pins(FIREBIRD_PINS)
    differing = {name for name in shared.keys() & firebird.keys() if shared[name] != firebird[name]}
    assert differing == {"python-dateutil"}
