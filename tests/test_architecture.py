"""The shape of the code: imports run one way, and plug-ins are found the way users' are.

- The module import graph of ``hpfree`` (every ``import``, also those inside functions) has
  no cycle, and no ``hpfree`` module imports a ``hydra_plugins`` package: the Hydra plug-ins
  (sweeper, launchers) sit on top of the core, never under it.
- Every built-in optimizer, workload, runner and queue back-end is declared as an entry
  point, and the list agrees with what the uninstalled-checkout fallback finds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hpfree import plugins
from hpfree.optimizers import registry as optimizer_registry
from hpfree.runners import registry as runner_registry
from hpfree.sweeps import backends
from hpfree.workloads import registry as workload_registry

PACKAGE = Path(__file__).resolve().parents[1] / "hpfree"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(``{module: hpfree modules it imports}``, ``{module: other top-level packages}``)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    external: dict[str, set[str]] = {m: set() for m in files}

    def target(name: str) -> str:
        while name and name not in files:  # `from hpfree.x import name`: name is an attribute
            name = name.rpartition(".")[0]
        return name

    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    up = parts[:len(parts) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            for name in names:
                top = name.split(".")[0]
                if top == "hpfree":
                    t = target(name)
                    if t and t != mod:
                        graph[mod].add(t)
                elif top:
                    external[mod].add(top)
    return graph, external


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle():
    graph, _ = import_graph()
    assert len(graph) > 50
    assert cycles(graph) == []


def test_the_core_never_imports_the_hydra_plugins():
    _, external = import_graph()
    offenders = {m: e for m, e in external.items() if "hydra_plugins" in e}
    assert offenders == {}


def test_the_cycle_finder_finds_a_cycle():  # the check above can fail
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


REGISTRIES = {
    "hpfree.optimizers": optimizer_registry.REGISTRY,
    "hpfree.workloads": workload_registry.REGISTRY,
    "hpfree.runners": runner_registry.REGISTRY,
    "hpfree.backends": backends.REGISTRY,
}


@pytest.mark.parametrize("group", sorted(REGISTRIES))
def test_builtins_are_entry_points_and_agree_with_the_fallback_scan(group):
    registry = REGISTRIES[group]
    declared = plugins.declared_entry_points(group)
    assert declared, f"hpfree declares no {group} entry points (is it installed?)"
    scanned = plugins.Registry(group, registry.kind, registry.spec_type, registry.fallback)
    scanned._scan_fallback()
    assert sorted(scanned._specs) == sorted(declared)
    loaded = registry.all()
    for name in declared:
        assert loaded[name] is scanned._specs[name]  # the very objects the entry points name
