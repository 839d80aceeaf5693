"""Gate an upgrade end to end: run the suites in a baseline and a candidate virtualenv, then compare the two.

Each side gets its own virtualenv (``.tox/upgrade/baseline``, ``.tox/upgrade/candidate``) with
``requirements/run.txt`` and the driver of every environment in ``UPGRADE_ENVS`` (a backend's default driver, or
one driver: ``pg-asyncpg``, ``mysql-mysqlclient``, ... as tox.ini names them), installed under a
constraints file: ``requirements/constraints.txt`` (or ``--from-constraints`` / ``--to-constraints``) in
which each ``--from`` / ``--to`` requirement replaces the pinned line of the same package. A team's own
requirements or lock files (``--from-requirements`` / ``--to-requirements``: extras, hashes, comments, ``-r``
includes, pip-freeze or ``uv pip compile`` output) are installed as they are and pin that side instead. A virtualenv is
reused while the hash of its requirement lines stays the same. Both sides run with one PYTHONHASHSEED.
The suites write ``reports/results/upgrade/{baseline,candidate}/<env>.json``, then the gate writes
``reports/html/upgrade.html`` and ``reports/results/upgrade-summary.md``; the exit code is the gate's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
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
# in a checkout the sides run from it; an installed package (no requirements/ beside it) runs from a copy
IN_CHECKOUT = (PROJECT_ROOT / "requirements" / "run.txt").exists()
PACKAGES = ("suites", "fixtures", "reports", "benchmarks")
# the pinned state: the shared pins, and the default SQLAlchemy series' pin where it lives in a file of its own
CONSTRAINTS = (Path("requirements/constraints.txt"), Path("requirements/sqlalchemy-2.0.txt"))
RUN_REQUIREMENTS = Path("requirements/run.txt")
DEFAULT_ENVS = "sqlite,pg,mysql"
SIDES = ("baseline", "candidate")
HASH_FILE = ".upgrade-requirements.sha256"
# requirement-file options that change where pip looks, not what it installs: passed on as they are
INDEX_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--pre")
COMMENT = re.compile(r"(^|\s)#.*$")
INCLUDE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
# pytest exit codes after which the results file is complete: 0 all passed, 1 some behaviours failed
SUITE_FINISHED = (0, 1)
# the upgrade chooses the backend (--backend) and runs its default driver: a shell's choice must not leak in
SIDE_CHOSEN_VARIABLES = ("CONFORMANCE_BACKEND", "CONFORMANCE_DRIVER")


class UpgradeError(ResultsError):
    """The upgrade could not be run as asked (bad argument, failed install, a suite run that stopped)."""


@dataclass(frozen=True)
class Environment:
    """Where one side's suites run: the suite's ``--backend``, the driver packages to install (as the tox.ini
    factors install them) and the suite's ``--driver`` (None: the backend's default driver)."""

    backend: str
    packages: tuple[str, ...]
    driver: str | None = None


# named as tox.ini names the envs: a backend (its default driver), or backend-driver (one driver of tox -m full)
ENVIRONMENTS: dict[str, Environment] = {
    "sqlite": Environment("sqlite", ()),
    "pg": Environment("postgresql", ("psycopg[binary]",)),
    "mysql": Environment("mysql", ("PyMySQL", "cryptography")),
    "sqlite-aiosqlite": Environment("sqlite", ("aiosqlite",), "aiosqlite"),
    "pg-psycopg2": Environment("postgresql", ("psycopg2-binary",), "psycopg2"),
    "pg-pg8000": Environment("postgresql", ("pg8000",), "pg8000"),
    "pg-asyncpg": Environment("postgresql", ("asyncpg",), "asyncpg"),
    "pg-psycopg_async": Environment("postgresql", ("psycopg[binary]",), "psycopg_async"),
    "mysql-mysqlclient": Environment("mysql", ("mysqlclient",), "mysqlclient"),
    "mysql-mysqlconnector": Environment("mysql", ("mysql-connector-python",), "mysqlconnector"),
    "mysql-mariadbconnector": Environment("mysql", ("mariadb",), "mariadbconnector"),
    "mysql-aiomysql": Environment("mysql", ("aiomysql", "cryptography"), "aiomysql"),
    "mysql-asyncmy": Environment("mysql", ("asyncmy", "cryptography"), "asyncmy"),
}


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
            *suite_requirements(),
        ]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    @property
    def python(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin") / "python"


def suite_requirements() -> list[str]:
    """What the suites need: ``requirements/run.txt`` in a checkout, the package's own dependencies when installed."""
    if IN_CHECKOUT:
        return [f"-r {PROJECT_ROOT / RUN_REQUIREMENTS}"]
    from importlib.metadata import requires

    return [text for text in requires("sqla-conformance") or [] if "extra ==" not in text]


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
        "--from-requirements", dest="from_files", type=Path, action="append", default=[], metavar="FILE",
        help="the baseline's own requirements or lock file(s), installed as they are and pinning that side "
        "instead of the project's pins (extras, hashes, -r includes, pip freeze output; repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--to-requirements", dest="to_files", type=Path, action="append", default=[], metavar="FILE",
        help="the candidate's own requirements or lock file(s) (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--envs",
        default=os.environ.get("UPGRADE_ENVS") or DEFAULT_ENVS,
        help=f"where to run, from {', '.join(ENVIRONMENTS)} (a backend with its default driver, or backend-driver; "
        f"default $UPGRADE_ENVS or {DEFAULT_ENVS})",
    )
    parser.add_argument("--workdir", type=Path, default=Path(".tox/upgrade"), help="where the two virtualenvs live")
    parser.add_argument("--results-dir", type=Path, default=Path("reports/results/upgrade"), help="results per side")
    parser.add_argument(
        "--allow", type=Path, default=PROJECT_ROOT / "reports" / "allowlist.toml", help="allow-list (TOML)"
    )
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


@dataclass
class RequirementsFile:
    """A requirements or lock file as pip reads it, flattened: what to install, and what it pins.

    ``requirements`` keeps each line's extras and markers (``psycopg[binary]==3.2.13`` installs
    psycopg-binary too); ``constraints`` are the same pins without extras, which pip refuses in a constraints
    file. Hashes are dropped: pip's hash-checking mode would demand a hash for every package the suites need.
    Editable and direct-URL lines are installed, never used as constraints.
    """

    requirements: list[str]
    constraints: list[str]
    options: list[str]
    dropped_hashes: int = 0


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) with comments removed and backslash continuations joined, as pip reads them."""
    joined: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = COMMENT.sub("", raw)  # pip: a comment starts at a "#" at the line's start or after whitespace
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        content = (pending + line).strip()
        pending = ""
        if content:
            joined.append((start, content))
    if pending.strip():
        joined.append((start, pending.strip()))
    return joined


def without_hashes(line: str) -> tuple[str, int]:
    words = line.split()
    kept = [word for word in words if not word.startswith("--hash")]
    return " ".join(kept), len(words) - len(kept)


def read_requirements_file(
    path: Path, parsed: RequirementsFile | None = None, seen: set[Path] | None = None
) -> RequirementsFile:
    """Flatten ``path`` and its ``-r`` / ``-c`` includes (relative to the including file) into one set of pins."""
    parsed = parsed or RequirementsFile([], [], [])
    seen = seen if seen is not None else set()
    try:
        resolved = path.resolve()
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UpgradeError(f"requirements file {path}: {error.strerror}") from None
    if resolved in seen:
        return parsed
    seen.add(resolved)
    for number, line in logical_lines(text):
        where = f"{path}:{number}"
        line, hashes = without_hashes(line)
        parsed.dropped_hashes += hashes
        option, _, value = line.partition(" ")
        if "=" in option and option.startswith("--"):
            option, _, value = line.partition("=")
        if option in INCLUDE_OPTIONS:
            included = RequirementsFile([], [], [])
            read_requirements_file(path.parent / value.strip(), included, seen)
            if INCLUDE_OPTIONS[option] == "requirement":
                parsed.requirements += included.requirements
            parsed.constraints += included.constraints
            parsed.options += included.options
            parsed.dropped_hashes += included.dropped_hashes
        elif option in INDEX_OPTIONS or option.startswith(INDEX_OPTIONS):
            parsed.options.append(line)
        elif option in ("-e", "--editable"):
            parsed.requirements.append(line)
        elif line.startswith("-"):
            raise UpgradeError(f"{where}: pip option {option!r} is not supported in the upgrade gate's requirements")
        else:
            try:
                requirement = Requirement(line)
            except InvalidRequirement as error:
                raise UpgradeError(f"{where}: {line!r} is not a requirement ({str(error).splitlines()[0]})") from None
            parsed.requirements.append(line)
            if requirement.url is None:
                requirement.extras = set()
                parsed.constraints.append(str(requirement))
    return parsed


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
    """The given constraints files, or the pinned ones, as one text (a default file that does not exist is skipped).

    A given file may be an ordinary requirements file: its extras, hashes and includes are flattened away."""
    if not paths:
        defaults = [PROJECT_ROOT / path for path in CONSTRAINTS if (PROJECT_ROOT / path).exists()]
        return "\n".join(source.read_text(encoding="utf-8") for source in defaults)
    lines = []
    for source in paths:
        if not source.is_file():
            raise UpgradeError(f"constraints file {source}: No such file")
        lines += read_requirements_file(source).constraints
    return "\n".join(lines)


def plan_sides(arguments: argparse.Namespace, environments: list[str]) -> list[SidePlan]:
    drivers = list(dict.fromkeys(package for name in environments for package in ENVIRONMENTS[name].packages))
    plans = []
    for side, texts, option, constraints, own_files in (
        ("baseline", arguments.from_requirements, "--from", arguments.from_constraints, arguments.from_files),
        ("candidate", arguments.to_requirements, "--to", arguments.to_constraints, arguments.to_files),
    ):
        overrides = parse_requirements(texts, option)
        own = RequirementsFile([], [], [])
        for path in own_files:
            read_requirements_file(path, own)
        if own.dropped_hashes:
            progress(f"{side}: {own.dropped_hashes} hashes in its requirements are not checked (the suites' own "
                     "packages have none, and pip checks all or nothing)")  # fmt: skip
        pins = "\n".join(own.constraints) if own_files else read_constraints(constraints)
        plans.append(
            SidePlan(
                side,
                apply_overrides(pins, overrides),
                [*own.options, *suite_requirements(), *drivers, *own.requirements, *map(str, overrides)],
                arguments.workdir.resolve() / side,
            )
        )
    return plans


def source_root(workdir: Path) -> Path:
    """Where the sides run the suites from: the checkout, or for an installed package a copy of its packages.

    Never an installed package's site-packages: ``python -m`` puts the working directory first on sys.path, and
    every package there (SQLAlchemy too) would shadow the side's own."""
    if IN_CHECKOUT:
        return PROJECT_ROOT
    copy = workdir.resolve() / "source"
    shutil.rmtree(copy, ignore_errors=True)
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def run_logged(command: list[str], log: Path, environ: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as stream:
        completed = subprocess.run(
            command, cwd=cwd or safe_directory(log), env=environ, stdout=stream, stderr=subprocess.STDOUT, check=False
        )
    return completed.returncode


def safe_directory(near: Path) -> Path:
    """A working directory for pip and the venv module: the checkout, else one holding no packages."""
    return PROJECT_ROOT if IN_CHECKOUT else near.parent


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
    # not --quiet: pip explains a resolution conflict at its default verbosity only
    command = [str(plan.python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    command += ["-c", str(constraints.resolve()), "-r", str(requirements.resolve())]
    if run_logged(command, log) != 0:
        raise UpgradeError(f"installing the {plan.name} requirements failed: {install_failure(log)} (log: {log})")
    marker.write_text(fingerprint + "\n")
    progress(f"{plan.name}: built in {time.monotonic() - started:.0f} s")


def install_failure(log: Path) -> str:
    """pip's reason in one line: for a resolution conflict, the pins that conflict (pip prints them in a block
    after "The conflict is caused by:", and only a bare "ResolutionImpossible" on its last ERROR line)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("The conflict is caused by"):
            causes = []
            for cause in lines[index + 1 :]:
                if not cause.strip() or not cause.startswith(" "):
                    break
                causes.append(cause.strip())
            return "conflicting pins: " + " | ".join(causes)
    return last_line(log, "ERROR")


def installed_versions(plan: SidePlan, names: list[str]) -> str:
    script = (
        "import sys, importlib.metadata as m\n"
        "for name in sys.argv[1:]:\n"
        "    try: print(name, m.version(name))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    completed = subprocess.run(
        [str(plan.python), "-c", script, *names],
        capture_output=True,
        text=True,
        check=False,
        cwd=safe_directory(plan.venv),
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


def run_suite(
    plan: SidePlan,
    environment: str,
    results_dir: Path,
    environ: dict[str, str],
    source: Path,
    tests: list[str] | None = None,
) -> Path:
    """One side's run on one environment: every suite, or only ``tests`` (pytest node ids, e.g. the history
    replay's named behaviours)."""
    chosen = ENVIRONMENTS[environment]
    where = chosen.backend + (f", driver {chosen.driver}" if chosen.driver else "")
    results = (results_dir / plan.name / f"{environment}.json").resolve()
    log = results.with_suffix(".log")
    started = time.monotonic()
    subset = f"{len(tests)} test function(s) of " if tests else ""
    progress(f"{plan.name}: running {subset}the suites on {environment} ({where}) ...")
    # the plugin by name: an installed package has no conftest.py to load it (the checkout's skips it then)
    command = [str(plan.python), "-m", "pytest", *(tests or ["suites"]), "-p", "no:cacheprovider", "-q"]
    command += ["-p", "fixtures.plugin", "-p", "fixtures.target_facts"]
    command += ["--backend", chosen.backend, "--results", str(results)]
    if chosen.driver:
        command += ["--driver", chosen.driver]
    status = run_logged(command, log, environ, cwd=source)
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
            or arguments.from_files
            or arguments.to_files
        ):
            raise UpgradeError(
                "nothing to upgrade: give --to REQ (and --from REQ), --from-constraints FILE, or "
                "--from-requirements FILE --to-requirements FILE"
            )
        plans = plan_sides(arguments, environments)
        for plan in plans:
            prepare_virtualenv(plan, arguments.python)
        overridden = [Requirement(text).name for text in arguments.from_requirements + arguments.to_requirements]
        names = list({canonicalize_name(name): name for name in ["SQLAlchemy", *overridden]}.values())
        for plan in plans:
            progress(f"{plan.name}: {installed_versions(plan, names)}")
        clear_results(arguments.results_dir)
        environ = suite_environment()
        source = source_root(arguments.workdir)
        progress(f"both sides run with PYTHONHASHSEED={environ['PYTHONHASHSEED']}")
        for environment in environments:
            for plan in plans:
                run_suite(plan, environment, arguments.results_dir, environ, source)
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
