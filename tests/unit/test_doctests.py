"""The examples in docstrings run as tests (doctests), where an example explains best: every
module of the package is searched (a hand-kept list forgot the new ones)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pyrun

MODULES = sorted(m.name for m in pkgutil.walk_packages(pyrun.__path__, "pyrun.")
                 if not m.name.endswith("__main__"))


def test_the_walk_finds_the_package() -> None:
    assert {"pyrun.fastpath", "pyrun.wsp.toolkit", "pyrun.engine.installers.uv"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name in ("pyrun.engine.environment", "pyrun.fastpath", "pyrun.script.uvsettings"):
        assert result.attempted > 0
