"""Interpreter requests and the query of the interpreter running the tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyrun.engine.choice import _as_specifier, choose
from pyrun.engine.interpreters import InterpreterFinder
from pyrun.errors import NoInterpreterError
from pyrun.progress import Reporter


@pytest.mark.parametrize(
    ("request_", "expected"),
    [("3.12", "==3.12.*"), ("3.12.1", "==3.12.1"), ("cpython3.11", "==3.11.*"),
     ("python3", "==3.*"), (">=3.11", ">=3.11"), ("pypy", None), ("./python", None)],
)
def test_version_requests(request_: str, expected: str | None) -> None:
    spec = _as_specifier(request_)
    assert (str(spec) if spec is not None else None) == expected


def test_current_interpreter_is_queried_and_cached(tmp_path: Path) -> None:
    finder = InterpreterFinder(tmp_path, Reporter(-1))
    me = finder.current()
    assert (me.version.major, me.version.minor) == sys.version_info[:2]
    assert me.cache_tag == sys.implementation.cache_tag
    assert (tmp_path / "interpreters.json").is_file()
    assert choose(finder, None, None, "x.py") == me


def test_requested_path_that_is_not_python(tmp_path: Path) -> None:
    finder = InterpreterFinder(tmp_path, Reporter(-1))
    with pytest.raises(NoInterpreterError, match="not a Python interpreter"):
        choose(finder, str(tmp_path / "nope" / "python"), None, "x.py")


def test_own_target_is_what_the_interpreter_says_when_asked(tmp_path: Path) -> None:
    """pyrun's own interpreter's marker environment and tags are worked out in process; they
    are what the query of that interpreter, run as a subprocess, answers."""
    import json
    import os
    import subprocess

    import packaging

    from pyrun.engine.interpreters import _TARGET_QUERY

    finder = InterpreterFinder(tmp_path, Reporter(-1))
    me = finder.current()
    markers, tags = finder.target(me)
    where = os.path.dirname(os.path.dirname(os.path.abspath(packaging.__file__)))
    asked = json.loads(subprocess.run([me.executable, "-I", "-S", "-c", _TARGET_QUERY, where],
                                      capture_output=True, text=True, check=True).stdout)
    assert markers == asked["markers"] and tags == asked["tags"] and len(tags) > 10
