"""Merge any number of results files into one matrix: behaviours x targets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.schema import ResultsError, load_results, tally

# sqlalchemy_mode: SQLAlchemy 1.4 run 2.0-style (future) and in legacy mode are two columns
TARGET_KEY_FIELDS = ("backend", "driver", "async", "server", "sqlalchemy", "sqlalchemy_mode")


def target_key(target: dict[str, Any]) -> tuple:
    return tuple(str(target.get(name, "")) for name in TARGET_KEY_FIELDS)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories contribute their ``*.json`` files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.glob("*.json")))
        else:
            found.append(path)
    return found


@dataclass
class Matrix:
    runs: list[dict[str, Any]] = field(default_factory=list)
    targets: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    behaviours: dict[str, dict[str, Any]] = field(default_factory=dict)
    cells: dict[tuple[str, tuple], dict[str, Any]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, data: dict[str, Any], source: str, path: str = "") -> None:
        self.runs.append(
            {
                **data["run"],
                "source": source,
                "path": path or source,
                "cell_count": len(data["cells"]),
                "benchmark_count": len(data.get("benchmarks", [])),
            }
        )
        for cell in data["cells"]:
            key = target_key(cell["target"])
            self.targets.setdefault(key, cell["target"])
            self.behaviours.setdefault(
                cell["behaviour"],
                {
                    "id": cell["behaviour"],
                    "area": cell["area"],
                    "title": cell.get("title", cell["behaviour"]),
                    "claim": cell.get("claim", ""),
                    "doc": cell.get("behaviour_doc", cell.get("doc", "")),
                },
            )
            slot = (cell["behaviour"], key)
            if slot in self.cells:
                self.duplicates.append(
                    f"{cell['behaviour']} on {cell['target'].get('backend')}/{cell['target'].get('driver')} "
                    f"appears again in {source} (kept the first, from {self.cells[slot]['source']})"
                )
                continue
            self.cells[slot] = {**cell, "source": source}
        self.benchmarks.extend(data.get("benchmarks", []))

    def sorted_targets(self) -> list[tuple]:
        order = {"sqlite": 0, "postgresql": 1, "mysql": 2}
        return sorted(self.targets, key=lambda key: (order.get(key[0], 9), *key))

    def areas(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for behaviour in sorted(self.behaviours.values(), key=lambda b: (b["area"], b["id"])):
            grouped.setdefault(behaviour["area"], []).append(behaviour)
        return grouped

    def counts(self, target: tuple | None = None) -> dict[str, int]:
        """Outcome counts of the whole matrix, or of one target's column."""
        return tally(cell for (_, key), cell in self.cells.items() if target is None or key == target)


def load_matrix(paths: Iterable[Path]) -> Matrix:
    files = expand_paths(paths)
    if not files:
        raise ResultsError("no results files found")
    matrix = Matrix()
    for path in files:
        matrix.add(load_results(path), path.name, str(path))
    return matrix


def describe_sources(matrix: Matrix) -> list[str]:
    """One line per merged file and when its run started, so nothing stale is merged silently."""
    return [
        f"merged {run['path']}: run started {run.get('started', '?')}, {run['cell_count']} cells"
        + (f", {run['benchmark_count']} benchmarks" if run["benchmark_count"] else "")
        for run in matrix.runs
    ]
