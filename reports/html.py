"""Render a merged matrix as one self-contained HTML page, and as a Markdown summary."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from fixtures.target_facts import recorded_dialect_facts, target_facts_view
from reports.benchmarks import build_benchmarks_view, render_benchmarks_markdown
from reports.merge import Matrix
from reports.schema import AGREEING, OUTCOMES, ResultsError, count_known_issues

SYMBOLS = {"pass": "✓", "differs": "≈", "fail": "✗", "unsupported": "–", "error": "!"}
TEMPLATES = Path(__file__).with_name("templates")


def literals_as_code(text: str) -> Markup:
    """Docstring ``literals`` shown as <code>; every part escaped first."""
    parts = str(text).split("``")  # odd-numbered parts sit between a pair of ``
    return Markup("").join(
        Markup("<code>%s</code>") % part if index % 2 else escape(part) for index, part in enumerate(parts)
    )


def report_environment() -> jinja2.Environment:
    """The Jinja2 environment of every page the reports package writes: autoescaped, strict."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every string from a results file is data, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["literals_as_code"] = literals_as_code
    return environment


class StringTable:
    """Each distinct string once: the same statements, reasons and links recur across drivers and
    SQLAlchemy versions, so cells refer to them by index (keeps a full matrix report small)."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, value: Any) -> int:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        if text not in self._index:
            self._index[text] = len(self.strings)
            self.strings.append(text)
        return self._index[text]


def cell_payload(cell: dict[str, Any], column: int, strings: StringTable) -> list[Any]:
    """What the evidence panel shows for one cell, as a compact row (rendered with textContent, never
    as HTML): behaviour, column, outcome, expected, reason, doc, round trips, executemany, batches,
    statements, exception, measured values, duration, results file, database errors seen (handled or not),
    known issue link, documented deviation, observed deviation (one line per failed check), every check, and the
    origin of the dialect-provided registry entry that ruled it (None: the built-in registry or none)."""
    evidence = cell.get("evidence", {})
    exception = evidence.get("exception")
    values = evidence.get("values") or {}
    return [
        strings.ref(cell["behaviour"]),
        column,
        cell["outcome"],
        cell.get("expected") or "pass",
        strings.ref(cell.get("reason", "")),
        strings.ref(cell.get("doc", "")),
        evidence.get("round_trips"),
        evidence.get("executemany"),
        evidence.get("insertmanyvalues_batches"),
        [strings.ref(statement) for statement in evidence.get("statements", [])],
        strings.ref(exception) if exception else None,
        strings.ref(values) if values else None,
        cell.get("duration_s"),
        strings.ref(cell.get("source") or ""),
        strings.ref(evidence["errors_seen"]) if evidence.get("errors_seen") else None,
        strings.ref(cell["known_issue"]) if cell.get("known_issue") else None,
        strings.ref(cell["documented_deviation"]) if cell.get("documented_deviation") else None,
        [strings.ref(line) for line in observed_lines(cell)],
        [strings.ref(check_line(check)) for check in cell.get("checks") or []],
        strings.ref(cell["expectation_origin"]) if cell.get("expectation_origin") else None,
    ]


CHECK_VALUE_LIMIT = 200


def check_line(check: dict[str, Any]) -> str:
    """One recorded check: held or not, what it got, and what was expected when it did not hold."""

    def shown(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False, default=str)
        return text if len(text) <= CHECK_VALUE_LIMIT else text[: CHECK_VALUE_LIMIT - 1] + "…"

    if check.get("ok"):
        return f"✓ {check.get('name')}: {shown(check.get('got'))}"
    return f"✗ {check.get('name')}: expected {shown(check.get('expected'))}, got {shown(check.get('got'))}"


def observed_lines(cell: dict[str, Any]) -> list[str]:
    observed = cell.get("observed_deviation") or []
    return [observed] if isinstance(observed, str) else list(observed)


def column_groups(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive columns of one backend, for the grouped header row."""
    groups: list[dict[str, Any]] = []
    for column in columns:
        backend = column["target"]["backend"]
        if groups and groups[-1]["backend"] == backend:
            groups[-1]["span"] += 1
        else:
            groups.append({"backend": backend, "span": 1})
    return groups


def filter_options(columns: list[dict[str, Any]]) -> dict[str, list[str]]:
    def distinct(name: str) -> list[str]:
        return sorted({str(column["target"].get(name, "")) for column in columns})

    return {
        "backend": distinct("backend"),
        "driver": distinct("driver"),
        "sqlalchemy": sorted({sqlalchemy_label(column["target"]) for column in columns}),
    }


def sqlalchemy_label(target: dict[str, Any]) -> str:
    """The SQLAlchemy version of a column, with " legacy" for SQLAlchemy 1.4 run with future=False."""
    legacy = " legacy" if target.get("sqlalchemy_mode") == "legacy" else ""
    return f"{target.get('sqlalchemy', '')}{legacy}"


def history_summary() -> dict[str, Any] | None:
    """The history replay's headline and counts (reports/history-replays), or None where they are not there."""
    from reports import history  # here: reports.history imports the gate, which imports this module

    try:
        return history.summary_for_report()
    except ResultsError:
        return None


def render_html(matrix: Matrix) -> str:
    targets = matrix.sorted_targets()
    strings = StringTable()
    rows = []
    payload: list[list[Any]] = []
    for area, behaviours in matrix.areas().items():
        area_rows = []
        passed = total = 0
        for behaviour in behaviours:
            cells = []
            for column, key in enumerate(targets):
                cell = matrix.cells.get((behaviour["id"], key))
                if cell is None:
                    continue
                payload.append(cell_payload(cell, column, strings))
                total += 1
                passed += cell["outcome"] in AGREEING
                cells.append(cell)
            outcomes = {cell["outcome"] for cell in cells if cell}
            area_rows.append({"behaviour": behaviour, "ref": strings.ref(behaviour["id"]), "agree": len(outcomes) <= 1})
        rows.append({"area": area, "rows": area_rows, "passed": passed, "total": total})
    columns = []
    for key in targets:
        target = matrix.targets[key]
        counts = matrix.counts(key)
        good = sum(counts[outcome] for outcome in AGREEING)
        score = f"{good}/{sum(counts.values())}"
        columns.append({"target": target, "score": score, "sqlalchemy": sqlalchemy_label(target)})
    column_records = [
        {name: column["target"].get(name) for name in ("backend", "driver", "async", "server", "sqlalchemy")}
        | {"driver_version": column["target"].get("driver_version"), "provisioned": column["target"].get("provisioned")}
        | {"sqlalchemy": sqlalchemy_label(column["target"])}
        | {"dialect_package": column["target"].get("dialect_package")}
        for column in columns
    ]
    return (
        report_environment()
        .get_template("report.html.j2")
        .render(
            areas=rows,
            columns=columns,
            groups=column_groups(columns),
            filters=filter_options(columns),
            data={"strings": strings.strings, "cells": payload, "columns": column_records},
            counts=matrix.counts(),
            known_issues=count_known_issues(matrix.cells.values()),
            outcomes=OUTCOMES,
            symbols=SYMBOLS,
            runs=matrix.runs,
            duplicates=matrix.duplicates,
            benchmarks_view=build_benchmarks_view(matrix.benchmarks),
            target_facts=target_facts_view(
                [column["target"] for column in columns], recorded_dialect_facts(matrix.runs)
            ),
            history=history_summary(),
            generated=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
    )


def render_markdown(matrix: Matrix) -> str:
    lines = ["# sqla-conformance", ""]
    counts = matrix.counts()
    known = count_known_issues(matrix.cells.values())
    known_note = f"; {known} of the fails are registered known issues" if known else ""
    lines.append(", ".join(f"{counts[o]} {o}" for o in OUTCOMES) + f" ({len(matrix.cells)} cells{known_note})")
    lines += [
        "",
        "| target | server | SQLAlchemy | " + " | ".join(OUTCOMES) + " |",
        "|---|---|---|" + "---|" * len(OUTCOMES),
    ]
    for key in matrix.sorted_targets():
        target = matrix.targets[key]
        per = matrix.counts(key)
        lines.append(
            f"| {target['backend']}/{target['driver']} | {target.get('server', '')} | {sqlalchemy_label(target)} | "
            + " | ".join(str(per[o]) for o in OUTCOMES)
            + " |"
        )
    problems = [c for c in matrix.cells.values() if c["outcome"] in ("fail", "error")]
    if problems:
        lines += ["", "## fail and error cells", ""]
        for cell in problems:
            reason = " ".join(str(cell.get("reason", "")).split())[:200].replace("|", "\\|")
            where = f"{cell['target']['backend']}/{cell['target']['driver']}"
            origin = f" (registry entry: {cell['expectation_origin']})" if cell.get("expectation_origin") else ""
            lines.append(f"- **{cell['outcome']}** `{cell['behaviour']}` on {where}: {reason}{origin}")
    if matrix.duplicates:
        lines += ["", "## duplicate cells", ""] + [f"- {d}" for d in matrix.duplicates]
    if matrix.benchmarks:
        lines += ["", render_benchmarks_markdown(matrix.benchmarks)]
    return "\n".join(lines) + "\n"


def write_report(matrix: Matrix, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(render_html(matrix), encoding="utf-8")
    temporary.replace(path)
    return path
