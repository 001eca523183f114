"""Entry-point wrappers' shebangs (issue 21): a /bin/sh trampoline for an interpreter path the
kernel cannot take, quoted with shlex.quote, so a ``'`` and a space in it (``/home/o'brien``)
still run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyrun.engine.launchers import SHEBANG_LIMIT, shebang, write_entry_scripts
from pyrun.errors import InstallError


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


def _dist(tmp_path: Path, names: list[str]) -> Path:
    """An environment's entry ``tmp_path/entry`` whose one distribution declares ``names`` as
    console scripts (each running ``mod:main``)."""
    info = tmp_path / "entry" / "site-packages" / "odd-1.0.dist-info"
    info.mkdir(parents=True)
    lines = "".join(f"{name} = mod:main\n" for name in names)
    (info / "entry_points.txt").write_text(f"[console_scripts]\n{lines}", encoding="utf-8")
    return tmp_path / "entry"


def test_an_entry_point_named_with_a_path_goes_where_uv_puts_it(tmp_path: Path) -> None:
    """``a/../b`` is ``bin/b`` (uv's lexical normalisation); nothing is written elsewhere."""
    entry = _dist(tmp_path, ["a/../b", "./c", "d"])
    bin_dir = tmp_path / "env" / "bin"
    bin_dir.mkdir(parents=True)
    write_entry_scripts(entry, bin_dir, sys.executable)
    assert sorted(p.name for p in bin_dir.iterdir()) == ["b", "c", "d"]
    assert sorted(p.name for p in (tmp_path / "env").iterdir()) == ["bin"]
    assert "from mod import main" in (bin_dir / "b").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["../escaped", "a/../../escaped", "sub/tool", "/tmp/abs", ".",
                                  "a/.."])
def test_an_entry_point_outside_bin_is_refused(tmp_path: Path, name: str) -> None:
    entry = _dist(tmp_path, [name])
    bin_dir = tmp_path / "env" / "bin"
    bin_dir.mkdir(parents=True)
    with pytest.raises(InstallError, match=r"odd-1.0.dist-info: the console_scripts entry "
                       r"point .* is not a file name inside the environment's bin directory"):
        write_entry_scripts(entry, bin_dir, sys.executable)
    assert list(bin_dir.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry", "env"]
    assert sorted(p.name for p in (tmp_path / "env").iterdir()) == ["bin"]


def test_a_link_in_bin_is_never_written_through(tmp_path: Path) -> None:
    entry = _dist(tmp_path, ["tool"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tool").symlink_to(tmp_path / "outside")  # dangling
    write_entry_scripts(entry, bin_dir, sys.executable)
    assert not (tmp_path / "outside").exists()
