"""A second opinion on our figures: SQLAlchemy's own bulk-insert benchmark, run on the same server.

``examples/performance/bulk_inserts.py`` ships in SQLAlchemy's source distribution, not in the wheel. It is
fetched once per SQLAlchemy version (``pip download --no-binary sqlalchemy``: only SQLAlchemy itself as source,
its build tools as wheels, about 10 s) into ``.cache/``, or taken from ``CONFORMANCE_SQLA_SDIST`` (the ``.tar.gz``
or an unpacked tree). Each of its tests runs in a fresh Python
process, as ``python -m examples.performance bulk_inserts --test NAME --num N`` does; the database URL reaches
that process through the environment, never its command line, so no password shows in a process listing.

Run as a module (``python -m benchmarks.sqla_example ROOT ARGS...``), this file is that process.
"""

from __future__ import annotations

import contextlib
import os
import re
import runpy
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
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
FETCH_TIMEOUT_S = 300  # the download takes about 10 s; building anything from source would take 20 min
# what pip says when it cannot reach the package index at all ("versions: none": SQLAlchemy is always there)
UNREACHABLE = re.compile(
    r"NewConnectionError|ConnectTimeoutError|ReadTimeoutError|ProxyError|SSLError|Temporary failure in name "
    r"resolution|Name or service not known|Network is unreachable|Connection refused|No route to host|"
    r"\(from versions: none\)"
)


class ExampleUnavailable(Exception):
    """The example cannot be fetched, or did not run: the message says why, in one line."""


class IndexUnreachable(ExampleUnavailable):
    """The package index cannot be reached from here, so the source distribution cannot be fetched."""


def run_in_own_group(command: list[str], timeout: float, **options) -> subprocess.CompletedProcess:
    """``subprocess.run`` in a process group of its own, all of which is killed at ``timeout`` (pip's build
    backends and the example's interpreter would otherwise outlive it)."""
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **options,
    ) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise
    return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


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
            done = run_in_own_group(command, RUN_TIMEOUT_S, cwd=PROJECT_ROOT, env=environment)
        except subprocess.TimeoutExpired as error:
            raise ExampleUnavailable(f"{test} did not finish in {RUN_TIMEOUT_S} s") from error
        for match in RESULT.finditer(done.stdout):
            if match["test"] == test and int(match["num"]) == rows:
                return float(match["seconds"])
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise ExampleUnavailable(f"{test} printed no timing (exit {done.returncode}): {last.strip()[:300]}")


def example_for(version: str, say: Callable[[str], object] = lambda line: print(line, file=sys.stderr)) -> Example:
    """The example tree for SQLAlchemy ``version``: from CONFORMANCE_SQLA_SDIST, the cache, or PyPI (``say``
    tells the user while it is fetched)."""
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
    say(f"sqla-conformance: fetching the SQLAlchemy {version} source distribution (once, into {CACHE})")
    with tempfile.TemporaryDirectory(prefix="sqla-sdist-") as download:
        return Example(unpack_examples(download_sdist(version, Path(download)), target), version)


def download_sdist(version: str, destination: Path) -> Path:
    """SQLAlchemy's source distribution, by pip: only SQLAlchemy from source (``--no-binary :all:`` would also
    build its build tools, Cython among them, from source: 20 minutes), within FETCH_TIMEOUT_S."""
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", "sqlalchemy"]
    try:
        fetched = run_in_own_group([*pip, "--dest", str(destination), f"sqlalchemy=={version}"], FETCH_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise ExampleUnavailable(
            f"downloading the SQLAlchemy {version} source distribution took over {FETCH_TIMEOUT_S} s"
        ) from error
    archives = sorted(destination.glob("*.tar.gz"))
    if fetched.returncode == 0 and archives:
        return archives[0]
    last = (fetched.stderr.strip().splitlines() or ["no archive downloaded"])[-1].strip()
    unreachable = UNREACHABLE.search(fetched.stderr)
    if unreachable:
        # the line that says why (a connection error), rather than pip's closing "no matching distribution"
        start = fetched.stderr.rfind("\n", 0, unreachable.start()) + 1
        end = fetched.stderr.find("\n", unreachable.end())
        why = fetched.stderr[start : end if end >= 0 else None].strip()
        raise IndexUnreachable(f"the package index cannot be reached to fetch SQLAlchemy {version}: {why[:300]}")
    raise ExampleUnavailable(f"cannot download the SQLAlchemy {version} source distribution: {last[:300]}")


def unpack_examples(archive: Path, target: Path) -> Path:
    """Unpack only ``examples/`` from a source distribution into ``target``; returns ``target``. It is unpacked
    beside ``target`` and renamed into place, so a run reading the cache never sees half of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
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
            bundle.extractall(staging, members=members, filter="data")
        if not (staging / EXAMPLE_PATH).is_file():
            raise ExampleUnavailable(f"{archive.name} has no {EXAMPLE_PATH}")
        with contextlib.suppress(OSError):  # another run put the same tree there first: theirs is as good
            staging.rename(target)
    except (tarfile.TarError, OSError) as error:
        raise ExampleUnavailable(f"cannot unpack {archive}: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (target / EXAMPLE_PATH).is_file():
        raise ExampleUnavailable(f"{archive.name}: {target} holds no {EXAMPLE_PATH}")
    return target


def summary(test: str, rows: int, theirs: list[float], ours: list[float]) -> dict:
    """The record's ``sqlalchemy_example`` entry: the example's runs, ours paired with them, and the median of the
    pairs' ratios (the example's rows/s over ours: 1.0 means the same speed)."""
    median = statistics.median(theirs)
    # the ratio comes from the recorded (rounded) times, so a reader recomputing it from the record gets the
    # same number: runs of a few milliseconds lose about 1e-4 of their value to the rounding
    theirs_recorded, ours_recorded = [round(value, 6) for value in theirs], [round(value, 6) for value in ours]
    pairs = zip(ours_recorded, theirs_recorded, strict=True)
    return {
        "test": test,
        "runs_s": theirs_recorded,
        "ours_paired_s": ours_recorded,
        "median_s": median,
        "rows_per_s": rows / median if median else None,
        "ratio_to_ours": statistics.median(mine / other for mine, other in pairs if other),
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
