"""The history replay's logic, with hand-written gate results: what counts as caught, missed and out of reach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports import history
from reports.gate import Change

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQLITE = {"backend": "sqlite", "driver": "pysqlite"}
POSTGRESQL = {"backend": "postgresql", "driver": "psycopg"}


def entry(**fields) -> history.Entry:
    defaults = {
        "id": "sqla-2.0.55-13609",
        "package": "sqlalchemy",
        "version": "2.0.55",
        "ticket": "13609",
        "summary": "percent text kept",
        "where": "SQLite",
        "before": "sqlalchemy==2.0.54",
        "after": "sqlalchemy==2.0.55",
        "envs": ("sqlite",),
        "behaviours": ("sql.percent-text-literal",),
    }
    return history.Entry(**{**defaults, **fields})


def change(subject: str, kind: str = "regression", target: dict | None = None, summary: str = "pass -> fail") -> Change:
    target = target or SQLITE
    return Change(kind, subject, target, f"{target['backend']}/{target['driver']}", summary, details=[])


def test_a_changed_cell_of_a_named_behaviour_on_a_named_backend_is_caught():
    result = history.judge(entry(), [change("sql.percent-text-literal", "improvement", summary="fail -> pass")])
    assert result.status == "caught"
    assert "sql.percent-text-literal" in result.reason and "fail -> pass" in result.reason
    assert result.changes[0]["kind"] == "improvement"


@pytest.mark.parametrize("kind", ["regression", "drift", "missing", "improvement"])
def test_every_kind_of_cell_change_counts(kind):
    assert history.judge(entry(), [change("sql.percent-text-literal", kind)]).status == "caught"


def test_no_change_is_missed():
    result = history.judge(entry(), [])
    assert result.status == "missed"
    assert "sqlalchemy==2.0.54 -> sqlalchemy==2.0.55" in result.reason


def test_a_change_of_another_behaviour_is_incidental_noise_not_a_catch():
    assert history.judge(entry(), [change("orm.version-counter")]).status == "missed"


def test_a_change_on_another_backend_is_not_a_catch():
    assert history.judge(entry(), [change("sql.percent-text-literal", target=POSTGRESQL)]).status == "missed"


@pytest.mark.parametrize("kind", ["cosmetic", "new", "inconclusive"])
def test_cosmetic_new_and_inconclusive_changes_are_not_catches(kind):
    assert history.judge(entry(), [change("sql.percent-text-literal", kind)]).status == "missed"


def test_shown_by_requires_the_recorded_check_to_be_the_one_that_changed():
    named = entry(shown_by=("stored list",))
    wrong_reason = change("sql.percent-text-literal", summary="pass -> fail: statements 3 -> 4")
    right_reason = change("sql.percent-text-literal", summary="pass -> fail: stored list: ['blue'] -> ['b', 'l']")
    assert history.judge(named, [wrong_reason]).status == "missed"
    assert "not the recorded change" in history.judge(named, [wrong_reason]).reason
    assert history.judge(named, [wrong_reason, right_reason]).status == "caught"


def write_catalogue(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "history.toml"
    path.write_text(text, encoding="utf-8")
    return path


ENTRY = """
[[entry]]
id = "a"
package = "sqlalchemy"
version = "2.0.2"
ticket = "1"
summary = "s"
where = "w"
"""


def test_an_entry_names_behaviours_with_a_pair_or_says_why_it_is_out_of_reach(tmp_path):
    both = write_catalogue(tmp_path, ENTRY + 'behaviours = ["x"]\nout_of_reach = "needs MySQL 8"\n')
    with pytest.raises(history.HistoryError, match="exactly one of behaviours, out_of_reach, not_covered"):
        history.load_catalogue(both)
    without_pair = write_catalogue(tmp_path, ENTRY + 'behaviours = ["x"]\n')
    with pytest.raises(history.HistoryError, match="version pair"):
        history.load_catalogue(without_pair)
    unknown_field = write_catalogue(tmp_path, ENTRY + 'out_of_reach = "r"\nbehaviour = "x"\n')
    with pytest.raises(history.HistoryError, match="unknown field"):
        history.load_catalogue(unknown_field)


def test_the_table_counts_each_entry_once_and_keeps_earlier_replays(tmp_path):
    catalogue = write_catalogue(
        tmp_path,
        ENTRY
        + 'from = "sqlalchemy==2.0.1"\nto = "sqlalchemy==2.0.2"\nbehaviours = ["x"]\n'
        + ENTRY.replace('id = "a"', 'id = "b"')
        + 'out_of_reach = "needs MySQL 8"\n'
        + ENTRY.replace('id = "a"', 'id = "c"')
        + 'from = "sqlalchemy==2.0.1"\nto = "sqlalchemy==2.0.2"\nbehaviours = ["x"]\n',
    )
    entries = history.load_catalogue(catalogue)
    previous = {"a": history.EntryResult("a", "caught", "2.0.1 -> 2.0.2: x changed")}
    results = history.current_results(entries, previous)
    assert [result.status for result in results] == ["caught", "out of reach", "not replayed"]
    assert history.counts(results) == {
        "caught": 1,
        "missed": 0,
        "out of reach": 1,
        "not covered": 0,
        "not replayed": 1,
    }
    assert history.headline(results).startswith("would have caught 1 of 1 replayed behaviour changes")

    results_path, markdown = tmp_path / "history.json", tmp_path / "history.md"
    history.write_results(results_path, markdown, entries, results)
    assert history.load_results(results_path)["a"].status == "caught"
    assert json.loads(results_path.read_text())["counts"]["out of reach"] == 1
    table = markdown.read_text()
    assert "| a | sqlalchemy 2.0.2 |" in table and "**out of reach**: needs MySQL 8" in table


def test_every_catalogued_behaviour_is_a_behaviour_of_the_suites():
    entries = history.load_catalogue(PROJECT_ROOT / history.CATALOGUE)
    functions = history.behaviour_functions(PROJECT_ROOT / history.SUITES)
    named = {behaviour for item in entries for behaviour in item.behaviours}
    assert named, "the catalogue names no behaviours"
    assert sorted(named - set(functions)) == []
    for behaviour in named:
        assert (PROJECT_ROOT / functions[behaviour].split("::")[0]).is_file()


def test_history_is_a_subcommand_with_one_line_errors(tmp_path, capsys):
    from reports.__main__ import main

    catalogue = write_catalogue(tmp_path, ENTRY + 'out_of_reach = "r"\n')
    status = main(["history", "--catalogue", str(catalogue), "--only", "nope", "--results", str(tmp_path / "r.json")])
    assert status == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
