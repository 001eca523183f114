"""Which files ``pyrun outdated`` takes for scripts (:mod:`pyrun.script.scan`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrun.errors import ScriptNotFoundError
from pyrun.script.scan import find_scripts

BLOCK = "# /// script\n# dependencies = []\n# ///\n"


def _tree(top: Path) -> None:
    files = {
        "a.py": BLOCK, "b.py": "print('no block')\n", "tool": f"#!/usr/bin/env pyrun\n{BLOCK}",
        "notes.txt": BLOCK, "plain": BLOCK, ".hidden.py": BLOCK, "unclosed.py": "# /// script\n",
        "sub/c.py": BLOCK, "sub/deeper/d.py": BLOCK, ".git/e.py": BLOCK,
        "venv/f.py": BLOCK, "venv/pyvenv.cfg": "", "__pycache__/g.py": BLOCK,
        "node_modules/h.py": BLOCK,
    }
    for name, text in files.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(text)
    os.mkfifo(top / "pipe.py")  # never opened for a blocking read
    (top / "loop").symlink_to(top)  # never followed


def test_a_directory_s_own_scripts_or_all_of_them(tmp_path: Path) -> None:
    _tree(tmp_path)
    found, notes = find_scripts([str(tmp_path)])
    assert [os.path.relpath(p, tmp_path) for p in found] == ["a.py", "tool", "unclosed.py"]
    assert notes == []
    found, _ = find_scripts([str(tmp_path)], recursive=True)
    assert [os.path.relpath(p, tmp_path) for p in found] == [
        "a.py", "tool", "unclosed.py", "sub/c.py", "sub/deeper/d.py"]


def test_named_files_and_missing_paths(tmp_path: Path) -> None:
    _tree(tmp_path)
    a, b = str(tmp_path / "a.py"), str(tmp_path / "b.py")
    found, notes = find_scripts([a, b, str(tmp_path / "notes.txt"), a, str(tmp_path)])
    assert found == [a, str(tmp_path / "notes.txt"), str(tmp_path / "tool"),
                     str(tmp_path / "unclosed.py")]
    assert notes == [f"{b}: no `# /// script` block (or unreadable); skipped"]
    with pytest.raises(ScriptNotFoundError, match="no such file or directory"):
        find_scripts([str(tmp_path / "nowhere")])
