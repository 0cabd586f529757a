"""The package's layers: which modules may import which, read from the source.

Every ``import`` counts, at module level or inside a function: a lazy import is still a
dependency.
"""

import ast
import configparser
import importlib.metadata
import pathlib
import re
import subprocess
import sys

import pytest

import dcmanager

PACKAGE = pathlib.Path(dcmanager.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, name: str, known: set[str]) -> set[str]:
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {module for module in found if module in known and module != name}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: _imports(path, name, known) for name, path in paths.items()}


GRAPH = _graph()


def _under(module: str, *prefixes: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _offenders(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        module: sorted(imported for imported in imports if _under(imported, *forbidden))
        for module, imports in GRAPH.items()
        if _under(module, *importers) and any(_under(i, *forbidden) for i in imports)
    }


SERVER_SIDE = (
    "dcmanager.api",
    "dcmanager.orchestrator",
    "dcmanager.manager",
    "dcmanager.audit",
    "dcmanager.agent",
    "dcmanager.cmd",
    "dcmanager.cli",
    "dcmanager.drivers",
)


@pytest.mark.parametrize(
    ("importers", "forbidden"),
    [
        # The vocabulary and plumbing at the bottom import nothing above them.
        (("dcmanager.common",), (*SERVER_SIDE, "dcmanager.db", "dcmanager.helm")),
        # The database layer knows states, not the engine or the API.
        (("dcmanager.db",), SERVER_SIDE),
        # Schemas check shapes and types: no queries, no engine rules, no drivers.
        (
            ("dcmanager.api.schemas",),
            ("dcmanager.orchestrator", "dcmanager.drivers", "dcmanager.db.orchestration"),
        ),
        # Drivers are called by the engine, never the other way round.
        (("dcmanager.drivers",), ("dcmanager.api", "dcmanager.orchestrator", "dcmanager.cli")),
        # The Helm values engine is pure: the CLI uses it too.
        (
            ("dcmanager.helm.strvals", "dcmanager.helm.yamlio", "dcmanager.helm.values"),
            (*SERVER_SIDE, "dcmanager.db", "dcmanager.conf"),
        ),
    ],
)
def test_no_module_imports_a_layer_above_it(importers, forbidden):
    assert _offenders(importers, forbidden) == {}


def test_the_cli_imports_only_the_cli_and_the_shared_vocabulary():
    allowed = (
        "dcmanager.cli",
        "dcmanager.version",
        "dcmanager.common.states",
        "dcmanager.common.subcloud_states",
        "dcmanager.common.catalog",
        "dcmanager.common.redaction",
        "dcmanager.helm.maps",
        "dcmanager.helm.numbers",
        "dcmanager.helm.strvals",
        "dcmanager.helm.yamlio",
    )
    outside = {
        module: sorted(i for i in imports if not _under(i, *allowed, "dcmanager.common"))
        for module, imports in GRAPH.items()
        if _under(module, "dcmanager.cli")
    }
    assert {module: imports for module, imports in outside.items() if imports} == {}
    used_common = {
        imported
        for module, imports in GRAPH.items()
        if _under(module, "dcmanager.cli")
        for imported in imports
        if _under(imported, "dcmanager.common")
    }
    assert used_common <= set(allowed) | {"dcmanager.common"}


def test_the_cli_runs_without_the_server_libraries():
    """Every CLI module imported in a fresh interpreter loads none of the server's
    libraries, so the CLI can be installed with its client dependencies alone."""
    cli_modules = sorted(name for name in GRAPH if _under(name, "dcmanager.cli"))
    script = (
        "import importlib, sys\n"
        f"for name in {cli_modules!r}: importlib.import_module(name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    server_libraries = {
        "alembic",
        "eventlet",
        "keystonemiddleware",
        "oslo_config",
        "oslo_db",
        "oslo_messaging",
        "oslo_policy",
        "pecan",
        "sqlalchemy",
        "webob",
    }
    assert loaded & server_libraries == set()


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in GRAPH[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while (member := stack.pop()) != module:
                component.append(member)
            if component:
                cycles.append(sorted([module, *component]))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert cycles == []


def _third_party_imports() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"dcmanager"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The distributions requirements.txt and the extras of setup.cfg declare."""
    lines = (PACKAGE.parent / "requirements.txt").read_text().splitlines()
    setup = configparser.ConfigParser()
    setup.read(PACKAGE.parent / "setup.cfg")
    if setup.has_section("extras"):
        for _, listed in setup.items("extras"):
            lines += listed.splitlines()
    return {
        _canonical(re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0])
        for line in lines
        if line.strip() and not line.strip().startswith("#")
    }


def test_every_library_the_package_imports_is_a_declared_requirement():
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    undeclared = {
        name: sorted(_canonical(dist) for dist in distributions.get(name, [name]))
        for name in _third_party_imports()
        if not declared & {_canonical(dist) for dist in distributions.get(name, [name])}
    }
    assert undeclared == {}


MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def test_modules_and_functions_stay_small():
    """Past these sizes a module or function is split by responsibility (migrations are
    written once and never change, so they are left out)."""
    too_big = []
    for path in PACKAGE.rglob("*.py"):
        if "alembic" in path.parts:
            continue
        text = path.read_text()
        name = _module_name(path)
        if text.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_big.append(f"{name}.{node.name}: {length} lines")
    assert too_big == []
