"""Behaviours around a server that dies: the second one holds a connection, says so in a file and
waits until tests/test_faults.py has killed the server (or, with no SERVER_KILLED_FILE set, goes on
at once); the ones after it find the server gone."""

import os
import time
from pathlib import Path

from fixtures.plugin import behaviour


def select_one(engine, capture) -> None:
    with capture.observe(), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert capture.round_trips == 1


@behaviour("demo.before-the-kill", doc="core/connections.html")
def test_before_the_kill(engine, capture):
    """Runs while the server is up. Docs: none."""
    select_one(engine, capture)


@behaviour("demo.during-the-kill", doc="core/connections.html")
def test_during_the_kill(engine, capture):
    """Holds a connection while the server is killed, then uses it. Docs: none."""
    with capture.observe(), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        killed = os.environ.get("SERVER_KILLED_FILE")
        if killed:
            Path(os.environ["READY_FILE"]).write_text("ready")
            deadline = time.monotonic() + 60
            while not Path(killed).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        connection.exec_driver_sql("SELECT 2")
    assert capture.round_trips == 2


@behaviour("demo.after-the-kill-1", doc="core/connections.html")
def test_after_the_kill_1(engine, capture):
    """Needs a new connection. Docs: none."""
    select_one(engine, capture)


@behaviour("demo.after-the-kill-2", doc="core/connections.html")
def test_after_the_kill_2(engine, capture):
    """Needs a new connection. Docs: none."""
    select_one(engine, capture)
