"""A corpus of malformed scripts through the real ``pyrun`` command: each ends in one clear
error with a documented exit code, and never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import Runner, assert_fails

BLOCK = "# /// script\n{}# ///\n"

CORPUS: list[tuple[str, bytes, int, str]] = [
    # (name, content, exit code, text the message must contain)
    ("two-blocks", "\n".join([BLOCK.format("# dependencies = []\n")] * 2).encode(), 65,
     "a second `# /// script` block"),
    ("start-inside", b"# /// script\n# /// script\n# a = 1\n# ///\n", 65,
     "start line inside the block"),
    ("bad-toml", BLOCK.format("# dependencies = [\n").encode(), 65, "bad.py:2:"),
    ("bad-toml-value", BLOCK.format("# dependencies = ['a' 'b']\n").encode(), 65, ":2:"),
    ("deps-not-list", BLOCK.format('# dependencies = "rich"\n').encode(), 65, "dependencies"),
    ("deps-not-strings", BLOCK.format("# dependencies = [1, 2]\n").encode(), 65, "dependencies"),
    ("rp-not-string", BLOCK.format("# requires-python = 3.9\n").encode(), 65, "requires-python"),
    ("rp-bad", BLOCK.format('# requires-python = ">>3"\n').encode(), 65, "requires-python"),
    ("req-bad", BLOCK.format('# dependencies = ["rich>>1"]\n').encode(), 65, "'rich>>1'"),
    ("req-empty", BLOCK.format('# dependencies = [""]\n').encode(), 65, "invalid requirement ''"),
    ("tool-not-table", BLOCK.format('# tool = "x"\n').encode(), 65, "tool"),
    ("rp-unsatisfiable", BLOCK.format('# requires-python = ">=4"\n').encode(), 68, ">=4"),
    ("non-utf8-block", b"# /// script\n# dependencies = [\"caf\xe9\"]\n# ///\n", 65,
     "not valid UTF-8"),
]


@pytest.mark.parametrize(("name", "content", "code", "needle"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_script(pyrun: Runner, tmp_path: Path, name: str, content: bytes, code: int,
                          needle: str) -> None:
    script = tmp_path / "bad.py"
    script.write_bytes(content)
    out = pyrun(str(script))
    assert_fails(out, code, needle)
    assert out.stderr.startswith("pyrun: error: "), out.stderr
    assert out.stdout == ""


def test_directory_and_missing_file(pyrun: Runner, tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "missing.py"):
        out = pyrun(str(target))
        assert_fails(out, 66, str(target))


def test_unreadable_file(pyrun: Runner, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    script = tmp_path / "secret.py"
    script.write_text("print(1)\n")
    script.chmod(0)
    out = pyrun(str(script))
    assert_fails(out, 66)


def test_huge_script_runs(pyrun: Runner, tmp_path: Path) -> None:
    """30 MB: a block at the top, then megabytes of comments and a large literal."""
    script = tmp_path / "huge.py"
    filler = ("# " + "x" * 98 + "\n") * 200_000 + "DATA = '" + "y" * 9_000_000 + "'\n"
    script.write_text(BLOCK.format("# dependencies = []\n") + filler + "print(len(DATA))\n")
    out = pyrun(str(script))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "9000000"


def test_binary_file_is_pythons_to_judge(pyrun: Runner, tmp_path: Path) -> None:
    """Bytes that are no Python source: pyrun finds no block and runs it as `python x` would,
    so the error (and exit code 1) are Python's own, not a crash of pyrun."""
    script = tmp_path / "blob.py"
    script.write_bytes(bytes(range(256)) * 64)
    out = pyrun(str(script))
    assert out.returncode == 1, out.stderr
    assert "SyntaxError" in out.stderr and "pyrun: internal error" not in out.stderr
    assert "pyrun" not in out.stderr.split("SyntaxError")[0].replace(str(script), "")


def test_latin1_script_without_block_runs(pyrun: Runner, tmp_path: Path) -> None:
    script = tmp_path / "latin.py"
    script.write_bytes(b"# -*- coding: latin-1 -*-\nprint('caf\xe9'.upper())\n")
    out = pyrun(str(script))
    assert out.returncode == 0 and out.stdout.strip() == "CAFÉ", out.stderr
