"""A second opinion on our figures: SQLAlchemy's own bulk-insert benchmark, run on the same server.

``examples/performance/bulk_inserts.py`` ships in SQLAlchemy's source distribution, not in the wheel. It is
fetched once per SQLAlchemy version (``pip download --no-binary``) into ``.cache/``, or taken from
``CONFORMANCE_SQLA_SDIST`` (the ``.tar.gz`` or an unpacked tree). Each of its tests runs in a fresh Python
process, as ``python -m examples.performance bulk_inserts --test NAME --num N`` does; the database URL reaches
that process through the environment, never its command line, so no password shows in a process listing.

Run as a module (``python -m benchmarks.sqla_example ROOT ARGS...``), this file is that process.
"""

from __future__ import annotations

import os
import re
import runpy
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE = PROJECT_ROOT / ".cache"
SDIST_VARIABLE = "CONFORMANCE_SQLA_SDIST"
URL_VARIABLE = "SQLA_CONFORMANCE_EXAMPLE_DBURL"
SUITE = "bulk_inserts"
EXAMPLE_PATH = Path("examples") / "performance" / f"{SUITE}.py"
# what the example prints per test (the test's docstring may span lines), e.g.
# test_core_insert : A single Core INSERT construct inserting mappings in bulk. (100000 iterations); total time 0.33 sec
RESULT = re.compile(
    r"^(?P<test>test_\w+) : .*?\((?P<num>\d+) iterations\); total time (?P<seconds>[0-9.]+) sec$",
    flags=re.MULTILINE | re.DOTALL,
)
RUN_TIMEOUT_S = 900


class ExampleUnavailable(Exception):
    """The example cannot be fetched, or did not run: the message says why, in one line."""


@dataclass(frozen=True)
class Example:
    """An unpacked ``examples`` tree for one SQLAlchemy version, and the tests its bulk_inserts.py has."""

    root: Path  # the directory that holds ``examples/``
    version: str

    @cached_property  # asked once per measurement; the file does not change during a run
    def tests(self) -> tuple[str, ...]:
        source = (self.root / EXAMPLE_PATH).read_text(encoding="utf-8")
        return tuple(re.findall(r"^def (test_\w+)\(", source, flags=re.MULTILINE))

    def run(self, url: str, test: str, rows: int) -> float:
        """Seconds the example's ``test`` took to load ``rows`` rows, as it prints them."""
        command = [sys.executable, "-m", "benchmarks.sqla_example", str(self.root), SUITE]
        command += ["--test", test, "--num", str(rows)]
        environment = {**os.environ, URL_VARIABLE: url, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            done = subprocess.run(
                command,
                cwd=PROJECT_ROOT,
                env=environment,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ExampleUnavailable(f"{test} did not finish in {RUN_TIMEOUT_S} s") from error
        for match in RESULT.finditer(done.stdout):
            if match["test"] == test and int(match["num"]) == rows:
                return float(match["seconds"])
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise ExampleUnavailable(f"{test} printed no timing (exit {done.returncode}): {last.strip()[:300]}")


def example_for(version: str) -> Example:
    """The example tree for SQLAlchemy ``version``: from CONFORMANCE_SQLA_SDIST, the cache, or PyPI."""
    target = CACHE / f"sqlalchemy-{version}-examples"
    explicit = os.environ.get(SDIST_VARIABLE)
    if explicit:
        source = Path(explicit)
        if source.is_dir():
            root = source if (source / EXAMPLE_PATH).is_file() else None
            if root is None:
                raise ExampleUnavailable(f"{SDIST_VARIABLE}={explicit}: no {EXAMPLE_PATH} in that directory")
            return Example(root, version)
        if not source.is_file():
            raise ExampleUnavailable(f"{SDIST_VARIABLE}={explicit}: no such file")
        return Example(unpack_examples(source, target), version)
    if (target / EXAMPLE_PATH).is_file():
        return Example(target, version)
    with tempfile.TemporaryDirectory(prefix="sqla-sdist-") as download:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        fetched = subprocess.run(
            [*pip, "--dest", download, f"sqlalchemy=={version}"],
            capture_output=True,
            text=True,
            check=False,
        )
        archives = sorted(Path(download).glob("*.tar.gz"))
        if fetched.returncode != 0 or not archives:
            last = (fetched.stderr.strip().splitlines() or ["no archive downloaded"])[-1]
            raise ExampleUnavailable(f"cannot download the SQLAlchemy {version} source distribution: {last[:300]}")
        return Example(unpack_examples(archives[0], target), version)


def unpack_examples(archive: Path, target: Path) -> Path:
    """Unpack only ``examples/`` from a source distribution into ``target``; returns ``target``."""
    try:
        with tarfile.open(archive) as bundle:
            members = []
            for member in bundle.getmembers():
                parts = Path(member.name).parts
                if len(parts) > 2 and parts[1] == "examples" and (member.isfile() or member.isdir()):
                    member.name = str(Path(*parts[1:]))
                    members.append(member)
            if not members:
                raise ExampleUnavailable(f"{archive.name} has no examples/ directory")
            target.mkdir(parents=True, exist_ok=True)
            bundle.extractall(target, members=members, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise ExampleUnavailable(f"cannot unpack {archive}: {error}") from error
    if not (target / EXAMPLE_PATH).is_file():
        raise ExampleUnavailable(f"{archive.name} has no {EXAMPLE_PATH}")
    return target


def summary(test: str, rows: int, theirs: list[float], ours: list[float]) -> dict:
    """The record's ``sqlalchemy_example`` entry: the example's runs, ours paired with them, and the median of the
    pairs' ratios (the example's rows/s over ours: 1.0 means the same speed)."""
    median = statistics.median(theirs)
    return {
        "test": test,
        "runs_s": [round(value, 6) for value in theirs],
        "ours_paired_s": [round(value, 6) for value in ours],
        "median_s": median,
        "rows_per_s": rows / median if median else None,
        "ratio_to_ours": statistics.median(mine / other for mine, other in zip(ours, theirs, strict=True) if other),
    }


def main(arguments: list[str]) -> None:
    """The example's own entry point, with the database URL from the environment."""
    root, *rest = arguments
    url = os.environ.get(URL_VARIABLE)
    if not url:
        sys.exit(f"{URL_VARIABLE} is not set")
    sys.path.insert(0, root)
    sys.argv = ["python -m examples.performance", *rest, "--dburl", url]
    runpy.run_module("examples.performance", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
