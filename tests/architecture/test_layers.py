"""The layers of ``dteg`` and the one direction imports may flow (from the top of ``LAYERS``
down). A module may import its own package and any package of a lower layer; packages that
share a layer are independent of each other. No import cycle between modules is allowed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.architecture.imports import Import, read_imports

# Top first. Each entry is a layer: one or more packages (dotted names under dteg).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("dteg", "dteg.cli", "dteg.testing"),  # the facades: the command line, the library, the kit
    ("dteg.server",),                      # dteg server's HTTP side: the API and the web UI
    ("dteg.marketplace.server",),          # the marketplace registry service (never the engine's)
    ("dteg.marketplace",),                 # components: manifest, client, install, publish
    ("dteg.auth",),                        # users, tokens, RBAC decisions, the audit log
    ("dteg.orchestrator",),                # dteg server: schedules, queue, workers, alerts
    ("dteg.streaming",),                   # `dteg stream`
    ("dteg.runners", "dteg.governance"),   # runner launchers; lineage, drift (run listeners)
    ("dteg.run",),                         # one recorded run: lifecycle, state, records
    ("dteg.beam",),                        # spec → Beam graph, Beam wrappers of the contracts
    ("dteg.quality",),                     # profiles and quality reports over the stages
    ("dteg.transforms",),                  # row stages (validate, mask, window, dbt, …)
    ("dteg.connectors",),                  # sources and sinks
    ("dteg.security",),                    # keys, ciphers, PII detection, access guard
    ("dteg.spec",),                        # the pipeline file: loader, models, phases, plan
    ("dteg.components",),                  # contracts, capabilities, registry, run folder
    ("dteg.errors", "dteg.version"),       # the error hierarchy; the version
)


def layer_of(module: str) -> tuple[int, str]:
    """(layer index, package) of a module: the longest package prefix named in LAYERS."""
    best: tuple[int, str] | None = None
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and (
                    best is None or len(package) > len(best[1])):
                best = (index, package)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add its package to LAYERS")
    return best


def upward_imports(imports: list[Import]) -> list[str]:
    wrong = []
    for imp in imports:
        (low, own), (high, other) = layer_of(imp.importer), layer_of(imp.imported)
        if own == other:
            continue
        if high < low:
            wrong.append(f"{imp}: `{other}` is in a higher layer than `{own}`")
        elif high == low:
            wrong.append(f"{imp}: `{other}` and `{own}` share a layer and must not import "
                         "each other")
    return wrong


def cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in imports:
        if imp.imported != imp.importer:
            graph[imp.importer].add(imp.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_flow_down_the_layers() -> None:
    wrong = upward_imports(read_imports())
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    # The package root (`dteg`) is a facade: importing `dteg.x` runs dteg/__init__ first,
    # which is how Python works, not a dependency of x on the facade.
    found = cycles(read_imports())
    assert not found, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_every_module_is_in_a_layer() -> None:
    for imp in read_imports():
        layer_of(imp.importer)
        layer_of(imp.imported)


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    package = tmp_path / "dteg"
    (package / "spec").mkdir(parents=True)
    (package / "beam").mkdir()
    for folder in (package, package / "spec", package / "beam"):
        (folder / "__init__.py").write_text("")
    (package / "beam" / "compiler.py").write_text("from dteg.spec import models\n")
    (package / "spec" / "models.py").write_text(
        "def f():\n    from dteg.beam.compiler import x\n")
    imports = read_imports(package)
    wrong = upward_imports(imports)
    assert len(wrong) == 1 and "dteg.spec.models (line 2) imports dteg.beam.compiler" in wrong[0]
    assert cycles(imports) == [["dteg.beam.compiler", "dteg.spec.models"]]


@pytest.mark.parametrize("package", [p for layer in LAYERS for p in layer if p != "dteg"])
def test_each_layer_exists(package: str) -> None:
    path = Path(__file__).resolve().parents[2].joinpath(*package.split("."))
    assert path.is_dir() or path.with_suffix(".py").is_file(), f"{package} is gone: update LAYERS"
