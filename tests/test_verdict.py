"""The verdict, path by path: checks, signatures, known issues, unsupported entries run anyway,
teardown failures, and a server that is gone or only busy."""

from __future__ import annotations

import datetime
import decimal
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import exc

from fixtures.registry import Expectation
from fixtures.verdict import (
    BUSY,
    GONE,
    Checks,
    Phase,
    Raised,
    ServerState,
    Signature,
    judge,
    probe_server,
    render,
)

PASSED, SETUP = Phase("passed"), Phase("passed")


def entry(outcome="differs", signature=None, issue=""):
    return Expectation(
        "demo.behaviour", outcome, "the documented reason.", "https://example.invalid/doc", {}, signature, issue
    )


def checks_of(*pairs):
    """Checks recorded as a behaviour records them: (name, got, expected)."""
    recorded = Checks()
    for name, got, expected in pairs:
        recorded.equal(name, got, expected)
    return recorded.results


def raised(error):
    return Raised.of(error)


def integrity_like_failure():
    """A real OperationalError from SQLite (no such table), standing for a driver's error class."""
    engine = sqlalchemy.create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT * FROM nowhere")
    except exc.OperationalError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError("SQLite answered a query on a missing table")


ROWS_DIFFER = Signature(checks=("rows stored",), observed={"rows stored": 2})


# --- checks -----------------------------------------------------------------------------------------


def test_checks_record_every_comparison_and_do_not_stop_at_the_first_failure():
    measured = {}
    recorded = Checks(record_value=measured.__setitem__)
    assert recorded.equal("first", 1, 2) is False
    assert recorded.that("second", True, got=[1], expected="a list") is True
    assert [result.name for result in recorded.results] == ["first", "second"]
    assert [result.name for result in recorded.failed] == ["first"]
    assert measured == {"first": 1, "second": [1]}


def test_same_is_identity_so_a_1_is_not_true():
    recorded = Checks()
    assert recorded.same("flag", True, True) is True
    assert recorded.same("one", 1, True) is False
    assert recorded.equal("one as equal", 1, True) is True  # why ``same`` exists


def test_rows_are_recorded_as_plain_lists():
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT 1, 'a'").all()
    engine.dispose()
    measured = {}
    Checks(record_value=measured.__setitem__).equal("rows", rows, [(1, "a")])
    assert measured == {"rows": [[1, "a"]]}


def test_a_check_name_used_twice_is_refused():
    recorded = Checks()
    recorded.equal("same", 1, 1)
    with pytest.raises(ValueError, match="twice"):
        recorded.equal("same", 2, 2)


def test_catch_keeps_the_exception_for_the_checks():
    recorded = Checks()
    with recorded.catch() as caught:
        raise integrity_like_failure()
    assert caught.exception_class == "sqlalchemy.exc.OperationalError"
    assert caught.is_driver_error(type(caught.driver_error)) and not caught.is_driver_error(KeyError)
    with recorded.catch() as nothing:
        pass
    assert nothing.exception_class is None and nothing.driver_error is None


def test_observed_lines_show_values_without_object_reprs_or_temporary_paths():
    temporary = tempfile.gettempdir() + "/sqla-conformance-sqlite-x1y2/conformance.db"
    result = checks_of(("database", temporary, "somewhere"))[0]
    assert result.line() == "database: expected 'somewhere', got '<temporary path>'"
    assert render(decimal.Decimal("1.50")) == "'1.50'"
    assert render(datetime.datetime(2024, 3, 10, 12, 30)) == "'2024-03-10T12:30:00'"
    assert render(object()) == "'<object>'"
    assert "0x" not in render([object(), {"key": object()}])
    assert len(render("x" * 1000)) <= 160


# --- without a registry entry ---------------------------------------------------------------------


def test_no_deviation_is_pass_and_a_failed_check_is_fail_with_one_line_per_check():
    assert judge(SETUP, PASSED, PASSED, checks_of(("rows stored", 0, 0)), None).outcome == "pass"
    verdict = judge(SETUP, PASSED, PASSED, checks_of(("rows stored", 2, 0), ("round trips", 3, 1)), None)
    assert verdict.outcome == "fail"
    assert verdict.reason == "rows stored: expected 0, got 2; round trips: expected 1, got 3"


def test_an_escaped_exception_is_fail_and_a_plain_assert_keeps_only_its_message():
    verdict = judge(SETUP, Phase("failed", raised(RuntimeError("compiler broke"))), PASSED, [], None)
    assert verdict.outcome == "fail" and verdict.reason == "raised builtins.RuntimeError: compiler broke"
    dump = "AssertionError: the DDL declares no values\nassert False\n +  where False = any(<generator object at 0x7f>)"
    assertion = Raised.of(AssertionError("the DDL declares no values"), dump)
    verdict = judge(SETUP, Phase("failed", assertion), PASSED, [], None)
    assert verdict.reason == "assertion: the DDL declares no values"


def test_setup_skip_is_unsupported_and_setup_failure_is_error():
    assert judge(Phase("skipped", skip_reason="needs 2.0"), None, None, [], None).outcome == "unsupported"
    verdict = judge(Phase("failed", raised(RuntimeError("fixture broke"))), None, None, [], None)
    assert verdict.outcome == "error" and "fixture broke" in verdict.reason


# --- differs: the signature -------------------------------------------------------------------------


def test_a_deviation_matching_the_signature_is_differs_with_the_observed_values():
    verdict = judge(
        SETUP, PASSED, PASSED, checks_of(("rows stored", 2, 0), ("other", 1, 1)), entry(signature=ROWS_DIFFER)
    )
    assert verdict.outcome == "differs"
    assert verdict.reason == "the documented reason. Observed: rows stored: expected 0, got 2"
    assert verdict.documented == "rows stored: got 2"


@pytest.mark.parametrize(
    ("checks", "call", "fragment"),
    [
        ([("rows stored", 2, 0), ("other", 5, 1)], PASSED, "undocumented failed check(s): other"),
        ([("rows stored", -2, 0)], PASSED, "rows stored got -2, documented 2"),
        ([("rows stored", 0, 0), ("other", 5, 1)], PASSED, "documented check(s) not failing: rows stored"),
        (
            [("rows stored", 2, 0)],
            Phase("failed", raised(RuntimeError("boom"))),
            "undocumented raised builtins.Runtime",
        ),
    ],
)
def test_a_deviation_not_matching_the_signature_is_fail_showing_both(checks, call, fragment):
    verdict = judge(SETUP, call, PASSED, checks_of(*checks), entry(signature=ROWS_DIFFER))
    assert verdict.outcome == "fail"
    assert verdict.reason.startswith("deviates, but not as documented: ")
    assert fragment in verdict.reason
    assert "Documented: rows stored: got 2" in verdict.reason and "Observed: " in verdict.reason


def test_an_exception_signature_matches_the_sqlalchemy_or_the_driver_class_and_the_message():
    error = integrity_like_failure()
    by_class = entry(signature=Signature(raises=("sqlalchemy.exc.OperationalError",), message="no such table"))
    assert judge(SETUP, Phase("failed", raised(error)), PASSED, [], by_class).outcome == "differs"
    by_driver = entry(signature=Signature(raises=("sqlite3.OperationalError",)))
    assert judge(SETUP, Phase("failed", raised(error)), PASSED, [], by_driver).outcome == "differs"
    other_message = entry(signature=Signature(raises=("sqlalchemy.exc.OperationalError",), message="locked"))
    assert judge(SETUP, Phase("failed", raised(error)), PASSED, [], other_message).outcome == "fail"
    wrong_class = Phase("failed", raised(RuntimeError("INSERT compilation broke")))
    verdict = judge(SETUP, wrong_class, PASSED, [], by_class)
    assert verdict.outcome == "fail" and "raised builtins.RuntimeError" in verdict.reason
    assert judge(SETUP, PASSED, PASSED, [], by_class).outcome == "fail"


def test_a_differs_entry_that_no_longer_deviates_is_a_stale_fail():
    verdict = judge(SETUP, PASSED, PASSED, checks_of(("rows stored", 0, 0)), entry(signature=ROWS_DIFFER))
    assert verdict.outcome == "fail" and verdict.stale and "stale" in verdict.reason


# --- errors inside a differs cell --------------------------------------------------------------------


def test_a_server_gone_inside_a_differs_cell_is_error():
    verdict = judge(
        SETUP,
        PASSED,
        PASSED,
        checks_of(("rows stored", 2, 0)),
        entry(signature=ROWS_DIFFER),
        ServerState(GONE, "refused"),
    )
    assert verdict.outcome == "error" and verdict.reason.startswith("server lost: rows stored: expected 0, got 2")


def test_a_busy_server_leaves_the_behaviours_own_verdict():
    busy = ServerState(BUSY, "too many connections")
    assert judge(
        SETUP, PASSED, PASSED, checks_of(("rows stored", 2, 0)), entry(signature=ROWS_DIFFER), busy
    ).outcome == ("differs")
    verdict = judge(SETUP, PASSED, PASSED, checks_of(("rows stored", 3, 0)), None, busy)
    assert verdict.outcome == "fail" and "busy" in verdict.reason


def test_a_teardown_failure_after_an_expected_deviation_is_error():
    teardown = Phase("failed", raised(RuntimeError("drop_all failed")))
    verdict = judge(SETUP, PASSED, teardown, checks_of(("rows stored", 2, 0)), entry(signature=ROWS_DIFFER))
    assert verdict.outcome == "error"
    assert (
        "teardown failed" in verdict.reason and "drop_all failed" in verdict.reason and "rows stored" in verdict.reason
    )
    assert judge(SETUP, PASSED, teardown, [], None).outcome == "error"


# --- known issues and unsupported entries ---------------------------------------------------------


def test_a_known_issue_stays_fail_and_names_its_link():
    known = entry("known-issue", ROWS_DIFFER, "https://github.com/example/project/issues/1")
    verdict = judge(SETUP, PASSED, PASSED, checks_of(("rows stored", 2, 0)), known)
    assert verdict.outcome == "fail" and verdict.known_issue == known.issue
    assert verdict.reason.startswith("known issue: https://github.com/example/project/issues/1")
    assert verdict.expected_by_registry
    other = judge(SETUP, PASSED, PASSED, checks_of(("rows stored", 7, 0)), known)
    assert other.outcome == "fail" and not other.known_issue and not other.expected_by_registry
    fixed = judge(SETUP, PASSED, PASSED, checks_of(("rows stored", 0, 0)), known)
    assert fixed.outcome == "pass" and fixed.stale and "no longer reproduces" in fixed.reason


def test_an_unsupported_entry_run_anyway_holds_while_it_deviates_and_is_stale_otherwise():
    unsupported = entry("unsupported")
    still = judge(SETUP, Phase("failed", raised(RuntimeError("no RETURNING"))), PASSED, [], unsupported)
    assert still.outcome == "unsupported" and "checked: raised builtins.RuntimeError" in still.reason
    stale = judge(SETUP, PASSED, PASSED, checks_of(("rows", 1, 1)), unsupported)
    assert stale.outcome == "fail" and stale.stale and "stale" in stale.reason
    skipped = judge(Phase("skipped", skip_reason="unsupported: x"), None, None, [], unsupported)
    assert skipped.outcome == "unsupported" and skipped.reason == "the documented reason."


# --- the probe: gone or busy ----------------------------------------------------------------------


def connect_to(port):
    def connect():
        engine = sqlalchemy.create_engine(
            f"postgresql+psycopg://nobody@127.0.0.1:{port}/none",
            poolclass=sqlalchemy.pool.NullPool,
            connect_args={"connect_timeout": 2},
        )
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()

    return connect


def test_the_probe_tells_an_answering_server_from_a_busy_and_a_gone_one(unused_loopback_port):
    pytest.importorskip("psycopg")
    engine = sqlalchemy.create_engine("sqlite://")

    def sqlite_answers():
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    assert probe_server(sqlite_answers, None).state == "answers"
    gone = probe_server(connect_to(unused_loopback_port), ("127.0.0.1", unused_loopback_port))
    assert gone.state == GONE
    # Something accepts connections but gives no session (a server at its connection limit).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        busy = probe_server(connect_to(port), ("127.0.0.1", port), timeout=2)
    assert busy.state == BUSY


def test_a_server_shutting_down_is_gone():
    def shutting_down():
        raise exc.OperationalError("SELECT 1", {}, Exception("FATAL: the database system is shutting down"))

    assert probe_server(shutting_down, ("127.0.0.1", 1)).state == GONE


# --- the gate and known issues ----------------------------------------------------------------------


ISSUE_10528 = "https://github.com/sqlalchemy/sqlalchemy/issues/10528"


def known_issue_run(path, got):
    cell = {
        "behaviour": "select.floor-division-negative",
        "area": "select",
        "target": {"backend": "sqlite", "driver": "pysqlite", "server": "SQLite 3.40.1", "sqlalchemy": "2.0.58"},
        "outcome": "fail",
        "reason": f"known issue: {ISSUE_10528}: ... Observed: -7 // 2: got {got}",
        "known_issue": ISSUE_10528,
        "expected": "known-issue",
        "evidence": {"round_trips": 1, "statements": ["SELECT ? / ? AS anon_1"], "values": {"-7 // 2": got}},
    }
    run = {"started": "2026-01-01T00:00:00+00:00", "python": "3.11.7", "sqlalchemy": "2.0.58", "packages": {}}
    path.write_text(json.dumps({"schema_version": 1, "run": run, "cells": [cell]}))
    return path


def gate(baseline, candidate):
    return subprocess.run(
        [sys.executable, "-m", "reports", "gate", str(baseline), str(candidate)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_gate_treats_an_unchanged_known_issue_as_no_change_and_a_changed_one_as_blocking(tmp_path):
    baseline = known_issue_run(tmp_path / "baseline.json", -3)
    unchanged = gate(baseline, known_issue_run(tmp_path / "same.json", -3))
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "no changes" in unchanged.stdout
    changed = gate(baseline, known_issue_run(tmp_path / "changed.json", -14))
    assert changed.returncode == 1, changed.stdout + changed.stderr
