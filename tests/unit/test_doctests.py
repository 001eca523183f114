"""The examples in docstrings run as tests (doctests), where an example explains best."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["pyrun.environment", "pyrun.fastpath", "pyrun.layout", "pyrun.uvsettings",
           "pyrun.requirementsfile", "pyrun.interpreters", "pyrun.installers.base",
           "pyrun.uvpython"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name in ("pyrun.environment", "pyrun.fastpath"):
        assert result.attempted > 0
