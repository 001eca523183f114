"""The module map holds: no import cycles, no upward imports, the front ends (the CLI and WSP)
use only the engine's public API, and nothing below the engine knows that WSP exists.

Imports inside functions and under ``TYPE_CHECKING`` count: they are edges of the map too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pyrun

SRC = Path(pyrun.__file__).parent

#: Each module's layer, bottom first; a module imports only from lower layers (a package's
#: ``__init__`` counts as its own module). docs/design.md draws the same map.
LAYERS: list[set[str]] = [
    # the package (its version and docs URL); output and its colours; shell completion
    {"pyrun", "pyrun.progress", "pyrun.completion"},
    {"pyrun.errors", "pyrun.faults", "pyrun.layout", "pyrun.inprocess"},
    {"pyrun.subprocesses", "pyrun.pythonenvs", "pyrun.uvsettings", "pyrun.remote",
     "pyrun.envfiles", "pyrun.fastpath", "pyrun.requirementsfile"},
    {"pyrun.uvpython"},
    {"pyrun.launch", "pyrun.metadata", "pyrun.interpreters", "pyrun.resolution",
     "pyrun.cache"},
    {"pyrun.installers.base"},
    {"pyrun.installers.uv", "pyrun.installers.pip"},
    {"pyrun.installers", "pyrun.pool", "pyrun.locking", "pyrun.editing"},
    {"pyrun.composition", "pyrun.bytecode"},
    {"pyrun.environment"},
    {"pyrun.engine", "pyrun.maintenance"},
    {"pyrun.wsp", "pyrun.wsp.framing"},
    {"pyrun.wsp.jsonrpc"},
    {"pyrun.wsp.client", "pyrun.wsp.declaration"},
    {"pyrun.wsp.server"},
    {"pyrun.wsp.toolkit"},
    {"pyrun.wsp.cli"},
    {"pyrun.cli"},
    {"pyrun.__main__"},
]

#: What the workflow server protocol may import from pyrun outside ``pyrun.wsp``.
PUBLIC_API = {"pyrun", "pyrun.engine", "pyrun.errors", "pyrun.pythonenvs"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """``{module: the pyrun modules it imports}``."""
    known = {module_name(p) for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        name = module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("pyrun"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "pyrun" or node.module.startswith("pyrun."):
                    for alias in node.names:
                        sub = f"{node.module}.{alias.name}"
                        found.add(sub if sub in known else node.module)
        graph[name] = found - {name}
    return graph


def test_every_module_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    assert set(imports()) == placed


def test_no_upward_or_sideways_imports() -> None:
    rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    wrong = [f"{m} (layer {rank[m]}) imports {d} (layer {rank[d]})"
             for m, deps in sorted(imports().items()) for d in sorted(deps) if rank[d] >= rank[m]]
    assert wrong == []


def test_no_cycles() -> None:
    graph = imports()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            assert state.get(dep) != 1, " -> ".join([*trail, node, dep])
            if dep not in state:
                visit(dep, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_wsp_uses_only_the_public_api() -> None:
    for module, deps in imports().items():
        if module.startswith("pyrun.wsp"):
            outside = {d for d in deps if not d.startswith("pyrun.wsp")} - PUBLIC_API
            assert outside == set(), (module, outside)


def test_nothing_below_the_front_ends_knows_wsp() -> None:
    for module, deps in imports().items():
        if not module.startswith("pyrun.wsp") and module not in ("pyrun.cli", "pyrun.__main__"):
            assert not any(d.startswith("pyrun.wsp") for d in deps), module
