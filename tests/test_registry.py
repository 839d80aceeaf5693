"""The expectations registry: selector matching, validation, and that it names real behaviours."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fixtures.registry import RegistryError, expectation_for, load_registry, selector_matches
from fixtures.verdict import Signature

SUITES = Path(__file__).resolve().parent.parent / "suites"

MARIADB = {
    "backend": "mysql",
    "driver": "pymysql",
    "flavour": "MariaDB",
    "server_version": "10.11.19",
    "sqlalchemy": "2.0.58",
    "async": False,
    "driver_version": "1.2.4",
}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),
        ({"backend": "mysql"}, True),
        ({"backend": "postgresql"}, False),
        ({"backend": "mysql", "flavour": "MySQL"}, False),
        ({"flavour": ["MySQL", "MariaDB"]}, True),
        ({"server_version": ">=10.5"}, True),
        ({"server_version": "<10.5"}, False),
        ({"sqlalchemy": "<2.0"}, False),
        ({"driver": "py*"}, True),
        ({"async": True}, False),
    ],
)
def test_selector_fields_all_have_to_match(selector, matches):
    assert selector_matches(selector, MARIADB) is matches


def write(tmp_path, text):
    path = tmp_path / "expectations.toml"
    path.write_text(text)
    return path


def test_first_matching_entry_wins_and_relative_doc_links_are_resolved(tmp_path):
    path = write(
        tmp_path,
        """
[[expectation]]
behaviour = "a.b"
target = { backend = "mysql", flavour = "MySQL" }
outcome = "unsupported"
reason = "MySQL has no RETURNING"
doc = "dialects/mysql.html"

[[expectation]]
behaviour = "a.b"
target = { backend = "mysql" }
outcome = "differs"
reason = "MariaDB does it differently"
doc = "https://example.invalid/doc"
signature = { checks = ["rows"], observed = { "rows" = 2 } }
""",
    )
    expectations = load_registry(path)
    chosen = expectation_for(expectations, "a.b", MARIADB)
    assert chosen is not None and chosen.outcome == "differs"
    assert expectations[0].doc.startswith("https://docs.sqlalchemy.org/en/")
    assert expectation_for(expectations, "other", MARIADB) is None
    assert chosen.signature == Signature(checks=("rows",), observed={"rows": 2})


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ('behaviour = "a.b"\noutcome = "differs"\nreason = "r"', "missing doc"),
        ('behaviour = "a.b"\noutcome = "pass"\nreason = "r"\ndoc = "d"', "outcome must be one of"),
        (
            'behaviour = "a.b"\noutcome = "differs"\nreason = "r"\ndoc = "d"\ntarget = { colour = "red" }',
            "unknown target",
        ),
        ('behaviour = "a.b"\noutcome = "differs"\nreason = "r"\ndoc = "d"', "a differs entry needs a signature"),
        (
            'behaviour = "a.b"\noutcome = "differs"\nreason = "r"\ndoc = "d"\nsignature = { checks = [] }',
            "names the failing checks",
        ),
        (
            'behaviour = "a.b"\noutcome = "differs"\nreason = "r"\ndoc = "d"\n'
            'signature = { checks = ["x"], observed = { y = 1 } }',
            "not in its checks",
        ),
        (
            'behaviour = "a.b"\noutcome = "differs"\nreason = "r"\ndoc = "d"\nsignature = { raises = ["Error"] }',
            "qualified exception class",
        ),
        ('behaviour = "a.b"\noutcome = "known-issue"\nreason = "r"\ndoc = "d"', "needs an issue link"),
        (
            'behaviour = "a.b"\noutcome = "unsupported"\nreason = "r"\ndoc = "d"\nsignature = { checks = ["x"] }',
            "an unsupported entry has no signature",
        ),
        ('behaviour = "a.b"\noutcome = "unsupported"\nreason = "r"\ndoc = "d"\nsomething = 1', "unknown field"),
        (
            'behaviour = "a.b"\noutcome = "differs"\nreason = "r"\ndoc = "d"\ntarget = { server_version = "ten" }',
            "not a version specifier",
        ),
    ],
)
def test_malformed_entries_are_refused_with_their_position(tmp_path, entry, fragment):
    with pytest.raises(RegistryError, match=fragment):
        load_registry(write(tmp_path, f"[[expectation]]\n{entry}\n"))


def declared_behaviours() -> dict[str, ast.FunctionDef]:
    """Every @behaviour("id", ...) in suites/, read from the source."""
    found = {}
    for module in sorted(SUITES.glob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "behaviour":
                    behaviour_id = decorator.args[0].value
                    assert behaviour_id not in found, f"behaviour id {behaviour_id} is declared twice"
                    found[behaviour_id] = node
    return found


def test_every_registry_entry_names_a_declared_behaviour():
    declared = declared_behaviours()
    for expectation in load_registry():
        assert expectation.behaviour in declared, f"registry entry for unknown behaviour {expectation.behaviour}"
        assert expectation.reason.strip() and expectation.doc.startswith("https://")


def test_every_differs_entry_has_a_signature_and_every_known_issue_a_link():
    entries = load_registry()
    differs = [entry for entry in entries if entry.outcome == "differs"]
    known = [entry for entry in entries if entry.outcome == "known-issue"]
    assert differs and known
    assert all(entry.signature is not None for entry in differs)
    assert all(entry.issue.startswith("https://") for entry in known)
    # differs is for differences SQLAlchemy documents: the link goes to SQLAlchemy's documentation
    assert [entry.behaviour for entry in differs if not entry.doc.startswith("https://docs.sqlalchemy.org/")] == []


def test_every_behaviour_states_its_claim_and_documentation_section():
    declared = declared_behaviours()
    assert len(declared) >= 20
    for behaviour_id, function in declared.items():
        docstring = ast.get_docstring(function) or ""
        assert docstring, f"{behaviour_id} has no docstring"
        assert "Docs:" in docstring, f"{behaviour_id} docstring names no documentation section"
        area, _, name = behaviour_id.partition(".")
        assert area and name, f"{behaviour_id} is not of the form area.name"
