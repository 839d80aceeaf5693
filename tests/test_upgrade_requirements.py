"""The upgrade gate on a team's own requirements files: what it installs and pins from them, and how it
explains a side that pip cannot resolve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reports.upgrade import install_failure, read_constraints, read_requirements_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_extras_hashes_comments_continuations_and_includes_are_flattened(tmp_path):
    write(tmp_path / "common.txt", "Jinja2==3.1.6  # templates\n--extra-index-url https://example.invalid/simple\n")
    write(tmp_path / "pins.txt", "greenlet==3.5.6\n")
    requirements = write(
        tmp_path / "requirements.txt",
        "# the application's pins\n"
        "-r common.txt\n"
        "--constraint pins.txt\n"
        "psycopg[binary]==3.2.13 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        "    # via app\n"
        'SQLAlchemy==2.0.9 ; python_version >= "3.8"\n'
        "demo @ https://example.invalid/demo-1.0.tar.gz\n",
    )
    parsed = read_requirements_file(requirements)
    assert parsed.requirements == [
        "Jinja2==3.1.6",
        "psycopg[binary]==3.2.13",
        'SQLAlchemy==2.0.9 ; python_version >= "3.8"',
        "demo @ https://example.invalid/demo-1.0.tar.gz",
    ]
    # pip refuses extras in constraints; a direct URL is installed, never a constraint
    assert parsed.constraints == [
        "Jinja2==3.1.6",
        "greenlet==3.5.6",
        "psycopg==3.2.13",
        'SQLAlchemy==2.0.9; python_version >= "3.8"',
    ]
    assert parsed.options == ["--extra-index-url https://example.invalid/simple"]
    assert parsed.dropped_hashes == 2


def test_pip_freeze_output_is_a_requirements_file(tmp_path):
    freeze = write(
        tmp_path / "freeze.txt", "greenlet==3.5.6\npsycopg==3.3.9\npsycopg-binary==3.3.9\nSQLAlchemy==2.0.58\n"
    )
    assert read_requirements_file(freeze).constraints == freeze.read_text().split()


def test_a_requirements_file_with_extras_is_accepted_as_constraints(tmp_path):
    """The issue: ``--to-constraints`` with ``psycopg[binary]==3.2.13`` made pip stop with "Constraints cannot
    have extras" (exit 2)."""
    constraints = write(tmp_path / "requirements.txt", "psycopg[binary]==3.2.13  # driver\n")
    assert read_constraints([constraints]) == "psycopg==3.2.13"


def test_an_include_cycle_is_read_once(tmp_path):
    write(tmp_path / "a.txt", "-r b.txt\nSQLAlchemy==2.0.9\n")
    write(tmp_path / "b.txt", "-r a.txt\nJinja2==3.1.6\n")
    assert read_requirements_file(tmp_path / "a.txt").requirements == ["Jinja2==3.1.6", "SQLAlchemy==2.0.9"]


def test_a_resolution_conflict_is_one_line_naming_the_pins(tmp_path):
    log = write(
        tmp_path / "install.log",
        "Collecting psycopg==3.2.13\n"
        "ERROR: Cannot install psycopg[binary]==3.2.13 because these package versions have conflicting dependencies.\n"
        "\n"
        "The conflict is caused by:\n"
        '    psycopg[binary] 3.2.13 depends on psycopg-binary==3.2.13; extra == "binary"\n'
        "    The user requested (constraint) psycopg-binary==3.3.9\n"
        "\n"
        "To fix this you could try to:\n"
        "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/...\n",
    )
    assert install_failure(log) == (
        'conflicting pins: psycopg[binary] 3.2.13 depends on psycopg-binary==3.2.13; extra == "binary"'
        " | The user requested (constraint) psycopg-binary==3.3.9"
    )


def run_upgrade(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reports", "upgrade", "--envs", "sqlite", "--workdir", str(tmp_path / "venvs"),
         "--results-dir", str(tmp_path / "results"), *arguments],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_bad_line_in_a_requirements_file_is_refused_in_one_line_before_building(tmp_path):
    bad = write(tmp_path / "requirements.txt", "SQLAlchemy==2.0.9\nsqlalchemy=>2\n")
    completed = run_upgrade(tmp_path, "--from-requirements", str(bad), "--to-requirements", str(bad))
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.count("\n") == 1 and f"{bad}:2" in completed.stderr
    assert not (tmp_path / "venvs").exists()


def test_a_side_pip_cannot_resolve_names_the_conflicting_pins(tmp_path):
    """A freeze that bumps psycopg but not psycopg-binary: pip's real answer, in one line."""
    frozen = write(tmp_path / "requirements.txt", "psycopg[binary]==3.2.13\npsycopg-binary==3.3.9\n")
    completed = run_upgrade(tmp_path, "--from-requirements", str(frozen), "--to-requirements", str(frozen))
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert "conflicting pins:" in completed.stderr
    assert "psycopg-binary==3.3.9" in completed.stderr and "psycopg-binary==3.2.13" in completed.stderr
