"""Bytecode in the background (the default users get): the first run does not wait for it, and
the pool gets it once, read-only, for every later run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.conftest import Runner, write
from tests.integration.test_reliability import body, entry_of

TAG = sys.implementation.cache_tag


def wait_compiled(entry: Path, timeout: float = 180) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tags = json.loads((entry / "pyrun-entry.json").read_text()).get("compiled-for", [])
        if TAG in tags:
            return list(tags)
        time.sleep(0.1)
    raise AssertionError(f"{entry} was not compiled for {TAG} in {timeout} s")


def test_background_compile(pyrun: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = write(tmp_path / "bg.py", body("pygments", "six"))
    first = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background")
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["pygments", "six"]  # ran from source, before any .pyc
    assert "byte-compiling 2 pool entries in the background" in first.stderr
    entry = entry_of(cache, "pygments")
    assert wait_compiled(entry) == [TAG]
    wait_compiled(entry_of(cache, "six"))
    assert list((entry / "site-packages" / "pygments" / "__pycache__").glob(f"lexer.{TAG}.pyc"))
    for d in (entry, entry / "site-packages", entry / "site-packages" / "pygments"):
        assert d.stat().st_mode & 0o222 == 0, d  # read-only again
    warm = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background")
    assert warm.returncode == 0 and "pyrun: warm:" in warm.stderr
    # nothing to compile any more: a new script over the same entries schedules nothing
    other = write(tmp_path / "bg2.py", body("six"))
    again = pyrun("-v", str(other), PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background")
    assert again.returncode == 0 and "in the background" not in again.stderr
