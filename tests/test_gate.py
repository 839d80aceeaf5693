"""The upgrade gate on hand-made results files: every kind of change, the allow-list, its outputs and exit codes."""

from __future__ import annotations

import copy
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from reports.gate import (
    compare_cell,
    count_statements,
    is_implementation_query,
    normalise_statement,
    structural_shape,
    word_diff_text,
)
from reports.schema import write_results
from reports.upgrade import apply_overrides

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SQLITE_INSERT = "[insertmanyvalues batch] INSERT INTO user_account (name, fullname) VALUES {rows} RETURNING id"
PG_BATCHED = (
    "[insertmanyvalues batch] INSERT INTO user_account (name, fullname) VALUES "
    "(%(name__0)s::VARCHAR, %(fullname__0)s::VARCHAR), (%(name__1)s::VARCHAR, %(fullname__1)s::VARCHAR) "
    "RETURNING user_account.id"
)
PG_SEN_COUNTER = (
    "[insertmanyvalues batch] INSERT INTO user_account (name, fullname) SELECT p0::VARCHAR, p1::VARCHAR FROM "
    "(VALUES (%(name__0)s::VARCHAR, %(fullname__0)s::VARCHAR, 0), (%(name__1)s::VARCHAR, %(fullname__1)s::VARCHAR, 1)) "
    "AS imp_sen(p0, p1, sen_counter) ORDER BY sen_counter RETURNING user_account.id, user_account.id AS id__1"
)
UNIQUE_VIOLATION = {
    "sqlalchemy": "sqlalchemy.exc.IntegrityError",
    "dbapi": "psycopg.errors.UniqueViolation",
    "message": 'duplicate key value violates unique constraint "user_account_name_key"',
}


# --- hand-made results -------------------------------------------------------------------------------


def target(flavour: str = "SQLite", **fields: Any) -> dict[str, Any]:
    defaults = {
        "SQLite": {"backend": "sqlite", "driver": "pysqlite", "driver_version": "3.40.1", "server_version": "3.40.1"},
        "PostgreSQL": {
            "backend": "postgresql",
            "driver": "psycopg",
            "driver_version": "3.3.9",
            "server_version": "15.20",
        },
        "MariaDB": {"backend": "mysql", "driver": "pymysql", "driver_version": "1.2.4", "server_version": "10.11.19"},
        "MySQL": {"backend": "mysql", "driver": "pymysql", "driver_version": "1.2.4", "server_version": "8.4.3"},
    }[flavour]
    record = {"async": False, "flavour": flavour, "sqlalchemy": "2.0.9", **defaults, **fields}
    record["server"] = f"{flavour} {record['server_version']}"
    return record


def batched_statements(pages: list[int]) -> list[str]:
    """BEGIN, one insertmanyvalues INSERT per page of ``pages[i]`` rows, COMMIT."""
    inserts = [SQLITE_INSERT.format(rows=", ".join(["(?, ?)"] * rows)) for rows in pages]
    return ["BEGIN (implicit)", *inserts, "COMMIT"]


def cell(
    behaviour: str = "imv.orm-flush-batched-returning",
    outcome: str = "pass",
    where: dict[str, Any] | None = None,
    statements: list[str] | None = None,
    exception: dict[str, Any] | None = None,
    executemany: bool = False,
    reason: str = "",
) -> dict[str, Any]:
    statements = batched_statements([5, 5, 2]) if statements is None else statements
    round_trips = count_statements(statements)
    return {
        "behaviour": behaviour,
        "area": behaviour.split(".")[0],
        "target": where or target(),
        "outcome": outcome,
        "reason": reason,
        "doc": "https://docs.sqlalchemy.org/en/20/core/connections.html#engine-insertmanyvalues",
        "evidence": {
            "round_trips": round_trips,
            "executemany": executemany,
            "insertmanyvalues_batches": sum(s.startswith("[insertmanyvalues") for s in statements),
            "statements": statements,
            "exception": exception,
            "values": {},
        },
        "duration_s": 0.01,
    }


def benchmark(median: float, iqr: float, rounds: int = 10, where: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "strategy": "core_executemany",
        "rows": 10000,
        "target": where or target(),
        "median_s": median,
        "iqr_s": iqr,
        "rounds": rounds,
        "rows_per_s": 10000 / median,
        "round_trips": 1,
    }


def document(cells: list[dict[str, Any]], benchmarks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    sqlalchemy = cells[0]["target"]["sqlalchemy"] if cells else "2.0.9"
    return {
        "schema_version": 1,
        "run": {"started": "2026-01-01T00:00:00+00:00", "python": "3.11.7", "sqlalchemy": sqlalchemy,
                "packages": {"SQLAlchemy": sqlalchemy}, "host": "test", "git": "abc"},
        "cells": cells,
        "benchmarks": benchmarks or [],
    }  # fmt: skip


def candidate_of(cells: list[dict[str, Any]], sqlalchemy: str = "2.0.10") -> list[dict[str, Any]]:
    """The same cells as a run on a newer SQLAlchemy, driver and server patch release would record them."""
    upgraded = copy.deepcopy(cells)
    for each in upgraded:
        each["target"]["sqlalchemy"] = sqlalchemy
        each["target"]["driver_version"] += ".1"
    return upgraded


def write(path: Path, cells: list[dict[str, Any]], benchmarks: list[dict[str, Any]] | None = None) -> Path:
    write_results(path, document(cells, benchmarks))
    return path


def gate(*arguments: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reports", "gate", *map(str, arguments)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def compare(
    tmp_path: Path,
    cells_before: list[dict],
    cells_after: list[dict],
    *options: str | Path,
    benchmarks_before: list[dict] | None = None,
    benchmarks_after: list[dict] | None = None,
) -> subprocess.CompletedProcess:
    baseline = write(tmp_path / "baseline.json", cells_before, benchmarks_before)
    candidate = write(tmp_path / "candidate.json", cells_after, benchmarks_after)
    return gate(baseline, candidate, *options)


def assert_one_line_refusal(completed: subprocess.CompletedProcess, fragment: str) -> None:
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert fragment in completed.stderr
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr


# --- nothing changed ---------------------------------------------------------------------------------


def test_identical_runs_pass_the_gate(tmp_path):
    cells = [cell(), cell("txn.commit-as-you-go", statements=["BEGIN (implicit)", "INSERT INTO t (x) VALUES (?)"])]
    completed = compare(tmp_path, cells, copy.deepcopy(cells))
    assert completed.returncode == 0, completed.stdout
    assert "PASSED" in completed.stdout and "compared 2 cells" in completed.stdout
    assert completed.stderr == ""


def test_versions_under_change_are_ignored_when_matching_targets(tmp_path):
    before = [cell(where=target("PostgreSQL"), statements=["BEGIN (implicit)", PG_BATCHED, "COMMIT"])]
    after = candidate_of(before)
    after[0]["target"].update(server_version="15.21", server="PostgreSQL 15.21")
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 0, completed.stdout
    assert "SQLAlchemy 2.0.9 -> 2.0.10" in completed.stdout
    assert "missing" not in completed.stdout and "new" not in completed.stdout


def test_literal_values_whitespace_and_exception_messages_are_not_behaviour(tmp_path):
    before = [
        cell(statements=["BEGIN (implicit)", "SELECT x FROM t WHERE id = 1 AND name = 'a' LIMIT ?"],
             exception=UNIQUE_VIOLATION, outcome="fail"),
    ]  # fmt: skip
    after = candidate_of(before)
    after[0]["evidence"]["statements"][1] = "SELECT x  FROM t\nWHERE id = 22 AND name = 'bb' LIMIT %s"
    after[0]["evidence"]["exception"] = {**UNIQUE_VIOLATION, "message": "another wording of the same error"}
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 0, completed.stdout


# --- regressions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [("pass", "fail"), ("pass", "error"), ("differs", "fail"), ("pass", "unsupported"), ("fail", "error")],
)
def test_a_worse_outcome_is_a_blocking_regression(tmp_path, before, after):
    completed = compare(
        tmp_path, [cell(outcome=before)], candidate_of([cell(outcome=after, reason="server closed the connection")])
    )
    assert completed.returncode == 1
    line = next(line for line in completed.stdout.splitlines() if "imv.orm-flush-batched-returning" in line)
    assert line.startswith("BLOCKING") and "regression" in line and f"{before} -> {after}" in line
    assert "sqlite/pysqlite (SQLite)" in line
    assert "candidate reason: server closed the connection" in completed.stdout
    assert "BLOCKED: 1 blocking change" in completed.stdout


def test_a_cell_missing_from_the_candidate_blocks(tmp_path):
    before = [cell(), cell("txn.commit-as-you-go")]
    completed = compare(tmp_path, before, candidate_of(before[:1]))
    assert completed.returncode == 1
    assert "missing" in completed.stdout and "txn.commit-as-you-go" in completed.stdout
    assert "the candidate has no result for this cell" in completed.stdout


def test_mariadb_and_mysql_are_different_targets(tmp_path):
    completed = compare(tmp_path, [cell(where=target("MariaDB"))], [cell(where=target("MySQL", sqlalchemy="2.0.10"))])
    assert completed.returncode == 1
    assert "missing" in completed.stdout and "mysql/pymysql (MariaDB)" in completed.stdout
    assert "new" in completed.stdout and "mysql/pymysql (MySQL)" in completed.stdout


# --- drift -------------------------------------------------------------------------------------------


def test_batched_insert_becoming_one_statement_per_row_is_named_as_drift(tmp_path):
    """SQLAlchemy 2.0.9 -> 2.0.10 on SQLite: ordered RETURNING batches became one INSERT per row."""
    before = [cell(outcome="differs", statements=batched_statements([5, 5, 2]))]
    after = candidate_of([cell(outcome="differs", statements=batched_statements([1] * 12))])
    markdown, html = tmp_path / "summary.md", tmp_path / "gate.html"
    completed = compare(tmp_path, before, after, "--markdown", markdown, "--html", html)
    assert completed.returncode == 1
    line = next(line for line in completed.stdout.splitlines() if line.startswith("BLOCKING"))
    assert "drift" in line and "imv.orm-flush-batched-returning on sqlite/pysqlite (SQLite)" in line
    assert "statements 3 -> 12" in line and "round trips 3 -> 12" in line
    assert "insertmanyvalues batches 3 -> 12" in line and "statement shape changed at statement 2" in line
    assert f"statement 2 before: {batched_statements([5])[1]}" in completed.stdout
    assert f"statement 2 after:  {batched_statements([1])[1]}" in completed.stdout
    assert "statements 3 -> 12" in markdown.read_text() and "statements 3 -&gt; 12" in html.read_text()


def test_a_changed_statement_shape_with_the_same_count_is_drift(tmp_path):
    """SQLAlchemy 2.0.9 -> 2.0.10 on PostgreSQL: the same batches, rendered with imp_sen / sen_counter."""
    where = target("PostgreSQL")
    before = [cell(where=where, statements=["BEGIN (implicit)", PG_BATCHED, "COMMIT"])]
    after = candidate_of([cell(where=where, statements=["BEGIN (implicit)", PG_SEN_COUNTER, "COMMIT"])])
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 1
    assert "drift" in completed.stdout and "postgresql/psycopg (PostgreSQL)" in completed.stdout
    assert "statement shape changed at statement 2" in completed.stdout
    assert "round trips" not in completed.stdout  # one batch on both sides
    assert "sen_counter" in completed.stdout.split("statement 2 after:")[1]


def test_more_rows_per_batch_is_a_different_shape():
    two, three = SQLITE_INSERT.format(rows="(?, ?), (?, ?)"), SQLITE_INSERT.format(rows="(?, ?), (?, ?), (?, ?)")
    assert normalise_statement(two) != normalise_statement(three)
    assert normalise_statement(two).endswith("VALUES (?, ?) ×2 RETURNING id")
    assert normalise_statement(PG_SEN_COUNTER).count("(?::VARCHAR, ?::VARCHAR, N) ×2") == 1
    assert normalise_statement("SELECT a::INTEGER FROM t WHERE b = :b_1 AND c = $1") == (
        "SELECT a::INTEGER FROM t WHERE b = ? AND c = ?"
    )


def test_the_order_of_a_tables_indexes_is_not_behaviour_but_a_new_index_is(tmp_path):
    create = ["CREATE TABLE t (a INT, b INT)", "CREATE INDEX ix_a ON t (a)", "CREATE UNIQUE INDEX ux_b ON t (b)"]
    before = [cell("reflect.round-trip", statements=[*create, "COMMIT"])]
    after = candidate_of([cell("reflect.round-trip", statements=[create[0], create[2], create[1], "COMMIT"])])
    assert compare(tmp_path, before, after).returncode == 0
    reflect = ['PRAGMA main.index_list("t")', 'PRAGMA main.index_info("ix_a")', 'PRAGMA main.index_info("ux_b")']
    before[0]["evidence"]["statements"] += reflect
    after[0]["evidence"]["statements"] += [reflect[0], reflect[2], reflect[1]]
    assert compare(tmp_path, before, after).returncode == 0
    after[0]["evidence"]["statements"].insert(3, "CREATE INDEX ix_ab ON t (a, b)")
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 1 and "statements 3 -> 4" in completed.stdout


def test_the_order_of_different_statements_still_counts(tmp_path):
    parent_first = ["BEGIN (implicit)", "INSERT INTO parent (id) VALUES (?)", "INSERT INTO child (id) VALUES (?)"]
    before = [cell("cascade.save-update-adds-children", statements=parent_first)]
    after = candidate_of([cell("cascade.save-update-adds-children", statements=parent_first[::2] + parent_first[1:2])])
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 1 and "statement shape changed at statement 2" in completed.stdout


def test_the_order_of_mysql_table_options_is_not_behaviour_but_an_option_is():
    create = "CREATE TABLE t ( id INTEGER NOT NULL AUTO_INCREMENT, PRIMARY KEY (id) )"
    one_order = normalise_statement(f"{create}COLLATE utf8mb4_general_ci COMMENT='parents' ENGINE=InnoDB")
    assert one_order == normalise_statement(f"{create}ENGINE=InnoDB COLLATE utf8mb4_general_ci COMMENT='parents'")
    assert one_order != normalise_statement(f"{create}ENGINE=MyISAM COLLATE utf8mb4_general_ci COMMENT='parents'")
    assert normalise_statement(create) == create


def test_the_runs_own_scratch_database_name_is_not_behaviour(tmp_path):
    create = "CREATE TABLE `{}`.`ddl_line` (id INTEGER NOT NULL, PRIMARY KEY (id))"
    before = [cell("ddl.create-all-checkfirst", statements=[create.format("sqlaconf_4624_cabf284b")])]
    after = candidate_of([cell("ddl.create-all-checkfirst", statements=[create.format("sqlaconf_5450_90e5ca6f")])])
    assert compare(tmp_path, before, after).returncode == 0
    after[0]["evidence"]["statements"] = [create.format("sqlaconf_5450_90e5ca6f").replace("ddl_line", "ddl_other")]
    assert compare(tmp_path, before, after).returncode == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"round_trips": 5}, "round trips 3 -> 5"),
        ({"executemany": True}, "executemany no -> yes"),
        (
            {"exception": {**UNIQUE_VIOLATION, "dbapi": "psycopg.errors.IntegrityError"}},
            "exception sqlalchemy.exc.IntegrityError (psycopg.errors.UniqueViolation) -> "
            "sqlalchemy.exc.IntegrityError (psycopg.errors.IntegrityError)",
        ),
        ({"exception": None}, "exception sqlalchemy.exc.IntegrityError (psycopg.errors.UniqueViolation) -> none"),
    ],
)
def test_evidence_drift_where_both_pass_blocks(tmp_path, change, expected):
    before = [cell(exception=UNIQUE_VIOLATION)]
    after = candidate_of(before)
    after[0]["evidence"].update(change)
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 1
    assert "drift" in completed.stdout and "pass on both sides" in completed.stdout
    assert expected in completed.stdout


def test_pass_becoming_differs_is_drift(tmp_path):
    completed = compare(tmp_path, [cell()], candidate_of([cell(outcome="differs")]))
    assert completed.returncode == 1
    assert "drift" in completed.stdout and "pass -> differs" in completed.stdout


# --- improvements and new cells ----------------------------------------------------------------------


def test_improvements_and_new_cells_are_shown_but_do_not_block(tmp_path):
    before = [cell(outcome="fail", reason="ArgumentError: sort_by_parameter_order")]
    after = candidate_of([cell(), cell("imv.delete-returning", outcome="fail")])
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 0, completed.stdout
    assert "improvement" in completed.stdout and "fail -> pass" in completed.stdout
    assert "baseline reason: ArgumentError: sort_by_parameter_order" in completed.stdout
    assert "imv.delete-returning on sqlite/pysqlite (SQLite): new cell: fail" in completed.stdout
    assert "PASSED" in completed.stdout


# --- benchmarks --------------------------------------------------------------------------------------


def test_a_benchmark_slowdown_beyond_threshold_and_spread_blocks(tmp_path):
    slower = benchmark(1.30, 0.03, where=target(sqlalchemy="2.0.10"))
    completed = compare(
        tmp_path, [cell()], candidate_of([cell()]), benchmarks_before=[benchmark(1.00, 0.02)], benchmarks_after=[slower]
    )
    assert completed.returncode == 1
    assert "slowdown" in completed.stdout and "benchmark.core_executemany.10000" in completed.stdout
    assert "median 1.000 s -> 1.300 s (+30.0%)" in completed.stdout


@pytest.mark.parametrize(
    ("after", "options"),
    [
        (benchmark(1.15, 0.20), ()),  # +15%, but the spreads overlap: noise
        (benchmark(1.15, 0.06), ()),  # apart at median +- IQR, but not at median +- 2 IQR
        (benchmark(1.05, 0.001), ()),  # clearly apart, but within the 10% threshold
        (benchmark(1.15, 0.01), ("--threshold", "20")),  # a raised threshold
    ],
)
def test_benchmark_noise_does_not_alarm(tmp_path, after, options):
    completed = compare(
        tmp_path, [cell()], [cell()], *options, benchmarks_before=[benchmark(1.00, 0.02)], benchmarks_after=[after]
    )
    assert completed.returncode == 0, completed.stdout
    assert "slowdown" not in completed.stdout


def test_when_the_physical_limit_moved_the_machines_differed_and_timings_are_not_judged(tmp_path):
    limit = {**benchmark(0.10, 0.001), "strategy": "physical_limit", "is_limit": True}
    busier = {**limit, "median_s": 0.20}
    before, after = [benchmark(1.00, 0.02), limit], [benchmark(1.60, 0.02), busier]
    completed = compare(tmp_path, [cell()], [cell()], benchmarks_before=before, benchmarks_after=after)
    assert completed.returncode == 0, completed.stdout
    assert "slowdown" not in completed.stdout
    assert "inconclusive benchmark.physical_limit.10000" in completed.stdout
    assert "the physical limit moved 100.00 ms -> 200.00 ms (+100.0%)" in completed.stdout
    completed = compare(tmp_path, [cell()], [cell()], benchmarks_before=before, benchmarks_after=[after[0], limit])
    assert completed.returncode == 1 and "slowdown" in completed.stdout  # a steady control: the slowdown counts


def test_a_slowdown_must_show_at_every_size_a_strategy_was_measured_at(tmp_path):
    small, large = benchmark(0.01, 0.0002), {**benchmark(1.00, 0.02), "rows": 100000}
    slower_small, slower_large = benchmark(0.013, 0.0002), {**benchmark(1.30, 0.02), "rows": 100000}
    completed = compare(
        tmp_path, [cell()], [cell()], benchmarks_before=[small, large], benchmarks_after=[small, slower_large]
    )
    assert completed.returncode == 0, completed.stdout
    assert "inconclusive benchmark.core_executemany.100000" in completed.stdout
    assert "slower at this size only, not at every size measured (10000, 100000 rows)" in completed.stdout
    completed = compare(
        tmp_path, [cell()], [cell()], benchmarks_before=[small, large], benchmarks_after=[slower_small, slower_large]
    )
    assert completed.returncode == 1 and completed.stdout.count("BLOCKING  slowdown") == 2


def test_a_benchmark_measured_too_few_times_is_inconclusive_not_an_alarm(tmp_path):
    completed = compare(
        tmp_path,
        [cell()],
        [cell()],
        benchmarks_before=[benchmark(1.0, 0.0, rounds=1)],
        benchmarks_after=[benchmark(3.0, 0.0, rounds=1)],
    )
    assert completed.returncode == 0
    assert "inconclusive" in completed.stdout and "at least 5 rounds" in completed.stdout


def test_a_faster_benchmark_is_an_improvement_and_a_missing_one_blocks(tmp_path):
    other = {**benchmark(1.0, 0.01), "strategy": "orm_bulk_insert"}
    before, after = [benchmark(1.0, 0.02), other], [benchmark(0.5, 0.01)]
    completed = compare(tmp_path, [cell()], [cell()], benchmarks_before=before, benchmarks_after=after)
    assert completed.returncode == 1
    assert "improvement  benchmark.core_executemany.10000" in completed.stdout
    assert "missing      benchmark.orm_bulk_insert.10000" in completed.stdout


def test_a_benchmark_that_stopped_working_or_changed_its_statements_blocks(tmp_path):
    broken = {**benchmark(1.0, 0.01), "outcome": "error", "reason": "server closed the connection"}
    completed = compare(
        tmp_path, [cell()], [cell()], benchmarks_before=[benchmark(1.0, 0.01)], benchmarks_after=[broken]
    )
    assert completed.returncode == 1
    assert "regression   benchmark.core_executemany.10000" in completed.stdout
    assert "measured -> error: server closed the connection" in completed.stdout
    batched = {**benchmark(1.0, 0.01), "statements": batched_statements([5, 5])[1:-1], "round_trips": 2}
    per_row = {**benchmark(1.0, 0.01), "statements": batched_statements([1] * 10)[1:-1], "round_trips": 10}
    completed = compare(tmp_path, [cell()], [cell()], benchmarks_before=[batched], benchmarks_after=[per_row])
    assert completed.returncode == 1
    assert "drift        benchmark.core_executemany.10000" in completed.stdout
    assert (
        "statements 2 -> 10; round trips 2 -> 10" in completed.stdout
        and "median 1.000 s -> 1.000 s" in completed.stdout
    )


# --- the allow-list ----------------------------------------------------------------------------------


def allowlist(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "allow.toml"
    path.write_text("\n".join(f"[[allow]]\n{entry}\n" for entry in entries))
    return path


def drifted(tmp_path: Path, *options: str | Path) -> subprocess.CompletedProcess:
    before = [cell(outcome="differs")]
    after = candidate_of([cell(outcome="differs", statements=batched_statements([1] * 12))])
    return compare(tmp_path, before, after, *options)


def test_an_allowed_change_is_shown_marked_allowed_and_does_not_block(tmp_path):
    allow = allowlist(
        tmp_path,
        'behaviour = "imv.*"\ntarget = { backend = "sqlite", sqlalchemy = ">=2.0.10" }\nchange = "drift"\n'
        'reason = "SQLAlchemy 2.0.10: ordered RETURNING is one row per statement on SQLite"\nexpires = 2999-01-01',
    )
    html = tmp_path / "gate.html"
    completed = drifted(tmp_path, "--allow", allow, "--html", html)
    assert completed.returncode == 0, completed.stdout
    assert "\nALLOWED   drift        imv.orm-flush-batched-returning" in completed.stdout
    assert "ordered RETURNING is one row per statement on SQLite" in completed.stdout
    assert "statements 3 -> 12" in completed.stdout  # shown, not hidden
    assert "PASSED: nothing blocking (1 allowed)" in completed.stdout
    assert "Allowed (1)" in html.read_text()
    assert completed.stderr == ""


def test_an_expired_allowance_no_longer_allows_and_says_so(tmp_path):
    allow = allowlist(tmp_path, 'behaviour = "imv.orm-flush-*"\nreason = "reviewed"\nexpires = 2020-01-31')
    completed = drifted(tmp_path, "--allow", allow)
    assert completed.returncode == 1
    assert "NOT allowed: allow-list entry 1: imv.orm-flush-* on any target expired on 2020-01-31" in completed.stdout
    assert "expired on 2020-01-31" in completed.stderr


def test_an_allowance_for_another_kind_or_target_does_not_allow(tmp_path):
    allow = allowlist(
        tmp_path,
        'behaviour = "imv.orm-flush-batched-returning"\nchange = "regression"\nreason = "only if it fails"',
        'behaviour = "imv.orm-flush-batched-returning"\ntarget = { backend = "postgresql" }\nreason = "pg only"',
    )
    completed = drifted(tmp_path, "--allow", allow)
    assert completed.returncode == 1
    assert completed.stderr.count("matches no blocking change") == 2


def test_an_allowance_that_matches_nothing_is_warned_about(tmp_path):
    next_year = datetime.date.today().year + 1
    allow = allowlist(tmp_path, f'behaviour = "txn.*"\nreason = "reviewed"\nexpires = {next_year}-01-01')
    completed = compare(tmp_path, [cell()], [cell()], "--allow", allow)
    assert completed.returncode == 0
    assert "warning: allow-list entry 1: txn.* on any target matches no blocking change" in completed.stderr


def test_the_shipped_allowlist_is_valid_and_empty(tmp_path):
    completed = compare(tmp_path, [cell()], [cell()], "--allow", PROJECT_ROOT / "reports" / "allowlist.toml")
    assert completed.returncode == 0 and completed.stderr == ""


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ('behaviour = "imv.*"', "reason is required"),
        ('behaviour = "imv.*"\nreason = "x"\nchange = "improvement"', "change must be one of"),
        ('behaviour = "imv.*"\nreason = "x"\ntarget = { colour = "red" }', "unknown target field 'colour'"),
        ('behaviour = "imv.*"\nreason = "x"\ntarget = { sqlalchemy = "two" }', "is not a version specifier"),
        ('behaviour = "imv.*"\nreason = "x"\nexpires = "soon"', "is not a date"),
        ('behaviour = "imv.*"\nreason = "x"\nexpire = 2030-01-01', "unknown field 'expire'"),
        ('behaviour = "imv.*\nreason = "x"', "not valid TOML"),
    ],
)
def test_an_unusable_allowlist_is_refused_in_one_line(tmp_path, entry, fragment):
    completed = drifted(tmp_path, "--allow", allowlist(tmp_path, entry))
    assert_one_line_refusal(completed, fragment)


# --- unusable input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such file or directory"),
        ("", "empty results file"),
        ('{"schema_version": 1, "cells": [', "not valid JSON"),
        (json.dumps({**document([cell()]), "schema_version": 7}), "unknown schema_version 7"),
        (json.dumps(document([cell(outcome="maybe")])), "unknown outcome 'maybe'"),
        (json.dumps(document([cell()], [{"strategy": "core_executemany", "rows": 10}])), "benchmark 1 has no target"),
    ],
)
def test_unusable_input_is_refused_in_one_line(tmp_path, content, fragment):
    candidate = tmp_path / "candidate.json"
    if content is not None:
        candidate.write_text(content)
    completed = gate(write(tmp_path / "baseline.json", [cell()]), candidate)
    assert_one_line_refusal(completed, fragment)
    assert "candidate" in completed.stderr


def test_the_same_file_given_twice_is_refused(tmp_path):
    baseline = write(tmp_path / "run.json", [cell()])
    assert_one_line_refusal(gate(baseline, baseline), "is given as both baseline and candidate")
    assert_one_line_refusal(gate(tmp_path, baseline), "is given as both baseline and candidate")


def test_an_empty_directory_and_a_target_twice_on_one_side_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    baseline = write(tmp_path / "base" / "run.json", [cell()])
    assert_one_line_refusal(gate(baseline, tmp_path / "empty"), "no results files")
    write(tmp_path / "cand" / "a.json", candidate_of([cell()]))
    write(tmp_path / "cand" / "b.json", candidate_of([cell()], sqlalchemy="2.0.11"))
    assert_one_line_refusal(gate(baseline, tmp_path / "cand"), "appears twice")


def test_a_bad_option_is_refused_in_one_line(tmp_path):
    baseline = write(tmp_path / "a.json", [cell()])
    candidate = write(tmp_path / "b.json", [cell()])
    assert_one_line_refusal(gate(baseline, candidate, "--threshold", "-5"), "is negative")
    assert_one_line_refusal(gate(baseline), "the following arguments are required: candidate")


# --- directories, several targets --------------------------------------------------------------------


def test_directories_of_results_are_compared_target_by_target(tmp_path):
    pg = target("PostgreSQL")
    write(tmp_path / "base" / "sqlite.json", [cell(), cell("txn.commit-as-you-go")])
    write(tmp_path / "base" / "pg.json", [cell(where=pg), cell("txn.commit-as-you-go", where=pg)])
    write(tmp_path / "cand" / "sqlite.json", candidate_of([cell(), cell("txn.commit-as-you-go")]))
    write(tmp_path / "cand" / "pg.json", candidate_of([cell(where=pg), cell("txn.commit-as-you-go", "fail", pg)]))
    completed = gate(tmp_path / "base", tmp_path / "cand")
    assert completed.returncode == 1
    assert "compared 4 cells and 0 benchmarks on 2 targets: 1 regression" in completed.stdout
    assert "txn.commit-as-you-go on postgresql/psycopg (PostgreSQL): pass -> fail" in completed.stdout


def test_two_server_versions_of_one_flavour_are_told_apart(tmp_path):
    pg15, pg16 = target("PostgreSQL"), target("PostgreSQL", server_version="16.2")
    write(tmp_path / "base" / "pg15.json", [cell(where=pg15)])
    write(tmp_path / "base" / "pg16.json", [cell(where=pg16)])
    write(tmp_path / "cand" / "pg15.json", candidate_of([cell(where=pg15)]))
    write(tmp_path / "cand" / "pg16.json", candidate_of([cell(outcome="error", where=pg16)]))
    completed = gate(tmp_path / "base", tmp_path / "cand")
    assert completed.returncode == 1
    assert "on postgresql/psycopg (PostgreSQL 16.2): pass -> error" in completed.stdout
    assert "PostgreSQL 15.20" not in completed.stdout.split("verdict")[0].split("targets:")[1]


# --- output safety -----------------------------------------------------------------------------------


def test_html_and_markdown_show_hostile_text_as_text(tmp_path):
    hostile = "INSERT INTO t (x) VALUES ('</pre><script>alert(1)</script>') -- ```"
    before = [cell("txn.<script>x", statements=["BEGIN (implicit)", "INSERT INTO t (x) VALUES (?)"])]
    after = candidate_of([cell("txn.<script>x", statements=["BEGIN (implicit)", hostile])])
    markdown, html = tmp_path / "summary.md", tmp_path / "gate.html"
    completed = compare(tmp_path, before, after, "--markdown", markdown, "--html", html)
    assert completed.returncode == 1
    page = html.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page and " src=" not in page
    summary = markdown.read_text()
    assert "txn.&lt;script>x" in summary
    outside_code = re.sub(r"(?ms)^  (`{3,})text$.*?^  \1$", "", summary)
    assert "<" not in outside_code
    assert "````text" in summary  # the fence is longer than the statement's own backticks


# --- observed values ---------------------------------------------------------------------------------


def with_values(outcome: str = "pass", statements: list[str] | None = None, **evidence: Any) -> dict[str, Any]:
    made = cell("types.numeric-exact-decimal", outcome=outcome, statements=statements)
    made["evidence"].update(evidence)
    return made


def test_a_changed_measured_value_is_drift_shown_before_and_after(tmp_path):
    # issue 14: Numeric results sign-flipped, the SQLite cell stayed differs, and the gate said "no changes"
    before = [with_values("differs", values={"returned": ["Decimal('12345678901234.5684')"], "types": ["Decimal"]})]
    after = candidate_of(before)
    after[0]["evidence"]["values"]["returned"] = ["Decimal('-12345678901234.5684')"]
    completed = compare(tmp_path, before, after)
    assert completed.returncode == 1, completed.stdout
    assert "differs on both sides; 1 observed value changed" in completed.stdout
    expected = """value returned: ["Decimal('12345678901234.5684')"] -> ["Decimal('-12345678901234.5684')"]"""
    assert expected in completed.stdout
    assert "value types" not in completed.stdout


def test_every_evidence_key_with_observed_values_is_compared():
    checks = [{"name": "rows kept", "expected": 2, "got": 2, "ok": True}, {"name": "level", "got": "SERIALIZABLE"}]
    before = with_values(checks=checks, observed={"nested": {"deep": [1, 2]}})
    for path, edit, shown in (
        ("checks / rows kept / got", lambda e: e["checks"][0].update(got=3), "2 -> 3"),
        ("checks / level / got", lambda e: e["checks"][1].update(got="READ COMMITTED"), '"SERIALIZABLE" -> "READ'),
        ("observed / nested / deep", lambda e: e["observed"]["nested"].update(deep=[2, 1]), "[1, 2] -> [2, 1]"),
        ("checks / rows kept / got", lambda e: e["checks"].pop(0), "2 -> (not recorded)"),
        ("added", lambda e: e["values"].update(added=0), "(not recorded) -> 0"),
    ):
        after = copy.deepcopy(before)
        edit(after["evidence"])
        change = compare_cell(before, after, "types.numeric-exact-decimal", "sqlite")
        assert change is not None and change.blocking, path
        assert any(detail.startswith(f"value {path}: ") and shown in detail for detail in change.details), change
    assert compare_cell(before, copy.deepcopy(before), "types.numeric-exact-decimal", "sqlite") is None
    # a check whose result the test also records as a measured value is shown once
    before["evidence"]["values"]["rows kept"] = 2
    after = copy.deepcopy(before)
    after["evidence"]["values"]["rows kept"] = 3
    after["evidence"]["checks"][0].update(got=3, ok=False)
    details = compare_cell(before, after, "types.numeric-exact-decimal", "sqlite").details
    assert details == ["value checks / rows kept / ok: true -> false", "value rows kept: 2 -> 3"]


def test_values_that_differ_on_every_run_are_not_compared():
    before = with_values(values={"server sessions (before, after)": [10506, 10524], "pool": "<Pool at 0x7f3a2b>"})
    after = with_values(values={"server sessions (before, after)": [11329, 11353], "pool": "<Pool at 0x7f9c01>"})
    assert compare_cell(before, after, "pool.pre-ping-replaces-dropped", "postgresql") is None
    before["evidence"]["values_varying_per_run"] = {"port": 5432}
    after["evidence"]["values_varying_per_run"] = {"port": 5433}
    assert compare_cell(before, after, "pool.pre-ping-replaces-dropped", "postgresql") is None
    after["evidence"]["values"]["pool"] = "<QueuePool at 0x7f9c01>"
    assert compare_cell(before, after, "pool.pre-ping-replaces-dropped", "postgresql").blocking


# --- statements: structural, cosmetic, SQLAlchemy's own queries --------------------------------------

LABELLED = (
    "SELECT address.id AS address_id, address.email_address AS address_email_address FROM address "
    "WHERE ? = address.user_id"
)
UNLABELLED = "SELECT address.id, address.email_address FROM address WHERE ? = address.user_id"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (LABELLED, UNLABELLED),  # SQLAlchemy 2.1 dropped select-list labels
        ('SELECT "user".id FROM "user" AS user_1', "SELECT user.id  FROM user\nAS user_1"),  # quoting, spacing
        ("SELECT a.x FROM (SELECT t.x AS x FROM t) AS a", "SELECT a.x FROM (SELECT t.x FROM t) AS a"),
        ("SELECT `t`.`x` FROM `db`.`t`", "SELECT t.x FROM db.t"),
    ],
)
def test_labels_aliases_quoting_and_spacing_are_cosmetic(before, after):
    assert normalise_statement(before) != normalise_statement(after)
    assert structural_shape(before) == structural_shape(after)
    change = compare_cell(cell(statements=[before]), cell(statements=[after]), "rel.lazy-load-once", "sqlite")
    assert change is not None and change.kind == "cosmetic" and not change.blocking
    assert "changed only in labels, aliases, quoting or spacing" in change.cosmetic[0]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # SQLAlchemy 2.1 on SQLite: a JSON path comparison became a string comparison
        ("SELECT t.id FROM t WHERE JSON_EXTRACT(t.value, ?) = ?",
         "SELECT t.id FROM t WHERE CAST(JSON_EXTRACT(t.value, ?) AS VARCHAR) = ?"),
        ("SELECT CAST(t.x AS INTEGER) AS x FROM t", "SELECT CAST(t.x AS NUMERIC) AS x FROM t"),
        ("SELECT t.x FROM t", "SELECT t.x FROM u"),
        ("SELECT t.x FROM t ORDER BY t.x", "SELECT t.x FROM t"),
        ("SELECT t.x FROM t WHERE t.x = ?", "SELECT t.x FROM t WHERE t.x = ? FOR UPDATE"),
        ("INSERT INTO t (x) VALUES (?) RETURNING id", "INSERT INTO t (x) VALUES (?)"),
        ("INSERT INTO t (x) VALUES (?), (?)", "INSERT INTO t (x) VALUES (?)"),
        ("UPDATE t SET x=? WHERE t.id = ?", "DELETE FROM t WHERE t.id = ?"),
        ("INSERT INTO t (x) VALUES (%(x)s::VARCHAR)", "INSERT INTO t (x) VALUES (%(x)s::TEXT)"),
        ("CREATE SEQUENCE s AS INTEGER", "CREATE SEQUENCE s AS BIGINT"),
    ],
)  # fmt: skip
def test_verbs_tables_clauses_returning_ordering_batches_and_casts_are_structural(before, after):
    assert structural_shape(before) != structural_shape(after)
    change = compare_cell(cell(statements=[before]), cell(statements=[after]), "types.json-path-where", "sqlite")
    assert change is not None and change.kind == "drift" and change.blocking
    assert (change.statement_before, change.statement_after) == (before, after)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT pg_catalog.pg_attribute.attname AS name FROM pg_catalog.pg_attribute WHERE attrelid = %(oid)s",
        "select pg_catalog.version()",
        "select current_schema()",
        "show standard_conforming_strings",
        "show transaction isolation level",
        'PRAGMA main.table_xinfo("reflect_child")',
        'PRAGMA main.index_list("t")',
        "PRAGMA read_uncommitted",
        "SELECT sql FROM  (SELECT * FROM sqlite_master UNION ALL SELECT * FROM sqlite_temp_master) WHERE name = ?",
        "SHOW CREATE TABLE `sqlaconf_1_ab`.`t`",
        "SELECT @@transaction_isolation",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        "DESCRIBE `t`",
    ],
)
def test_sqlalchemys_own_catalog_and_probe_queries_are_recognised(statement):
    assert is_implementation_query(statement)
    assert is_implementation_query(f"[executemany, 2 parameter sets] {statement}")


@pytest.mark.parametrize(
    "statement",
    ["SELECT t.x FROM t", "PRAGMA foreign_keys = ON", "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"],
)
def test_the_behaviours_own_statements_are_not_implementation(statement):
    assert not is_implementation_query(statement)


def test_catalog_query_text_is_listed_what_reflection_returned_is_compared():
    # issue 14: 2.0.40 -> 2.0.58 blocked on PostgreSQL's reflection queries with the reflected result identical
    old = ["SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class WHERE relname = %(name)s"] * 3
    new = ["SELECT pg_catalog.pg_class.oid, pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN "
           "pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace"]  # fmt: skip
    reflected = {"reflected columns": ["id", "parent_id", "label"]}
    before = cell("reflect.table-autoload-with", statements=["BEGIN (implicit)", *old, "SELECT t.x FROM t"])
    after = cell("reflect.table-autoload-with", statements=["BEGIN (implicit)", *new, "SELECT t.x FROM t"])
    before["evidence"]["values"], after["evidence"]["values"] = reflected, copy.deepcopy(reflected)
    change = compare_cell(before, after, "reflect.table-autoload-with", "postgresql")
    assert change is not None and change.kind == "cosmetic" and not change.blocking
    assert "own catalog / probe queries changed (3 -> 1 statements)" in change.cosmetic[0]
    after["evidence"]["values"]["reflected columns"] = ["id", "label"]
    change = compare_cell(before, after, "reflect.table-autoload-with", "postgresql")
    assert change.blocking and any(detail.startswith("value reflected columns: ") for detail in change.details)


def test_a_statement_recorded_as_a_value_may_change_cosmetically_but_not_structurally():
    before = cell("dml.update-returning", statements=[])
    before["evidence"]["values"] = {"statements": [LABELLED]}
    after = copy.deepcopy(before)
    after["evidence"]["values"]["statements"] = [UNLABELLED]
    change = compare_cell(before, after, "dml.update-returning", "sqlite")
    assert change.kind == "cosmetic" and "value statements: statements differ only cosmetically" in change.cosmetic[0]
    after["evidence"]["values"]["statements"] = [UNLABELLED + " ORDER BY address.id"]
    assert compare_cell(before, after, "dml.update-returning", "sqlite").blocking


def test_the_word_diff_marks_removed_and_added_words():
    assert word_diff_text(LABELLED, UNLABELLED).startswith("SELECT address.id[- AS address_id-], address.email")
    assert word_diff_text("SELECT x FROM t", "SELECT x FROM u") == "SELECT x FROM [-t-]{+u+}"
    assert word_diff_text(None, "COMMIT") == "{+COMMIT+}"


def test_a_blocking_change_shows_the_whole_statement_a_word_diff_and_an_entry_to_paste(tmp_path):
    columns = ", ".join(f"%(column_{n}__0)s::VARCHAR" for n in range(20))
    long_before = f"INSERT INTO wide (c) VALUES ({columns}) RETURNING wide.id"
    long_after = long_before.replace("RETURNING wide.id", "RETURNING wide.id, wide.id AS id__1")
    assert len(long_before) > 400
    before = [cell("imv.orm-flush-batched-returning", statements=[long_before])]
    after = candidate_of(before)
    after[0]["evidence"]["statements"] = [long_after]
    completed = compare(tmp_path, before, after, "--markdown", tmp_path / "summary.md", "--html", tmp_path / "g.html")
    assert completed.returncode == 1
    assert f"before: {long_before}\n" in completed.stdout and f"after:  {long_after}\n" in completed.stdout
    assert "RETURNING wide.id{+, wide.id AS id__1+}" in completed.stdout
    assert "<ins>, wide.id AS id__1</ins>" in (tmp_path / "g.html").read_text()
    entry = completed.stdout.split("add to the allow-list:\n", 1)[1].split("verdict:", 1)[0]
    entry = "\n".join(line.strip() for line in entry.splitlines())
    assert 'target = { backend = "sqlite", driver = "pysqlite", flavour = "SQLite", sqlalchemy = ">=2.0.10" }' in entry
    assert entry in (tmp_path / "summary.md").read_text().replace("\n  ", "\n")
    pasted = tmp_path / "allow.toml"
    pasted.write_text(entry)
    assert_one_line_refusal(compare(tmp_path, before, after, "--allow", pasted), "reason still says 'FILL IN'")
    pasted.write_text(entry.replace("FILL IN: why this is accepted", "reviewed: a second id column, same rows"))
    accepted = compare(tmp_path, before, after, "--allow", pasted)
    assert accepted.returncode == 0 and "ALLOWED" in accepted.stdout, accepted.stdout + accepted.stderr


# --- the upgrade driver's constraints ----------------------------------------------------------------


def test_upgrade_overrides_replace_the_pinned_lines_without_extras():
    pinned = "# pins\nSQLAlchemy==2.0.58\npsycopg==3.3.9\nPyMySQL==1.2.4\n"
    lines = apply_overrides(pinned, [Requirement("sqlalchemy==2.0.10"), Requirement("psycopg[binary]==3.2.1")])
    assert lines == ["# pins", "PyMySQL==1.2.4", "sqlalchemy==2.0.10  # override", "psycopg==3.2.1  # override"]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--envs", "sqlite,oracle", "--to", "sqlalchemy==2.0.10"], "choose from sqlite, pg, mysql"),
        (["--envs", "sqlite"], "nothing to upgrade"),
        (["--envs", "sqlite", "--to", "sqlalchemy=>2"], "is not a requirement"),
        (["--envs", "sqlite", "--from-constraints", "/nonexistent/constraints.txt"], "constraints file"),
    ],
)
def test_upgrade_refuses_bad_arguments_in_one_line(tmp_path, arguments, fragment):
    completed = subprocess.run(
        [sys.executable, "-m", "reports", "upgrade", "--workdir", str(tmp_path), *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_one_line_refusal(completed, fragment)
    assert not any(tmp_path.iterdir())  # refused before building anything
