"""Break SQLAlchemy on purpose and prove the suite notices: each fault of tests/data/sqlalchemy_faults.py,
injected into a child run of the suite modules that should catch it, turns its named cells ``fail`` and
makes ``python -m reports gate BASELINE CANDIDATE`` exit 1.

One unbroken run per backend is the baseline of every fault; a fault's baseline is that run's cells of the
fault's modules (the same run, so the gate compares like with like). The child runs go two at a time, and
only the cases pytest selected are run. At the end the score per area is printed (and kept as
``<fault>.<backend>.verdict.json`` files for ``python -m tests.data.sqlalchemy_faults --score DIRECTORY``
when ``FAULT_INJECTION_DIR=DIRECTORY`` keeps them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, clean_environment, make_private_tmp, run_child, stop_process_group
from tests.data.sqlalchemy_faults import AREAS, FAULT_VARIABLE, FAULTS, POSTGRESQL, SQLITE, score

PLUGIN = "tests.data.sqlalchemy_faults"
NO_FAULT = "no-fault"
CHILD_TIMEOUT_S = 300
KEEP_VARIABLE = "FAULT_INJECTION_DIR"  # keep every run's results, baselines and verdicts there
CONTROL_MODULES = ("suites/test_session.py", "suites/test_select.py")
CASES = [
    pytest.param(NO_FAULT, SQLITE, id="no-fault-sqlite"),
    *(
        pytest.param(fault.name, backend, id=f"{fault.name}-{backend}")
        for fault in FAULTS.values()
        for backend in fault.expected_fail
    ),
]


def modules_of(fault_name: str, backend: str) -> tuple[str, ...]:
    return CONTROL_MODULES if fault_name == NO_FAULT else FAULTS[fault_name].modules


def all_modules(backend: str) -> list[str]:
    modules = {module for fault in FAULTS.values() if backend in fault.expected_fail for module in fault.modules}
    if backend == SQLITE:
        modules.update(CONTROL_MODULES)
    return sorted(modules)


class FaultRuns:
    """The child runs of this module: baselines first, then the selected faults, two at a time."""

    def __init__(self, directory: Path, postgresql_url: str | None) -> None:
        self.directory = directory
        self.postgresql_url = postgresql_url
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.runs: dict[tuple[str, str], Future] = {}
        self.children: list[subprocess.Popen] = []

    def target(self, backend: str) -> list[str]:
        if backend == POSTGRESQL:
            return ["--dburl", self.postgresql_url]
        return ["--backend", backend]

    def start(self, fault_name: str, backend: str, modules: list[str] | tuple[str, ...]) -> None:
        results = self.directory / f"{fault_name}-{backend}.json"
        injected = fault_name not in ("", NO_FAULT)
        environ = clean_environment(**({FAULT_VARIABLE: fault_name} if injected else {}))
        arguments = [*modules, "-p", PLUGIN, *self.target(backend), "--results", str(results), "-q"]
        self.runs[fault_name, backend] = self.pool.submit(self._run, arguments, environ, results)

    def _run(self, arguments: list[str], environ: dict[str, str], results: Path) -> tuple[int, str, Path]:
        # not tests.conftest.start_child: its children are stopped when the current test ends, and these
        # runs serve the tests that come after it
        child = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments],
            cwd=PROJECT_ROOT,
            env=environ,
            start_new_session=True,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.children.append(child)
        try:
            output, _ = child.communicate(timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_process_group(child)
            output, _ = child.communicate()
            output += f"\n(stopped after {CHILD_TIMEOUT_S} s)"
        return child.returncode, output[-3000:], results

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for child in self.children:
            stop_process_group(child)
        self.pool.shutdown(wait=True)

    def result(self, fault_name: str, backend: str) -> Path:
        _returncode, output, results = self.runs[fault_name, backend].result()
        assert results.exists(), f"the run of {fault_name or 'the baseline'} on {backend} left no results:\n{output}"
        return results


@pytest.fixture(scope="module")
def fault_runs(request) -> Iterator[FaultRuns]:
    selected = {
        tuple(item.callspec.params[name] for name in ("fault_name", "backend"))
        for item in request.session.items
        if item.module is sys.modules[__name__] and hasattr(item, "callspec")
    }
    postgresql_url = None
    if any(backend == POSTGRESQL for _, backend in selected):
        server = request.getfixturevalue("local_postgresql")
        postgresql_url = server.admin_url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    kept = os.environ.get(KEEP_VARIABLE)
    directory = Path(kept) if kept else make_private_tmp("sqlaconf-faults-")
    directory.mkdir(parents=True, exist_ok=True)
    runs = FaultRuns(directory, postgresql_url)
    for backend in sorted({backend for _, backend in selected}):
        runs.start("", backend, all_modules(backend))
    for fault_name, backend in sorted(selected, key=lambda case: case[1] != POSTGRESQL):
        runs.start(fault_name, backend, modules_of(fault_name, backend))
    yield runs
    runs.close()
    report_score(request, selected, directory)
    if not kept:
        shutil.rmtree(directory, ignore_errors=True)


def report_score(request, selected: set[tuple[str, str]], directory: Path) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not any(name != NO_FAULT for name, _ in selected):
        return
    with capture.global_and_fixture_disabled():  # the teardown's output is captured otherwise
        reporter.write_line("")
        reporter.write_line("faults caught per area (tests/test_fault_injection.py):")
        for line in score(directory):
            reporter.write_line(f"  {line}")


def cells_by_behaviour(path: Path, modules: tuple[str, ...] | None = None) -> dict[str, dict]:
    cells = json.loads(path.read_text())["cells"]
    return {cell["behaviour"]: cell for cell in cells if modules is None or cell["test"].split("::")[0] in modules}


def restricted_baseline(baseline: Path, modules: tuple[str, ...], destination: Path) -> Path:
    """The baseline run's cells of ``modules`` only: what the candidate ran, so no cell is merely missing."""
    data = json.loads(baseline.read_text())
    data["cells"] = [cell for cell in data["cells"] if cell["test"].split("::")[0] in modules]
    destination.write_text(json.dumps(data))
    return destination


def changed(before: dict, after: dict) -> bool:
    return before["outcome"] != after["outcome"] or before["evidence"].get("values") != after["evidence"].get("values")


def gate(baseline: Path, candidate: Path):
    return run_child([sys.executable, "-m", "reports", "gate", str(baseline), str(candidate)], timeout=120)


def test_every_area_has_a_fault_and_every_kind_is_used():
    assert {fault.area for fault in FAULTS.values()} == set(AREAS)
    assert len({fault.kind for fault in FAULTS.values()}) == 5
    assert len(FAULTS) >= 25
    assert all(fault.expected_fail for fault in FAULTS.values())


@pytest.mark.parametrize(("fault_name", "backend"), CASES)
def test_fault_turns_its_cells_fail_and_the_gate_blocks(fault_runs, fault_name, backend):
    modules = modules_of(fault_name, backend)
    baseline = restricted_baseline(
        fault_runs.result("", backend), modules, fault_runs.directory / f"baseline-{fault_name}-{backend}.json"
    )
    candidate = fault_runs.result(fault_name, backend)
    before, after = cells_by_behaviour(baseline), cells_by_behaviour(candidate, modules)
    assert set(after) == set(before), "the candidate ran the same cells as the baseline"
    turned = {name: after[name]["outcome"] for name in after if changed(before[name], after[name])}
    verdict = gate(baseline, candidate)

    if fault_name == NO_FAULT:
        assert turned == {}, "with no fault injected, no cell changes"
        assert verdict.returncode == 0, verdict.stdout[-3000:]
        return

    fault = FAULTS[fault_name]
    expected = fault.expected_fail[backend]
    caught = all(turned.get(name) == "fail" for name in expected) and verdict.returncode == 1
    (fault_runs.directory / f"{fault_name}.{backend}.verdict.json").write_text(
        json.dumps({"caught": caught, "backend": backend, "turned": turned, "gate": verdict.returncode})
    )
    for name in expected:
        assert turned.get(name) == "fail", (
            f"{fault_name} ({fault.summary}) should turn {name} fail on {backend}: "
            f"{before[name]['outcome']} -> {after[name]['outcome']}, turned: {turned}"
        )
    if fault.from_issue:
        assert "differs" not in turned.values(), f"a deviation the fault caused passed as documented: {turned}"
    assert verdict.returncode == 1, f"the gate let {fault_name} through:\n{verdict.stdout[-3000:]}"
