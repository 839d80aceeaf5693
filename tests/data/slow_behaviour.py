"""Behaviours, the second of which waits to be interrupted; tests/test_end_to_end.py sends the signal."""

import os
import time
from pathlib import Path

from fixtures.plugin import behaviour


@behaviour("demo.quick", doc="core/connections.html")
def test_quick_one_first(engine, capture):
    """Runs before the waiting one, so its cell is recorded before the interrupt. Docs: none."""
    with capture.observe(), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert capture.round_trips == 1


@behaviour("demo.waits", doc="core/connections.html")
def test_waits_until_interrupted(engine, capture):
    """Connects, says so in a file, then waits. Docs: none."""
    with capture.observe(), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        Path(os.environ["READY_FILE"]).write_text("ready")
        time.sleep(120)
    assert capture.round_trips == 1
