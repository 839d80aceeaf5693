"""Command line: ``python -m reports build [RESULTS ...] -o DIR [--markdown FILE]``.

Exit codes: 0 ok, 1 regressions found (gate), 2 unusable input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reports.html import render_markdown, write_report
from reports.merge import load_matrix
from reports.schema import ResultsError, describe_tally

DEFAULT_RESULTS = Path("reports/results")
DEFAULT_OUTPUT = Path("reports/html")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="merge results files into an HTML report")
    build.add_argument("results", nargs="*", type=Path, help="results files or directories (default reports/results)")
    build.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="directory for index.html")
    build.add_argument("--markdown", type=Path, help="also write a Markdown summary here")
    arguments = parser.parse_args(argv)
    try:
        matrix = load_matrix(arguments.results or [DEFAULT_RESULTS])
    except ResultsError as error:
        print(f"reports: {error}", file=sys.stderr)
        return 2
    path = write_report(matrix, arguments.output)
    if arguments.markdown:
        arguments.markdown.parent.mkdir(parents=True, exist_ok=True)
        arguments.markdown.write_text(render_markdown(matrix), encoding="utf-8")
    tally = describe_tally(matrix.counts())
    print(f"report: {path} ({len(matrix.behaviours)} behaviours x {len(matrix.targets)} targets; {tally})")
    for duplicate in matrix.duplicates:
        print(f"warning: duplicate cell: {duplicate}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
