"""The .python-envs rules (PEP 832 draft), read and written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyrun.script import pythonenvs


def fake_venv(path: Path, version: str = "3.12.1") -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}\n")
    (path / "bin" / "python").symlink_to(sys.executable)
    return path


def test_crlf_trailing_newline_relative_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / ".python-envs").write_bytes(b"envs/a\r\n/abs/b\r\nenvs/a\r\n\r\n")
    envs = pythonenvs.read(tmp_path)
    assert [ln.text for ln in envs.lines] == ["envs/a", "/abs/b", "envs/a"]
    assert envs.lines[0].path == tmp_path / "envs" / "a"
    assert envs.default is not None and envs.default.text == "envs/a"
    assert [ln.text for ln in envs.unique()] == ["/abs/b", "envs/a"]  # the default is kept last


def test_split_lines_is_not_splitlines() -> None:
    assert pythonenvs.split_lines("a\x0cb\nc\r\n") == ["a\x0cb", "c"]
    assert pythonenvs.split_lines("a\n\n") == ["a", ""]
    assert pythonenvs.split_lines("") == []


def test_venv_is_the_implicit_last_line(tmp_path: Path) -> None:
    (tmp_path / ".python-envs").write_text("envs/a\n")
    assert pythonenvs.read(tmp_path).default.text == "envs/a"  # type: ignore[union-attr]
    fake_venv(tmp_path / ".venv")
    assert pythonenvs.read(tmp_path).default.text == ".venv"  # type: ignore[union-attr]


def test_append_keeps_line_ends_and_never_adds_venv(tmp_path: Path) -> None:
    (tmp_path / ".python-envs").write_bytes(b"one\r\nunknown kind: conda://x\r\n")
    assert pythonenvs.append(tmp_path, tmp_path / "envs" / "two")
    assert not pythonenvs.append(tmp_path, tmp_path / "envs" / "two")  # already the default
    assert not pythonenvs.append(tmp_path, tmp_path / ".venv")
    assert pythonenvs.append(tmp_path, Path("/elsewhere/env"))
    assert (tmp_path / ".python-envs").read_bytes() == (
        b"one\r\nunknown kind: conda://x\r\nenvs/two\r\n/elsewhere/env\r\n")
    assert pythonenvs.remove(tmp_path, tmp_path / "envs" / "two")
    assert b"envs/two" not in (tmp_path / ".python-envs").read_bytes()
    assert b"unknown kind" in (tmp_path / ".python-envs").read_bytes()  # kept


def test_symlinked_file_and_newline_paths_are_refused(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("")
    (tmp_path / ".python-envs").symlink_to(tmp_path / "real")
    with pytest.raises(pythonenvs.PythonEnvsError, match="symbolic link"):
        pythonenvs.append(tmp_path, tmp_path / "x")
    with pytest.raises(pythonenvs.PythonEnvsError, match="line break"):
        pythonenvs.append(tmp_path, tmp_path / "x\ny")


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from pyrun.script import pythonenvs\n"
            "d = Path(sys.argv[1])\n"
            "for i in range(15): pythonenvs.append(d, d / f'envs/{sys.argv[2]}-{i}')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(n)])
             for n in range(6)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 6
    lines = (tmp_path / ".python-envs").read_text().splitlines()
    assert sorted(lines) == sorted(f"envs/{n}-{i}" for n in range(6) for i in range(15))
    assert not list(tmp_path.glob(".python-envs.*.tmp"))


def test_a_file_that_cannot_be_written_is_a_python_envs_error(tmp_path: Path) -> None:
    (tmp_path / pythonenvs.LOCK_NAME).mkdir()  # the lock cannot be taken: an OSError inside
    with pytest.raises(pythonenvs.PythonEnvsError, match="cannot write") as caught:
        pythonenvs.append(tmp_path, tmp_path / "envs" / "a")
    assert caught.value.path == str(tmp_path / pythonenvs.FILE_NAME)
    assert caught.value.exit_code == 78
