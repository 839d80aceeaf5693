"""Command line: ``python -m reports build|gate|upgrade ...``.

- ``build [RESULTS ...] -o DIR [--markdown FILE]``: merge results files into the HTML report and its Markdown
  summary (``DIR/summary.md`` unless ``--markdown`` says where).
- ``gate BASELINE CANDIDATE [--allow FILE] [--markdown FILE] [--html FILE] [--threshold PERCENT]``:
  compare two sets of results (files or directories) and say what blocks an upgrade.
- ``upgrade [--from REQ ...] [--to REQ ...] [--from-constraints FILE] [--to-constraints FILE]``: run the
  suites in a baseline and a candidate virtualenv, then gate (what ``tox -e upgrade`` runs).

Exit codes: 0 ok, 1 blocking changes found (gate, upgrade), 2 unusable input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from reports import history, upgrade
from reports.gate import DEFAULT_THRESHOLD_PERCENT, percent, run_gate
from reports.html import render_markdown, write_report
from reports.merge import describe_sources, load_matrix
from reports.schema import ResultsError, describe_tally

DEFAULT_RESULTS = Path("reports/results")
DEFAULT_OUTPUT = Path("reports/html")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit 2, like every other unusable input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def add_build_arguments(build: argparse.ArgumentParser, default_results: Path, default_output: Path) -> None:
    """The options of ``build`` (``sqla-conformance report`` too)."""
    build.add_argument(
        "results", nargs="*", type=Path, help=f"results files or directories (default {default_results})"
    )
    build.add_argument("-o", "--output", type=Path, default=default_output, help="directory for index.html")
    build.add_argument("--markdown", type=Path, help="the Markdown summary (default: summary.md beside index.html)")


def add_gate_arguments(gate: argparse.ArgumentParser) -> None:
    """The options of ``gate`` (``sqla-conformance gate`` too)."""
    gate.add_argument("baseline", type=Path, help="baseline results: a file or a directory of *.json")
    gate.add_argument("candidate", type=Path, help="candidate results: a file or a directory of *.json")
    gate.add_argument("--allow", type=Path, help="allow-list of reviewed, accepted changes (TOML)")
    gate.add_argument("--markdown", type=Path, help="also write a Markdown summary here (job summary, PR comment)")
    gate.add_argument("--html", type=Path, help="also write a self-contained HTML page here")
    gate.add_argument(
        "--threshold",
        type=percent,
        default=DEFAULT_THRESHOLD_PERCENT,
        help=f"benchmark slowdown threshold in percent of the baseline median (default {DEFAULT_THRESHOLD_PERCENT:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m reports", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    add_build_arguments(
        commands.add_parser("build", help="merge results files into an HTML report"),
        Path("reports/results"),
        DEFAULT_OUTPUT,
    )
    add_gate_arguments(
        commands.add_parser("gate", help="compare baseline and candidate results; exit 1 on blocking changes")
    )

    upgrade.add_arguments(commands.add_parser("upgrade", help=upgrade.__doc__.splitlines()[0]))
    history.add_arguments(commands.add_parser("history", help=history.__doc__.splitlines()[0]))
    return parser


def build(arguments: argparse.Namespace) -> int:
    matrix = load_matrix(arguments.results or [DEFAULT_RESULTS])
    path = write_report(matrix, arguments.output)
    summary = arguments.markdown or arguments.output / "summary.md"  # every report has its summary beside it
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(render_markdown(matrix), encoding="utf-8")
    for line in describe_sources(matrix):
        print(line)
    tally = describe_tally(matrix.counts())
    print(f"report: {path} ({len(matrix.behaviours)} behaviours x {len(matrix.targets)} targets; {tally})")
    print(f"summary: {summary}")
    for duplicate in matrix.duplicates:
        print(f"warning: duplicate cell: {duplicate}", file=sys.stderr)
    return 0


def gate(arguments: argparse.Namespace) -> int:
    comparison, text = run_gate(
        arguments.baseline,
        arguments.candidate,
        allow=arguments.allow,
        markdown=arguments.markdown,
        html_path=arguments.html,
        threshold_percent=arguments.threshold,
    )
    for warning in comparison.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(text, end="")
    return comparison.exit_code


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    command = {"build": build, "gate": gate, "upgrade": upgrade.run, "history": history.run}[arguments.command]
    try:
        return command(arguments)
    except ResultsError as error:
        print(f"reports {arguments.command}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
