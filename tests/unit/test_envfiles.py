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


def test_a_nul_byte_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "nul.env").write_bytes(b"A=1\n# fine\nB=x\0y\n")
    with pytest.raises(UsageError, match=r"nul.env: line 3 holds a NUL byte"):
        envfiles.variables([str(tmp_path / "nul.env")], Reporter(0, io.StringIO()), {})


def test_a_file_over_the_limit_is_an_error_and_one_at_it_is_read(tmp_path: Path) -> None:
    line = "A=" + "x" * 1000 + "\n"
    fits = line + "#" * (envfiles.MAX_FILE_BYTES - len(line) - 1) + "\n"
    (tmp_path / "fits.env").write_text(fits, encoding="utf-8")
    assert envfiles.variables([str(tmp_path / "fits.env")], Reporter(0, io.StringIO()),
                              {}) == {"A": "x" * 1000}
    (tmp_path / "over.env").write_text(fits + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"over.env: larger than 1 MiB"):
        envfiles.variables([str(tmp_path / "over.env")], Reporter(0, io.StringIO()), {})
    with pytest.raises(UsageError, match=r"/dev/zero: larger than 1 MiB"):
        envfiles.variables(["/dev/zero"], Reporter(0, io.StringIO()), {})


def test_expansions_are_bounded_per_variable_and_in_all(tmp_path: Path) -> None:
    limit = envfiles.MAX_VALUE_BYTES
    ok = read(tmp_path, {"ok.env": f"A={'a' * (limit // 2)}\nB=$A$A\n"}, {})
    assert len(ok["B"]) == limit
    with pytest.raises(UsageError, match=r"bomb.env: line 3: C comes to more than 128 KiB"):
        read(tmp_path, {"bomb.env": f"A={'a' * (limit // 2)}\nB=$A$A\nC=$B$B$B$B$B$B$B$B\n"},
             {})
    with pytest.raises(UsageError, match=r"line 1: X comes to more than 128 KiB"):
        read(tmp_path, {"env.env": "X=${HOME}x\n"}, {"HOME": "h" * limit})
    # single quotes are not expanded, but a value that long is refused all the same
    with pytest.raises(UsageError, match=r"line 1: Q comes to more than 128 KiB"):
        read(tmp_path, {"q.env": f"Q='{'q' * (limit + 1)}'\n"}, {})
    many = "".join(f"V{i}=$A\n" for i in range(9))  # the 8th value of 128 KiB is over 1 MiB
    with pytest.raises(UsageError, match=r"line 8: at V6, the variables come to more than 1 MiB"):
        read(tmp_path, {"wide.env": f"A={'a' * limit}\n{many}"}, {})
