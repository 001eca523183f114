"""Shared fixtures: one pyrun cache and one uv cache for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Runner

SRC = Path(__file__).resolve().parents[1] / "src"
#: ``{path: mtime_ns}`` of the ``.pyc`` files under ``src/`` when the session started, kept
#: only when ``PYTHONDONTWRITEBYTECODE`` was set then (``None``: not checked).
_bytecode_at_start: dict[str, int] | None = None
_bytecode_written: list[str] = []


def _bytecode_under(top: Path) -> dict[str, int]:
    found = {}
    for dirpath, _dirnames, filenames in os.walk(top):
        for name in filenames:
            if name.endswith(".pyc"):
                path = os.path.join(dirpath, name)
                found[path] = os.lstat(path).st_mtime_ns
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    global _bytecode_at_start
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        _bytecode_at_start = _bytecode_under(SRC)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when bytecode appeared under ``src/`` although ``PYTHONDONTWRITEBYTECODE``
    was set when it started: a test started a child without it (an ``env=`` built from
    scratch, say), and the child left ``__pycache__`` in the tree."""
    if _bytecode_at_start is None:
        return
    _bytecode_written.extend(sorted(path for path, mtime in _bytecode_under(SRC).items()
                                    if _bytecode_at_start.get(path) != mtime))
    if _bytecode_written:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _bytecode_written:
        return
    folders = sorted({os.path.relpath(os.path.dirname(p), SRC.parent) for p in _bytecode_written})
    terminalreporter.write_sep("!", "bytecode written under src/ during the run", red=True)
    terminalreporter.write_line(
        f"PYTHONDONTWRITEBYTECODE was set, yet {len(_bytecode_written)} .pyc files were written "
        f"in {', '.join(folders)}: a test started a child whose environment lacks it (grep the "
        "tests for env= built from scratch)")


@pytest.fixture(scope="session")
def pyrun(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    root = tmp_path_factory.mktemp("pyrun-session")
    yield Runner(cache=root / "cache", uv_cache=root / "uv-cache")
