"""The folders are the layers: ``ls src/pyrun`` shows the flow, and these tests hold it.

* The root holds the ground floor and the warm path, standard library only.
* ``script/`` (what a script says), ``store/`` (the cache on disk), ``engine/`` (building and
  running), ``wsp/`` (the protocol) and ``cli/`` (the command) are layers in that order: a
  module imports only from its own folder or a folder before it.
* Outside ``engine/``, only the engine's public face (``pyrun.engine``) is imported.
* WSP uses only the public API; nothing below the front ends knows that WSP exists.
* No import cycles, inside a folder either.

Imports inside functions and under ``TYPE_CHECKING`` count: they are edges of the map too.
docs/design.md draws the same map.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import pyrun

SRC = Path(pyrun.__file__).parent

#: The layer folders, bottom first ("" is the root: the ground floor and the warm path).
FOLDERS = ["", "script", "store", "engine", "wsp", "cli", "ray"]

#: The root's modules: each one the warm path or the ground floor under every layer.
GROUND = {"pyrun", "pyrun.__main__", "pyrun.errors", "pyrun.progress", "pyrun.faults",
          "pyrun.layout", "pyrun.fastpath", "pyrun.inputs", "pyrun.launch", "pyrun.inprocess",
          "pyrun.subprocesses"}

#: ``python -m pyrun``: a front end that lives at the root because Python looks for it there.
ENTRY = "pyrun.__main__"

#: What a ground-floor module may import besides the standard library: ``pyrun.layout``
#: platformdirs, off Linux only (:func:`pyrun.layout.cache_root` computes its Linux answer
#: itself).
GROUND_EXTRAS = {"pyrun.layout": {"platformdirs"}}

#: No module is longer than this (lines): one concept each.
MAX_LINES = 450

#: What the workflow server protocol may import from pyrun outside ``pyrun.wsp``.
PUBLIC_API = {"pyrun", "pyrun.engine", "pyrun.errors", "pyrun.progress",
              "pyrun.script.pythonenvs", "pyrun.script.userconfig"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _trees() -> dict[str, ast.AST]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
            for p in SRC.rglob("*.py")}


def imports(others: bool = False) -> dict[str, set[str]]:
    """``{module: the pyrun modules it imports}`` (with ``others``: the top-level names of
    every other module it imports)."""
    trees = _trees()
    known = set(trees)
    graph: dict[str, set[str]] = {}
    for name, tree in trees.items():
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name if a.name.startswith("pyrun") or not others
                             else a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "pyrun" or node.module.startswith("pyrun."):
                    for alias in node.names:
                        sub = f"{node.module}.{alias.name}"
                        found.add(sub if sub in known else node.module)
                else:
                    found.add(node.module.split(".")[0])
        graph[name] = {d for d in found if others or d.startswith("pyrun")} - {name}
        if not others:
            graph[name] = {d for d in graph[name] if d == "pyrun" or d.startswith("pyrun.")}
    return graph


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (SRC / parts[1]).is_dir() else ""


def test_every_folder_is_a_layer_and_every_root_module_is_ground() -> None:
    assert {folder(m) for m in imports()} == set(FOLDERS)
    assert {m for m in imports() if folder(m) == ""} == GROUND


def test_no_upward_imports_between_folders() -> None:
    rank = {f: i for i, f in enumerate(FOLDERS)}
    wrong = [f"{m} imports {d}" for m, deps in sorted(imports().items()) if m != ENTRY
             for d in sorted(deps) if rank[folder(d)] > rank[folder(m)]]
    assert wrong == []


def test_only_the_engine_s_public_face_is_imported_from_outside() -> None:
    wrong = [f"{m} imports {d}" for m, deps in sorted(imports().items())
             if folder(m) != "engine" for d in sorted(deps) if d.startswith("pyrun.engine.")]
    assert wrong == []


def test_the_ground_floor_uses_the_standard_library_only() -> None:
    if not hasattr(sys, "stdlib_module_names"):  # Python 3.9
        pytest.skip("sys.stdlib_module_names is new in Python 3.10")
    for module, deps in imports(others=True).items():
        if folder(module) == "" and module != ENTRY:
            outside = ({d for d in deps if not d.startswith("pyrun")}
                       - set(sys.stdlib_module_names) - GROUND_EXTRAS.get(module, set()))
            assert outside == set(), (module, outside)


def test_the_engine_s_modules_never_import_its_face() -> None:
    """Inside ``engine/`` a step imports the step it needs, never ``pyrun.engine`` itself (the
    face imports every step: that would be a cycle the lazy face only hides)."""
    wrong = [m for m, deps in imports().items()
             if folder(m) == "engine" and m != "pyrun.engine" and "pyrun.engine" in deps]
    assert wrong == []


def test_modules_named_as_strings_are_in_their_layer() -> None:
    """What is imported by name (``importlib``) counts as an edge too: the CLI's command table
    names commands in ``cli/``, the engine's face names its own steps (or the floors below),
    the build's prefetch names engine steps."""
    import pyrun.cli
    import pyrun.engine
    from pyrun.engine import build

    known = set(imports())
    commands = {module for _name, module, _usage, _about in pyrun.cli.COMMANDS}
    assert commands <= known and {folder(m) for m in commands} == {"cli"}
    import pyrun.cli.wsp

    nested = set(pyrun.cli.wsp.NESTED.values())  # pyrun wsp init's module
    assert nested <= known and {folder(m) for m in nested} == {"cli"}
    faces = set(pyrun.engine._WHERE.values())
    assert faces <= known and {folder(m) for m in faces} <= {"", "script", "engine"}
    assert sorted(pyrun.engine.__all__) == sorted(pyrun.engine._WHERE)
    later = {m for m in build.LATER if m.startswith("pyrun")}
    assert later <= known and {folder(m) for m in later} == {"engine"}


def test_no_relative_imports() -> None:
    """Every import names its module whole, so these rules see every edge."""
    relative = [name for name, tree in _trees().items() for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert relative == []


def test_no_module_is_longer_than_one_concept() -> None:
    lengths = {module_name(p): len(p.read_text(encoding="utf-8").splitlines())
               for p in SRC.rglob("*.py")}
    assert {m: n for m, n in lengths.items() if n > MAX_LINES} == {}


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
        if folder(module) == "wsp":
            outside = {d for d in deps if folder(d) != "wsp"} - PUBLIC_API
            assert outside == set(), (module, outside)


def test_nothing_below_the_front_ends_knows_wsp() -> None:
    for module, deps in imports().items():
        if folder(module) not in ("wsp", "cli") and module != ENTRY:
            assert not any(folder(d) == "wsp" for d in deps), module
