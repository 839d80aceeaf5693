"""Two checks on the benchmark figures that do not come from the benchmarks themselves: SQLAlchemy's own
bulk_inserts example run on the same server (``--bench-sqla-example``), and the control measurement that says
how much spread the machine allows."""

from __future__ import annotations

import json
import os
import subprocess
import time

import jinja2
import psutil
import pytest
import sqlalchemy

from benchmarks.sqla_example import IndexUnreachable, download_sdist, example_for, run_in_own_group
from reports.benchmarks import build_benchmarks_view, render_benchmarks_markdown
from reports.html import TEMPLATES
from tests.conftest import clean_environment, run_suite
from tests.test_benchmarks import HOSTILE, needs_pytest_benchmark, record, run_quick_benchmarks

MIRRORED = {
    "orm_add_all_flush": "test_flush_no_pk",  # its docstring spans two lines in the example's output
    "orm_add_all_flush_keys_given": "test_flush_pk_given",
    "dbapi_executemany": "test_dbapi_raw",
}


@pytest.fixture(scope="session")
def sqla_example_tree() -> str:
    """SQLAlchemy's examples for the installed version, fetched once (or CONFORMANCE_SQLA_SDIST); skipped only
    when the package index cannot be reached."""
    try:
        return str(example_for(sqlalchemy.__version__).root)
    except IndexUnreachable as error:
        pytest.skip(f"SQLAlchemy's example cannot be fetched here: {error}")


@needs_pytest_benchmark
def test_sqlalchemy_example_runs_beside_ours_on_the_same_database(tmp_path, sqla_example_tree):
    selection = " or ".join(MIRRORED) + " or physical_limit"
    data, completed = run_quick_benchmarks(
        tmp_path / "bench.json",
        "--backend",
        "sqlite",
        "--bench-sqla-example",
        "2",
        "-k",
        selection,
        environ=clean_environment(CONFORMANCE_SQLA_SDIST=sqla_example_tree),
    )
    records = {item["strategy"]: item for item in data["benchmarks"]}
    assert set(records) == {*MIRRORED, "physical_limit"}
    assert data["run"]["benchmark_settings"]["sqlalchemy_example_runs"] == 2
    for strategy, test in MIRRORED.items():
        example = records[strategy]["sqlalchemy_example"]
        assert example["test"] == test and "unavailable" not in example, example
        assert len(example["runs_s"]) == 2 and all(seconds > 0 for seconds in example["runs_s"])
        assert example["rows_per_s"] == 1000 / example["median_s"]
        # each run of the example is paired with a round of ours, whose rows are counted like every other round
        ours, theirs = example["ours_paired_s"], example["runs_s"]
        assert len(ours) == 2 and all(seconds > 0 for seconds in ours)
        assert example["ratio_to_ours"] == pytest.approx((ours[0] / theirs[0] + ours[1] / theirs[1]) / 2, rel=1e-4)
        assert records[strategy]["rows_counted"] == [1000] * 7
    assert "sqlalchemy_example" not in records["physical_limit"]  # the example has no physical limit
    assert "SQLAlchemy's example |" in completed.stdout and "× ours)" in completed.stdout
    spread = data["run"]["machine_spread"]
    for when in ("before", "after"):
        assert spread[when]["rounds"] == 5 and spread[when]["median_s"] > 0 and spread[when]["iqr_ratio"] >= 0
    assert all(item["machine_spread"] == spread for item in data["benchmarks"])


@needs_pytest_benchmark
def test_an_unavailable_example_is_said_and_our_figures_are_kept(tmp_path):
    missing = tmp_path / "no-such-sdist.tar.gz"
    completed = run_suite(
        "benchmarks",
        "--backend",
        "sqlite",
        "--bench-mode",
        "quick",
        "--bench-sqla-example",
        "1",
        "-k",
        "dbapi_executemany",
        "--results",
        str(tmp_path / "bench.json"),
        environ=clean_environment(CONFORMANCE_SQLA_SDIST=str(missing)),
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    [measured] = json.loads((tmp_path / "bench.json").read_text())["benchmarks"]
    assert measured["outcome"] == "measured" and measured["rows_per_s"] > 0
    assert measured["sqlalchemy_example"] == {
        "test": "test_dbapi_raw",
        "unavailable": f"CONFORMANCE_SQLA_SDIST={missing}: no such file",
    }
    assert "not run: CONFORMANCE_SQLA_SDIST=" in completed.stdout


def test_bad_example_runs_stop_with_one_line():
    completed = run_suite("benchmarks", "--backend", "sqlite", "--bench-sqla-example", "0")
    assert completed.returncode == 2
    assert "--bench-sqla-example: '0' is not a positive whole number" in completed.stdout + completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr


def records_with_a_second_opinion():
    spread = {
        "before": {"what": "a loop", "rounds": 15, "median_s": 0.15, "iqr_ratio": 0.072},
        "after": {"what": "a loop", "rounds": 15, "median_s": 0.15, "iqr_ratio": 0.099},
    }
    ours = record("core_executemany", 100_000, 400_000, mirrors="test_core_insert", machine_spread=spread)
    ours["sqlalchemy_example"] = {
        "test": "test_core_insert",
        "runs_s": [0.26, 0.25, 0.27],
        "median_s": 0.26,
        "rows_per_s": 384_615.4,
        "ratio_to_ours": 0.9615,
    }
    refused = record("dbapi_executemany", 100_000, 600_000, layer="dbapi", machine_spread=spread)
    refused["sqlalchemy_example"] = {"test": "test_dbapi_raw", "unavailable": "it said " + HOSTILE}
    alone = record("physical_limit", 100_000, 900_000, layer="limit", is_limit=True, machine_spread=spread)
    return [ours, refused, alone]


def test_report_shows_the_example_beside_ours_and_the_machine_spread():
    view = build_benchmarks_view(records_with_a_second_opinion())
    [section] = view.sections
    assert section.has_example
    assert section.machine_spread == (
        "this machine's own IQR/median: 7.2% before, 9.9% after the benchmarks (a loop, 15 rounds)"
    )
    rows = {row.strategy: row for group in section.sizes for row in group.measurements}
    assert rows["core_executemany"].example == "384,615 rows/s (0.96× ours)"
    assert rows["dbapi_executemany"].example == "not run: it said " + HOSTILE
    assert rows["physical_limit"].example == ""
    markdown = render_benchmarks_markdown(records_with_a_second_opinion())
    assert "| peak memory | SQLAlchemy's example |" in markdown
    assert "| 384,615 rows/s (0.96× ours) |" in markdown
    assert "Control: this machine's own IQR/median: 7.2% before" in markdown
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    html = environment.get_template("_benchmarks.html.j2").render(benchmarks_view=view)
    assert "<th title=" in html and "SQLAlchemy's example</th>" in html
    assert "<script" not in html and "not run: it said &lt;script&gt;" in html
    assert "Control: this machine&#39;s own IQR/median" in html


def test_report_without_a_second_opinion_keeps_its_seven_columns():
    [section] = build_benchmarks_view([record("core_executemany", 1000, 100_000)]).sections
    assert not section.has_example and section.machine_spread == ""
    assert "SQLAlchemy's example" not in render_benchmarks_markdown([record("core_executemany", 1000, 100_000)])


def test_an_unreachable_package_index_is_told_apart_from_other_failures(tmp_path, monkeypatch, unused_loopback_port):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{unused_loopback_port}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")  # pip then names no connection error
    for variable in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(IndexUnreachable, match=r"^the package index cannot be reached to fetch SQLAlchemy 2\.0\.0: "):
        download_sdist("2.0.0", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_fetch_past_its_time_limit_leaves_no_process_behind(tmp_path):
    grandchild = tmp_path / "grandchild.pid"
    with pytest.raises(subprocess.TimeoutExpired):
        run_in_own_group(["sh", "-c", f"sleep 300 & echo $! > {grandchild}; wait"], timeout=2)
    pid = int(grandchild.read_text())
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the grandchild outlived its group"
        time.sleep(0.1)
