"""Shared pieces of the machinery tests: real local servers, started once, and a way to
run the conformance suite in a child process exactly as tox does.

Child runs get a temporary directory of their own (``TMPDIR``): the run directories and servers found
there are theirs, never those of another run of this project on the same host, and whatever a child
killed at its time limit left there is removed when the test (or the session) ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fixtures.provision import RUN_DIRECTORY_PREFIX, URL_VARIABLES, Server, start_local_mysql, start_local_postgresql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SERVER_NAMES = ("postgres", "mariadbd", "mysqld", "firebird")
GRACE_S = 30  # a child asked to stop (SIGTERM) stops its servers and deletes its directories in this time

_children: list[subprocess.Popen] = []
_session_tmp: list[Path] = []


@pytest.fixture(scope="session")
def local_postgresql() -> Iterator[Server]:
    server = start_local_postgresql()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def local_mysql() -> Iterator[Server]:
    server = start_local_mysql()
    yield server
    server.stop()


def make_private_tmp(prefix: str) -> Path:
    """A short directory under the system's temporary directory (a PostgreSQL socket path must stay under
    108 characters), open like /tmp itself: servers running as an unprivileged user write there too."""
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=tempfile.gettempdir()))
    directory.chmod(0o1777)
    return directory


def session_tmp() -> Path:
    """The TMPDIR of every child run that does not ask for its own, removed at the end of the session."""
    if not _session_tmp:
        _session_tmp.append(make_private_tmp("sqlaconf-tests-"))
    return _session_tmp[0]


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A TMPDIR for this test's child runs alone: what appears in it is theirs."""
    directory = make_private_tmp("sqlaconf-test-")
    yield directory
    remove_leftovers(directory)


def leftovers_in(directory: Path) -> tuple[list[str], list[int]]:
    """Run directories under ``directory``, and the server processes whose command line names it."""
    directories = sorted(str(path) for path in directory.glob(f"{RUN_DIRECTORY_PREFIX}*"))
    marker = f"{directory}{os.sep}"
    servers = [
        process.pid
        for process in psutil.process_iter(["name", "cmdline"])
        if process.info["name"] in SERVER_NAMES and marker in " ".join(process.info["cmdline"] or [])
    ]
    return directories, servers


def remove_leftovers(directory: Path) -> None:
    """Kill the servers started under ``directory`` (their own process groups) and delete it."""
    for pid in leftovers_in(directory)[1]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _remove_the_sessions_child_tmp() -> Iterator[None]:
    yield
    while _session_tmp:
        remove_leftovers(_session_tmp.pop())


@pytest.fixture(autouse=True)
def _no_child_left_running() -> Iterator[None]:
    """A child a test started and did not wait for (a failed assertion, a time limit) is stopped."""
    yield
    while _children:
        stop_process_group(_children.pop())


def stop_process_group(child: subprocess.Popen) -> None:
    """SIGTERM to the child's process group (the plugin unwinds and removes its servers), SIGKILL after
    GRACE_S seconds."""
    if child.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=GRACE_S)
    # the group's other processes (a server's setup step, pip's build backend, ...) may outlive the leader;
    # while any of them lives, the group id cannot be given to another process
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait(timeout=GRACE_S)


def clean_environment(**overrides: str) -> dict[str, str]:
    """The environment of a child run: no CONFORMANCE_* or tox variables leak in from ours, and its
    temporary files go where the session removes them."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("CONFORMANCE_", "TOX_"))}
    environ["TMPDIR"] = str(session_tmp())
    environ.update(overrides)
    # child runs start local server processes (what these tests are about) even where a Docker engine
    # answers, unless the test gives a URL; tests/test_docker.py asks for containers itself
    if not any(name in environ for name in ("CONFORMANCE_PROVISION", *URL_VARIABLES.values())):
        environ["CONFORMANCE_PROVISION"] = "local"
    return environ


def _default_sigint() -> None:
    """A shell without job control starts background jobs with SIGINT ignored, and a Python child keeps it
    ignored; the Ctrl-C tests need the child to see SIGINT as a terminal would deliver it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_child(command: list[str], environ: dict[str, str] | None = None, **options) -> subprocess.Popen:
    """A child process in its own process group, in the project root, stopped when the test ends."""
    child = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=environ if environ is not None else clean_environment(),
        start_new_session=True,
        text=True,
        preexec_fn=_default_sigint,
        **options,
    )
    _children.append(child)
    return child


def run_child(
    command: list[str], environ: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run a child to its end; at ``timeout`` its whole process group is stopped and the test fails."""
    child = start_child(command, environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_group(child)
        stdout, stderr = child.communicate()
        pytest.fail(f"{' '.join(command[:6])} ... did not finish in {timeout:.0f} s; output:\n{stdout[-3000:]}")
    return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


def run_suite(
    *arguments: str, environ: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``python -m pytest ARGUMENTS`` in the project root, as a separate process."""
    return run_child([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments], environ, timeout)


@pytest.fixture
def unused_loopback_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    from fixtures.provision import free_loopback_port

    return free_loopback_port()
