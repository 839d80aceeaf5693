"""Gate an upgrade end to end: run the suites in a baseline and a candidate virtualenv, then compare the two.

Each side gets its own virtualenv (``.tox/upgrade/baseline``, ``.tox/upgrade/candidate``) with
``requirements/run.txt`` and the default driver of every backend in ``UPGRADE_ENVS``, installed under a
constraints file: ``requirements/constraints.txt`` (or ``--from-constraints`` / ``--to-constraints``) in
which each ``--from`` / ``--to`` requirement replaces the pinned line of the same package. A virtualenv is
reused while the hash of its requirement lines stays the same. Both sides run with one PYTHONHASHSEED.
The suites write ``reports/results/upgrade/{baseline,candidate}/<env>.json``, then the gate writes
``reports/html/upgrade.html`` and ``reports/results/upgrade-summary.md``; the exit code is the gate's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from reports.gate import DEFAULT_THRESHOLD_PERCENT, percent, run_gate
from reports.schema import ResultsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# the pinned state: the shared pins, and the default SQLAlchemy series' pin where it lives in a file of its own
CONSTRAINTS = (Path("requirements/constraints.txt"), Path("requirements/sqlalchemy-2.0.txt"))
RUN_REQUIREMENTS = Path("requirements/run.txt")
# tox env name -> (the suite's --backend, the default driver packages, as the tox.ini factors install them)
ENVIRONMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sqlite": ("sqlite", ()),
    "pg": ("postgresql", ("psycopg[binary]",)),
    "mysql": ("mysql", ("PyMySQL", "cryptography")),
}
DEFAULT_ENVS = "sqlite,pg,mysql"
SIDES = ("baseline", "candidate")
HASH_FILE = ".upgrade-requirements.sha256"
# pytest exit codes after which the results file is complete: 0 all passed, 1 some behaviours failed
SUITE_FINISHED = (0, 1)
# the upgrade chooses the backend (--backend) and runs its default driver: a shell's choice must not leak in
SIDE_CHOSEN_VARIABLES = ("CONFORMANCE_BACKEND", "CONFORMANCE_DRIVER")


class UpgradeError(ResultsError):
    """The upgrade could not be run as asked (bad argument, failed install, a suite run that stopped)."""


@dataclass
class SidePlan:
    """What one side installs: its constraints (with overrides applied) and its requirements."""

    name: str
    constraints: list[str]
    requirements: list[str]
    venv: Path

    def fingerprint(self, python: str) -> str:
        lines = [
            f"python {python} {sys.version}",
            *self.requirements,
            "--constraints--",
            *self.constraints,
            "--run.txt--",
            (PROJECT_ROOT / RUN_REQUIREMENTS).read_text(encoding="utf-8"),
        ]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    @property
    def python(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin") / "python"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="from_requirements", action="append", default=[], metavar="REQ",
        help="a baseline requirement replacing its pinned line, e.g. 'sqlalchemy==2.0.9' (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--to", dest="to_requirements", action="append", default=[], metavar="REQ",
        help="a candidate requirement replacing its pinned line, e.g. 'sqlalchemy==2.0.10' (repeatable)",
    )  # fmt: skip
    pinned = " + ".join(str(path) for path in CONSTRAINTS)
    parser.add_argument(
        "--from-constraints", type=Path, action="append", default=[], metavar="FILE",
        help=f"baseline constraints file(s), e.g. the base branch's (repeatable; default {pinned})",
    )  # fmt: skip
    parser.add_argument(
        "--to-constraints", type=Path, action="append", default=[], metavar="FILE",
        help=f"candidate constraints file(s) (repeatable; default {pinned})",
    )  # fmt: skip
    parser.add_argument(
        "--envs",
        default=os.environ.get("UPGRADE_ENVS") or DEFAULT_ENVS,
        help=f"backends to run, from {', '.join(ENVIRONMENTS)} (default $UPGRADE_ENVS or {DEFAULT_ENVS})",
    )
    parser.add_argument("--workdir", type=Path, default=Path(".tox/upgrade"), help="where the two virtualenvs live")
    parser.add_argument("--results-dir", type=Path, default=Path("reports/results/upgrade"), help="results per side")
    parser.add_argument("--allow", type=Path, default=Path("reports/allowlist.toml"), help="allow-list (TOML)")
    parser.add_argument("--html", type=Path, default=Path("reports/html/upgrade.html"), help="the gate's HTML page")
    parser.add_argument(
        "--markdown", type=Path, default=Path("reports/results/upgrade-summary.md"), help="the gate's Markdown summary"
    )
    parser.add_argument(
        "--threshold", type=percent, default=DEFAULT_THRESHOLD_PERCENT, help="benchmark slowdown threshold in percent"
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter the virtualenvs are made from")


def progress(message: str) -> None:
    print(f"upgrade: {message}", flush=True)


def parse_requirements(texts: list[str], option: str) -> list[Requirement]:
    parsed = []
    for text in texts:
        try:
            parsed.append(Requirement(text))
        except InvalidRequirement as error:
            raise UpgradeError(f"{option} {text!r} is not a requirement ({str(error).splitlines()[0]})") from None
    return parsed


def parse_environments(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENVIRONMENTS]
    if unknown or not names:
        raise UpgradeError(f"UPGRADE_ENVS/--envs {text!r}: choose from {', '.join(ENVIRONMENTS)}")
    return list(dict.fromkeys(names))


def apply_overrides(constraints: str, overrides: list[Requirement]) -> list[str]:
    """The constraints lines with each overridden package's pinned line replaced by the override.

    pip refuses extras in a constraints file, so an override such as ``psycopg[binary]==3.2.1`` becomes
    the constraint ``psycopg==3.2.1`` (and is installed as a requirement, extras and all).
    """
    replaced = {canonicalize_name(requirement.name) for requirement in overrides}
    lines = []
    for line in constraints.splitlines():
        content = line.split("#", 1)[0].strip()
        if content and not content.startswith("-"):
            try:
                if canonicalize_name(Requirement(content).name) in replaced:
                    continue
            except InvalidRequirement:
                pass
        lines.append(line)
    for requirement in overrides:
        constraint = Requirement(str(requirement))
        constraint.extras = set()
        lines.append(f"{constraint}  # override")
    return lines


def read_constraints(paths: list[Path]) -> str:
    """The given constraints files, or the pinned ones, as one text (a default file that does not exist is skipped)."""
    sources = paths or [PROJECT_ROOT / path for path in CONSTRAINTS if (PROJECT_ROOT / path).exists()]
    texts = []
    for source in sources:
        try:
            texts.append(source.read_text(encoding="utf-8"))
        except OSError as error:
            raise UpgradeError(f"constraints file {source}: {error.strerror}") from None
    return "\n".join(texts)


def plan_sides(arguments: argparse.Namespace, environments: list[str]) -> list[SidePlan]:
    drivers = [package for name in environments for package in ENVIRONMENTS[name][1]]
    plans = []
    for side, texts, option, constraints in (
        ("baseline", arguments.from_requirements, "--from", arguments.from_constraints),
        ("candidate", arguments.to_requirements, "--to", arguments.to_constraints),
    ):
        overrides = parse_requirements(texts, option)
        plans.append(
            SidePlan(
                side,
                apply_overrides(read_constraints(constraints), overrides),
                [f"-r {PROJECT_ROOT / RUN_REQUIREMENTS}", *drivers, *(str(requirement) for requirement in overrides)],
                arguments.workdir.resolve() / side,
            )
        )
    return plans


def run_logged(command: list[str], log: Path, environ: dict[str, str] | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as stream:
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, env=environ, stdout=stream, stderr=subprocess.STDOUT, check=False
        )
    return completed.returncode


def last_line(log: Path, containing: str = "") -> str:
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    matching = [line for line in lines if containing in line]
    return (matching or lines or ["(no output)"])[-1]


def prepare_virtualenv(plan: SidePlan, python: str) -> None:
    fingerprint = plan.fingerprint(python)
    marker = plan.venv / HASH_FILE
    if plan.python.exists() and marker.exists() and marker.read_text().strip() == fingerprint:
        progress(f"{plan.name}: reusing {plan.venv} (requirements unchanged)")
        return
    started = time.monotonic()
    progress(f"{plan.name}: building {plan.venv} ...")
    shutil.rmtree(plan.venv, ignore_errors=True)
    log = plan.venv.parent / f"{plan.name}-install.log"
    if run_logged([python, "-m", "venv", str(plan.venv)], log) != 0:
        raise UpgradeError(f"cannot create the {plan.name} virtualenv {plan.venv}: {last_line(log)} (log: {log})")
    constraints = plan.venv / "constraints.txt"
    constraints.write_text("\n".join(plan.constraints) + "\n", encoding="utf-8")
    requirements = plan.venv / "requirements.txt"
    requirements.write_text("\n".join(plan.requirements) + "\n", encoding="utf-8")
    command = [str(plan.python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    command += ["-c", str(constraints.resolve()), "-r", str(requirements.resolve())]
    if run_logged(command, log) != 0:
        raise UpgradeError(f"installing the {plan.name} requirements failed: {last_line(log, 'ERROR')} (log: {log})")
    marker.write_text(fingerprint + "\n")
    progress(f"{plan.name}: built in {time.monotonic() - started:.0f} s")


def installed_versions(plan: SidePlan, names: list[str]) -> str:
    script = (
        "import sys, importlib.metadata as m\n"
        "for name in sys.argv[1:]:\n"
        "    try: print(name, m.version(name))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    completed = subprocess.run(
        [str(plan.python), "-c", script, *names], capture_output=True, text=True, check=False, cwd=PROJECT_ROOT
    )
    return ", ".join(completed.stdout.split("\n")[:-1]) or "?"


def suite_environment() -> dict[str, str]:
    """Our environment for both sides' runs, with one hash seed for both.

    Python's hash seed decides the iteration order of sets, which shows in some SQL SQLAlchemy emits (a
    table's indexes, MySQL table options); the same seed on both sides keeps that order out of the
    comparison. A seed given in PYTHONHASHSEED (tox sets one) is kept; otherwise one is drawn for this run.
    """
    environ = {key: value for key, value in os.environ.items() if key not in SIDE_CHOSEN_VARIABLES}
    if not environ.get("PYTHONHASHSEED", "random").isdigit():
        environ["PYTHONHASHSEED"] = str(secrets.randbelow(4294967296))
    return environ


def run_suite(plan: SidePlan, environment: str, results_dir: Path, environ: dict[str, str]) -> Path:
    backend = ENVIRONMENTS[environment][0]
    results = (results_dir / plan.name / f"{environment}.json").resolve()
    log = results.with_suffix(".log")
    started = time.monotonic()
    progress(f"{plan.name}: running the suites on {environment} ({backend}) ...")
    command = [str(plan.python), "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q"]
    command += ["--backend", backend, "--results", str(results)]
    status = run_logged(command, log, environ)
    if status not in SUITE_FINISHED or not results.exists():
        raise UpgradeError(
            f"the {plan.name} run on {environment} stopped (pytest exit {status}): {last_line(log)} (log: {log})"
        )
    progress(f"{plan.name}: {environment}: {last_line(log, ' cells: ')} in {time.monotonic() - started:.0f} s")
    return results


def clear_results(results_dir: Path) -> None:
    """Old results of a side would be compared as if they were new: remove them first."""
    for side in SIDES:
        for old in (results_dir / side).glob("*.json"):
            old.unlink()


def run(arguments: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        environments = parse_environments(arguments.envs)
        if not (
            arguments.from_requirements
            or arguments.to_requirements
            or arguments.from_constraints
            or arguments.to_constraints
        ):
            raise UpgradeError("nothing to upgrade: give --to REQ (and --from REQ), or --from-constraints FILE")
        plans = plan_sides(arguments, environments)
        for plan in plans:
            prepare_virtualenv(plan, arguments.python)
        overridden = [Requirement(text).name for text in arguments.from_requirements + arguments.to_requirements]
        names = list({canonicalize_name(name): name for name in ["SQLAlchemy", *overridden]}.values())
        for plan in plans:
            progress(f"{plan.name}: {installed_versions(plan, names)}")
        clear_results(arguments.results_dir)
        environ = suite_environment()
        progress(f"both sides run with PYTHONHASHSEED={environ['PYTHONHASHSEED']}")
        for environment in environments:
            for plan in plans:
                run_suite(plan, environment, arguments.results_dir, environ)
        progress("gating the candidate against the baseline ...")
        comparison, text = run_gate(
            arguments.results_dir / "baseline",
            arguments.results_dir / "candidate",
            allow=arguments.allow,
            markdown=arguments.markdown,
            html_path=arguments.html,
            threshold_percent=arguments.threshold,
        )
    except KeyboardInterrupt:
        print("upgrade: interrupted", file=sys.stderr)
        return 130
    for warning in comparison.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(text, end="")
    progress(f"wrote {arguments.html} and {arguments.markdown} in {time.monotonic() - started:.0f} s")
    return comparison.exit_code


def main(argv: list[str] | None = None) -> int:
    from reports.__main__ import main as reports_main

    return reports_main(["upgrade", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
