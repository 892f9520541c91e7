"""The architecture, from the import graph (grimp, the graph import-linter checks contracts on):

- the pytest plugin (``pytest_diffchallenge``) never imports the orchestration (``diffchallenge``);
- no package has an import cycle among its modules;
- the worker, where candidate code runs, reaches only the kit modules in ``worker.ALLOWED_IMPORTS``;
- every module's import name matches its path;
- the commands that only read the bank (``list``, ``show``, ``start``) do not import torch.

grimp parses every ``import`` statement, including those inside functions: a lazy import is still a dependency.
"""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from pytest_diffchallenge.worker import ALLOWED_IMPORTS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"pytest_diffchallenge": ROOT / "pytest_diffchallenge", "diffchallenge": ROOT / "grader" / "diffchallenge"}
PLUGIN, ORCHESTRATION, WORKER = "pytest_diffchallenge", "diffchallenge", "pytest_diffchallenge.worker"


def python_files(package: str) -> list[Path]:
    return sorted(p for p in PACKAGES[package].rglob("*.py") if "__pycache__" not in p.parts)


def dotted_name(package: str, path: Path) -> str:
    parts = list(path.relative_to(PACKAGES[package].parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def folders_without_init(package: str) -> list[Path]:
    """Folders holding modules but no __init__.py: implicit namespace packages inside a regular package."""
    folders = {path.parent for path in python_files(package)}
    return sorted(folder for folder in folders if not (folder / "__init__.py").is_file())


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def allowed_in_worker(module: str) -> bool:
    return any(in_package(module, allowed) for allowed in ALLOWED_IMPORTS)


@pytest.fixture(scope="module")
def graph():
    # grimp skips a folder without __init__.py, so such a folder is named as a package of its own: the graph
    # then holds every module (checked below), whatever test_every_folder_of_modules_is_a_regular_package says.
    namespaces = [dotted_name(package, folder / "__init__.py")
                  for package in PACKAGES for folder in folders_without_init(package)]
    return grimp.build_graph(*PACKAGES, *namespaces, cache_dir=None)


def kit_modules(graph, package: str) -> set[str]:
    return {m for m in graph.modules if in_package(m, package)}


def where(graph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    return "; ".join(f"{d['importer']}:{d['line_number']} {d['line_contents']!r}" for d in details) or \
        f"{importer} -> {imported}"


def explain_chain(graph, chain) -> str:
    return "\n      ".join(where(graph, a, b) for a, b in zip(chain, chain[1:], strict=False))


def test_the_graph_holds_every_module_of_the_kit(graph):
    expected = {dotted_name(package, path) for package in PACKAGES for path in python_files(package)}
    assert expected <= set(graph.modules), sorted(expected - set(graph.modules))
    assert {"pytest_diffchallenge.worker.serve", "diffchallenge.cli", "diffchallenge.bank.mutants"} <= expected


# -- (a) the plugin never imports the orchestration ----------------------------------------------------------
def test_the_plugin_never_imports_the_orchestration(graph):
    orchestration = kit_modules(graph, ORCHESTRATION)
    found = [where(graph, importer, imported)
             for importer in sorted(kit_modules(graph, PLUGIN))
             for imported in sorted(graph.find_modules_directly_imported_by(importer) & orchestration)]
    assert not found, "pytest_diffchallenge imports diffchallenge:\n  " + "\n  ".join(found)


DYNAMIC_IMPORTERS = {"import_module", "__import__", "find_spec", "run_module", "find_loader"}


def dynamic_imports(path: Path) -> list[tuple[int, str]]:
    """Module names given as text: importlib.import_module("x"), __import__("x"), pytest_plugins = ["x"]."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function in DYNAMIC_IMPORTERS and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
        elif isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "pytest_plugins"
                                                   for target in node.targets):
            found += [(node.lineno, item.value) for item in ast.walk(node.value)
                      if isinstance(item, ast.Constant) and isinstance(item.value, str)]
    return found


def test_the_plugin_does_not_import_the_orchestration_dynamically():
    # importlib.import_module("diffchallenge...") or a pytest_plugins entry would not show in the graph
    found = [f"{path.relative_to(ROOT)}:{line} {name!r}" for path in python_files(PLUGIN)
             for line, name in dynamic_imports(path) if in_package(name, ORCHESTRATION)]
    assert not found, found
    plugin_entries = [name for line, name in dynamic_imports(PACKAGES[PLUGIN] / "plugin.py")]
    assert "pytest_diffchallenge.checks" in plugin_entries, "the detector sees pytest_plugins"


# -- (b) no cycles ------------------------------------------------------------------------------------------
def strongly_connected(nodes: set[str], edges) -> list[list[str]]:
    """Tarjan's algorithm: the components of more than one module, or of one that imports itself."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges(node) & nodes):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges(node):
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return sorted(found)


def describe_cycle(graph, component: list[str]) -> str:
    first = component[0]
    members = set(component)
    successor = sorted(graph.find_modules_directly_imported_by(first) & members)[0] if len(component) > 1 else first
    back = graph.find_shortest_chain(importer=successor, imported=first) if successor != first else (first,)
    cycle = (first, *back)
    return " -> ".join(cycle) + "\n      " + explain_chain(graph, cycle)


@pytest.mark.parametrize("package", list(PACKAGES))
def test_no_import_cycles_among_the_modules_of_a_package(graph, package):
    modules = kit_modules(graph, package)
    cycles = strongly_connected(modules, graph.find_modules_directly_imported_by)
    assert not cycles, f"import cycles in {package}:\n  " + "\n  ".join(describe_cycle(graph, c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert strongly_connected(set(edges), lambda n: edges.get(n, set())) == [["a", "b", "c"], ["d"]]


# -- (c) the worker reaches only what it may import -----------------------------------------------------------
def test_allowed_imports_name_modules_of_the_plugin(graph):
    assert ALLOWED_IMPORTS and all(in_package(name, PLUGIN) for name in ALLOWED_IMPORTS)
    assert not [name for name in ALLOWED_IMPORTS if name not in graph.modules], "a stale name in ALLOWED_IMPORTS"


def disallowed_reach(graph, starts) -> list[str]:
    kit = kit_modules(graph, PLUGIN) | kit_modules(graph, ORCHESTRATION)
    found, seen = [], set()
    for start in sorted(starts):
        for reached in sorted(graph.find_upstream_modules(start) & kit - seen):
            if not allowed_in_worker(reached):
                seen.add(reached)  # reported once, by the first module that reaches it
                chain = graph.find_shortest_chain(importer=start, imported=reached)
                found.append(f"{reached} (via {' -> '.join(chain)})\n      {explain_chain(graph, chain)}")
    return found


def test_the_worker_reaches_only_allowed_kit_modules(graph):
    worker = kit_modules(graph, WORKER)
    assert {"pytest_diffchallenge.worker.serve", "pytest_diffchallenge.worker.__main__"} <= worker
    found = disallowed_reach(graph, worker)
    assert not found, "the worker reaches kit modules not in ALLOWED_IMPORTS:\n  " + "\n  ".join(found)


def test_what_the_allowed_modules_import_is_allowed_too(graph):
    # A probe may import any allowed module, so whatever an allowed module reaches must be allowed as well.
    allowed = {m for m in kit_modules(graph, PLUGIN) if allowed_in_worker(m)}
    found = disallowed_reach(graph, allowed)
    assert not found, "ALLOWED_IMPORTS is not closed under import:\n  " + "\n  ".join(found)


def kit_imports_of(path: Path, graph) -> list[tuple[int, str]]:
    """The kit modules a file imports (``from package import module`` resolved to the module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in graph.modules else node.module
                     for alias in node.names]
        else:
            continue
        found += [(node.lineno, name) for name in names if in_package(name, PLUGIN) or in_package(name, ORCHESTRATION)]
    return found


PROBES = sorted((ROOT / "challenges").glob("*/probes.py")) + sorted((ROOT / "tests" / "toy-bank").glob("*/*/probes.py"))


def test_the_probes_the_worker_loads_import_only_allowed_kit_modules(graph):
    # serve.Worker loads the challenge's probes.py inside the worker: its imports are the worker's imports.
    assert len(PROBES) >= 10
    found = []
    for path in PROBES:
        for line, name in kit_imports_of(path, graph):
            reached = {name} | (graph.find_upstream_modules(name) if name in graph.modules else set())
            found += [f"{path.relative_to(ROOT)}:{line} imports {name}, reaching {m}"
                      for m in sorted(reached) if not allowed_in_worker(m)]
    assert not found, "\n".join(found)


# -- (d) import names match paths ------------------------------------------------------------------------------
@pytest.mark.parametrize("package", list(PACKAGES))
def test_every_module_is_importable_under_the_dotted_name_of_its_path(package):
    files = python_files(package)
    assert len(files) >= 10
    wrong = []
    for path in files:
        name = dotted_name(package, path)
        spec = importlib.util.find_spec(name)  # imports the parent packages only, never the module itself
        origin = spec.origin if spec else None
        if origin is None or Path(origin).resolve() != path.resolve():
            wrong.append(f"{name}: found at {origin}, expected {path.relative_to(ROOT)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", list(PACKAGES))
def test_every_package_folder_is_found_where_it_lies(package):
    for folder in sorted({path.parent for path in python_files(package)}):
        name = dotted_name(package, folder / "__init__.py")
        spec = importlib.util.find_spec(name)
        locations = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
        assert locations == [folder.resolve()], f"{name}: found at {locations}, expected {folder}"


@pytest.mark.parametrize("package", list(PACKAGES))
def test_every_folder_of_modules_is_a_regular_package(package):
    # A folder without __init__.py is an implicit namespace package: tools that walk packages (grimp and
    # import-linter, pkgutil, setuptools' find_packages) skip it, and its name can merge with a folder of the
    # same name elsewhere on sys.path.
    missing = [str(folder.relative_to(ROOT)) for folder in folders_without_init(package)]
    assert not missing, f"folders of {package} without __init__.py: {missing}"


def test_no_module_of_the_kit_lies_outside_its_package():
    stray = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader").glob("*.py"))
    assert not stray, f"modules in grader/ outside grader/diffchallenge/ (importable under no name): {stray}"


# -- (e) the read-only commands stay light --------------------------------------------------------------------
PROBE_SCRIPT = ("import sys; from diffchallenge.cli import main; rc = main({argv!r}); "
                "assert 'torch' not in sys.modules, "
                "sorted(m for m in sys.modules if m.startswith(('torch','diffusers')))[:5]; sys.exit(rc)")


@pytest.mark.parametrize("argv", [["list"], ["show", "ddim-step"], ["start", "ddim-step", "{dir}"]],
                         ids=["list", "show", "start"])
def test_read_only_commands_do_not_import_torch(tmp_path, argv):
    argv = [arg.replace("{dir}", str(tmp_path / "workspace")) for arg in argv]
    environment = {**os.environ, "DIFFCHALLENGE_BANK": str(ROOT), "COLUMNS": "120"}
    result = subprocess.run([sys.executable, "-c", PROBE_SCRIPT.format(argv=argv)], cwd=tmp_path,
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{argv}: exit {result.returncode}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    if argv[0] == "list":
        assert "ddim-step" in result.stdout
    if argv[0] == "start":
        assert (tmp_path / "workspace" / "solution.py").is_file()
