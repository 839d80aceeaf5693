"""Every docs.sqlalchemy.org link of the behaviours, the expectations registry and the per-target facts resolves,
offline, against the documentation source of the pinned SQLAlchemy of its series: the page exists and its anchor
is a label, a section title or a documented API name (``doc/build`` and ``lib/`` of the source distribution).

The source distribution is fetched once per version (``pip download --no-binary sqlalchemy``) into ``.cache/``,
or taken from ``CONFORMANCE_SQLA_SDIST`` (the ``.tar.gz`` or an unpacked tree) for the default series.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import inspect
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from packaging.version import Version

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE = PROJECT_ROOT / ".cache"
SDIST_VARIABLE = "CONFORMANCE_SQLA_SDIST"
DOCS_URL = re.compile(
    r"https://docs\.sqlalchemy\.org/en/(?P<series>\d+)/(?P<page>[^#\s\"'`<>)]*)(?:#(?P<anchor>[^\s\"'`<>)]+))?"
)
PINNED = {  # docs series -> the requirements file pinning that series' SQLAlchemy
    "14": "requirements/sqlalchemy-1.4.txt",
    "20": "requirements/sqlalchemy-2.0.txt",
    "21": "requirements/sqlalchemy-2.1.txt",
}
DEFAULT_SERIES = "20"  # relative doc paths are docs of the default series (fixtures.compat.docs)
MINIMUM_LINKS = 150  # the suites, the registry and the facts hold more than this: finding fewer is a broken scan


# --- the links --------------------------------------------------------------------------------------------------


def behaviour_links() -> list[tuple[str, str]]:
    """``doc=`` of every ``@behaviour(...)`` in suites/, and every docs URL in their docstrings and comments."""
    links = []
    for path in sorted((PROJECT_ROOT / "suites").glob("test_*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "behaviour":
                behaviour_id = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else "?"
                for keyword in node.keywords:
                    if keyword.arg == "doc" and isinstance(keyword.value, ast.Constant):
                        links.append((f"{path.name} {behaviour_id}", absolute(keyword.value.value)))
        links += [(f"{path.name} text", match.group(0)) for match in DOCS_URL.finditer(source)]
    return links


def table_links(name: str, entries_key: str, id_key: str) -> list[tuple[str, str]]:
    """``doc`` of every entry of a TOML table in fixtures/, and any docs URL among its other strings."""
    data = tomllib.loads((PROJECT_ROOT / "fixtures" / name).read_text())
    links = []
    for number, entry in enumerate(data.get(entries_key, []), start=1):
        where = f"{name} entry {number} ({entry.get(id_key, '?')})"
        if isinstance(entry.get("doc"), str) and not entry["doc"].startswith(("http://", "https://")):
            links.append((where, absolute(entry["doc"])))
        links += [(where, match.group(0)) for text in strings_in(entry) for match in DOCS_URL.finditer(text)]
    return links


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


def absolute(doc: str) -> str:
    return doc if doc.startswith(("http://", "https://")) else f"https://docs.sqlalchemy.org/en/{DEFAULT_SERIES}/{doc}"


@functools.cache
def all_links() -> list[tuple[str, str]]:
    found = (
        behaviour_links()
        + table_links("expectations.toml", "expectation", "behaviour")
        + table_links("target_facts.toml", "fact", "name")
    )
    return sorted({(where, url) for where, url in found if DOCS_URL.match(url)})


# --- the documentation source -------------------------------------------------------------------------------------


class SourceUnavailable(Exception):
    pass


def pinned_version(series: str) -> str:
    requirements = (PROJECT_ROOT / PINNED[series]).read_text()
    return re.search(r"(?im)^sqlalchemy==(\S+)", requirements).group(1)


@functools.cache
def docs_source(series: str) -> Path:
    """The unpacked ``doc/build`` and ``lib`` of the pinned SQLAlchemy of ``series``."""
    if series not in PINNED:
        raise SourceUnavailable(f"no pinned SQLAlchemy for docs series {series} (requirements/sqlalchemy-*.txt)")
    version = pinned_version(series)
    explicit = os.environ.get(SDIST_VARIABLE)
    if explicit and series == DEFAULT_SERIES:
        source = Path(explicit)
        if source.is_dir() and (source / "doc" / "build").is_dir():
            return source
        if source.is_file():
            return unpack_docs(source, CACHE / f"sqlalchemy-{version}-docs")
        raise SourceUnavailable(f"{SDIST_VARIABLE}={explicit}: neither a .tar.gz nor a tree with doc/build")
    target = CACHE / f"sqlalchemy-{version}-docs"
    if (target / "doc" / "build" / "index.rst").is_file():
        return target
    with tempfile.TemporaryDirectory(prefix="sqla-sdist-") as download:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", "sqlalchemy"]
        fetched = subprocess.run(
            [*command, "--dest", download, f"sqlalchemy=={version}"], capture_output=True, text=True, check=False
        )
        archives = sorted(Path(download).glob("*.tar.gz"))
        if fetched.returncode != 0 or not archives:
            last = (fetched.stderr.strip().splitlines() or ["no archive downloaded"])[-1]
            raise SourceUnavailable(f"cannot download the SQLAlchemy {version} source distribution: {last[:300]}")
        return unpack_docs(archives[0], target)


def unpack_docs(archive: Path, target: Path) -> Path:
    """Unpack only ``doc/build`` and ``lib`` of a source distribution into ``target``."""
    with tarfile.open(archive) as bundle:
        members = []
        for member in bundle.getmembers():
            parts = Path(member.name).parts
            if len(parts) > 2 and parts[1] in ("doc", "lib") and (member.isfile() or member.isdir()):
                member.name = str(Path(*parts[1:]))
                members.append(member)
        target.mkdir(parents=True, exist_ok=True)
        bundle.extractall(target, members=members, filter="data")
    if not (target / "doc" / "build" / "index.rst").is_file():
        raise SourceUnavailable(f"{archive.name} has no doc/build")
    return target


# --- anchors of a page --------------------------------------------------------------------------------------------

TITLE_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+_.:])\1{2,}\s*$")
LABEL = re.compile(r"^\s*\.\. _([^:`]+):\s*$")
MODULE = re.compile(r"^\s*\.\. (?:currentmodule|module|automodule)::\s+([\w.]+)")
API_DIRECTIVE = re.compile(
    r"^(?P<indent>\s*)\.\. (?:auto)?(?P<kind>class|function|method|attribute|data|exception)::\s+(?P<name>[\w.]+)"
)
INCLUDE = re.compile(r"^\s*\.\. include::\s+(\S+)")


def make_id(text: str) -> str:
    """docutils' ``nodes.make_id``: the HTML id Sphinx gives a label or a section title."""
    text = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "-", " ".join(text.split()))
    return re.sub(r"^[-0-9]+|-+$", "", text)


def title_text(line: str) -> str:
    """A section title as rendered: roles and literals reduced to their text."""
    line = re.sub(r":\w+:`(?:[^`<]*<)?([^`>]*)>?`", r"\1", line)
    return line.replace("``", "").replace("`", "").replace("\\", "").strip()


@functools.cache
def page_targets(root: Path, page: str) -> tuple[frozenset[str], frozenset[str]]:
    """(section and label ids, documented API names) of one page, with the docstrings of modules it automodules."""
    path = root / "doc" / "build" / (page[: -len(".html")] if page.endswith(".html") else page.rstrip("/") + "/index")
    path = path.with_suffix(".rst")
    if not path.is_file():
        raise KeyError(f"no page {page} ({path.relative_to(root)} does not exist)")
    ids: set[str] = set()
    api: set[str] = set()
    scan_rst(path.read_text(), root, path.parent, ids, api, module="")
    return frozenset(ids), frozenset(api)


def scan_rst(text: str, root: Path, directory: Path, ids: set[str], api: set[str], module: str) -> None:
    lines = text.splitlines()
    current_class = ""
    for number, line in enumerate(lines):
        if (label := LABEL.match(line)) is not None:
            ids.add(make_id(label.group(1)))
        elif number and TITLE_UNDERLINE.match(line) and lines[number - 1].strip():
            previous = lines[number - 1]
            if len(line.strip()) >= len(previous.strip()) and not TITLE_UNDERLINE.match(previous):
                ids.add(make_id(title_text(previous)))
        if (module_match := MODULE.match(line)) is not None:
            module = module_match.group(1)
            if ".. automodule::" in line:
                api.add(module)  # its members, when listed (``:members:``), resolve through the imported module
                scan_rst(module_docstring(root, module), root, directory, ids, api, module)
        elif (directive := API_DIRECTIVE.match(line)) is not None:
            name, kind = directive.group("name"), directive.group("kind")
            if directive.group("indent") and kind in ("method", "attribute") and current_class:
                full = f"{current_class}.{name}"
            else:
                full = name if name.startswith("sqlalchemy.") or not module else f"{module}.{name}"
            api.add(full)
            if kind in ("class", "exception"):
                current_class = full
        elif (include := INCLUDE.match(line)) is not None and (directory / include.group(1)).is_file():
            scan_rst((directory / include.group(1)).read_text(), root, directory, ids, api, module)


def module_docstring(root: Path, module: str) -> str:
    base = root / "lib" / Path(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return ast.get_docstring(ast.parse(path.read_text()), clean=True) or ""
    return ""


# --- API names: a documented name, a member of a documented class, or a parameter (paramlinks' ``.params.``) --


def resolve_api(anchor: str, documented: frozenset[str], series: str, root: Path) -> str | None:
    """None when the API anchor resolves, else why not."""
    base, _, parameter = anchor.partition(".params.")
    owner = next((name for name in documented if base == name or base.startswith(name + ".")), None)
    if owner is None:
        return f"{base} is not documented on the page (no autoclass / autofunction / ... names it)"
    members = base[len(owner) :].strip(".").split(".") if base != owner else []
    if len(members) > 1:
        return f"{base}: only one member level below a documented name is resolved"
    if series != installed_series():
        return None if not members or member_in_source(root, members[0]) else f"{base}: no member {members[0]}"
    obj = import_name(owner)
    if obj is None:
        return f"{owner} cannot be imported"
    if members:
        obj = getattr(obj, members[0], None)
        if obj is None:
            return f"{owner} has no member {members[0]}"
    if parameter and parameter not in parameters_of(obj):
        return f"{base} has no parameter {parameter}"
    return None


def installed_series() -> str:
    version = Version(sqlalchemy.__version__)
    return f"{version.major}{version.minor}"


def import_name(name: str) -> Any:
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute, None)
        return obj
    return None


def parameters_of(obj: Any) -> set[str]:
    function = obj.__init__ if inspect.isclass(obj) else getattr(obj, "fget", obj)
    names = set(re.findall(r":param (?:[\w\[\], .]+ )?(\w+):", inspect.getdoc(obj) or ""))
    names |= set(re.findall(r":param (?:[\w\[\], .]+ )?(\w+):", inspect.getdoc(function) or ""))
    with contextlib.suppress(TypeError, ValueError):  # builtins and C functions have no signature
        names |= set(inspect.signature(function).parameters)
    return names


def member_in_source(root: Path, member: str) -> bool:
    pattern = re.compile(rf"^\s*(?:def {member}\b|{member}\s*[:=])", re.M)
    return any(pattern.search(path.read_text()) for path in (root / "lib").rglob("*.py"))


def dead_link_reason(url: str) -> str | None:
    """None when the link resolves against the pinned source of its series, else why it does not."""
    match = DOCS_URL.match(url)
    series, page, anchor = match.group("series"), match.group("page"), match.group("anchor")
    root = docs_source(series)
    try:
        ids, api = page_targets(root, page or "index.html")
    except KeyError as error:
        return str(error.args[0])
    if not anchor:
        return f"no anchor: a link to the whole of {page or 'the index'} does not name the documented claim"
    if anchor in ids:
        return None
    if anchor.startswith("sqlalchemy."):
        return resolve_api(anchor, api, series, root)
    return f"no label or section {anchor!r} on {page} (SQLAlchemy {pinned_version(series)})"


# --- tests --------------------------------------------------------------------------------------------------------


def test_the_scan_finds_the_links_of_suites_registry_and_facts():
    links = all_links()
    sources = {where.split()[0] for where, _ in links}
    assert len(links) >= MINIMUM_LINKS, f"only {len(links)} docs.sqlalchemy.org links found"
    assert {"expectations.toml", "target_facts.toml", "test_returning.py"} <= sources


@pytest.mark.parametrize(("where", "url"), all_links(), ids=[f"{where} {url}" for where, url in all_links()])
def test_doc_link_resolves_against_the_pinned_docs_source(where, url):
    try:
        reason = dead_link_reason(url)
    except SourceUnavailable as error:
        pytest.skip(str(error))
    assert reason is None, f"{where}: dead link {url}: {reason}"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("INSERT…ON CONFLICT (Upsert)", "insert-on-conflict-upsert"),
        ("INSERT/UPDATE/DELETE...RETURNING", "insert-update-delete-returning"),
        ("Getting Affected Row Count from UPDATE, DELETE", "getting-affected-row-count-from-update-delete"),
        ('"Insert Many Values" Behavior for INSERT statements', "insert-many-values-behavior-for-insert-statements"),
        ("engine_insertmanyvalues_returning_order", "engine-insertmanyvalues-returning-order"),
    ],
)
def test_make_id_is_what_sphinx_renders(title, expected):
    assert make_id(title_text(title)) == expected


def test_a_page_yields_labels_sections_and_api_names(tmp_path):
    page = tmp_path / "doc" / "build" / "core" / "page.rst"
    page.parent.mkdir(parents=True)
    page.write_text(
        ".. _core_page_toplevel:\n\nThe ``Page``\n============\n\n.. currentmodule:: sqlalchemy.types\n\n"
        ".. autoclass:: Enum\n   :members:\n\n   .. automethod:: create\n\nA Section\n---------\n"
    )
    ids, api = page_targets(tmp_path, "core/page.html")
    assert {"core-page-toplevel", "the-page", "a-section"} <= ids
    assert api == {"sqlalchemy.types.Enum", "sqlalchemy.types.Enum.create"}
    assert resolve_api("sqlalchemy.types.Enum.params.native_enum", api, installed_series(), tmp_path) is None
    assert resolve_api("sqlalchemy.types.Enum.params.no_such_option", api, installed_series(), tmp_path) is not None
    assert resolve_api("sqlalchemy.types.Enum.no_such_member", api, installed_series(), tmp_path) is not None
    assert resolve_api("sqlalchemy.types.Integer", api, installed_series(), tmp_path) is not None
