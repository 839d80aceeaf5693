"""The ``sqla-conformance`` command: run the behaviours, build the report, gate results or an upgrade, benchmark.

- ``run [--dburl URL ...] [--backend NAME] [--driver NAME] [--expectations FILE ...] [--results FILE]
  [-- PYTEST ARGS]``: the behaviour suites on one or more targets (``pytest --pyargs suites`` with the
  sqla-conformance plugin); ``--dburl`` takes the URL of any installed SQLAlchemy dialect, ``--expectations`` a
  dialect's own expectations file.
- ``report [RESULTS ...] [-o DIR] [--markdown FILE]``: merge results files into the HTML report.
- ``gate BASELINE CANDIDATE [...]``: compare two sets of results.
- ``upgrade [--from REQ ...] [--to REQ ...] [--from-requirements FILE] [--to-requirements FILE] ...``: run the
  suites with baseline and candidate pins in two virtualenvs, then gate.
- ``bench [--dburl URL ...] [--backend NAME] [--results FILE] [-- PYTEST ARGS]``: the bulk-insert benchmarks
  (needs the ``bench`` extra: pytest-benchmark).

Exit codes: 0 ok, 1 failures or blocking changes, 2 unusable input (one line on stderr).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from reports import __main__ as reports_main
from reports import upgrade
from reports.schema import ResultsError

PROGRAM = "sqla-conformance"
DEFAULT_RESULTS = Path("conformance-results")
DEFAULT_REPORT = Path("conformance-report")
# pytest's exit codes: 0 all passed, 1 some tests failed; anything else (interrupted, usage error, internal
# error, nothing collected) means the run could not say
PYTEST_FINISHED = (0, 1)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit 2, like every other unusable input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def add_target_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--dburl", action="append", default=[], metavar="URL", help=f"{what} this database (repeatable)"
    )
    parser.add_argument("--backend", help="sqlite, postgresql or mysql: a server is provisioned (no --dburl needed)")
    parser.add_argument("--driver", help="driver for --backend, e.g. psycopg, pymysql (comma-separated list)")
    parser.add_argument("--results", type=Path, help=f"results JSON to write (default {DEFAULT_RESULTS}/<target>.json)")
    parser.add_argument(
        "pytest_args", nargs="*", metavar="-- PYTEST ARGS", help="passed on to pytest, e.g. -- -x -k engine"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROGRAM, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser, metavar="COMMAND")

    run = commands.add_parser("run", help="run the behaviour suites on a target; exit 1 when a cell fails")
    add_target_arguments(run, "run the behaviours against")
    run.add_argument(
        "--expectations",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a dialect's own expectations file (documented differences and target facts, with "
        'dialect = "<name>"), merged before the built-in registry (repeatable)',
    )

    reports_main.add_build_arguments(
        commands.add_parser("report", aliases=["build"], help="merge results files into an HTML report"),
        DEFAULT_RESULTS,
        DEFAULT_REPORT,
    )
    reports_main.add_gate_arguments(
        commands.add_parser("gate", help="compare baseline and candidate results; exit 1 on blocking changes")
    )

    upgrade_parser = commands.add_parser(
        "upgrade", help="gate an upgrade: the suites with baseline and candidate pins, compared"
    )
    upgrade.add_arguments(upgrade_parser)
    # outside this repository, the upgrade's output goes where `run` and `report` put theirs, not into reports/
    upgrade_parser.set_defaults(
        workdir=Path(".sqla-conformance/upgrade"),
        results_dir=DEFAULT_RESULTS / "upgrade",
        html=DEFAULT_REPORT / "upgrade.html",
        markdown=DEFAULT_RESULTS / "upgrade-summary.md",
    )

    bench = commands.add_parser("bench", help="run the bulk-insert benchmarks on a target (needs pytest-benchmark)")
    add_target_arguments(bench, "benchmark against")
    return parser


def target_label(arguments: argparse.Namespace) -> str:
    """A file name for a run's results: the backend and driver, or the URLs' dialects (never a password)."""
    parts = [re.split(r"[:/]", url, maxsplit=1)[0] for url in arguments.dburl]
    if arguments.backend:
        parts.append("-".join(filter(None, [arguments.backend, (arguments.driver or "").replace(",", "+")])))
    label = "+".join(parts) or "run"
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", label)


def pytest_command(arguments: argparse.Namespace, package: str) -> list[str]:
    results = arguments.results or DEFAULT_RESULTS / f"{target_label(arguments)}.json"
    command = [sys.executable, "-m", "pytest", "--pyargs", package, "-p", "no:cacheprovider"]
    command += ["--results", str(results.resolve())]
    for url in arguments.dburl:
        command += ["--dburl", url]
    if arguments.backend:
        command += ["--backend", arguments.backend]
    if arguments.driver:
        command += ["--driver", arguments.driver]
    for path in getattr(arguments, "expectations", None) or []:
        command += ["--expectations", str(path.resolve())]
    return command + arguments.pytest_args


def run_pytest(arguments: argparse.Namespace, package: str) -> int:
    """pytest in a child process: the plugin's provisioned servers and signal handling are its own."""
    if not (arguments.dburl or arguments.backend):
        raise ResultsError("no target: give --dburl URL (e.g. sqlite:///conformance.db) or --backend NAME")
    status = subprocess.run(pytest_command(arguments, package), check=False).returncode
    return status if status in PYTEST_FINISHED else 2


def run(arguments: argparse.Namespace) -> int:
    return run_pytest(arguments, "suites")


def bench(arguments: argparse.Namespace) -> int:
    try:
        import pytest_benchmark  # noqa: F401
    except ImportError:
        raise ResultsError("the benchmarks need pytest-benchmark: pip install 'sqla-conformance[bench]'") from None
    return run_pytest(arguments, "benchmarks")


def report(arguments: argparse.Namespace) -> int:
    if not arguments.results:
        arguments.results = [DEFAULT_RESULTS]
    return reports_main.build(arguments)


COMMANDS = {
    "run": run,
    "report": report,
    "build": report,
    "gate": reports_main.gate,
    "upgrade": upgrade.run,
    "bench": bench,
}


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return COMMANDS[arguments.command](arguments)
    except ResultsError as error:
        print(f"{PROGRAM} {arguments.command}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROGRAM} {arguments.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
