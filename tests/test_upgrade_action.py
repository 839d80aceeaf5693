"""The reusable action (action.yml) gates a toy application's SQLAlchemy bump: its steps run in order on this
machine (.github/run_action_locally.py), in a repository of the toy's own with its own requirements.txt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_package import run, working_tree_copy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNNER = PROJECT_ROOT / ".github" / "run_action_locally.py"


def git(repository: Path, *arguments: str) -> None:
    subprocess.run(["git", "-C", str(repository), *arguments], check=True, capture_output=True)


@pytest.fixture(scope="module")
def toy_application(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main pins SQLAlchemy 2.0.9; the pull request's branch bumps it to 2.0.10 (a change the gate catches)."""
    repository = tmp_path_factory.mktemp("toy-application")
    git(repository, "init", "-q", "-b", "main")
    git(repository, "config", "user.email", "toy@example.invalid")
    git(repository, "config", "user.name", "toy")
    (repository / "requirements.txt").write_text("# the toy application\nSQLAlchemy==2.0.9\n")
    git(repository, "add", "requirements.txt")
    git(repository, "commit", "-q", "-m", "pins")
    git(repository, "update-ref", "refs/remotes/origin/main", "main")  # what actions/checkout leaves
    git(repository, "checkout", "-q", "-b", "bump-sqlalchemy")
    (repository / "requirements.txt").write_text("# the toy application\nSQLAlchemy==2.0.10  # the bump\n")
    git(repository, "commit", "-q", "-a", "-m", "bump SQLAlchemy")
    return repository


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The step runner reads action.yml with PyYAML, in a virtualenv of its own."""
    directory = tmp_path_factory.mktemp("runner-venv")
    assert run([sys.executable, "-m", "venv", directory], cwd=directory).returncode == 0
    installed = run([directory / "bin" / "python", "-m", "pip", "install", "-q", "PyYAML"], cwd=directory)
    assert installed.returncode == 0, installed.stderr
    return directory / "bin" / "python"


@pytest.fixture(scope="module")
def action_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action as another repository gets it (its install step builds there, not in this checkout)."""
    return working_tree_copy(tmp_path_factory.mktemp("action"))


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One RUNNER_TEMP for both runs: the second reuses the tool and the virtualenvs whose pins it shares."""
    return tmp_path_factory.mktemp("runner-temp")


def run_action(runner_python: Path, action_dir: Path, workspace: Path, temp: Path, *inputs: str):
    command = [runner_python, RUNNER, action_dir, "--workspace", workspace, "--base-ref", "main"]
    command += ["--runner-temp", temp, "--input", "envs=sqlite", "--input", "upload-artifact=false"]
    for text in inputs:
        command += ["--input", text]
    return run(command, cwd=workspace, timeout=600)


def test_the_action_blocks_a_sqlalchemy_bump_that_changes_behaviour(
    runner_python, action_dir, toy_application, runner_temp
):
    ran = run_action(runner_python, action_dir, toy_application, runner_temp)
    assert ran.returncode == 1, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "output exit-code=1" in ran.stdout
    assert "SQLAlchemy 2.0.9 -> 2.0.10" in ran.stdout
    summary = (runner_temp / "step-summary.md").read_text()
    assert "BLOCKED" in summary.upper()
    assert (toy_application / "sqla-conformance-gate" / "upgrade.html").exists()


def test_the_action_passes_identical_pins(runner_python, action_dir, toy_application, runner_temp):
    ran = run_action(runner_python, action_dir, toy_application, runner_temp, "baseline-requirements=requirements.txt")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "output exit-code=0" in ran.stdout
