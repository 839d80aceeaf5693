"""The upgrade gate: compare a baseline and a candidate set of results cell by cell and decide what blocks.

**Matching.** A cell is matched by behaviour id and target, where a target is backend + driver + async +
server flavour (SQLite, PostgreSQL, MariaDB, MySQL); the versions under change (SQLAlchemy, driver, server)
are ignored. When either side holds two server versions of one flavour for the same driver, the server
version joins the key for that driver and flavour on both sides. Benchmarks match by strategy + rows + row
shape + target (``benchmark.STRATEGY.ROWS[.ROW_SHAPE]``).

**Kinds of change** (``KINDS``); the first four block unless the allow-list accepts them:

- ``regression``: the outcome got worse: pass/differs -> fail/error/unsupported, unsupported -> fail/error,
  fail <-> error.
- ``missing``: a baseline cell or benchmark is absent from the candidate (missing is never a pass).
- ``drift``: the outcome class stayed, but the behaviour changed: pass <-> differs, or a difference in the
  evidence: round trips, executemany, insertmanyvalues batches, statement count or structure, exception
  classes (SQLAlchemy's and the driver's; never the message), or any observed value (shown before -> after).
  Cells that are ``error`` on both sides are not compared.
- ``slowdown``: a benchmark's candidate median exceeds the baseline median by more than the threshold
  (default 10%) AND the spreads [median - 2 IQR, median + 2 IQR] of the two sides do not overlap AND the
  physical-limit measurement of the same target and size (the control: raw DBAPI, untouched by SQLAlchemy)
  moved by no more than the threshold on its own; when it moved, the machines differed in speed or load,
  and that size is ``inconclusive`` (shown, not blocking). A strategy measured at several sizes must be
  slower at every one of them; a slowdown at some sizes only is ``inconclusive``. Both sides need
  ``MIN_ROUNDS`` rounds, else the pair is ``inconclusive`` too. (Separate runs on a shared machine differ by
  more than their own spread: these rules keep load changes from blocking, at the price of sensitivity.)
  A benchmark whose outcome got worse (measured -> unsupported/fail/error) is a regression; one whose
  evidence (round trips, statements, ...) changed is drift, whatever its timing.
- ``improvement`` (the outcome got better, or a benchmark got faster by the same rule), ``new`` (a cell or
  benchmark only the candidate has), ``inconclusive`` and ``cosmetic`` (below) are shown and never block.
  Evidence changes of an improved or regressed cell are listed with it.

**Statement shape.** Statements are compared after ``normalise_statement``: whitespace collapsed; bound
parameters (``?``, ``%s``, ``%(name)s``, ``:name``, ``$1``) become ``?``; quoted string literals become
``'?'``; numeric literals become ``N``; a run of identical parenthesised tuples becomes one tuple and a
count, ``(?, ?) ×3``. The tuple count stays part of the shape on purpose: rows per insertmanyvalues batch
are behaviour, so ``VALUES (?, ?), (?, ?)`` and ``VALUES (?, ?), (?, ?), (?, ?)`` differ. Identifiers
(``id__1``, ``p0``, ``sen_counter``), casts (``::VARCHAR``), the ``[insertmanyvalues batch]`` and
``[executemany, n parameter sets]`` markers and the transaction markers (``BEGIN (implicit)``, ``COMMIT``)
are kept. What varies between runs of the same versions is taken out:

- the run's own scratch database name (``sqlaconf_<pid>_<hex>``, in MySQL's schema-qualified statements)
  becomes ``sqlaconf_*``;
- the table options after a ``CREATE TABLE``'s closing parenthesis become a sorted list of words (MySQL
  renders reflected table options in hash order);
- statements are compared in order, except within a run of consecutive ``CREATE INDEX`` / ``DROP INDEX``
  statements, or of statements that differ only in quoted identifiers (``PRAGMA main.index_info("ix_a")``,
  ``PRAGMA main.index_info("ux_b")``): SQLAlchemy emits a table's indexes in set order, and reflection
  finds them in creation order.

The statement count leaves the transaction markers out.

**Structural or cosmetic.** A statement change blocks only when its *structure* changed: verbs, tables,
clauses, RETURNING, ORDER BY, the rows per batch, casts. ``structural_shape`` is the shape without what
does not change what the database does: identifier quoting (``"user"`` / ```user``` / ``user``), spacing,
and ``AS name`` labels and aliases (kept inside ``CAST(... AS type)``). A change in those alone is
``cosmetic``: listed with a word diff, never blocking (SQLAlchemy 2.1 dropped the select-list labels of
ORM queries, ``SELECT address.id AS address_id`` -> ``SELECT address.id``).

**SQLAlchemy's own queries** (``is_implementation_query``: catalog queries of reflection and inspection,
``pg_catalog`` / ``information_schema`` / ``sqlite_master`` / ``PRAGMA table_info``-like / ``SHOW`` /
``DESCRIBE``, and the version, schema and isolation-level probes) are implementation: their text and
number are listed as cosmetic and left out of the statement and round-trip counts. What they returned is
what counts, and the behaviours record it as observed values (the reflected columns, the level read back).

**Observed values.** Every evidence key other than the capture's own (round trips, executemany, batches,
statements, exception, and ``errors_seen``, the errors SQLAlchemy handled itself) holds observed values:
``values`` (what the test measured), ``checks`` (``[{"name", "expected", "got", "ok"}]``), ``observed``.
They are flattened to paths (``rows after commit``, ``checks / level / got``) and compared as JSON, with
object addresses (``at 0x7f..``) and the scratch database name taken out; a value recorded on one side only
is a change too. A value that holds statements is compared by structure like the statements. Values named
in ``VARIES_PER_RUN`` (server session ids) differ on every run and are not compared.

Every blocking change carries the ``[[allow]]`` entry that would accept it (``allowlist_entry``), to be
pasted after review; its reason placeholder is refused until someone writes the reason.

**Allow-list** (TOML, ``[[allow]]`` entries): ``behaviour`` (glob; benchmarks are ``benchmark.STRATEGY.ROWS``),
``target`` (a selector, matched like ``fixtures/expectations.toml`` against the candidate's target, or the
baseline's for a missing cell), optional ``change`` (a kind or a list of kinds), ``reason`` (required) and
optional ``expires`` (a date; from that day on the entry no longer allows and is reported). Allowed changes
are shown, marked allowed. An entry that matches no blocking change is warned about.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import fnmatch
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from fixtures.provision import SCRATCH_PREFIX
from fixtures.registry import SELECTOR_FIELDS, VERSION_FIELDS, selector_matches
from reports.html import report_environment
from reports.merge import Matrix, expand_paths, load_matrix
from reports.schema import ResultsError

KINDS = ("regression", "missing", "drift", "slowdown", "improvement", "new", "inconclusive", "cosmetic")
BLOCKING_KINDS = ("regression", "missing", "drift", "slowdown")
DEFAULT_THRESHOLD_PERCENT = 10.0
MIN_ROUNDS = 5
# Spreads are median +- SPREAD_FACTOR x IQR: runs on one machine minutes apart drift by more than one run's IQR.
SPREAD_FACTOR = 2
BENCHMARK_RANK = {"measured": 2, "unsupported": 1}  # fail, error and anything else rank 0
# Higher is better; a change of outcome within one rank (pass <-> differs, fail <-> error) is not an improvement.
OUTCOME_RANK = {"pass": 2, "differs": 2, "unsupported": 1, "fail": 0, "error": 0}
TRANSACTION_MARKERS = ("BEGIN (implicit)", "COMMIT", "ROLLBACK", "SAVEPOINT ", "RELEASE SAVEPOINT ")
ALLOW_FIELDS = ("behaviour", "target", "change", "reason", "expires")


# --- statement shape ---------------------------------------------------------------------------------

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|\?|(?<![:\w]):[A-Za-z_]\w*|\$\d+")
_NUMBER = re.compile(r"(?<![\w$.])\d+(?:\.\d+)?(?![\w.])")
_REPEATED_TUPLE = re.compile(r"(\([^()]*\))(?:, \1)+")
_CREATE_TABLE = re.compile(r"^CREATE TABLE ", re.IGNORECASE)
_INDEX_DDL = re.compile(r"^(CREATE (UNIQUE )?INDEX|DROP INDEX) ", re.IGNORECASE)
_QUOTED_IDENTIFIER = re.compile(r'"[^"]*"|`[^`]*`')
_SCRATCH_DATABASE = re.compile(re.escape(SCRATCH_PREFIX) + r"\d+_[0-9a-f]+")
_MORE_STATEMENTS = re.compile(r"^\.\.\. and (\d+) more$")


def normalise_statement(statement: str) -> str:
    """The shape of one statement, as the module docstring describes."""
    shape = _SCRATCH_DATABASE.sub(f"{SCRATCH_PREFIX}*", " ".join(str(statement).split()))
    shape = _STRING_LITERAL.sub("'?'", shape)
    shape = _PLACEHOLDER.sub("?", shape)
    shape = _NUMBER.sub("N", shape)
    shape = _REPEATED_TUPLE.sub(_count_tuples, shape)
    if _CREATE_TABLE.match(shape):
        columns, closing, options = shape.rpartition(")")
        shape = f"{columns}{closing} {' '.join(sorted(options.split()))}".rstrip()
    return shape


def _count_tuples(match: re.Match[str]) -> str:
    one = match.group(1)
    return f"{one} ×{(len(match.group(0)) + 2) // (len(one) + 2)}"


def is_transaction_marker(statement: str) -> bool:
    return statement in TRANSACTION_MARKERS[:3] or statement.startswith(TRANSACTION_MARKERS[3:])


def count_statements(statements: list[str]) -> int:
    """Cursor statements, without transaction markers; the capture's ``... and N more`` line counts as N."""
    count = 0
    for statement in statements:
        more = _MORE_STATEMENTS.match(statement)
        if more:
            count += int(more.group(1))
        elif not is_transaction_marker(statement):
            count += 1
    return count


# --- targets -----------------------------------------------------------------------------------------


def flavour_of(target: dict[str, Any]) -> str:
    flavour = target.get("flavour") or str(target.get("server", "")).split(" ", 1)[0] or target.get("backend")
    return str(flavour)


def target_group(target: dict[str, Any]) -> tuple[str, str, bool, str]:
    return (str(target["backend"]), str(target["driver"]), bool(target.get("async", False)), flavour_of(target))


def mode_of(target: dict[str, Any]) -> str:
    """The SQLAlchemy mode of a target: "legacy" (1.4 with future=False) or "future" (also results without it)."""
    return str(target.get("sqlalchemy_mode") or "future")


def server_version_of(target: dict[str, Any]) -> str:
    return str(target.get("server_version") or target.get("server", ""))


def describe_target(target: dict[str, Any], with_version: bool = False) -> str:
    """``postgresql/psycopg (PostgreSQL)``; ``async`` and the server version when they tell targets apart."""
    backend, driver, is_async, flavour = target_group(target)
    label = f"{backend}/{driver}{' async' if is_async else ''} ({flavour}"
    return label + (f" {server_version_of(target)})" if with_version else ")")


# --- sides -------------------------------------------------------------------------------------------


@dataclass
class Side:
    """One side of the comparison: its files, merged."""

    name: str
    path: Path
    files: list[Path]
    matrix: Matrix

    def versions(self) -> dict[str, str]:
        """Package versions of its runs; a package with two versions on this side shows both."""
        seen: dict[str, set[str]] = {}
        for run in self.matrix.runs:
            packages = {"SQLAlchemy": run.get("sqlalchemy"), **(run.get("packages") or {})}
            if run.get("sqlalchemy_mode") == "legacy" and packages["SQLAlchemy"]:  # 1.4 with future=False
                packages["SQLAlchemy"] = f"{packages['SQLAlchemy']} (legacy mode)"
            for name, version in packages.items():
                if version:
                    seen.setdefault(name, set()).add(str(version))
        return {name: " + ".join(sorted(versions)) for name, versions in sorted(seen.items(), key=_casefold_first)}

    def modes(self) -> dict[tuple, set[str]]:
        found: dict[tuple, set[str]] = {}
        for target in self.matrix.targets.values():
            found.setdefault(target_group(target), set()).add(mode_of(target))
        return found

    def servers(self) -> dict[tuple, set[str]]:
        found: dict[tuple, set[str]] = {}
        for target in self.matrix.targets.values():
            found.setdefault(target_group(target), set()).add(server_version_of(target))
        for benchmark in self.matrix.benchmarks:
            if has_target(benchmark):  # benchmarks_by_key refuses the others
                found.setdefault(target_group(benchmark["target"]), set()).add(server_version_of(benchmark["target"]))
        return found


def _casefold_first(item: tuple[str, Any]) -> str:
    return item[0].casefold()


def load_side(name: str, path: Path) -> Side:
    files = expand_paths([path])
    if not files:
        raise ResultsError(f"{name} {path}: no results files (*.json) in this directory")
    try:
        matrix = load_matrix(files)
    except ResultsError as error:
        raise ResultsError(f"{name}: {error}") from None
    if matrix.duplicates:
        raise ResultsError(f"{name}: {matrix.duplicates[0]}")
    return Side(name, path, files, matrix)


def load_sides(baseline: Path, candidate: Path) -> tuple[Side, Side]:
    for name, path in (("baseline", baseline), ("candidate", candidate)):
        if not path.exists():
            raise ResultsError(f"{name} {path}: no such file or directory")
    baseline_side = load_side("baseline", baseline)
    candidate_side = load_side("candidate", candidate)
    shared = {file.resolve() for file in baseline_side.files} & {file.resolve() for file in candidate_side.files}
    if shared:
        raise ResultsError(f"{sorted(shared)[0]} is given as both baseline and candidate; compare two different runs")
    return baseline_side, candidate_side


# --- changes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """One allow-list entry: a reviewed change that is accepted."""

    number: int
    behaviour: str
    reason: str
    target: dict[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()
    expires: datetime.date | None = None

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and today >= self.expires

    def matches(self, change: Change) -> bool:
        return (
            change.kind in BLOCKING_KINDS
            and (not self.kinds or change.kind in self.kinds)
            and fnmatch.fnmatchcase(change.subject, self.behaviour)
            and selector_matches(self.target, change.target)
        )

    def describe(self) -> str:
        selector = ", ".join(f"{name}={value}" for name, value in self.target.items()) or "any target"
        kinds = f" ({', '.join(self.kinds)})" if self.kinds else ""
        return f"allow-list entry {self.number}: {self.behaviour} on {selector}{kinds}"


@dataclass
class Change:
    """One difference between the sides, with what the terminal, Markdown and HTML say about it."""

    kind: str
    subject: str  # behaviour id, or benchmark.STRATEGY.ROWS
    target: dict[str, Any]
    where: str  # the target, described
    summary: str
    details: list[str] = field(default_factory=list)
    statement_index: int | None = None  # 1-based position of the first differing statement
    statement_before: str | None = None
    statement_after: str | None = None
    cosmetic: list[str] = field(default_factory=list)  # listed, never blocking: labels, quoting, own queries
    allow_entry: str | None = None  # the allow-list entry that would accept this change, to paste after review
    allowed_by: Allowance | None = None
    expired: list[Allowance] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return self.kind in BLOCKING_KINDS and self.allowed_by is None

    @property
    def status(self) -> str:
        if self.allowed_by is not None:
            return "allowed"
        return "blocking" if self.kind in BLOCKING_KINDS else "shown"


@dataclass
class Comparison:
    baseline: Side
    candidate: Side
    threshold_percent: float
    changes: list[Change] = field(default_factory=list)
    matched_cells: int = 0
    matched_benchmarks: int = 0
    targets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Change]:
        return [change for change in self.changes if change.blocking]

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0

    def of_kind(self, kind: str) -> list[Change]:
        return [change for change in self.changes if change.kind == kind]

    def counts(self) -> dict[str, int]:
        return {kind: len(self.of_kind(kind)) for kind in KINDS}

    def version_changes(self) -> list[tuple[str, str, str]]:
        """(package, baseline version, candidate version) for every package whose version differs."""
        before, after = self.baseline.versions(), self.candidate.versions()
        return [
            (name, before.get(name, "-"), after.get(name, "-"))
            for name in sorted(set(before) | set(after), key=str.casefold)
            if before.get(name) != after.get(name)
        ]

    def verdict(self) -> str:
        blocking = len(self.blocking)
        if blocking:
            return f"BLOCKED: {blocking} blocking change{'s' if blocking != 1 else ''} (exit 1)"
        allowed = sum(1 for change in self.changes if change.allowed_by is not None)
        return "PASSED: nothing blocking" + (f" ({allowed} allowed)" if allowed else "") + " (exit 0)"


class Keys:
    """Gate keys for targets: the versions under change left out, unless a side needs them to tell targets apart.
    The SQLAlchemy mode (1.4 legacy / future) is under change too: ``1.4 legacy -> 2.0`` compares cell by cell,
    and the mode joins the key only where one side holds both modes of a target."""

    def __init__(self, *sides: Side) -> None:
        servers: dict[tuple, set[str]] = {}
        moded: set[tuple] = set()
        for side in sides:
            for group, versions in side.servers().items():
                if len(versions) > 1:
                    servers.setdefault(group, set()).update(versions)
            moded.update(group for group, modes in side.modes().items() if len(modes) > 1)
        self.versioned = set(servers)
        self.moded = moded

    def key(self, target: dict[str, Any]) -> tuple:
        group = target_group(target)
        mode = (mode_of(target),) if group in self.moded else ()
        return (*group, server_version_of(target) if group in self.versioned else "", *mode)

    def describe(self, target: dict[str, Any]) -> str:
        group = target_group(target)
        legacy = " legacy mode" if group in self.moded and mode_of(target) == "legacy" else ""
        return describe_target(target, with_version=group in self.versioned) + legacy


def cells_by_key(side: Side, keys: Keys) -> dict[tuple[str, tuple], dict[str, Any]]:
    cells: dict[tuple[str, tuple], dict[str, Any]] = {}
    for cell in side.matrix.cells.values():
        slot = (cell["behaviour"], keys.key(cell["target"]))
        if slot in cells:
            raise ResultsError(
                f"{side.name}: {cell['behaviour']} on {keys.describe(cell['target'])} appears twice "
                f"({cells[slot]['source']}, {cell['source']}); give one run per target on each side"
            )
        cells[slot] = cell
    return cells


def has_target(benchmark: Any) -> bool:
    target = benchmark.get("target") if isinstance(benchmark, dict) else None
    return isinstance(target, dict) and "backend" in target and "driver" in target


def benchmark_id(benchmark: dict[str, Any]) -> str:
    """``benchmark.STRATEGY.ROWS``, and ``.ROW_SHAPE`` when the measurement names one."""
    shape = f".{benchmark['row_shape']}" if benchmark.get("row_shape") else ""
    return f"benchmark.{benchmark.get('strategy', '?')}.{benchmark.get('rows', '?')}{shape}"


def benchmarks_by_key(side: Side, keys: Keys) -> dict[tuple[str, tuple], dict[str, Any]]:
    found: dict[tuple[str, tuple], dict[str, Any]] = {}
    for number, benchmark in enumerate(side.matrix.benchmarks, start=1):
        if not has_target(benchmark):
            raise ResultsError(f"{side.name}: benchmark {number} has no target with a backend and a driver")
        slot = (benchmark_id(benchmark), keys.key(benchmark["target"]))
        if slot in found:
            raise ResultsError(
                f"{side.name}: {slot[0]} on {keys.describe(benchmark['target'])} appears twice; "
                "give one run per target on each side"
            )
        found[slot] = benchmark
    return found


# --- comparing cells ---------------------------------------------------------------------------------


def classify_outcomes(before: str, after: str) -> str | None:
    """The kind an outcome change alone makes, or None when the outcome stayed."""
    if before == after:
        return None
    if OUTCOME_RANK[after] < OUTCOME_RANK[before] or OUTCOME_RANK[after] == OUTCOME_RANK[before] == 0:
        return "regression"
    if OUTCOME_RANK[after] > OUTCOME_RANK[before]:
        return "improvement"
    return "drift"  # pass <-> differs: still as documented, but the behaviour changed


def describe_exception(exception: Any) -> str:
    if not isinstance(exception, dict):
        return "none"
    main, driver = exception.get("sqlalchemy"), exception.get("dbapi")
    if main and driver:
        return f"{main} ({driver})"
    return str(main or driver or "none")


def exception_classes(exception: Any) -> tuple[Any, Any]:
    if not isinstance(exception, dict):
        return (None, None)
    return (exception.get("sqlalchemy"), exception.get("dbapi"))


def yes_no(value: Any) -> str:
    return "yes" if value else "no"


def evidence_changes(before: dict[str, Any], after: dict[str, Any], change: Change) -> None:
    """Add one detail line per evidence field that differs; fields either side lacks are not compared.

    Counts (statements, round trips) leave SQLAlchemy's own queries out: how many catalog queries a
    reflection takes is implementation; what it reflected is among the observed values.
    """
    statements = [side.get("statements") for side in (before, after)]
    compare_statements = all(isinstance(listed, list) for listed in statements)
    own_queries = (0, 0)
    if compare_statements:
        statements = [[str(statement) for statement in listed] for listed in statements]
        own_queries = tuple(sum(map(is_implementation_query, listed)) for listed in statements)
        counted = [count_statements(listed) - own for listed, own in zip(statements, own_queries, strict=True)]
        if counted[0] != counted[1]:
            change.details.append(f"statements {counted[0]} -> {counted[1]}")
    round_trips = [side.get("round_trips") for side in (before, after)]
    if all(isinstance(count, int) for count in round_trips):
        round_trips = [count - own for count, own in zip(round_trips, own_queries, strict=True)]
        if round_trips[0] != round_trips[1]:
            change.details.append(f"round trips {round_trips[0]} -> {round_trips[1]}")
    for name, label, show in (
        ("insertmanyvalues_batches", "insertmanyvalues batches", str),
        ("executemany", "executemany", yes_no),
    ):
        if name in before and name in after and before[name] != after[name]:
            change.details.append(f"{label} {show(before[name])} -> {show(after[name])}")
    exceptions = before.get("exception"), after.get("exception")
    if (
        "exception" in before
        and "exception" in after
        and exception_classes(exceptions[0]) != exception_classes(exceptions[1])
    ):
        change.details.append(f"exception {describe_exception(exceptions[0])} -> {describe_exception(exceptions[1])}")
    if compare_statements:
        compare_statement_shapes(statements[0], statements[1], change)


# --- statements: structural, cosmetic, implementation ------------------------------------------------

# SQLAlchemy's own queries: reflection / inspection catalog queries and the version, schema and
# isolation-level probes. Their text is implementation (listed, never blocking); what they return is
# compared through the values the behaviour observed (the reflected schema, the level read back).
_IMPLEMENTATION_QUERY = re.compile(
    r"""
    \b(pg_catalog|information_schema)\.                     # PostgreSQL / MySQL catalogs
    | \bFROM\s+pg_\w+                                       # pg_class, pg_namespace, ... unqualified
    | ^PRAGMA\s+(\w+\.)?(table_x?info|index_list|index_x?info|foreign_key_list|database_list
                          |read_uncommitted)\b               # SQLite reflection, isolation-level probe
    | \bFROM\s+(\w+\.)?sqlite_(temp_)?(master|schema)\b    # SQLite schema table
    | ^SHOW\s                                                # MySQL SHOW ..., PostgreSQL SHOW ...
    | ^DESCRIBE\s
    | ^SELECT\s+@@                                           # MySQL variables (version, isolation, sql_mode)
    | ^SELECT\s+(pg_catalog\.)?(version|current_schema|current_database|DATABASE)\(\)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CAPTURE_PREFIX = re.compile(r"^\[(insertmanyvalues batch|executemany, \d+ parameter sets)\] ")
# one token: a literal, a (partly quoted, dotted) name such as "user".id or `db`.`t`, "::", or one character
_SHAPE_TOKEN = re.compile(r"'\?'|(?:\"[^\"]*\"|`[^`]*`|[\w$*×]+)(?:\.(?:\"[^\"]*\"|`[^`]*`|[\w$*]+))*|::|\S")
_CAST_FUNCTIONS = {"CAST", "TRY_CAST", "CONVERT"}
_DDL = re.compile(r"(CREATE|ALTER|DROP|COMMENT)\b", re.IGNORECASE)
_NOT_AN_ALIAS = {"SELECT", "WITH", "VALUES", "(", "NOT", "MATERIALIZED", "IDENTITY", "ON", "ROW", "RANGE"}


def is_implementation_query(statement: str) -> bool:
    """A query SQLAlchemy issues for its own purposes (catalog, version, isolation level), not the behaviour's SQL."""
    text = str(statement)
    return bool(_IMPLEMENTATION_QUERY.search(_CAPTURE_PREFIX.sub("", text).strip()))


def structural_shape(statement: str) -> str:
    """The shape with its cosmetics taken out: identifier quoting, select-list labels and aliases, spacing.

    ``AS name`` is dropped in queries and DML, except inside ``CAST(... AS type)``, where it changes the
    meaning; DDL keeps it (``CREATE SEQUENCE s AS BIGINT``, ``GENERATED ALWAYS AS``).
    """
    tokens = [token for token in _SHAPE_TOKEN.findall(normalise_statement(statement)) if not token.isspace()]
    is_ddl = _DDL.match(_CAPTURE_PREFIX.sub("", str(statement)).lstrip()) is not None
    kept: list[str] = []
    casts: list[bool] = []  # per open parenthesis: whether it belongs to a CAST
    skip_next = False
    for number, token in enumerate(tokens):
        if skip_next:
            skip_next = False
            continue
        if token == "(":
            casts.append(bool(kept) and kept[-1].upper() in _CAST_FUNCTIONS)
        elif token == ")" and casts:
            casts.pop()
        following = tokens[number + 1] if number + 1 < len(tokens) else ""
        in_cast = bool(casts) and casts[-1]
        is_alias = following and following.upper() not in _NOT_AN_ALIAS
        if token.upper() == "AS" and not is_ddl and not in_cast and is_alias:
            skip_next = True
            continue
        kept.append(_unquote(token))
    return " ".join(kept)


def _unquote(token: str) -> str:
    return token.replace('"', "").replace("`", "") if token[0] in '"`' else token


def order_free_group(shape: str) -> str:
    """Consecutive statements of one group are compared without their order (see the module docstring)."""
    return "index DDL" if _INDEX_DDL.match(shape) else _QUOTED_IDENTIFIER.sub('"?"', shape)


def shapes_in_comparable_order(statements: list[str]) -> list[tuple[str, str]]:
    """(shape, statement) pairs, each run of consecutive statements of one order-free group sorted by shape."""
    ordered: list[tuple[str, str]] = []
    run: list[tuple[str, str]] = []
    for statement in statements:
        pair = (normalise_statement(statement), statement)
        if run and order_free_group(run[0][0]) != order_free_group(pair[0]):
            ordered += sorted(run)
            run = []
        run.append(pair)
    return ordered + sorted(run)


def first_difference(before: list[str], after: list[str]) -> int | None:
    """The index of the first statement whose shape differs, or None when both lists have the same shapes."""
    if before == after:
        return None
    return next(
        (number for number, (one, other) in enumerate(zip(before, after, strict=False)) if one != other),
        min(len(before), len(after)),
    )


def compare_statement_shapes(before: list[str], after: list[str], change: Change) -> None:
    """Structural differences of the behaviour's own statements block; cosmetic ones and changes to
    SQLAlchemy's own queries are listed (``change.cosmetic``)."""
    own_before = [statement for statement in before if is_implementation_query(statement)]
    own_after = [statement for statement in after if is_implementation_query(statement)]
    mine_before = [statement for statement in before if not is_implementation_query(statement)]
    mine_after = [statement for statement in after if not is_implementation_query(statement)]
    pairs_before, pairs_after = shapes_in_comparable_order(mine_before), shapes_in_comparable_order(mine_after)
    structural = first_difference(
        [structural_shape(statement) for _, statement in pairs_before],
        [structural_shape(statement) for _, statement in pairs_after],
    )
    if structural is not None:
        change.statement_index = structural + 1
        change.statement_before = pairs_before[structural][1] if structural < len(pairs_before) else None
        change.statement_after = pairs_after[structural][1] if structural < len(pairs_after) else None
        change.details.append(f"statement shape changed from statement {structural + 1} on")
    else:
        cosmetic = [
            (one[1], other[1]) for one, other in zip(pairs_before, pairs_after, strict=True) if one[0] != other[0]
        ]
        if cosmetic:
            change.cosmetic.append(
                f"{len(cosmetic)} statement{'s' if len(cosmetic) != 1 else ''} changed only in labels, aliases, "
                f"quoting or spacing, e.g. {word_diff_text(*cosmetic[0])}"
            )
    if sorted(map(normalise_statement, own_before)) != sorted(map(normalise_statement, own_after)):
        change.cosmetic.append(
            f"SQLAlchemy's own catalog / probe queries changed ({len(own_before)} -> {len(own_after)} statements); "
            "their text is implementation, what they returned is compared as observed values"
        )


# --- word-level diff ---------------------------------------------------------------------------------

_DIFF_TOKEN = re.compile(r"\s+|[(),]|[^\s(),]+")
DIFF_CONTEXT_TOKENS = 24  # unchanged stretches longer than twice this are shortened in the middle


def word_diff(before: str | None, after: str | None) -> list[tuple[str, str]]:
    """(operation, text) runs: ``=`` unchanged, ``-`` only before, ``+`` only after; words, not characters."""
    old, new = _DIFF_TOKEN.findall(before or ""), _DIFF_TOKEN.findall(after or "")
    runs: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for operation, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if operation == "equal":
            runs.append(("=", _shorten_unchanged(old[old_start:old_end])))
            continue
        if old_end > old_start:
            runs.append(("-", "".join(old[old_start:old_end])))
        if new_end > new_start:
            runs.append(("+", "".join(new[new_start:new_end])))
    return runs


def _shorten_unchanged(tokens: list[str]) -> str:
    if len(tokens) <= 2 * DIFF_CONTEXT_TOKENS + 1:
        return "".join(tokens)
    return "".join(tokens[:DIFF_CONTEXT_TOKENS]) + " … " + "".join(tokens[-DIFF_CONTEXT_TOKENS:])


def word_diff_text(before: str | None, after: str | None) -> str:
    """The word diff on one line, ``[-removed-]{+added+}`` as ``git diff --word-diff`` writes it."""
    marks = {"=": "{}", "-": "[-{}-]", "+": "{{+{}+}}"}
    return "".join(marks[operation].format(text) for operation, text in word_diff(before, after))


# --- observed values ---------------------------------------------------------------------------------

# Evidence keys that are not observed values: compared above, (errors_seen) the database errors SQLAlchemy
# met and handled itself (a has_table probe), which are implementation, and the values a test declared
# to differ on every run (``Capture.measure(..., varies_per_run=True)``).
NOT_OBSERVED = (
    "round_trips",
    "executemany",
    "insertmanyvalues_batches",
    "statements",
    "exception",
    "errors_seen",
    "values_varying_per_run",
)
_MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SQL_TEXT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH|PRAGMA)\s", re.IGNORECASE)
VALUE_TEXT_LIMIT = 600


# Values that differ between two runs of the same versions, recorded before ``varies_per_run`` existed:
# the server's session / process ids a pool behaviour records to show that a connection was replaced.
VARIES_PER_RUN = re.compile(
    r"\b(server sessions?|session ids?|backend pids?|pids?|process ids?|connection ids?)\b", re.I
)


def observed_values(evidence: dict[str, Any]) -> dict[str, Any]:
    """Every observed value of a cell by a readable path: ``values`` (what the test measured), ``checks`` /
    ``observed`` (the checks it ran), and any other evidence key that is not one of ``NOT_OBSERVED``."""
    found: dict[str, Any] = {}
    for key, value in evidence.items():
        if key not in NOT_OBSERVED:
            _flatten([] if key == "values" else [key], value, found)
    return {path: value for path, value in found.items() if not VARIES_PER_RUN.search(path)}


def _flatten(path: list[str], value: Any, found: dict[str, Any]) -> None:
    if isinstance(value, dict):  # an empty one records nothing
        for key, item in value.items():
            _flatten([*path, str(key)], item, found)
    elif isinstance(value, list) and value and all(isinstance(item, dict) and "name" in item for item in value):
        for item in value:  # a list of named checks: {"name": ..., "expected": ..., "got": ...}
            rest = {key: field for key, field in item.items() if key != "name"}
            _flatten([*path, str(item["name"])], rest, found)
    else:
        found[" / ".join(path) or "value"] = value


def comparable_value(value: Any) -> str:
    """A value as compared: JSON text, memory addresses of object reprs and the run's scratch database out."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    text = _MEMORY_ADDRESS.sub(" at 0x…", text)
    return _SCRATCH_DATABASE.sub(f"{SCRATCH_PREFIX}*", text)


def sql_texts(value: Any) -> list[str] | None:
    """The statements a value holds (a statement, or a list of them), or None when it is not SQL."""
    texts = value if isinstance(value, list) else [value]
    if texts and all(isinstance(text, str) and _SQL_TEXT.match(text) for text in texts):
        return texts
    return None


def shown_elsewhere(path: str, values_before: dict[str, Any], values_after: dict[str, Any]) -> bool:
    """A check's ``got`` that the test also recorded as the measured value of the same name, with the same change."""
    prefix, _, name = path.partition(" / ")
    name, _, field_name = name.rpartition(" / ")
    if prefix != "checks" or field_name != "got" or name not in values_before or name not in values_after:
        return False
    return (comparable_value(values_before[name]), comparable_value(values_after[name])) == (
        comparable_value(values_before[path]) if path in values_before else None,
        comparable_value(values_after[path]) if path in values_after else None,
    )


def same_structure(one: Any, other: Any) -> bool:
    """Whether two recorded values are statements that differ only in their cosmetics."""
    statements = sql_texts(one), sql_texts(other)
    if statements[0] is None or statements[1] is None:
        return False
    return [structural_shape(text) for text in statements[0]] == [structural_shape(text) for text in statements[1]]


def texts(*values: Any) -> list[str]:
    return [" ; ".join(value) if isinstance(value, list) else str(value) for value in values]


def compare_observed_values(before: dict[str, Any], after: dict[str, Any], change: Change) -> None:
    """A changed observed value is drift, shown before -> after; a recorded statement that changed only
    cosmetically is listed as cosmetic."""
    values_before, values_after = observed_values(before), observed_values(after)
    for path in sorted(set(values_before) | set(values_after), key=str.casefold):
        one, other = values_before.get(path, ABSENT), values_after.get(path, ABSENT)
        if comparable_value(one) == comparable_value(other) or shown_elsewhere(path, values_before, values_after):
            continue
        if same_structure(one, other):
            change.cosmetic.append(
                f"value {path}: statements differ only cosmetically: {word_diff_text(*texts(one, other))}"
            )
            continue
        change.details.append(f"value {path}: {show_value(one)} -> {show_value(other)}")


class _Absent:
    def __repr__(self) -> str:
        return "(not recorded)"


ABSENT: Any = _Absent()


def show_value(value: Any) -> str:
    if value is ABSENT:
        return "(not recorded)"
    return one_line(json.dumps(value, ensure_ascii=False, default=repr), VALUE_TEXT_LIMIT)


def summarise(leading: list[str], change: Change) -> str:
    """One line: ``leading``, the evidence changes, and where the statement shape first differs."""
    values = [detail for detail in change.details if detail.startswith("value ")]
    parts = [*leading, *(detail for detail in change.details if not detail.startswith(("statement shape", "value ")))]
    if values:
        parts.append(f"{len(values)} observed value{'s' if len(values) != 1 else ''} changed")
    if change.statement_index is not None:
        parts.append(f"statement shape changed at statement {change.statement_index}")
    return "; ".join(parts)


def compare_cell(before: dict[str, Any], after: dict[str, Any], subject: str, where: str) -> Change | None:
    outcome_kind = classify_outcomes(before["outcome"], after["outcome"])
    change = Change(outcome_kind or "drift", subject, after["target"], where, "")
    if not (before["outcome"] == "error" and after["outcome"] == "error"):
        evidence_changes(before.get("evidence") or {}, after.get("evidence") or {}, change)
        compare_observed_values(before.get("evidence") or {}, after.get("evidence") or {}, change)
    if outcome_kind is None and not change.details:
        if not change.cosmetic:
            return None
        change.kind = "cosmetic"
        notes = len(change.cosmetic)
        change.summary = f"{after['outcome']} on both sides; {notes} cosmetic change{'s' if notes != 1 else ''}, listed"
        return change
    outcome = f"{before['outcome']} -> {after['outcome']}" if outcome_kind else f"{after['outcome']} on both sides"
    change.summary = summarise([outcome], change)
    # why the worse side is worse: the candidate's reason for a regression, the baseline's for an improvement
    worse_side, worse = ("candidate", after) if outcome_kind == "regression" else ("baseline", before)
    if outcome_kind in ("regression", "improvement") and worse.get("reason"):
        change.details.insert(0, f"{worse_side} reason: {one_line(worse['reason'])}")
    return change


def one_line(text: Any, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- comparing benchmarks ----------------------------------------------------------------------------


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} µs"


def judge_timing(before: dict[str, Any], after: dict[str, Any], threshold_percent: float) -> tuple[str, str | None]:
    """The timing line, and ``slowdown`` / ``improvement`` / ``inconclusive`` or None (no clear difference).

    Slower (or faster) only when the medians differ by more than the threshold AND the spreads
    [median - SPREAD_FACTOR x IQR, median + SPREAD_FACTOR x IQR] of the two sides do not overlap.
    """
    measured = [(side.get("median_s"), side.get("iqr_s"), side.get("rounds")) for side in (before, after)]
    usable = all(
        isinstance(median, int | float) and isinstance(iqr, int | float) and median > 0 and iqr >= 0
        and isinstance(rounds, int) and rounds >= MIN_ROUNDS
        for median, iqr, rounds in measured
    )  # fmt: skip
    if not usable:
        return f"timing not compared: each side needs median_s, iqr_s and at least {MIN_ROUNDS} rounds", "inconclusive"
    (median_before, iqr_before, rounds_before), (median_after, iqr_after, rounds_after) = measured
    timing = (
        f"median {seconds(median_before)} -> {seconds(median_after)} "
        f"({(median_after / median_before - 1) * 100:+.1f}%), IQR {seconds(iqr_before)} / {seconds(iqr_after)}, "
        f"rounds {rounds_before} / {rounds_after}"
    )
    factor = 1 + threshold_percent / 100
    low_after, high_before = median_after - SPREAD_FACTOR * iqr_after, median_before + SPREAD_FACTOR * iqr_before
    if median_after > median_before * factor and low_after > high_before:
        return timing, "slowdown"
    low_before, high_after = median_before - SPREAD_FACTOR * iqr_before, median_after + SPREAD_FACTOR * iqr_after
    if median_before > median_after * factor and low_before > high_after:
        return timing, "improvement"
    return timing, None


def control_moved(before: dict[str, Any], after: dict[str, Any], threshold_percent: float) -> str | None:
    """Why timings are not comparable when the physical-limit measurement itself moved by more than the threshold."""
    medians = before.get("median_s"), after.get("median_s")
    if not all(isinstance(median, int | float) and median > 0 for median in medians):
        return None
    moved = medians[1] / medians[0] - 1
    if abs(moved) * 100 <= threshold_percent:
        return None
    return (
        f"the physical limit moved {seconds(medians[0])} -> {seconds(medians[1])} ({moved * 100:+.1f}%): the runs' "
        "machines differed in speed or load, so timings at this size on this target are not compared"
    )


def compare_benchmark(
    before: dict[str, Any],
    after: dict[str, Any],
    subject: str,
    where: str,
    threshold_percent: float,
    control: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> Change | None:
    """A measurement that stopped working, changed evidence (round trips, statements), or a clear timing change.

    ``control`` is the physical-limit measurement at the same size on both sides: when it moved, the
    machines differed, and a timing difference says nothing about the upgrade.
    """
    outcomes = str(before.get("outcome", "measured")), str(after.get("outcome", "measured"))
    change = Change("drift", subject, after["target"], where, "")
    if outcomes[0] != outcomes[1]:
        better = BENCHMARK_RANK.get(outcomes[1], 0) > BENCHMARK_RANK.get(outcomes[0], 0)
        change.kind = "improvement" if better else "regression"
        reason = (before if better else after).get("reason")
        change.summary = f"{outcomes[0]} -> {outcomes[1]}" + (f": {one_line(reason)}" if reason else "")
        return change
    if outcomes[0] != "measured":
        return None
    evidence_changes(before, after, change)
    timing, verdict = judge_timing(before, after, threshold_percent)
    if change.details:  # the loading strategy behaves differently: drift, whatever the timing says
        change.summary = summarise([], change) + f"; {timing}"
        return change
    if before.get("is_limit") or after.get("is_limit"):
        moved = control_moved(before, after, threshold_percent)
        return Change("inconclusive", subject, after["target"], where, f"{moved}; {timing}") if moved else None
    if control is not None and control_moved(*control, threshold_percent):
        return None  # the physical limit's own line says why
    if verdict is not None:
        return Change(verdict, subject, after["target"], where, timing)
    return None


def physical_limits(
    before_benchmarks: dict[tuple[str, tuple], dict[str, Any]],
    after_benchmarks: dict[tuple[str, tuple], dict[str, Any]],
) -> dict[tuple, tuple[dict[str, Any], dict[str, Any]]]:
    """(rows, row shape, target key) -> the physical-limit measurement on both sides, where both have one."""
    controls = {}
    for slot, before in before_benchmarks.items():
        after = after_benchmarks.get(slot)
        if before.get("is_limit") and after is not None and after.get("is_limit"):
            controls[(before.get("rows"), before.get("row_shape"), slot[1])] = (before, after)
    return controls


# --- the comparison ----------------------------------------------------------------------------------


def compare(baseline: Side, candidate: Side, threshold_percent: float = DEFAULT_THRESHOLD_PERCENT) -> Comparison:
    keys = Keys(baseline, candidate)
    comparison = Comparison(baseline, candidate, threshold_percent)
    before_cells, after_cells = cells_by_key(baseline, keys), cells_by_key(candidate, keys)
    for slot in sorted(set(before_cells) | set(after_cells)):
        before, after = before_cells.get(slot), after_cells.get(slot)
        subject = slot[0]
        where = keys.describe((after or before or {})["target"])
        if after is None:
            summary = f"{before['outcome']} -> missing: the candidate has no result for this cell"
            comparison.changes.append(Change("missing", subject, before["target"], where, summary))
        elif before is None:
            summary = f"new cell: {after['outcome']}"
            comparison.changes.append(Change("new", subject, after["target"], where, summary))
        else:
            comparison.matched_cells += 1
            change = compare_cell(before, after, subject, where)
            if change is not None:
                comparison.changes.append(change)
    compare_benchmarks(baseline, candidate, keys, comparison)
    comparison.targets = sorted(
        {keys.describe(cell["target"]) for side in (baseline, candidate) for cell in side.matrix.cells.values()}
    )
    comparison.changes.sort(key=lambda change: (KINDS.index(change.kind), change.subject, change.where))
    sqlalchemy_changed = any(name.casefold() == "sqlalchemy" for name, _, _ in comparison.version_changes())
    for change in comparison.changes:
        if change.kind in BLOCKING_KINDS:
            change.allow_entry = allowlist_entry(change, sqlalchemy_changed)
    return comparison


def compare_benchmarks(baseline: Side, candidate: Side, keys: Keys, comparison: Comparison) -> None:
    """Benchmark changes; a timing change counts only when the strategy shows it at every size measured."""
    before_benchmarks, after_benchmarks = benchmarks_by_key(baseline, keys), benchmarks_by_key(candidate, keys)
    controls = physical_limits(before_benchmarks, after_benchmarks)
    sizes: dict[tuple, list[Any]] = {}  # (strategy, row shape, target key) -> the sizes compared
    timed: dict[tuple, list[Change]] = {}
    for slot in sorted(set(before_benchmarks) | set(after_benchmarks)):
        before, after = before_benchmarks.get(slot), after_benchmarks.get(slot)
        where = keys.describe((after or before or {})["target"])
        if after is None:
            summary = "missing: the candidate has no measurement for this benchmark"
            comparison.changes.append(Change("missing", slot[0], before["target"], where, summary))
            continue
        if before is None:
            summary = f"new benchmark: median {seconds(float(after.get('median_s') or 0))}"
            comparison.changes.append(Change("new", slot[0], after["target"], where, summary))
            continue
        comparison.matched_benchmarks += 1
        group = (before.get("strategy"), before.get("row_shape"), slot[1])
        sizes.setdefault(group, []).append(before.get("rows"))
        control = controls.get((before.get("rows"), before.get("row_shape"), slot[1]))
        change = compare_benchmark(before, after, slot[0], where, comparison.threshold_percent, control)
        if change is None:
            continue
        comparison.changes.append(change)
        if change.kind in ("slowdown", "improvement") and not change.details:
            timed.setdefault(group, []).append(change)
    for group, changes in timed.items():
        for kind, direction in (("slowdown", "slower"), ("improvement", "faster")):
            same = [change for change in changes if change.kind == kind]
            if len(same) == len(sizes[group]):
                continue
            measured = ", ".join(str(rows) for rows in sizes[group])
            for change in same:
                change.kind = "inconclusive"
                change.summary += f"; {direction} at this size only, not at every size measured ({measured} rows)"


# --- the allow-list ----------------------------------------------------------------------------------


ALLOW_EXPIRY_DAYS = 90
REASON_PLACEHOLDER = "FILL IN"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def allowlist_entry(change: Change, sqlalchemy_changed: bool, today: datetime.date | None = None) -> str:
    """The ``[[allow]]`` entry that accepts exactly this change on this target, from the candidate's SQLAlchemy on."""
    selector: dict[str, Any] = {name: change.target[name] for name in ("backend", "driver") if name in change.target}
    if change.target.get("async"):
        selector["async"] = True
    selector["flavour"] = flavour_of(change.target)
    if sqlalchemy_changed and change.target.get("sqlalchemy"):
        selector["sqlalchemy"] = f">={change.target['sqlalchemy']}"
    expires = (today or datetime.date.today()) + datetime.timedelta(days=ALLOW_EXPIRY_DAYS)
    target = ", ".join(f"{name} = {toml_value(value)}" for name, value in selector.items())
    return "\n".join(
        [
            "[[allow]]",
            f"behaviour = {toml_value(change.subject)}",
            f"target = {{ {target} }}",
            f"change = {toml_value(change.kind)}",
            f'reason = "{REASON_PLACEHOLDER}: why this is accepted (link the changelog entry)"',
            f"expires = {expires.isoformat()}",
        ]
    )


def load_allowlist(path: Path) -> list[Allowance]:
    """Read an allow-list, or raise ResultsError with a one-line reason naming the entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"allow-list {path}: no such file") from None
    except OSError as error:
        raise ResultsError(f"allow-list {path}: cannot read: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ResultsError(f"allow-list {path}: not valid TOML ({error})") from None
    unknown_tables = sorted(set(data) - {"allow"})
    if unknown_tables:
        raise ResultsError(f"allow-list {path}: unknown table {unknown_tables[0]!r} (entries are [[allow]])")
    entries = data.get("allow", [])
    if not isinstance(entries, list):
        raise ResultsError(f"allow-list {path}: 'allow' must be an array of tables ([[allow]])")
    return [
        parse_allowance(entry, number, f"allow-list {path} entry {number}") for number, entry in enumerate(entries, 1)
    ]


def parse_allowance(entry: Any, number: int, where: str) -> Allowance:
    if not isinstance(entry, dict):
        raise ResultsError(f"{where}: not a table")
    unknown = sorted(set(entry) - set(ALLOW_FIELDS))
    if unknown:
        raise ResultsError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(ALLOW_FIELDS)})")
    for name in ("behaviour", "reason"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise ResultsError(f"{where}: {name} is required (a non-empty string)")
    if entry["reason"].strip().startswith(REASON_PLACEHOLDER):
        raise ResultsError(f"{where}: reason still says {REASON_PLACEHOLDER!r}: write why the change is accepted")
    target = entry.get("target", {})
    if not isinstance(target, dict):
        raise ResultsError(f'{where}: target must be a table, e.g. {{ backend = "sqlite" }}')
    unknown = sorted(set(target) - set(SELECTOR_FIELDS))
    if unknown:
        raise ResultsError(f"{where}: unknown target field {unknown[0]!r} (fields: {', '.join(SELECTOR_FIELDS)})")
    for name in VERSION_FIELDS:
        for option in target[name] if isinstance(target.get(name), list) else [target.get(name)]:
            try:
                if option is not None:
                    SpecifierSet(str(option))
            except InvalidSpecifier:
                raise ResultsError(f"{where}: {name} {option!r} is not a version specifier") from None
    kinds = entry.get("change", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not isinstance(kinds, list) or any(kind not in BLOCKING_KINDS for kind in kinds):
        raise ResultsError(f"{where}: change must be one of {', '.join(BLOCKING_KINDS)} (or a list of them)")
    return Allowance(
        number, entry["behaviour"], entry["reason"].strip(), target, tuple(kinds), parse_expiry(entry, where)
    )


def parse_expiry(entry: dict[str, Any], where: str) -> datetime.date | None:
    expires = entry.get("expires")
    if expires is None:
        return None
    if isinstance(expires, datetime.datetime):
        return expires.date()
    if isinstance(expires, datetime.date):
        return expires
    try:
        return datetime.date.fromisoformat(str(expires))
    except ValueError:
        raise ResultsError(f"{where}: expires {expires!r} is not a date (YYYY-MM-DD)") from None


def apply_allowlist(comparison: Comparison, allowances: Iterable[Allowance], today: datetime.date) -> None:
    """Mark allowed changes; note expired entries on the changes they would allow; warn about unused entries."""
    allowances = list(allowances)
    used: set[int] = set()
    for change in comparison.changes:
        for allowance in allowances:
            if not allowance.matches(change):
                continue
            used.add(allowance.number)
            if allowance.expired(today):
                change.expired.append(allowance)
            elif change.allowed_by is None:
                change.allowed_by = allowance
    for allowance in allowances:
        if allowance.expired(today):
            comparison.warnings.append(f"{allowance.describe()} expired on {allowance.expires}; it allows nothing")
        if allowance.number not in used:
            comparison.warnings.append(f"{allowance.describe()} matches no blocking change")


# --- output ------------------------------------------------------------------------------------------


def render_text(comparison: Comparison) -> str:
    lines = [
        f"upgrade gate: baseline {comparison.baseline.path} ({len(comparison.baseline.files)} files) "
        f"vs candidate {comparison.candidate.path} ({len(comparison.candidate.files)} files)"
    ]
    for name, before, after in comparison.version_changes():
        lines.append(f"  version: {name} {before} -> {after}")
    counts = comparison.counts()
    tally = ", ".join(f"{counts[kind]} {kind}" for kind in KINDS if counts[kind]) or "no changes"
    lines.append(
        f"  compared {comparison.matched_cells} cells and {comparison.matched_benchmarks} benchmarks "
        f"on {len(comparison.targets)} targets: {tally}"
    )
    for change in comparison.changes:
        lines.append(f"{change.status.upper():9} {change.kind:12} {change.subject} on {change.where}: {change.summary}")
        for detail in change.details:
            if detail.startswith(("candidate reason", "baseline reason", "value ")):
                lines.append(f"    {detail}")
        if change.statement_index is not None:
            lines.append(f"    statement {change.statement_index} before: {change.statement_before or '(none)'}")
            lines.append(f"    statement {change.statement_index} after:  {change.statement_after or '(none)'}")
            lines.append(f"    word diff: {word_diff_text(change.statement_before, change.statement_after)}")
        lines += [f"    cosmetic: {note}" for note in change.cosmetic]
        if change.blocking and change.allow_entry:
            lines.append("    to accept it after review, add to the allow-list:")
            lines += [f"      {line}" for line in change.allow_entry.splitlines()]
        if change.allowed_by is not None:
            lines.append(f"    allowed by {change.allowed_by.describe()}: {change.allowed_by.reason}")
        for allowance in change.expired:
            lines.append(f"    NOT allowed: {allowance.describe()} expired on {allowance.expires}")
    lines.append(f"verdict: {comparison.verdict()}")
    return "\n".join(lines) + "\n"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]|#!~])")


def markdown_text(text: Any) -> str:
    """Plain text for Markdown, on one line: ``&`` and ``<`` as entities (no HTML), Markdown punctuation backslashed."""
    flat = " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def markdown_code_block(text: str, indent: str = "") -> list[str]:
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [f"{indent}{fence}text", *(f"{indent}{line}" for line in text.splitlines()), f"{indent}{fence}"]


def render_markdown(comparison: Comparison) -> str:
    lines = [f"## Upgrade gate: {markdown_text(comparison.verdict())}", ""]
    changes = comparison.version_changes()
    if changes:
        lines += ["| package | baseline | candidate |", "|---|---|---|"]
        lines += [f"| {markdown_text(n)} | {markdown_text(b)} | {markdown_text(a)} |" for n, b, a in changes]
        lines.append("")
    counts = comparison.counts()
    lines.append(
        f"Compared {comparison.matched_cells} cells and {comparison.matched_benchmarks} benchmarks on "
        f"{len(comparison.targets)} targets ({markdown_text(', '.join(comparison.targets))}): "
        + (", ".join(f"{counts[kind]} {kind}" for kind in KINDS if counts[kind]) or "no changes")
        + "."
    )
    for title, status in (("Blocking", "blocking"), ("Allowed", "allowed"), ("Not blocking", "shown")):
        selected = [change for change in comparison.changes if change.status == status]
        if not selected:
            continue
        lines += ["", f"### {title} ({len(selected)})", ""]
        for change in selected:
            lines.append(
                f"- **{change.kind}** {markdown_text(change.subject)} on {markdown_text(change.where)}: "
                f"{markdown_text(change.summary)}"
            )
            lines += [f"  - {markdown_text(detail)}" for detail in change.details if detail.startswith("value ")]
            lines += [f"  - cosmetic: {markdown_text(note)}" for note in change.cosmetic]
            if change.statement_index is not None:
                before = change.statement_before or "(none)"
                after = change.statement_after or "(none)"
                diff = word_diff_text(change.statement_before, change.statement_after)
                block = f"before: {before}\nafter:  {after}\ndiff:   {diff}"
                lines += markdown_code_block(block, indent="  ")
            if change.blocking and change.allow_entry:
                lines.append("  To accept it after review, add to the allow-list:")
                lines += markdown_code_block(change.allow_entry, indent="  ")
            if change.allowed_by is not None:
                lines.append(f"  allowed: {markdown_text(change.allowed_by.reason)}")
            for allowance in change.expired:
                lines.append(f"  not allowed: {markdown_text(allowance.describe())} expired on {allowance.expires}")
    if comparison.warnings:
        lines += ["", "### Allow-list warnings", ""] + [f"- {markdown_text(w)}" for w in comparison.warnings]
    return "\n".join(lines) + "\n"


def render_html(comparison: Comparison) -> str:
    environment = report_environment()
    sections = [
        (title, [change for change in comparison.changes if change.status == status])
        for title, status in (("Blocking", "blocking"), ("Allowed", "allowed"), ("Not blocking", "shown"))
    ]
    return environment.get_template("gate.html.j2").render(
        comparison=comparison,
        sections=[(title, changes) for title, changes in sections if changes],
        counts=comparison.counts(),
        kinds=KINDS,
        word_diff=word_diff,
        generated=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )


def percent(text: str) -> float:
    """``--threshold``: a non-negative number of percent."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def run_gate(
    baseline: Path,
    candidate: Path,
    *,
    allow: Path | None = None,
    markdown: Path | None = None,
    html_path: Path | None = None,
    threshold_percent: float = DEFAULT_THRESHOLD_PERCENT,
    today: datetime.date | None = None,
) -> tuple[Comparison, str]:
    """Load, compare, apply the allow-list and write the requested files; raises ResultsError on unusable input."""
    allowances = load_allowlist(allow) if allow is not None else []
    baseline_side, candidate_side = load_sides(baseline, candidate)
    comparison = compare(baseline_side, candidate_side, threshold_percent)
    apply_allowlist(comparison, allowances, today or datetime.date.today())
    try:
        if markdown is not None:
            write_text(markdown, render_markdown(comparison))
        if html_path is not None:
            write_text(html_path, render_html(comparison))
    except OSError as error:
        raise ResultsError(f"cannot write {error.filename}: {error.strerror}") from None
    return comparison, render_text(comparison)
