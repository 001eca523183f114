"""Entry-point wrappers' shebangs (issue 21): a /bin/sh trampoline for an interpreter path the
kernel cannot take, quoted with shlex.quote, so a ``'`` and a space in it (``/home/o'brien``)
still run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyrun.engine.launchers import SHEBANG_LIMIT, shebang


@pytest.mark.parametrize("name", ["o'brien dir", "it's", "a b", "x" * SHEBANG_LIMIT,
                                  "q'" + "y" * SHEBANG_LIMIT, "'''"])
def test_a_wrapper_runs_whatever_its_interpreter_path_holds(tmp_path: Path, name: str) -> None:
    where = tmp_path / name
    where.mkdir()
    python = where / "python"
    python.symlink_to(sys.executable)
    tool = where / "tool"
    tool.write_text(shebang(str(python)) + "import sys\nprint('ok', sys.argv[1:])\n")
    tool.chmod(0o755)
    out = subprocess.run([str(tool), "a b", "'c'"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok ['a b', \"'c'\"]\n"
    assert shebang(str(python)).startswith("#!/bin/sh\n") == (
        len(f"#!{python}\n".encode()) > SHEBANG_LIMIT or " " in str(python))
