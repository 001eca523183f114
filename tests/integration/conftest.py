"""Integration tests: real uv, real interpreters, real packages from PyPI."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from pyrun.engine.interpreters import Interpreter, InterpreterFinder
from pyrun.progress import Reporter
from tests.helpers import Runner


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


@pytest.fixture(scope="session", autouse=True)
def pool_is_never_written(pyrun: Runner) -> Iterator[None]:
    """After the whole session: nothing in any pool entry is newer than the entry's marker.

    The marker is the last thing written when an entry is finished (or when a second
    interpreter adds its bytecode, under the entry's lock), so a run that wrote into a finished
    entry (a ``.pyc`` for a module imported from it, say) would leave a newer file.
    """
    yield
    pool = pyrun.cache / "pool"
    if not pool.is_dir():
        return
    newer = []
    for entry in pool.iterdir():
        marker = entry / "pyrun-entry.json"
        if entry.name.startswith(".") or not marker.is_file():
            continue
        limit = marker.stat().st_mtime_ns
        for dirpath, dirnames, filenames in os.walk(entry):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                if os.lstat(p).st_mtime_ns > limit:
                    newer.append(p)
    assert not newer, f"written after their entry was finished: {newer[:5]}"
