"""Render a merged matrix as one self-contained HTML page, and as a Markdown summary."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from reports.merge import Matrix
from reports.schema import AGREEING, OUTCOMES

SYMBOLS = {"pass": "✓", "differs": "≈", "fail": "✗", "unsupported": "–", "error": "!"}
TEMPLATES = Path(__file__).with_name("templates")


def literals_as_code(text: str) -> Markup:
    """Docstring ``literals`` shown as <code>; every part escaped first."""
    parts = str(text).split("``")  # odd-numbered parts sit between a pair of ``
    return Markup("").join(
        Markup("<code>%s</code>") % part if index % 2 else escape(part) for index, part in enumerate(parts)
    )


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every string from a results file is data, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["literals_as_code"] = literals_as_code
    return environment


def cell_payload(cell: dict[str, Any]) -> dict[str, Any]:
    """What the evidence panel shows for one cell (rendered with textContent, never as HTML)."""
    return {
        "behaviour": cell["behaviour"],
        "target": cell["target"],
        "outcome": cell["outcome"],
        "expected": cell.get("expected"),
        "reason": cell.get("reason", ""),
        "doc": cell.get("doc", ""),
        "evidence": cell.get("evidence", {}),
        "duration_s": cell.get("duration_s"),
        "source": cell.get("source"),
    }


def render_html(matrix: Matrix) -> str:
    targets = matrix.sorted_targets()
    rows = []
    payload: dict[str, Any] = {}
    for area, behaviours in matrix.areas().items():
        area_rows = []
        passed = total = 0
        for behaviour in behaviours:
            cells = []
            for column, key in enumerate(targets):
                cell = matrix.cells.get((behaviour["id"], key))
                if cell is None:
                    cells.append(None)
                    continue
                cell_id = f"c{len(payload)}"
                payload[cell_id] = cell_payload(cell)
                total += 1
                passed += cell["outcome"] in AGREEING
                cells.append(
                    {"id": cell_id, "outcome": cell["outcome"], "symbol": SYMBOLS[cell["outcome"]], "column": column}
                )
            area_rows.append({"behaviour": behaviour, "cells": cells})
        rows.append({"area": area, "rows": area_rows, "passed": passed, "total": total})
    columns = []
    for key in targets:
        target = matrix.targets[key]
        counts = matrix.counts(key)
        good = sum(counts[outcome] for outcome in AGREEING)
        columns.append({"target": target, "score": f"{good}/{sum(counts.values())}"})
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            areas=rows,
            columns=columns,
            payload=payload,
            counts=matrix.counts(),
            outcomes=OUTCOMES,
            symbols=SYMBOLS,
            runs=matrix.runs,
            duplicates=matrix.duplicates,
            generated=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
    )


def render_markdown(matrix: Matrix) -> str:
    lines = ["# sqla-conformance", ""]
    counts = matrix.counts()
    lines.append(", ".join(f"{counts[o]} {o}" for o in OUTCOMES) + f" ({len(matrix.cells)} cells)")
    lines += [
        "",
        "| target | server | SQLAlchemy | " + " | ".join(OUTCOMES) + " |",
        "|---|---|---|" + "---|" * len(OUTCOMES),
    ]
    for key in matrix.sorted_targets():
        target = matrix.targets[key]
        per = matrix.counts(key)
        lines.append(
            f"| {target['backend']}/{target['driver']} | {target.get('server', '')} | {target.get('sqlalchemy', '')} | "
            + " | ".join(str(per[o]) for o in OUTCOMES)
            + " |"
        )
    problems = [c for c in matrix.cells.values() if c["outcome"] in ("fail", "error")]
    if problems:
        lines += ["", "## fail and error cells", ""]
        for cell in problems:
            reason = " ".join(str(cell.get("reason", "")).split())[:200].replace("|", "\\|")
            where = f"{cell['target']['backend']}/{cell['target']['driver']}"
            lines.append(f"- **{cell['outcome']}** `{cell['behaviour']}` on {where}: {reason}")
    if matrix.duplicates:
        lines += ["", "## duplicate cells", ""] + [f"- {d}" for d in matrix.duplicates]
    return "\n".join(lines) + "\n"


def write_report(matrix: Matrix, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(render_html(matrix), encoding="utf-8")
    temporary.replace(path)
    return path
