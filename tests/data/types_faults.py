# ruff: noqa: E501  (the faults quote source lines of SQLAlchemy and PyMySQL verbatim)
"""Faults injected into SQLAlchemy (and PyMySQL) to prove the behaviours of suites/test_json_detail.py,
test_uuid.py, test_temporal.py and test_round_trips.py catch them: each fault edits one place of the installed
package's source the way a real regression would (a type processor dropping precision, a storage format losing
microseconds or the year's zero padding, RETURNING rows matched to the wrong parameters, a dialect choosing the
wrong DDL type) and names the cells that must turn ``fail``.

``python -m tests.data.types_faults --backend sqlite`` (or ``postgresql`` / ``mysql``) runs every fault whose
expected cells include that backend: it copies the installed package to a temporary directory, applies the edit,
runs the four suites with that copy first on ``PYTHONPATH`` using the interpreter running it (one with the
backend's driver, e.g. ``.tox/pg/bin/python``), and prints one line per fault: caught when every expected cell is
``fail``. ``--only NAME`` runs one fault.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
SUITES = ["suites/test_json_detail.py", "suites/test_uuid.py", "suites/test_temporal.py", "suites/test_round_trips.py"]
SQLITE, POSTGRESQL, MYSQL = "sqlite", "postgresql", "mysql"


@dataclass(frozen=True)
class Fault:
    name: str
    summary: str
    path: str  # the edited file, relative to site-packages (its first part is the package copied)
    old: str  # every occurrence is replaced
    new: str
    expected_fail: dict[str, tuple[str, ...]]  # behaviour -> backends where its cell must be ``fail``


FAULTS = [
    Fault(
        "numeric-asdecimal-ignored",
        "Numeric ignores asdecimal=True and returns floats",
        "sqlalchemy/sql/sqltypes.py",
        "    def result_processor(self, dialect, coltype):\n        if self.asdecimal:\n            if dialect.supports_native_decimal:",
        "    def result_processor(self, dialect, coltype):\n        if False:\n            if dialect.supports_native_decimal:",
        {
            "roundtrip.numeric-every-insert-path": (SQLITE,),
            "roundtrip.orm-bulk-insert-returning-values": (SQLITE,),
            "json.index-as-numeric": (SQLITE,),
        },
    ),
    Fault(
        "numeric-asdecimal-false-ignored",
        "Numeric(asdecimal=False) returns the driver's Decimal",
        "sqlalchemy/sql/sqltypes.py",
        "            if dialect.supports_native_decimal:\n                return processors.to_float\n            else:\n                return None",
        "            return None",
        {"roundtrip.numeric-asdecimal-false-every-insert-path": (MYSQL,)},
    ),
    Fault(
        "biginteger-as-integer",
        "BigInteger rendered as INTEGER in DDL",
        "sqlalchemy/sql/compiler.py",
        "    def visit_big_integer(self, type_: sqltypes.BigInteger, **kw: Any) -> str:\n        return self.visit_BIGINT(type_, **kw)",
        "    def visit_big_integer(self, type_: sqltypes.BigInteger, **kw: Any) -> str:\n        return self.visit_INTEGER(type_, **kw)",
        {
            "roundtrip.biginteger-every-insert-path": (
                POSTGRESQL,
                MYSQL,
            )
        },
    ),
    Fault(
        "enum-stores-values",
        "Enum stores the members' values instead of their names",
        "sqlalchemy/sql/sqltypes.py",
        "            return self._valid_lookup[elem]\n",
        "            return elem.value if hasattr(elem, 'value') else self._valid_lookup[elem]\n",
        {
            "roundtrip.enum-native-every-insert-path": (SQLITE,),
            "roundtrip.enum-non-native-every-insert-path": (SQLITE,),
        },
    ),
    Fault(
        "enum-validate-strings-ignored",
        "Enum(validate_strings=True) lets unknown strings through",
        "sqlalchemy/sql/sqltypes.py",
        "if not self.validate_strings and isinstance(elem, str):",
        "if isinstance(elem, str):",
        {"roundtrip.enum-validate-strings": (SQLITE,)},
    ),
    Fault(
        "binary-truncated-at-nul",
        "LargeBinary bind processing cuts the value at the first NUL byte",
        "sqlalchemy/sql/sqltypes.py",
        "                return DBAPIBinary(value)",
        "                return DBAPIBinary(value.split(b'\\x00')[0])",
        {"roundtrip.large-binary-every-insert-path": (SQLITE,)},
    ),
    Fault(
        "boolean-result-not-converted",
        "Boolean returns the stored integer (no int_to_boolean) where there is no native boolean",
        "sqlalchemy/sql/sqltypes.py",
        "            return processors.int_to_boolean\n\n\nclass _AbstractInterval",
        "            return None\n\n\nclass _AbstractInterval",
        {"roundtrip.boolean-every-insert-path": (SQLITE,), "json.index-as-boolean": (SQLITE,)},
    ),
    Fault(
        "json-none-as-null-inverted",
        "JSON none_as_null applied inverted",
        "sqlalchemy/sql/sqltypes.py",
        "                    value is None and self.none_as_null\n                ):",
        "                    value is None and not self.none_as_null\n                ):",
        {
            "json.none-as-json-null": (SQLITE,),
            "json.none-as-null-true": (SQLITE,),
            "json.orm-null-forms": (SQLITE,),
            "json.where-is-null-vs-json-null": (SQLITE,),
        },
    ),
    Fault(
        "json-NULL-as-sql-null",
        "JSON.NULL persisted as SQL NULL",
        "sqlalchemy/sql/sqltypes.py",
        "            def process(value):\n                if value is self.NULL:\n                    value = None\n                elif",
        "            def process(value):\n                if value is self.NULL:\n                    return None\n                elif",
        {
            "json.none-as-json-null": (SQLITE,),
            "json.none-as-null-true": (SQLITE,),
            "json.orm-null-forms": (SQLITE,),
            "json.where-is-null-vs-json-null": (SQLITE,),
        },
    ),
    Fault(
        "json-as-float-decimal",
        "JSON as_float() returns Decimal",
        "sqlalchemy/sql/sqltypes.py",
        'return self._binary_w_type(Float(), "as_float")',
        'return self._binary_w_type(Float(asdecimal=True), "as_float")',
        {"json.index-as-float": (SQLITE,)},
    ),
    Fault(
        "json-as-numeric-float",
        "JSON as_numeric() returns float",
        "sqlalchemy/sql/sqltypes.py",
        'Numeric(precision, scale, asdecimal=asdecimal), "as_numeric"',
        'Numeric(precision, scale, asdecimal=False), "as_numeric"',
        {"json.index-as-numeric": (SQLITE,)},
    ),
    Fault(
        "json-as-boolean-integer",
        "JSON as_boolean() typed as Integer",
        "sqlalchemy/sql/sqltypes.py",
        'return self._binary_w_type(Boolean(), "as_boolean")',
        'return self._binary_w_type(Integer(), "as_boolean")',
        {"json.index-as-boolean": (SQLITE,)},
    ),
    Fault(
        "sqlite-json-index-off-by-one",
        "SQLite JSON integer index rendered one-based",
        "sqlalchemy/dialects/sqlite/json.py",
        'value = "$[%s]" % value',
        'value = "$[%s]" % (value + 1)',
        {"json.integer-index": (SQLITE,)},
    ),
    Fault(
        "sqlite-json-path-drops-last",
        "SQLite JSON path drops its last element",
        "sqlalchemy/dialects/sqlite/json.py",
        '        return "$%s" % (\n            "".join(',
        '        value = value[:-1]\n        return "$%s" % (\n            "".join(',
        {
            "json.path-tuple": (SQLITE,),
            "json.integer-index": (SQLITE,),
            "json.index-returns-json": (SQLITE,),
            "json.dialect-type-index-and-path": (SQLITE,),
        },
    ),
    Fault(
        "sqlite-json-element-not-quoted",
        "SQLite JSON index of type JSON not wrapped in JSON_QUOTE",
        "sqlalchemy/dialects/sqlite/base.py",
        '            expr = "JSON_QUOTE(JSON_EXTRACT(%s, %s))"\n        else:\n            expr = "JSON_EXTRACT(%s, %s)"\n\n        return expr % (\n            self.process(binary.left, **kw),\n            self.process(binary.right, **kw),\n        )\n\n    def visit_json_path',
        '            expr = "JSON_EXTRACT(%s, %s)"\n        else:\n            expr = "JSON_EXTRACT(%s, %s)"\n\n        return expr % (\n            self.process(binary.left, **kw),\n            self.process(binary.right, **kw),\n        )\n\n    def visit_json_path',
        {"json.index-returns-json": (SQLITE,)},
    ),
    Fault(
        "uuid-string-not-normalised",
        "Uuid(as_uuid=False) returns the stored 32-character hex",
        "sqlalchemy/sql/sqltypes.py",
        "                    if value is not None:\n                        value = str(_python_UUID(value))\n                    return value",
        "                    if value is not None:\n                        value = value\n                    return value",
        {"uuid.as-uuid-false-every-insert-path": (SQLITE,)},
    ),
    Fault(
        "uuid-in-compared-as-string",
        "Uuid comparisons coerce uuid.UUID values to String",
        "sqlalchemy/sql/sqltypes.py",
        "        if isinstance(value, str):\n            return self\n        else:\n            return super().coerce_compared_value(op, value)",
        "        return String()",
        {"uuid.in-list": (SQLITE,)},
    ),
    Fault(
        "pg-uuid-not-native",
        "PostgreSQL dialect without native UUID binding",
        "sqlalchemy/dialects/postgresql/base.py",
        "    supports_native_uuid = True",
        "    supports_native_uuid = False",
        {
            "uuid.every-insert-path": (POSTGRESQL,),
            "uuid.as-uuid-false-every-insert-path": (POSTGRESQL,),
            "uuid.native-uuid-type": (POSTGRESQL,),
            "uuid.orm-default-primary-key": (POSTGRESQL,),
            "uuid.primary-key-returning-order": (POSTGRESQL,),
        },
    ),
    Fault(
        "uuid-ddl-char36",
        "Uuid created as CHAR(36) where not native",
        "sqlalchemy/sql/compiler.py",
        'return self._render_string_type("CHAR", length=32, collation=None)',
        'return self._render_string_type("CHAR", length=36, collation=None)',
        {
            "uuid.column-type": (
                SQLITE,
                MYSQL,
            )
        },
    ),
    Fault(
        "pg-timestamp-without-time-zone",
        "PostgreSQL DateTime(timezone=True) created WITHOUT TIME ZONE",
        "sqlalchemy/dialects/postgresql/base.py",
        '            (type_.timezone and "WITH" or "WITHOUT") + " TIME ZONE",\n        )\n\n    def visit_TIME',
        '            "WITHOUT TIME ZONE",\n        )\n\n    def visit_TIME',
        {"temporal.timezone-aware-instants": (POSTGRESQL,)},
    ),
    Fault(
        "pg-time-without-time-zone",
        "PostgreSQL Time(timezone=True) created WITHOUT TIME ZONE",
        "sqlalchemy/dialects/postgresql/base.py",
        '            (type_.timezone and "WITH" or "WITHOUT") + " TIME ZONE",\n        )\n\n    def visit_INTERVAL',
        '            "WITHOUT TIME ZONE",\n        )\n\n    def visit_INTERVAL',
        {"temporal.time-with-time-zone": (POSTGRESQL,)},
    ),
    Fault(
        "sqlite-datetime-drops-microseconds",
        "SQLite DATETIME storage format without microseconds",
        "sqlalchemy/dialects/sqlite/base.py",
        '        "%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"\n    )',
        '        "%(hour)02d:%(minute)02d:%(second)02d"\n    )',
        {"temporal.fractional-datetime": (SQLITE,), "temporal.interval-every-insert-path": (SQLITE,)},
    ),
    Fault(
        "sqlite-time-drops-microseconds",
        "SQLite TIME storage format without microseconds",
        "sqlalchemy/dialects/sqlite/base.py",
        '_storage_format = "%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"',
        '_storage_format = "%(hour)02d:%(minute)02d:%(second)02d"',
        {"temporal.fractional-time": (SQLITE,)},
    ),
    Fault(
        "mysql-fsp-ignored",
        "mysql.DATETIME(fsp=6) created without its precision",
        "sqlalchemy/dialects/mysql/base.py",
        '            return "DATETIME(%d)" % type_.fsp',
        '            return "DATETIME"',
        {"temporal.fractional-datetime": (MYSQL,)},
    ),
    Fault(
        "mysql-time-fsp-ignored",
        "mysql.TIME(fsp=6) created without its precision",
        "sqlalchemy/dialects/mysql/base.py",
        '            return "TIME(%d)" % type_.fsp',
        '            return "TIME"',
        {"temporal.fractional-time": (MYSQL,)},
    ),
    Fault(
        "interval-truncated-to-seconds",
        "Emulated Interval result truncated to whole seconds",
        "sqlalchemy/sql/sqltypes.py",
        "                return dt_value - epoch",
        "                return dt.timedelta(seconds=int((dt_value - epoch).total_seconds()))",
        {"temporal.interval-every-insert-path": (SQLITE,)},
    ),
    Fault(
        "current-date-untyped",
        "func.current_date() typed as String",
        "sqlalchemy/sql/functions.py",
        "    type = sqltypes.Date()",
        "    type = sqltypes.String()",
        {"temporal.current-date-and-timestamp": (SQLITE,)},
    ),
    Fault(
        "sqlite-date-strftime",
        "SQLite DATE storage format without a zero-padded year",
        "sqlalchemy/dialects/sqlite/base.py",
        '"%(year)04d-%(month)02d-%(day)02d"',
        '"%(year)d-%(month)02d-%(day)02d"',
        {"temporal.historic-dates-every-insert-path": (SQLITE,), "temporal.historic-date-comparison": (SQLITE,)},
    ),
    Fault(
        "sqlite-datetime-year-unpadded",
        "SQLite DATETIME storage format without a zero-padded year",
        "sqlalchemy/dialects/sqlite/base.py",
        '    _storage_format = (\n        "%(year)04d-%(month)02d-%(day)02d "',
        '    _storage_format = (\n        "%(year)d-%(month)02d-%(day)02d "',
        {"temporal.historic-datetimes-every-insert-path": (SQLITE,)},
    ),
    Fault(
        "imv-sentinel-sorted-by-value",
        "insertmanyvalues sorts RETURNING rows by the client sentinel's value, not by parameter order",
        "sqlalchemy/engine/default.py",
        "                        ordered_rows = [\n                            rows_by_sentinel[sentinel_keys]\n                            for sentinel_keys in imv_batch.sentinel_values\n                        ]",
        "                        ordered_rows = sorted(rows, key=lambda row: str(row[-1]))",
        {
            "uuid.primary-key-returning-order": (
                SQLITE,
                POSTGRESQL,
            )
        },
    ),
    Fault(
        "callable-default-once-per-statement",
        "A callable column default is evaluated once per statement, not per row",
        "sqlalchemy/engine/default.py",
        "                    param[param_key] = arg(self)\n",
        "                    param[param_key] = self.__dict__.setdefault('_gaps_default', arg(self))\n",
        {
            "uuid.orm-default-primary-key": (
                SQLITE,
                POSTGRESQL,
            )
        },
    ),
    Fault(
        "pymysql-backslash-unescaped",
        "PyMySQL does not escape backslashes in string literals",
        "pymysql/converters.py",
        '_escape_table[ord("\\\\")] = "\\\\\\\\"',
        '_escape_table[ord("\\\\")] = "\\\\"',
        {
            "roundtrip.string-escapes-every-insert-path": (MYSQL,),
            "json.dialect-type-index-and-path": (MYSQL,),
            "json.every-insert-path": (MYSQL,),
        },
    ),
    Fault(
        "pymysql-utf8mb3",
        "PyMySQL connects with charset utf8mb3 (no 4-byte characters)",
        "pymysql/connections.py",
        'DEFAULT_CHARSET = "utf8mb4"',
        'DEFAULT_CHARSET = "utf8mb3"',
        {
            "roundtrip.unicode-every-insert-path": (MYSQL,),
            "roundtrip.unicode-text-every-insert-path": (MYSQL,),
            "json.unicode-and-escaping": (MYSQL,),
            "json.dialect-type-index-and-path": (MYSQL,),
        },
    ),
]


def apply(fault: Fault, directory: Path) -> Path:
    """A patched copy of the fault's package in ``directory``; the directory to put first on PYTHONPATH."""
    package = fault.path.split("/")[0]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{fault.name}: {package} is not installed for {sys.executable}")
    shutil.copytree(Path(spec.origin).parent, directory / package)
    edited = directory / fault.path
    text = edited.read_text()
    if fault.old not in text:
        raise SystemExit(f"{fault.name}: the text to replace is not in {fault.path} (another {package} version?)")
    edited.write_text(text.replace(fault.old, fault.new))
    return directory


def run_fault(fault: Fault, backend: str) -> tuple[bool, list[str], list[str]]:
    """(caught, expected cells that did not fail, other cells that failed) for one fault on one backend."""
    with tempfile.TemporaryDirectory(prefix="types-fault-") as temporary:
        overlay = apply(fault, Path(temporary))
        results = Path(temporary) / "results.json"
        command = [sys.executable, "-m", "pytest", *SUITES, "-p", "no:cacheprovider", "-q", "--backend", backend]
        subprocess.run(
            [*command, "--results", str(results)],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(overlay)},
            capture_output=True,
            check=False,
        )
        cells = json.loads(results.read_text())["cells"]
    failed = {cell["behaviour"] for cell in cells if cell["outcome"] == "fail" and not cell.get("known_issue")}
    expected = {behaviour for behaviour, backends in fault.expected_fail.items() if backend in backends}
    return not (expected - failed), sorted(expected - failed), sorted(failed - expected)


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.data.types_faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=(SQLITE, POSTGRESQL, MYSQL), required=True)
    parser.add_argument("--only", help="run this fault only")
    options = parser.parse_args(arguments)
    chosen = [fault for fault in FAULTS if options.only in (None, fault.name)]
    if not chosen:
        parser.error(f"no fault named {options.only!r}")
    missed = 0
    for fault in chosen:
        if not any(options.backend in backends for backends in fault.expected_fail.values()):
            continue
        caught, not_failing, also_failing = run_fault(fault, options.backend)
        missed += not caught
        extra = f"; also failing: {', '.join(also_failing)}" if also_failing else ""
        verdict = "caught" if caught else f"MISSED ({', '.join(not_failing)} did not fail)"
        print(f"{fault.name} [{options.backend}]: {verdict}{extra}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
