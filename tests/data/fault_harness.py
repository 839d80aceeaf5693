"""What the fault harnesses of the suites (tests/data/sql_faults.py, schema_faults.py) share: the fault record,
injecting the fault named in an environment variable as pytest starts, and running each fault's suite module in a
child pytest to see whether every cell it names turned ``fail``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
SQLITE, POSTGRESQL, MYSQL = "sqlite", "postgresql", "mysql"
ALL = (SQLITE, POSTGRESQL, MYSQL)
SERVERS = (POSTGRESQL, MYSQL)


@dataclass(frozen=True)
class Fault:
    name: str
    summary: str
    inject: Callable[[], None]
    module: str  # the suite module (suites/test_<module>.py) that must catch it
    # behaviour -> backends where its cell must be ``fail`` under the fault
    expected_fail: dict[str, tuple[str, ...]] = field(default_factory=dict)


def all_subclasses(cls: type) -> list[type]:
    """``cls`` and every class below it, so a fault reaches the dialects' and results' own overrides."""
    seen, todo = [], [cls]
    while todo:
        current = todo.pop()
        seen.append(current)
        todo.extend(current.__subclasses__())
    return seen


def inject_named(faults: dict[str, Fault], variable: str) -> None:
    """Inject the fault whose name the environment variable holds (nothing when it is unset)."""
    name = os.environ.get(variable, "")
    if name:
        faults[name].inject()


def run_fault(
    fault: Fault, plugin: str, variable: str, target_arguments: list[str], backend: str, directory: Path
) -> tuple[bool, list[str]]:
    """Run the fault's module with the fault injected; caught when every expected cell on ``backend`` is fail."""
    results = directory / f"{fault.name}.{backend}.json"
    command = [sys.executable, "-m", "pytest", f"suites/test_{fault.module}.py", "-p", "no:cacheprovider", "-q"]
    command += ["-p", plugin, *target_arguments, "--results", str(results)]
    subprocess.run(command, cwd=PROJECT_ROOT, env={**os.environ, variable: fault.name}, capture_output=True)
    cells = json.loads(results.read_text())["cells"] if results.exists() else []
    outcomes = {cell["behaviour"]: cell["outcome"] for cell in cells}
    expected = [behaviour for behaviour, backends in fault.expected_fail.items() if backend in backends]
    lines = [f"{behaviour}={outcomes.get(behaviour, 'missing')}" for behaviour in expected]
    return bool(expected) and all(outcomes.get(behaviour) == "fail" for behaviour in expected), lines


def main(faults: dict[str, Fault], plugin: str, variable: str, arguments: list[str]) -> int:
    """``--dburl URL`` or (default) ``--backend sqlite``, ``--only NAME``: one line per fault, exit 1 if one missed."""
    if "--dburl" in arguments:
        url = arguments[arguments.index("--dburl") + 1]
        target_arguments, backend = ["--dburl", url], POSTGRESQL if url.startswith("postgresql") else MYSQL
    else:
        target_arguments, backend = ["--backend", "sqlite"], SQLITE
    only = arguments[arguments.index("--only") + 1] if "--only" in arguments else None
    width = max(len(name) for name in faults)
    caught = total = 0
    with tempfile.TemporaryDirectory(prefix=f"{plugin.rsplit('.', 1)[-1]}-") as directory:
        for fault in faults.values():
            if (only and fault.name != only) or not any(backend in b for b in fault.expected_fail.values()):
                continue
            ok, lines = run_fault(fault, plugin, variable, target_arguments, backend, Path(directory))
            caught, total = caught + ok, total + 1
            print(f"{backend:10} {fault.name:{width}} {'caught' if ok else 'MISSED'}  {' '.join(lines)}", flush=True)
    print(f"{backend}: {caught}/{total} faults caught")
    return 0 if caught == total else 1
