"""Replay the history catalogue: gate each recorded behaviour change on its version pair, and say whether it was caught.

``reports/history.toml`` lists changelog entries of SQLAlchemy and the drivers that change observable behaviour,
each with the version pair that shows it and the behaviours that should catch it (or why it is out of reach).
``python -m reports history [--only ID ...]`` builds the two sides of each pair with the upgrade machinery
(``reports/upgrade.py``: same virtualenvs, constraints and hash seed), runs only the test functions of the named
behaviours on the entry's backends, gates candidate against baseline (``reports/gate.py``), and writes

- ``caught``: a named behaviour's cell changed on a named backend (and, where the entry says which check shows
  the change, the change names that check);
- ``missed``: the pair was replayed and no named cell changed;
- ``out of reach``: the entry says why no behaviour can show it on our targets (no replay);
- ``not covered``: reachable, but no behaviour catches it yet; the entry says what one would need;
- ``not replayed``: not run yet (or its run could not be completed: the reason is kept).

into ``reports/results/history.json`` and a Markdown table (``reports/results/history.md``); a run with
``--only`` keeps the other entries' last results.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import re
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports import upgrade
from reports.gate import BLOCKING_KINDS, Change, run_gate
from reports.schema import ResultsError

CATALOGUE = Path("reports/history.toml")
RESULTS = Path("reports/results/history.json")
MARKDOWN = Path("reports/results/history.md")
SUITES = Path("suites")
RESULTS_SCHEMA = 1
STATUSES = ("caught", "missed", "out of reach", "not covered", "not replayed")
# a change of these kinds is the behaviour changing; "new" and "inconclusive" say nothing about the cell itself
CATCHING_KINDS = (*BLOCKING_KINDS, "improvement")
ENTRY_FIELDS = {
    "id", "package", "version", "ticket", "summary", "from", "to", "envs", "where", "behaviours",
    "shown_by", "out_of_reach", "not_covered", "note",
}  # fmt: skip
BACKEND_OF_ENV = {name: backend for name, (backend, _packages) in upgrade.ENVIRONMENTS.items()}


class HistoryError(ResultsError):
    """The catalogue or a results file cannot be used as it is."""


@dataclass(frozen=True)
class Entry:
    """One changelog entry of the catalogue."""

    id: str
    package: str
    version: str
    ticket: str
    summary: str
    where: str
    before: str | None = None  # the requirement of the release before the change, e.g. sqlalchemy==2.0.54
    after: str | None = None  # the requirement of the release with the change
    envs: tuple[str, ...] = ("sqlite",)
    behaviours: tuple[str, ...] = ()
    shown_by: tuple[str, ...] = ()  # names of checks; a catching change must mention one of them
    out_of_reach: str | None = None
    not_covered: str | None = None  # reachable on our targets, but no behaviour catches it yet: what it needs
    note: str | None = None

    @property
    def replayable(self) -> bool:
        return bool(self.behaviours) and bool(self.before and self.after)


@dataclass
class EntryResult:
    """What a replay of one entry found."""

    id: str
    status: str
    reason: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    replayed: str | None = None  # when (ISO-8601, UTC)
    seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "changes": self.changes,
            "replayed": self.replayed,
            "seconds": self.seconds,
        }


# --- the catalogue --------------------------------------------------------------------------------------


def load_catalogue(path: Path = CATALOGUE) -> list[Entry]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise HistoryError(f"history catalogue {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise HistoryError(f"history catalogue {path}: not TOML ({error})") from None
    entries = [parse_entry(raw, number, path) for number, raw in enumerate(data.get("entry", []), start=1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise HistoryError(f"history catalogue {path}: entry id {entry.id!r} appears twice")
        seen.add(entry.id)
    return entries


def parse_entry(raw: dict[str, Any], number: int, path: Path) -> Entry:
    where = f"history catalogue {path}, entry {number}"
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise HistoryError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(ENTRY_FIELDS))})")
    for name in ("id", "package", "version", "ticket", "summary", "where"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise HistoryError(f"{where}: {name!r} must be a non-empty string")
    entry = Entry(
        id=raw["id"],
        package=raw["package"],
        version=raw["version"],
        ticket=raw["ticket"],
        summary=raw["summary"],
        where=raw["where"],
        before=raw.get("from"),
        after=raw.get("to"),
        envs=tuple(raw.get("envs", ("sqlite",))),
        behaviours=tuple(raw.get("behaviours", ())),
        shown_by=tuple(raw.get("shown_by", ())),
        out_of_reach=raw.get("out_of_reach"),
        not_covered=raw.get("not_covered"),
        note=raw.get("note"),
    )
    unknown_envs = [env for env in entry.envs if env not in BACKEND_OF_ENV]
    if unknown_envs:
        raise HistoryError(f"{where} ({entry.id}): envs {unknown_envs} (choose from {', '.join(BACKEND_OF_ENV)})")
    if sum(map(bool, (entry.behaviours, entry.out_of_reach, entry.not_covered))) != 1:
        raise HistoryError(f"{where} ({entry.id}): give exactly one of behaviours, out_of_reach, not_covered")
    if entry.behaviours and not (entry.before and entry.after):
        raise HistoryError(f"{where} ({entry.id}): behaviours need the version pair: from and to")
    return entry


def behaviour_functions(suites: Path = upgrade.PROJECT_ROOT / SUITES) -> dict[str, str]:
    """Behaviour id -> pytest node id of its test function (``suites/test_x.py::test_y``, relative to the project
    root, where the replays run), read from the source."""
    found = {}
    for path in sorted(suites.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and getattr(decorator.func, "id", getattr(decorator.func, "attr", None)) == "behaviour"
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    found[decorator.args[0].value] = f"{suites.name}/{path.name}::{node.name}"
    return found


# --- judging a replay -----------------------------------------------------------------------------------


def change_record(change: Change) -> dict[str, Any]:
    return {
        "behaviour": change.subject,
        "kind": change.kind,
        "where": change.where,
        "backend": change.target.get("backend"),
        "summary": change.summary,
        "details": change.details[:8],
    }


def judge(entry: Entry, changes: list[Change]) -> EntryResult:
    """Caught when a named behaviour's cell changed on one of the entry's backends (and named a ``shown_by`` check)."""
    backends = {BACKEND_OF_ENV[env] for env in entry.envs}
    named = [
        change
        for change in changes
        if change.subject in entry.behaviours
        and change.kind in CATCHING_KINDS
        and change.target.get("backend") in backends
    ]
    pair = f"{entry.before} -> {entry.after}"
    if not named:
        return EntryResult(
            entry.id, "missed", f"{pair}: no change in {', '.join(entry.behaviours)} on {'/'.join(sorted(backends))}"
        )
    for_the_reason = [change for change in named if mentions_any(change, entry.shown_by)]
    records = [change_record(change) for change in (for_the_reason or named)]
    if entry.shown_by and not for_the_reason:
        return EntryResult(
            entry.id,
            "missed",
            f"{pair}: {', '.join(sorted({change.subject for change in named}))} changed, but not in "
            f"{' / '.join(entry.shown_by)} (not the recorded change)",
            records,
        )
    first = for_the_reason[0] if for_the_reason else named[0]
    return EntryResult(
        entry.id, "caught", f"{pair}: {first.subject} on {first.where}: {first.kind}: {first.summary}", records
    )


def mentions_any(change: Change, check_names: tuple[str, ...]) -> bool:
    if not check_names:
        return True
    text = " ".join([change.summary, *change.details])
    return any(name in text for name in check_names)


def not_replayable(entry: Entry) -> EntryResult:
    if entry.not_covered:
        return EntryResult(entry.id, "not covered", entry.not_covered)
    return EntryResult(entry.id, "out of reach", entry.out_of_reach or "")


# --- replaying ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only", action="append", default=[], metavar="ID", help="replay only these entries (repeatable)"
    )
    parser.add_argument(
        "--catalogue", type=Path, default=CATALOGUE, help=f"the history catalogue (default {CATALOGUE})"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})")
    parser.add_argument("--markdown", type=Path, default=MARKDOWN, help=f"results table (default {MARKDOWN})")
    parser.add_argument(
        "--workdir", type=Path, default=Path(".tox/history"), help="virtualenvs (one per requirement set) and runs"
    )
    parser.add_argument(
        "--table-only", action="store_true", help="replay nothing: write the table from the catalogue and results"
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter the virtualenvs are made from")


def venv_name(requirements: list[str], envs: tuple[str, ...]) -> str:
    text = "_".join([*requirements, *envs]) or "pinned"
    return re.sub(r"[^A-Za-z0-9.=_-]+", "-", text).replace("==", "-")


def replay(entry: Entry, arguments: argparse.Namespace, node_ids: dict[str, str]) -> EntryResult:
    started = time.monotonic()
    missing = [behaviour for behaviour in entry.behaviours if behaviour not in node_ids]
    if missing:
        return EntryResult(entry.id, "not replayed", f"no test function for behaviour(s) {', '.join(missing)}")
    # the upgrade's own options with their defaults, so its planning sees every field it expects
    sides = upgrade_options(
        ["--from", entry.before or "", "--to", entry.after or "", "--workdir", str(arguments.workdir)]
    )
    plans = upgrade.plan_sides(sides, list(entry.envs))
    for plan, requirement in zip(plans, (entry.before, entry.after), strict=True):
        plan.venv = arguments.workdir.resolve() / "venvs" / venv_name([requirement], entry.envs)
        upgrade.prepare_virtualenv(plan, arguments.python)
    results_dir = arguments.workdir.resolve() / "runs" / entry.id
    upgrade.clear_results(results_dir)
    environ = upgrade.suite_environment()
    tests = sorted({node_ids[behaviour] for behaviour in entry.behaviours})
    source = upgrade.source_root(arguments.workdir) if hasattr(upgrade, "source_root") else upgrade.PROJECT_ROOT
    for env in entry.envs:
        for plan in plans:
            run_selected(plan, env, tests, results_dir, environ, source)
    comparison, _text = run_gate(
        results_dir / "baseline",
        results_dir / "candidate",
        markdown=results_dir / "gate.md",
        html_path=results_dir / "gate.html",
    )
    result = judge(entry, comparison.changes)
    result.replayed = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    result.seconds = round(time.monotonic() - started, 1)
    return result


def upgrade_options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    upgrade.add_arguments(parser)
    return parser.parse_args(argv)


def run_selected(
    plan: upgrade.SidePlan, env: str, tests: list[str], results_dir: Path, environ: dict[str, str], source: Path
) -> Path:
    """One side's run of only the given test functions on one backend (the upgrade runs all of ``suites``)."""
    backend = BACKEND_OF_ENV[env]
    results = (results_dir / plan.name / f"{env}.json").resolve()
    log = results.with_suffix(".log")
    command = [str(plan.python), "-m", "pytest", *tests, "-p", "no:cacheprovider", "-q"]
    command += ["--backend", backend, "--results", str(results)]
    status = upgrade.run_logged(command, log, environ, cwd=source)
    if status not in upgrade.SUITE_FINISHED or not results.exists():
        raise HistoryError(
            f"the {plan.name} run on {env} stopped (pytest exit {status}): {upgrade.last_line(log)} (log: {log})"
        )
    print(f"history: {plan.name} on {env}: {upgrade.last_line(log, ' cells: ')}", flush=True)
    return results


# --- the results table ----------------------------------------------------------------------------------


def load_results(path: Path) -> dict[str, EntryResult]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise HistoryError(f"history results {path}: unreadable ({error})") from None
    if data.get("schema_version") != RESULTS_SCHEMA:
        raise HistoryError(
            f"history results {path}: schema_version {data.get('schema_version')!r}, expected {RESULTS_SCHEMA}"
        )
    return {raw["id"]: EntryResult(**raw) for raw in data.get("entries", [])}


def current_results(entries: list[Entry], previous: dict[str, EntryResult]) -> list[EntryResult]:
    """One result per catalogue entry: out of reach from the catalogue, otherwise the last replay (if any)."""
    results = []
    for entry in entries:
        if not entry.replayable:
            results.append(not_replayable(entry))
        else:
            results.append(previous.get(entry.id) or EntryResult(entry.id, "not replayed", "no replay recorded yet"))
    return results


def counts(results: list[EntryResult]) -> dict[str, int]:
    return {status: sum(1 for result in results if result.status == status) for status in STATUSES}


def headline(results: list[EntryResult]) -> str:
    tally = counts(results)
    replayed = tally["caught"] + tally["missed"]
    return (
        f"would have caught {tally['caught']} of {replayed} replayed behaviour changes "
        f"({len(results)} catalogued: {tally['caught']} caught, {tally['missed']} missed, "
        f"{tally['out of reach']} out of reach, {tally['not covered']} not covered yet, "
        f"{tally['not replayed']} not replayed)"
    )


def render_markdown(entries: list[Entry], results: list[EntryResult]) -> str:
    by_id = {result.id: result for result in results}
    lines = [
        "# History replay",
        "",
        headline(results),
        "",
        "| entry | release | ticket | change | pair | where | behaviours | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in entries:
        result = by_id[entry.id]
        pair = f"{entry.before} -> {entry.after}" if entry.before and entry.after else "-"
        cells = [
            entry.id,
            f"{entry.package} {entry.version}",
            entry.ticket,
            entry.summary,
            pair,
            f"{entry.where} ({', '.join(entry.envs)})",
            ", ".join(entry.behaviours) or "-",
            f"**{result.status}**: {result.reason}",
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(path: Path, markdown: Path, entries: list[Entry], results: list[EntryResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"schema_version": RESULTS_SCHEMA, "counts": counts(results), "entries": [r.as_json() for r in results]}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(render_markdown(entries, results), encoding="utf-8")


def run(arguments: argparse.Namespace) -> int:
    entries = load_catalogue(arguments.catalogue)
    unknown = [name for name in arguments.only if name not in {entry.id for entry in entries}]
    if unknown:
        raise HistoryError(f"--only: no catalogue entry {', '.join(unknown)}")
    previous = load_results(arguments.results)
    chosen = [entry for entry in entries if entry.replayable and (not arguments.only or entry.id in arguments.only)]
    node_ids = behaviour_functions()
    try:
        for entry in [] if arguments.table_only else chosen:
            print(f"history: {entry.id}: {entry.before} -> {entry.after} on {', '.join(entry.envs)} ...", flush=True)
            try:
                previous[entry.id] = replay(entry, arguments, node_ids)
            except ResultsError as error:  # one pair that cannot be built or run does not stop the others
                previous[entry.id] = EntryResult(entry.id, "not replayed", str(error))
            print(f"history: {entry.id}: {previous[entry.id].status}: {previous[entry.id].reason}", flush=True)
            write_results(arguments.results, arguments.markdown, entries, current_results(entries, previous))
    except KeyboardInterrupt:
        print("history: interrupted", file=sys.stderr)
        return 130
    results = current_results(entries, previous)
    write_results(arguments.results, arguments.markdown, entries, results)
    print(f"history: {headline(results)}")
    print(f"history: wrote {arguments.results} and {arguments.markdown}")
    return 0
