"""Shared pieces of the machinery tests: real local servers, started once, and a way to
run the conformance suite in a child process exactly as tox does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.provision import Server, start_local_mysql, start_local_postgresql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


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


def clean_environment(**overrides: str) -> dict[str, str]:
    """The environment of a child run: no CONFORMANCE_* or tox variables leak in from ours."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("CONFORMANCE_", "TOX_"))}
    environ.update(overrides)
    return environ


def run_suite(
    *arguments: str, environ: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``python -m pytest ARGUMENTS`` in the project root, as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments],
        cwd=PROJECT_ROOT,
        env=environ if environ is not None else clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def unused_loopback_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    from fixtures.provision import free_loopback_port

    return free_loopback_port()
