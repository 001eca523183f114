"""dotenv files read as `uv run --env-file` reads them (pyrun.script.envfiles); the same cases run
against uv itself in tests/integration/test_run_options.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pyrun.errors import UsageError
from pyrun.progress import Reporter
from pyrun.script import envfiles


def read(tmp_path: Path, files: dict[str, str], environ: dict[str, str],
         stream: io.StringIO | None = None) -> dict[str, str]:
    paths = []
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    return envfiles.variables(paths, Reporter(0, stream or io.StringIO()), environ)


def test_precedence_order_and_expansion(tmp_path: Path) -> None:
    got = read(tmp_path, {
        "one.env": "A=1\nB=${A}/$A\nC='$A'\nD=\"${UNSET}x\"\nE=\\$A\nB=again\n",
        "two.env": "A=2\nF=${HOME}\n",
    }, {"HOME": "/h"})
    # two.env is read first (a later file wins); HOME was set already and is not added
    assert got == {"A": "2", "F": "/h", "B": "2/2", "C": "$A", "D": "x", "E": "$A"}


def test_a_bad_line_ends_the_file_with_a_warning(tmp_path: Path) -> None:
    said = io.StringIO()
    got = read(tmp_path, {"bad.env": "A=1\nnot an assignment\nB=2\n"}, {}, said)
    assert got == {"A": "1"}
    assert "bad.env: line 2 is not NAME=value" in said.getvalue()


def test_a_byte_order_mark_is_skipped_and_a_missing_file_is_said(tmp_path: Path) -> None:
    (tmp_path / "bom.env").write_bytes(b"\xef\xbb\xbfA=1\n")
    assert envfiles.variables([str(tmp_path / "bom.env")], Reporter(0, io.StringIO()),
                              {}) == {"A": "1"}
    with pytest.raises(UsageError, match="no such file"):
        envfiles.variables([str(tmp_path / "nope.env")], Reporter(0, io.StringIO()), {})
    (tmp_path / "latin.env").write_bytes(b"A=caf\xe9\n")
    with pytest.raises(UsageError, match="cannot be read"):
        envfiles.variables([str(tmp_path / "latin.env")], Reporter(0, io.StringIO()), {})
