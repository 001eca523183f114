"""Integration tests: real uv, real interpreters, real packages from PyPI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyrun.interpreters import Interpreter, InterpreterFinder
from pyrun.progress import Reporter


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def other_python(tmp_path_factory: pytest.TempPathFactory) -> Interpreter:
    """An installed CPython whose minor version differs from the one running the tests."""
    finder = InterpreterFinder(tmp_path_factory.mktemp("finder"), Reporter(-1))
    mine = (sys.version_info.major, sys.version_info.minor)
    others = [
        i for i in finder.installed()
        if i.implementation == "cpython" and (i.version.major, i.version.minor) != mine
        and i.version.minor >= 9
    ]
    if not others:
        pytest.skip("needs a second CPython (3.9 or newer) installed")
    return max(others, key=lambda i: i.version)


def pool_names(cache: Path) -> list[str]:
    """Distribution names of the finished pool entries, one per entry."""
    return sorted(p.name.rsplit("-", 2)[0] for p in (cache / "pool").iterdir()
                  if not p.name.startswith("."))
