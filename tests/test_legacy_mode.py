"""The SQLAlchemy 1.4 legacy mode (``--sqlalchemy-mode legacy``, tox factor ``sa14legacy``): selectable, refused on
2.0 in one line, recorded in the results (run and target), kept apart in the report, and gated so that a
``1.4 legacy -> 2.0`` comparison flags the migration's changes while ``1.4 future -> 2.0`` flags only those 1.4
shares in both modes. SQLAlchemy 1.4 runs in a virtualenv of its own (built once into .cache/, with uv where
tox-uv put it, else with pip)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.registry import RegistryError, expectation_for, load_registry
from reports.gate import Keys, Side, compare
from reports.html import render_html
from reports.merge import Matrix, load_matrix
from tests.conftest import PROJECT_ROOT, clean_environment, run_child, run_suite

REQUIREMENTS = ("requirements/run.txt", "requirements/constraints.txt", "requirements/sqlalchemy-1.4.txt")
# The migration behaviours, and three of the catalogue whose claims change with the migration.
SUBSET = (
    "suites/test_migration_20.py",
    "suites/test_select.py::test_slash_on_integers_is_true_division",
    "suites/test_transactions.py::test_connect_begins_implicitly_and_rolls_back_at_block_end",
    "suites/test_relationships.py::test_assigning_the_many_to_one_side_does_not_cascade_into_the_session",
)
LEGACY_ONLY = {  # what 1.4 in 2.0-style (future) mode already does as 2.0 does
    "migration.no-library-autocommit-for-text-dml",
    "migration.engine-execute-removed",
    "migration.execute-plain-string-refused",
    "migration.execute-keyword-parameters-refused",
    "migration.connection-begin-twice-refused",
    "migration.row-contains-values",
    "migration.session-autocommit-removed",
    "migration.session-subtransactions-removed",
    "migration.no-cascade-from-collection-backref",
    "txn.connect-implicit-begin-rollback",
    "rel.no-cascade-from-backref-assignment",
}
BOTH_14_MODES = {  # constructs 1.4 has in both modes, behaving differently from 2.0
    "select.integer-true-division",
    "migration.select-list-refused",
    "migration.row-is-not-a-mapping",
    "migration.metadata-bind-removed",
    "migration.query-join-by-string-refused",
}


@pytest.fixture(scope="module")
def python14() -> Path:
    """The python of a virtualenv with SQLAlchemy 1.4 and the suite's requirements, reused while they are unchanged."""
    digest = hashlib.sha256(b"".join((PROJECT_ROOT / name).read_bytes() for name in REQUIREMENTS)).hexdigest()[:12]
    venv = PROJECT_ROOT / ".cache" / f"sqlalchemy-1.4-venv-{digest}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    install = ["-r", REQUIREMENTS[0], "-c", REQUIREMENTS[1], "-c", REQUIREMENTS[2]]
    uv = shutil.which("uv")
    if uv:
        commands = [[uv, "venv", "-q", "-p", sys.executable, str(venv)], [uv, "pip", "install", "-q", "-p", python]]
    else:
        commands = [[sys.executable, "-m", "venv", str(venv)], [str(python), "-m", "pip", "install", "-q"]]
    commands[1] += install
    for command in commands:
        arguments = [str(part) for part in command]
        completed = subprocess.run(arguments, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr[-2000:]
    return python


def run_14(python: Path, results: Path, *arguments: str, **environ: str) -> dict:
    command = [str(python), "-m", "pytest", "-p", "no:cacheprovider", *SUBSET, "--backend", "sqlite"]
    completed = run_child([*command, "--results", str(results), *arguments], clean_environment(**environ))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    return json.loads(results.read_text())


@pytest.fixture(scope="module")
def runs(python14, tmp_path_factory) -> dict[str, Path]:
    """The subset on SQLite: 1.4 legacy (chosen by the tox factor's variable), 1.4 future, and 2.0 (this env)."""
    directory = tmp_path_factory.mktemp("legacy-mode")
    paths = {side: directory / side / "sqlite.json" for side in ("legacy", "future", "v20")}
    for path in paths.values():
        path.parent.mkdir()
    run_14(python14, paths["legacy"], CONFORMANCE_SQLALCHEMY_MODE="legacy")
    run_14(python14, paths["future"])
    completed = run_suite(*SUBSET, "--backend", "sqlite", "--results", str(paths["v20"]))
    assert completed.returncode == 0, completed.stdout[-3000:]
    return paths


def outcomes(path: Path) -> dict[str, str]:
    return {cell["behaviour"]: cell["outcome"] for cell in json.loads(path.read_text())["cells"]}


def test_the_legacy_mode_is_refused_on_sqlalchemy_2_in_one_line():
    completed = run_suite("suites/test_migration_20.py", "--backend", "sqlite", "--sqlalchemy-mode", "legacy")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1
    assert "legacy mode (future=False) exists only on SQLAlchemy 1.4" in completed.stderr


def test_the_legacy_mode_is_recorded_in_the_run_and_every_target(runs):
    legacy = json.loads(runs["legacy"].read_text())
    future = json.loads(runs["future"].read_text())
    assert legacy["run"]["sqlalchemy"].startswith("1.4.") and legacy["run"]["sqlalchemy_mode"] == "legacy"
    assert {cell["target"]["sqlalchemy_mode"] for cell in legacy["cells"]} == {"legacy"}
    assert future["run"]["sqlalchemy_mode"] == "future"
    assert {cell["target"]["sqlalchemy_mode"] for cell in future["cells"]} == {"future"}


def test_each_migration_change_is_a_registered_difference_where_1_4_behaves_otherwise(runs):
    legacy, future, v20 = (outcomes(runs[side]) for side in ("legacy", "future", "v20"))
    assert {b for b, outcome in legacy.items() if outcome == "differs"} == LEGACY_ONLY | BOTH_14_MODES
    assert {b for b, outcome in future.items() if outcome == "differs"} == BOTH_14_MODES
    assert set(v20.values()) == {"pass"}
    # the legacy cells were judged against their legacy-mode entries (an observed deviation, not a skip)
    cells = {cell["behaviour"]: cell for cell in json.loads(runs["legacy"].read_text())["cells"]}
    assert "events: expected ['begin', 'execute', 'rollback'], got ['execute', 'commit']" in str(
        cells["txn.connect-implicit-begin-rollback"]["observed_deviation"]
    )


def test_the_report_keeps_the_two_1_4_modes_in_two_columns(runs):
    matrix = load_matrix([runs["legacy"], runs["future"]])
    assert len(matrix.targets) == 2
    html = render_html(matrix)
    assert "SQLAlchemy 1.4.54 legacy</small>" in html
    assert "SQLAlchemy 1.4.54</small>" in html


def gate(baseline: Path, candidate: Path) -> tuple[int, str]:
    completed = run_child([sys.executable, "-m", "reports", "gate", str(baseline.parent), str(candidate.parent)])
    assert completed.returncode in (0, 1), completed.stderr
    return completed.returncode, completed.stdout


def test_a_legacy_to_2_0_gate_flags_every_migration_change_and_a_future_to_2_0_gate_only_the_shared_ones(runs):
    legacy_code, legacy_report = gate(runs["legacy"], runs["v20"])
    assert "version: SQLAlchemy 1.4.54 (legacy mode) -> 2.0." in legacy_report
    for behaviour in LEGACY_ONLY | BOTH_14_MODES:
        line = rf"BLOCKING +drift +{re.escape(behaviour)} on sqlite/pysqlite \(SQLite\): differs -> pass"
        assert re.search(line, legacy_report), behaviour
    assert legacy_code == 1
    _, future_report = gate(runs["future"], runs["v20"])
    for behaviour in BOTH_14_MODES:
        assert f"{behaviour} on sqlite/pysqlite (SQLite): differs -> pass" in future_report, behaviour
    for behaviour in LEGACY_ONLY:  # the same outcome on both sides (evidence may still drift, 1.4 -> 2.0)
        assert f"{behaviour} on sqlite/pysqlite (SQLite): differs -> pass" not in future_report, behaviour
        assert f"{behaviour} on sqlite/pysqlite (SQLite): pass on both sides" in future_report or (
            f"{behaviour} on" not in future_report
        ), behaviour


TARGET = {"backend": "sqlite", "driver": "pysqlite", "server": "SQLite 3.40.1", "sqlalchemy": "1.4.54"}


def test_the_gate_key_holds_the_mode_only_where_one_side_has_both_modes():
    def side(*modes: str) -> Side:
        matrix = Matrix()
        for mode in modes:
            cell = {"behaviour": "a.b", "area": "a", "outcome": "pass", "target": {**TARGET, "sqlalchemy_mode": mode}}
            matrix.add({"run": {}, "cells": [cell]}, f"{mode}.json")
        return Side("side", Path("."), [], matrix)

    legacy, future, both = side("legacy"), side("future"), side("legacy", "future")
    assert len(both.matrix.cells) == 2  # merged: two columns, not a duplicate
    apart = Keys(both, future)
    assert apart.key({**TARGET, "sqlalchemy_mode": "legacy"}) != apart.key({**TARGET, "sqlalchemy_mode": "future"})
    assert apart.describe({**TARGET, "sqlalchemy_mode": "legacy"}) == "sqlite/pysqlite (SQLite) legacy mode"
    together = Keys(legacy, future)
    assert together.key({**TARGET, "sqlalchemy_mode": "legacy"}) == together.key(TARGET)  # results without a mode
    assert compare(legacy, future).changes == []


def test_a_legacy_mode_entry_wins_over_earlier_entries_and_may_name_several_behaviours(tmp_path):
    registry = tmp_path / "expectations.toml"
    registry.write_text(
        """
[[expectation]]
behaviour = "a.b"
target = { backend = "sqlite" }
outcome = "unsupported"
reason = "the backend's entry, first in the file."
doc = "https://docs.sqlalchemy.org/en/20/dialects/sqlite.html"

[[expectation]]
behaviour = ["a.b", "a.c"]
target = { sqlalchemy_mode = "legacy" }
outcome = "unsupported"
reason = "the legacy mode's entry, last in the file."
doc = "https://docs.sqlalchemy.org/en/14/core/connections.html#autocommit"
"""
    )
    entries = load_registry(registry)
    legacy, future = {**TARGET, "sqlalchemy_mode": "legacy"}, {**TARGET, "sqlalchemy_mode": "future"}
    assert expectation_for(entries, "a.b", legacy).reason.startswith("the legacy mode's")
    assert expectation_for(entries, "a.c", legacy).reason.startswith("the legacy mode's")
    assert expectation_for(entries, "a.b", future).reason.startswith("the backend's")
    assert expectation_for(entries, "a.c", future) is None
    registry.write_text(registry.read_text().replace('["a.b", "a.c"]', "[]"))
    with pytest.raises(RegistryError, match="entry 2: behaviour must be an id or a non-empty list of ids"):
        load_registry(registry)
