"""The project as a package: a wheel built from this checkout, installed into a fresh virtualenv, gives the
``sqla-conformance`` command and the pytest plugin, which run the behaviours from a directory far from the
checkout. SQLite only (no server): the point is the packaging, not the backends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

CONSTRAINTS = [PROJECT_ROOT / "requirements" / "constraints.txt", PROJECT_ROOT / "requirements" / "sqlalchemy-2.0.txt"]
PACKAGE_DATA = (
    "fixtures/expectations.toml",
    "fixtures/target_facts.toml",
    "fixtures/images/postgres/Dockerfile",
    "reports/allowlist.toml",
    "reports/templates/report.html.j2",
)


def run(command: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("CONFORMANCE_", "PYTEST_"))}
    environ.pop("PYTHONPATH", None)  # nothing from the checkout may leak into the installed package's runs
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout
    )


def working_tree_copy(destination: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) in a directory of their own: building there leaves no
    build/ or *.egg-info in the checkout that other runs share."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = working_tree_copy(tmp_path_factory.mktemp("source"))
    dist = tmp_path_factory.mktemp("dist")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source], cwd=source)
    assert built.returncode == 0, built.stderr
    (found,) = dist.glob("sqla_conformance-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed under the project's pins (pip's cache makes a rerun quick)."""
    directory = tmp_path_factory.mktemp("venv")
    created = run([sys.executable, "-m", "venv", directory], cwd=directory)
    assert created.returncode == 0, created.stderr
    pip = [directory / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    installed = run([*pip, wheel, *(part for path in CONSTRAINTS for part in ("-c", path))], cwd=directory)
    assert installed.returncode == 0, installed.stderr
    return directory


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory with no checkout above it."""
    assert PROJECT_ROOT not in tmp_path.parents
    return tmp_path


def test_wheel_holds_the_four_packages_and_their_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("suites", "benchmarks", "fixtures", "reports"):
        assert f"{package}/__init__.py" in names
    for data in PACKAGE_DATA:
        assert data in names
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sqla-conformance = reports.cli:main" in text
    assert "fixtures.plugin = fixtures.plugin" in text
    assert not any(name.startswith(("tests/", "reports/results/", "reports/html/")) for name in names)


def test_command_runs_the_behaviours_on_sqlite_builds_the_report_and_gates(venv: Path, elsewhere: Path) -> None:
    command = venv / "bin" / "sqla-conformance"
    ran = run([command, "run", "--dburl", f"sqlite:///{elsewhere / 'scratch.db'}", "--", "-q"], cwd=elsewhere)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    results = elsewhere / "conformance-results" / "sqlite.json"
    cells = json.loads(results.read_text())["cells"]
    assert len(cells) > 100
    assert {cell["target"]["backend"] for cell in cells} == {"sqlite"}
    assert not [cell for cell in cells if cell["outcome"] == "error"]

    built = run([command, "report", "-o", "site"], cwd=elsewhere)
    assert built.returncode == 0, built.stderr
    assert "<table" in (elsewhere / "site" / "index.html").read_text()
    assert (elsewhere / "site" / "summary.md").exists()

    same_run = shutil.copy(results, elsewhere / "same-run.json")
    gated = run([command, "gate", results, same_run], cwd=elsewhere)
    assert gated.returncode == 0, gated.stdout + gated.stderr
    assert "PASSED" in gated.stdout


def test_plugin_runs_the_suites_with_plain_pytest_from_any_directory(venv: Path, elsewhere: Path) -> None:
    results = elsewhere / "plain.json"
    ran = run(
        [venv / "bin" / "pytest", "--pyargs", "suites", "-q", "-p", "no:cacheprovider", "-k", "test_transactions",
         "--dburl", "sqlite://", "--results", results],
        cwd=elsewhere,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    cells = json.loads(results.read_text())["cells"]
    assert cells and all(cell["behaviour"].startswith("txn.") for cell in cells)


def test_plugin_is_not_registered_twice_inside_the_checkout(venv: Path) -> None:
    """The checkout's conftest.py names the same modules as the entry points: pytest loads them once."""
    collected = run(
        [venv / "bin" / "python", "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--dburl", "sqlite://"],
        cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr
    assert "tests collected" in collected.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run"], "no target"),
        (["run", "--dburl", "nosuch://x"], "no installed SQLAlchemy dialect for 'nosuch'"),
        (["gate", "missing-baseline", "missing-candidate"], "missing-baseline"),
        (["report", "missing-results"], "missing-results"),
        (["upgrade", "--envs", "oracle", "--to", "sqlalchemy==2.0.10"], "oracle"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_unusable_input_is_one_line_and_exit_2(venv: Path, elsewhere: Path, arguments: list[str], message: str) -> None:
    ran = run([venv / "bin" / "sqla-conformance", *arguments], cwd=elsewhere)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    assert message in ran.stderr


@pytest.mark.parametrize("command", ["run", "report", "gate", "upgrade", "bench"])
def test_every_command_has_help(venv: Path, elsewhere: Path, command: str) -> None:
    shown = run([venv / "bin" / "sqla-conformance", command, "--help"], cwd=elsewhere)
    assert shown.returncode == 0, shown.stderr
    assert f"usage: sqla-conformance {command}" in shown.stdout


def test_a_git_url_of_the_checkout_installs(venv: Path, tmp_path: Path) -> None:
    """``pip install git+file://...`` builds from the committed tree (the pyproject.toml as committed)."""
    archive = tmp_path / "head.tar"
    subprocess.run(["git", "archive", "-o", archive, "HEAD", "pyproject.toml"], cwd=PROJECT_ROOT, check=True)
    with tarfile.open(archive) as committed:
        member = committed.extractfile("pyproject.toml")
        assert member is not None
        if b"[project.scripts]" not in member.read():
            pytest.skip("the packaging is not committed yet: a git URL builds HEAD")
    installed = run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--force-reinstall", f"git+file://{PROJECT_ROOT}"],
        cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    shown = run([venv / "bin" / "sqla-conformance", "--help"], cwd=tmp_path)
    assert shown.returncode == 0 and "gate" in shown.stdout


def test_the_commands_upgrade_writes_beside_run_and_report_not_into_reports() -> None:
    """In another repository ``sqla-conformance upgrade`` writes where ``run`` and ``report`` do; ``python -m reports
    upgrade`` (this repository's runner) keeps its reports/ paths."""
    from reports import cli

    chosen = cli.build_parser().parse_args(["upgrade", "--to", "sqlalchemy==2.0.10"])
    assert chosen.results_dir == cli.DEFAULT_RESULTS / "upgrade"
    assert chosen.html == cli.DEFAULT_REPORT / "upgrade.html"
    assert chosen.markdown == cli.DEFAULT_RESULTS / "upgrade-summary.md"
    assert chosen.workdir == Path(".sqla-conformance/upgrade")
