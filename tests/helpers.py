"""Helpers shared by the tests (fixtures stay in conftest.py, which imports from here)."""

from __future__ import annotations

import subprocess
from typing import Any


def assert_fails(result: subprocess.CompletedProcess[Any], code: int, *messages: str) -> None:
    """Assert that ``result`` (a finished ``pyrun`` or other command, with text output) exited
    with ``code``, that each of ``messages`` is in its stderr, and that no traceback is in its
    stderr or stdout: a failure a user reads, not a crash."""
    stdout = result.stdout or ""
    stderr = result.stderr or ""
    shown = (f"exit {result.returncode}\n--- stderr ---\n{stderr[-3000:]}\n"
             f"--- stdout ---\n{stdout[-1000:]}")
    assert result.returncode == code, f"expected exit {code}; got {shown}"
    missing = [m for m in messages if m not in stderr]
    assert not missing, f"not in stderr: {missing!r}; got {shown}"
    assert "Traceback" not in stderr and "Traceback" not in stdout, f"a traceback; got {shown}"
