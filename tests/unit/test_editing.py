"""What pyrun reads back from the copy uv edited beside a script (whose directory may be
another user's): only its own regular file, never through a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrun.engine.editing import _read_own, block_span
from pyrun.errors import MetadataError


def test_only_an_own_regular_file_is_read_back(tmp_path: Path) -> None:
    copy = tmp_path / "copy.py"
    copy.write_bytes(b"# /// script\n# ///\n")
    copy.chmod(0o600)
    assert _read_own(str(copy)) == b"# /// script\n# ///\n"
    copy.chmod(0o666)  # anyone could have changed it
    with pytest.raises(MetadataError, match="was replaced"):
        _read_own(str(copy))
    link = tmp_path / "link.py"
    os.symlink(copy, link)
    with pytest.raises(OSError):  # never followed
        _read_own(str(link))


def test_block_span_covers_the_block_lines_and_their_line_ends() -> None:
    data = b'"""Doc."""\r\n# /// script\r\n# dependencies = []\r\n# ///\r\nx = 1\n'
    start, end = block_span(data) or (0, 0)
    assert data[start:end] == b"# /// script\r\n# dependencies = []\r\n# ///\r\n"
    assert block_span(b"print(1)\n") is None


def test_the_blocks_uv_cannot_see_are_named() -> None:
    from pyrun.engine.editing import uv_blind_spot

    block = b'# /// script\n# dependencies = ["six"]\n# ///\n'
    assert uv_blind_spot(block + b"import six\n") is None
    assert uv_blind_spot(block.replace(b"\n", b"\r\n")) is None
    assert uv_blind_spot(b"print(1)\n") is None
    bom = uv_blind_spot(b"\xef\xbb\xbf" + block)
    assert bom is not None and "byte order mark" in bom[0]
    cr = uv_blind_spot(block.replace(b"\n", b"\r"))
    assert cr is not None and "lone-CR" in cr[0]
