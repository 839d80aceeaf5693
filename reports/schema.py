"""The results JSON contract: its version, its outcomes, and safe reading and writing of it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
OUTCOMES = ("pass", "differs", "fail", "unsupported", "error")
AGREEING = ("pass", "differs")  # as documented: by SQLAlchemy, or by the expectations registry
# A registered known issue (cell field "known_issue": its upstream link) is still a "fail": never agreeing.
CELL_FIELDS = ("behaviour", "area", "target", "outcome")
TARGET_FIELDS = ("backend", "driver")


class ResultsError(Exception):
    """A results file that cannot be used; the message is one line naming the file."""


def tally(cells: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many cells have each outcome, every outcome present, in OUTCOMES order."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for cell in cells:
        counts[cell["outcome"]] += 1
    return counts


def count_known_issues(cells: Iterable[dict[str, Any]]) -> int:
    """How many ``fail`` cells are registered known issues (they stay fails)."""
    return sum(1 for cell in cells if cell["outcome"] == "fail" and cell.get("known_issue"))


def describe_tally(counts: dict[str, int], known_issues: int = 0) -> str:
    """``1 pass, 2 fail (1 known issue)``: the outcomes that occur, in OUTCOMES order."""
    parts = []
    for outcome in OUTCOMES:
        if counts[outcome]:
            known = f" ({known_issues} known issue{'s' if known_issues != 1 else ''})" if outcome == "fail" else ""
            parts.append(f"{counts[outcome]} {outcome}{known if known_issues else ''}")
    return ", ".join(parts)


def write_results(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1, sort_keys=False, ensure_ascii=False)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_results(path: Path) -> dict[str, Any]:
    """Read and validate one results file, or raise ResultsError with a one-line reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except OSError as error:
        raise ResultsError(f"{path}: cannot read: {error.strerror}") from None
    if not text.strip():
        raise ResultsError(f"{path}: empty results file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not valid JSON (line {error.lineno}: {error.msg}); truncated?") from None
    problem = find_problem(data)
    if problem:
        raise ResultsError(f"{path}: {problem}")
    return data


def find_problem(data: Any) -> str | None:
    """The first reason this is not a results document we understand, or None."""
    if not isinstance(data, dict):
        return "not a results document (expected a JSON object)"
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        return f"unknown schema_version {version!r} (this tool reads {SCHEMA_VERSION})"
    if not isinstance(data.get("run"), dict):
        return "no 'run' metadata"
    cells = data.get("cells")
    if not isinstance(cells, list):
        return "no 'cells' list"
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            return f"cell {number} is not an object"
        missing = [name for name in CELL_FIELDS if name not in cell]
        if missing:
            return f"cell {number} lacks {', '.join(missing)}"
        if cell["outcome"] not in OUTCOMES:
            return f"cell {number} ({cell['behaviour']}) has unknown outcome {cell['outcome']!r}"
        target = cell["target"]
        if not isinstance(target, dict) or any(name not in target for name in TARGET_FIELDS):
            return f"cell {number} ({cell['behaviour']}) has no backend/driver in its target"
    if not isinstance(data.get("benchmarks", []), list):
        return "'benchmarks' is not a list"
    return None
