"""Which scripts an environment was built for (:mod:`pyrun.store.usage`), and what ``pyrun
list`` makes of a cache (:mod:`pyrun.store.inventory`): sizes with shared pool entries counted
once, the scripts, the commands that need an environment."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pyrun.store import usage
from pyrun.store.cache import Cache
from pyrun.store.commands import Installed, record
from pyrun.store.inventory import inventory
from pyrun.store.markers import (
    ENV_MARKER,
    EntryMarker,
    EnvMarker,
    write_entry_marker,
    write_env_marker,
)


def test_each_script_once_most_recent_first(tmp_path: Path) -> None:
    usage.record(tmp_path, "/a.py", now=10.0)
    usage.record(tmp_path, "/b\nfake.py", now=20.0)  # a line break stays in its JSON line
    usage.record(tmp_path, "/a.py", now=30.0)
    with open(tmp_path / usage.FILE_NAME, "ab") as f:
        f.write(b"not json\n[1]\n{\"script\": 3, \"at\": 1}\n\xff\xfe\n")
    usage.record(tmp_path, "https://example.org/x.py", now=5.0)
    assert usage.read(tmp_path) == [usage.Use("/a.py", 30.0), usage.Use("/b\nfake.py", 20.0),
                                    usage.Use("https://example.org/x.py", 5.0)]
    assert usage.read(tmp_path / "missing") == []


def test_the_record_is_compacted_when_it_grows(tmp_path: Path) -> None:
    for i in range(2000):
        usage.record(tmp_path, f"/scripts/{i % 150}.py", now=float(i))
    assert (tmp_path / usage.FILE_NAME).stat().st_size <= usage.MAX_BYTES + 100
    found = usage.read(tmp_path)
    assert found[0] == usage.Use(f"/scripts/{1999 % 150}.py", 1999.0)
    assert len(found) <= 150 and len({u.script for u in found}) == len(found)


def _entry(cache: Cache, key: str, size: int) -> None:
    path = cache.pool / key
    (path / "site-packages").mkdir(parents=True)
    (path / "site-packages" / "data.bin").write_bytes(os.urandom(size))
    write_entry_marker(path, EntryMarker(key, "1", "registry", "https://x", "0" * 64))


def _environment(cache: Cache, key: str, entries: tuple[str, ...], used: float) -> Path:
    path = cache.envs / key
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    write_env_marker(path, EnvMarker(str(path), sys.executable, "pooled", entries, key=key,
                                     interpreter={"version": "3.12.1",
                                                  "implementation": "cpython"}))
    os.utime(path / ENV_MARKER, (used, used))
    return path


def test_the_inventory_counts_shared_entries_once(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache").create()
    _entry(cache, "shared-1", 400_000)
    _entry(cache, "mine-1", 100_000)
    _entry(cache, "nobody-1", 50_000)
    now = time.time()
    old = _environment(cache, "old", ("shared-1",), now - 86400)
    new = _environment(cache, "new", ("shared-1", "mine-1"), now)
    (cache.envs / "building").mkdir()  # no marker: not listed
    usage.record(new, "/jobs/new.py")
    record(cache, Installed("job", tmp_path / "bin" / "job", "/jobs/new.py", new, now, "/py"))
    found = inventory(cache)
    assert [e.path for e in found.environments] == [new, old]  # most recently used first
    first, second = found.environments
    assert first.python == "3.12.1" and first.implementation == "cpython"
    assert [u.script for u in first.scripts] == ["/jobs/new.py"] and second.scripts == ()
    assert first.commands == ("job",) and second.commands == ()
    assert first.size > first.own > 100_000 and first.size - first.own >= 400_000
    assert second.size >= 400_000 and second.own < 100_000
    shared = first.size - first.own
    assert found.size == first.own + second.own + shared  # every file once
    assert found.unused_entries[0] == 1 and found.unused_entries[1] >= 50_000
    assert [c.name for c in found.commands] == ["job"]
