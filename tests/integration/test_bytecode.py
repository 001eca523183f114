"""Bytecode in the background (the default users get): the first run does not wait for it, and
the pool gets it once, read-only, for every later run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.helpers import Runner, body, entry_of, wait_until, write

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


def compilers_of(cache: Path) -> list[int]:
    """Pids of background compilers working on ``cache``."""
    found = []
    for pid in Path("/proc").iterdir():
        try:
            cmd = (pid / "cmdline").read_bytes()
        except OSError:
            continue
        if b"pyrun.engine.bytecode" in cmd and str(cache).encode() in cmd:
            found.append(int(pid.name))
    return found


def test_a_compiler_that_died_is_replaced(pyrun: Runner, tmp_path: Path) -> None:
    """The compiler is stopped for good (a container ending, a reboot): the next run sees the
    bytecode is still pending, starts another compiler and runs; once it is done, runs are warm."""
    import os
    import signal

    cache = tmp_path / "cache"
    script = write(tmp_path / "d.py", body("six"))
    first = pyrun(str(script), PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background",
                  PYRUN_PAUSE_AT="compiling")  # the compiler inherits this and stops there
    assert first.returncode == 0, first.stderr
    entry = entry_of(cache, "six")
    # the compiler makes every directory of the entry writable (top first), then pauses
    wait_until(lambda: all(os.lstat(d).st_mode & 0o200 for d, _, _ in os.walk(entry)),
               "the compiler reached its pause (the entry writable again)", timeout=60)
    compilers = compilers_of(cache)
    assert compilers, "no background compiler"
    for pid in compilers:
        os.kill(pid, signal.SIGKILL)
    assert json.loads((entry / "pyrun-entry.json").read_text())["compiled-for"] == []
    pending_lines = [ln for f in (cache / "index").rglob("*") if f.is_file()
                     for ln in f.read_text().splitlines() if ln.startswith("?")]
    # the fast key's entry and the block key's (issue 24) each say it
    assert pending_lines == [f"?{entry}/pyrun-compiled-{TAG}"] * 2, pending_lines
    second = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background")
    assert second.returncode == 0 and second.stdout.split() == ["six"], second.stderr
    assert "pyrun: warm:" not in second.stderr  # pending: the slow path started a compiler
    assert "byte-compiling 1 pool entries in the background" in second.stderr
    assert "resolving" not in second.stderr  # ... without resolving anything again
    wait_compiled(entry)
    assert (entry / f"pyrun-compiled-{TAG}").is_file() and entry.stat().st_mode & 0o222 == 0
    third = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background")
    assert third.returncode == 0 and "pyrun: warm:" in third.stderr


def test_a_link_farm_gets_bytecode_before_it_is_built(pyrun: Runner, tmp_path: Path) -> None:
    """A link farm hardlinks the files an entry has when the farm is built, so its entries are
    compiled first even in background mode: the farm holds the .pyc files at once."""
    cache = tmp_path / "cache"
    script = write(tmp_path / "f.py", body("six"))
    out = pyrun("-v", "--composition", "link-farm", str(script), PYRUN_CACHE_DIR=str(cache),
                PYRUN_COMPILE="background")
    assert out.returncode == 0, out.stderr
    assert "in the background" not in out.stderr
    (site,) = (cache / "envs").glob("*/lib/python*/site-packages")
    assert (site / "__pycache__" / f"six.{TAG}.pyc").is_file()
    assert TAG in json.loads((entry_of(cache, "six") / "pyrun-entry.json").read_text())[
        "compiled-for"]


def test_the_compiler_waits_for_the_first_run_to_exit(pyrun: Runner, tmp_path: Path) -> None:
    """Compiling while the script's first run imports would take the cores from it: the
    compiler starts once the script has exited (issue 12)."""
    cache = tmp_path / "cache"
    script = write(tmp_path / "slow.py", '# /// script\n# dependencies = ["six"]\n# ///\n'
                   "import json, pathlib, sys, time\nimport six\ntime.sleep(2)\n"
                   "marker = pathlib.Path(six.__file__).parent.parent / 'pyrun-entry.json'\n"
                   "print(json.loads(marker.read_text())['compiled-for'])\n")
    out = pyrun("-v", str(script), PYRUN_CACHE_DIR=str(cache), PYRUN_COMPILE="background")
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr  # not during the run
    assert "once the script has exited" in out.stderr
    assert wait_compiled(entry_of(cache, "six"), timeout=60) == [TAG]  # but right after
