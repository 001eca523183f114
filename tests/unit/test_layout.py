"""The cache layout: the index format read back, damage read as damage, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrun import layout


def test_index_entry_round_trip(tmp_path: Path) -> None:
    path = layout.index_path(str(tmp_path), "ab" + "0" * 30)
    os.makedirs(os.path.dirname(path))
    layout.write_atomic(path, layout.index_text("/c/envs/e", "/usr/bin/python3",
                                                ["/c/envs/e/x.pth"], ("/c/pool/p/flag",)))
    entry = layout.read_index(str(tmp_path), "ab" + "0" * 30)
    assert isinstance(entry, layout.IndexEntry)
    assert (entry.env_dir, entry.base, entry.required, entry.pending) == (
        "/c/envs/e", "/usr/bin/python3", ["/c/envs/e/x.pth"], ["/c/pool/p/flag"])
    assert entry.base_signature == layout.file_signature("/usr/bin/python3")


@pytest.mark.parametrize(("content", "why"), [
    (b"\xff\xfe not text\n", "not UTF-8"),
    (b"/only/one/line\n", "damaged"),
    (b"relative/env\n/usr/bin/python3\t1:2\n", "damaged"),
])
def test_a_damaged_index_entry_is_said_to_be(tmp_path: Path, content: bytes, why: str) -> None:
    path = Path(layout.index_path(str(tmp_path), "cd" + "1" * 30))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    found = layout.read_index(str(tmp_path), "cd" + "1" * 30)
    assert isinstance(found, str) and why in found
    assert layout.read_index(str(tmp_path), "ef" + "2" * 30) is None  # absent: no entry


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"{\"a\": ", b"\xff{}", b"null"])
def test_a_damaged_marker_reads_as_absent(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "m.json").write_bytes(content)
    assert layout.read_marker(str(tmp_path / "m.json")) is None
    (tmp_path / "m.json").write_bytes(b'{"a": 1}')
    assert layout.read_marker(str(tmp_path / "m.json")) == {"a": 1}


def test_an_atomic_write_that_fails_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "file"
    with pytest.raises(OSError):
        layout.write_atomic(str(target), "x")
    layout.write_atomic(str(tmp_path / "f"), "one")
    layout.write_atomic(str(tmp_path / "f"), b"two")
    assert (tmp_path / "f").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary file left


def test_temporary_names_carry_their_owner() -> None:
    assert layout.tmp_owner(layout.tmp_prefix(123) + "x") == 123
    assert layout.tmp_owner("pyrun-env.json") is None
    assert layout.tmp_owner(".tmp-abc-x") is None


def test_only_plain_names_are_keys() -> None:
    assert layout.is_key("six-1.17.0-4c1d")
    for bad in ("", ".", "..", "../six", "a/b", ".tmp-1-x", "a\0b"):
        assert not layout.is_key(bad), bad


def test_an_index_entry_naming_a_directory_outside_the_cache_is_not_used(tmp_path: Path) -> None:
    from pyrun import fastpath

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "bin").mkdir(parents=True)
    (elsewhere / layout.ENV_MARKER).write_text("{}")
    os.symlink("/usr/bin/env", elsewhere / "bin" / "python")
    root = tmp_path / "cache"
    path = layout.index_path(str(root), "ab" + "3" * 30)
    os.makedirs(os.path.dirname(path))
    layout.write_atomic(path, layout.index_text(str(elsewhere), "/usr/bin/env", []))
    python, why = fastpath.check(str(root), "ab" + "3" * 30)
    assert python is None and "not an environment of this cache" in why


def test_who_may_write_a_cache(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir(mode=0o700)
    assert layout.check_root(str(d)) is None
    assert layout.check_root(str(tmp_path / "missing")) is None  # created private
    d.chmod(0o777)
    assert layout.check_root(str(d)) == "everyone can write to it"
    d.chmod(0o770)  # the user's own group (a private group, with a 002 umask): fine
    assert layout.check_root(str(d)) is None
    assert "control character" in (layout.check_root(str(tmp_path / "a\nb")) or "")
