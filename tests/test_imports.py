"""The package's import structure: no cycle, and no module imports one from a layer above it.

Layers, bottom up: config schemas -> data, models, metrics -> training, evaluation, cache, records and tables ->
methods, attacks, cache keys -> pipelines -> runner -> command lines (run, compose, tune, report CLIs). Every import
counts, a late one inside a function too: that is how a cycle hides.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import unlearn_bench

PACKAGE = Path(unlearn_bench.__file__).parent

# Longest prefix wins; the package itself ("unlearn_bench") is not a prefix: a new module must be given its layer.
LAYERS = {
    "unlearn_bench": 0,
    "unlearn_bench.errors": 0,
    "unlearn_bench.config": 0,
    "unlearn_bench.generation": 0,  # package docstrings only; their modules have their own layers
    "unlearn_bench.generation.config": 0,
    "unlearn_bench.generation.sd.config": 0,
    "unlearn_bench.data": 1,
    "unlearn_bench.models": 1,
    "unlearn_bench.metrics": 1,
    "unlearn_bench.stats": 1,
    "unlearn_bench.runtime": 1,
    "unlearn_bench.conf_local": 1,
    "unlearn_bench.shifts": 1,
    "unlearn_bench.plugins": 1,
    "unlearn_bench.training": 2,
    "unlearn_bench.evaluation": 2,
    "unlearn_bench.cache": 2,
    "unlearn_bench.packs": 2,
    "unlearn_bench.ensemble": 2,
    "unlearn_bench.stacked": 2,
    "unlearn_bench.results": 2,
    "unlearn_bench.report": 2,  # reads records: tables, figures, claims, the page (its CLIs meta and cards: 6)
    "unlearn_bench.loggers": 2,
    "unlearn_bench.generation.ddpm": 2,
    "unlearn_bench.generation.grids": 2,
    "unlearn_bench.generation.sampling": 2,
    "unlearn_bench.generation.metrics": 2,
    "unlearn_bench.generation.sd.pipeline": 2,
    "unlearn_bench.generation.sd.data": 3,  # SDView: the SD methods' view of their data
    "unlearn_bench.generation.sd.metrics": 2,
    "unlearn_bench.methods": 3,
    "unlearn_bench.generation.methods": 3,
    "unlearn_bench.generation.sd.methods": 3,
    "unlearn_bench.isolation": 3,
    "unlearn_bench.attacks": 3,
    "unlearn_bench.keys": 3,  # every cache key; reads which eval options are attacks
    "unlearn_bench.pipelines": 4,
    "unlearn_bench.runner": 5,
    "unlearn_bench.__main__": 6,
    "unlearn_bench.compose": 6,
    "unlearn_bench.tune": 6,
    "unlearn_bench.report.cards": 6,
    "unlearn_bench.report.meta": 6,
    "unlearn_bench.options": 6,
    "unlearn_bench.console": 6,
    "unlearn_bench.catalog": 6,
    "unlearn_bench.benchmark": 6,
    "unlearn_bench.bench": 6,
}


def module_name(path: Path) -> str:
    parts = ["unlearn_bench", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int | None:
    prefixes = [p for p in LAYERS if module == p or (p != "unlearn_bench" and module.startswith(p + "."))]
    return LAYERS[max(prefixes, key=len)] if prefixes else None


def imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source (``from a import b`` counts as ``a.b`` when
    that is a module, else ``a``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [base])])
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return {m for m in found if m in MODULES and m != module}


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_layer():
    assert not [m for m in MODULES if layer(m) is None], "give these modules a layer in LAYERS"


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
              for a, targets in GRAPH.items() for b in sorted(targets) if layer(b) > layer(a)]
    assert not upward, "\n".join(upward)


def test_no_run_imports_reporting():
    """A run writes its record; reporting reads records (the command line prints a run's table after it returns)."""
    def reached(module: str, seen: set[str]) -> set[str]:
        for nxt in GRAPH[module] - seen:
            seen.add(nxt)
            reached(nxt, seen)
        return seen

    assert not {m for m in reached("unlearn_bench.runner", set()) if m.startswith("unlearn_bench.report")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path a -> ... -> a, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_late_import_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.slow
@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "unlearn_bench.__main__"))
def test_every_module_imports_in_a_fresh_interpreter(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr[-2000:]
