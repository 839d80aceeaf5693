"""The history replay's logic, with hand-written gate results: what counts as caught, missed and out of reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import history, upgrade
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


PAIR = 'from = "sqlalchemy==2.0.1"\nto = "sqlalchemy==2.0.2"\nbehaviours = ["x"]\n'


def three_entries(tmp_path: Path) -> list[history.Entry]:
    return history.load_catalogue(
        write_catalogue(
            tmp_path,
            ENTRY
            + PAIR
            + ENTRY.replace('id = "a"', 'id = "b"')
            + 'out_of_reach = "needs MySQL 8"\n'
            + ENTRY.replace('id = "a"', 'id = "c"')
            + PAIR,
        )
    )


def test_the_table_counts_each_entry_once_from_one_replay_file_per_entry(tmp_path):
    entries = three_entries(tmp_path)
    replays = tmp_path / "replays"
    history.write_replay(replays, entries[0], history.EntryResult("a", "caught", "2.0.1 -> 2.0.2: x changed"))
    assert sorted(path.name for path in replays.iterdir()) == ["a.json"]
    results = history.current_results(entries, history.load_replays(replays))
    assert [result.status for result in results] == ["caught", "out of reach", "not replayed"]
    assert history.counts(results) == {
        "caught": 1,
        "missed": 0,
        "out of reach": 1,
        "not covered": 0,
        "not replayed": 1,
    }
    assert history.headline(results).startswith("would have caught 1 of 3 known behaviour changes (1 caught, 0 missed")

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{history.HEADLINE_START}\nold line\n{history.HEADLINE_END}\nrest\n", encoding="utf-8")
    table = history.write_table(replays, readme, entries, results).read_text()
    assert "| a | sqlalchemy 2.0.2 |" in table and "**out of reach**: needs MySQL 8" in table
    assert "| sqlalchemy | 1 | 0 | 1 | 0 | 1 | 3 |" in table
    assert history.readme_headline_text(readme) == history.readme_headline(history.headline(results))
    assert readme.read_text().startswith("intro\n") and readme.read_text().endswith("rest\n")


def test_a_replay_of_an_entry_changed_since_is_not_counted(tmp_path):
    entries = three_entries(tmp_path)
    replays = tmp_path / "replays"
    history.write_replay(replays, entries[0], history.EntryResult("a", "caught", "x changed", replayed="2026-01-01"))
    moved = history.load_catalogue(
        write_catalogue(tmp_path, ENTRY + PAIR.replace("2.0.2", "2.0.3") + ENTRY.replace('id = "a"', 'id = "z"') + PAIR)
    )
    [result, _] = history.current_results(moved, history.load_replays(replays))
    assert result.status == "not replayed" and "to changed since its replay" in result.reason
    assert history.orphan_replays(moved[1:], history.load_replays(replays)) == ["a"]


def test_entry_ids_are_unique_across_catalogue_files(tmp_path):
    first = tmp_path / "one.toml"
    first.write_text(ENTRY + 'out_of_reach = "r"\n', encoding="utf-8")
    second = tmp_path / "two.toml"
    second.write_text(ENTRY + 'out_of_reach = "r"\n', encoding="utf-8")
    with pytest.raises(history.HistoryError, match=r"appears in .*one\.toml and in .*two\.toml"):
        history.load_catalogues([first, second])
    bad_id = tmp_path / "bad.toml"
    bad_id.write_text(ENTRY.replace('id = "a"', 'id = "../a"') + 'out_of_reach = "r"\n', encoding="utf-8")
    with pytest.raises(history.HistoryError, match="names a file"):
        history.load_catalogue(bad_id)


def test_a_driver_environment_judges_that_driver_only():
    driver_entry = entry(envs=("pg-asyncpg",), behaviours=("types.x",))
    asyncpg = {"backend": "postgresql", "driver": "asyncpg"}
    assert history.judge(driver_entry, [change("types.x", target=POSTGRESQL)]).status == "missed"
    assert history.judge(driver_entry, [change("types.x", target=asyncpg)]).status == "caught"


def test_a_driver_environment_installs_that_driver_and_keeps_the_pinned_sqlalchemy():
    options = history.upgrade_options(["--from", "asyncpg==0.29.0", "--to", "asyncpg==0.30.0"])
    baseline, candidate = upgrade.plan_sides(options, ["pg-asyncpg"])
    assert "asyncpg" in baseline.requirements and "asyncpg==0.29.0" in baseline.requirements
    assert "asyncpg==0.30.0  # override" in candidate.constraints
    pinned = (PROJECT_ROOT / "requirements" / "sqlalchemy-2.0.txt").read_text()
    sqlalchemy_pin = next(line for line in pinned.splitlines() if line.lower().startswith("sqlalchemy=="))
    assert sqlalchemy_pin in baseline.constraints and sqlalchemy_pin in candidate.constraints
    assert upgrade.ENVIRONMENTS["pg-asyncpg"].driver == "asyncpg"


def committed() -> tuple[list[history.Entry], list[history.EntryResult]]:
    entries = history.load_catalogues()
    replays = history.load_replays(PROJECT_ROOT / history.REPLAYS)
    assert history.orphan_replays(entries, replays) == [], "a replay file whose entry is gone: remove it"
    return entries, history.current_results(entries, replays)


def test_the_committed_table_is_regenerated_from_the_catalogues_and_replay_files():
    entries, results = committed()
    table = (PROJECT_ROOT / history.REPLAYS / history.TABLE_NAME).read_text(encoding="utf-8")
    assert table == history.render_table(entries, results), "run: python -m reports history --table-only"


def test_the_readme_headline_matches_the_committed_table():
    _entries, results = committed()
    in_readme = history.readme_headline_text(PROJECT_ROOT / history.README)
    assert in_readme == history.readme_headline(history.headline(results)), (
        "run: python -m reports history --table-only"
    )
    table = (PROJECT_ROOT / history.REPLAYS / history.TABLE_NAME).read_text(encoding="utf-8")
    assert f"**{history.headline(results)}**" in table


def test_the_html_report_shows_the_history_headline_escaped(tmp_path):
    from reports.html import history_summary, report_environment

    summary = history_summary()
    assert summary is not None and summary["headline"].startswith("would have caught")
    hostile = dict(
        summary, headline="<script>alert(1)</script>", packages=[{"package": "<b>x</b>", "counts": summary["counts"]}]
    )
    page = report_environment().get_template("_history.html.j2").render(history=hostile)
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert 'id="history"' in page


def test_every_catalogued_behaviour_is_a_behaviour_of_the_suites():
    entries = history.load_catalogues()
    functions = history.behaviour_functions(PROJECT_ROOT / history.SUITES)
    named = {behaviour for item in entries for behaviour in item.behaviours}
    assert named, "the catalogue names no behaviours"
    assert sorted(named - set(functions)) == []
    for behaviour in named:
        assert (PROJECT_ROOT / functions[behaviour].split("::")[0]).is_file()


def test_history_is_a_subcommand_with_one_line_errors(tmp_path, capsys):
    from reports.__main__ import main

    catalogue = write_catalogue(tmp_path, ENTRY + 'out_of_reach = "r"\n')
    status = main(["history", "--catalogue", str(catalogue), "--only", "nope", "--replays", str(tmp_path / "r")])
    assert status == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_a_pair_may_pin_several_packages_on_each_side(tmp_path):
    catalogue = write_catalogue(
        tmp_path,
        ENTRY
        + 'from = ["psycopg==3.2.7", "psycopg-binary==3.2.7"]\nto = ["psycopg==3.2.8", "psycopg-binary==3.2.8"]\n'
        + 'envs = ["pg"]\nbehaviours = ["x"]\n',
    )
    [loaded] = history.load_catalogue(catalogue)
    assert loaded.before == "psycopg==3.2.7 + psycopg-binary==3.2.7"
    assert history.split_requirements(loaded.after) == ["psycopg==3.2.8", "psycopg-binary==3.2.8"]
    empty = write_catalogue(tmp_path, ENTRY + 'from = []\nto = "x==1"\nbehaviours = ["x"]\n')
    with pytest.raises(history.HistoryError, match="a requirement or a list of requirements"):
        history.load_catalogue(empty)
