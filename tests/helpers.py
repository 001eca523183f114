"""Helpers shared by the tests (fixtures stay in conftest.py, which imports from here)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from filelock import FileLock, Timeout


@dataclass
class Runner:
    """Runs the real ``pyrun`` command (``python -m pyrun``) against the session's caches."""

    cache: Path
    uv_cache: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        # The tests run as if no venv were activated, whatever the caller's shell has: an
        # activated environment changes what a WSP server lists (PEP 832: it wins), and tests
        # that want one set VIRTUAL_ENV themselves.
        env.pop("VIRTUAL_ENV", None)
        # the colour and dotenv tests set what they need
        for name in ("NO_COLOR", "FORCE_COLOR", "UV_ENV_FILE", "UV_NO_ENV_FILE"):
            env.pop(name, None)
        env.update(PYRUN_CACHE_DIR=str(self.cache), UV_CACHE_DIR=str(self.uv_cache))
        # pyrun's config file (the cache's settings, the workflow server setting): the test's
        # own, never the developer's ~/.config/pyrun (a size cap there would reach the tests)
        env.setdefault("PYRUN_CONFIG_DIR", str(self.cache.parent / "config"))
        # Bytecode before the script starts, so that what a test inspects afterwards is
        # settled; the background mode users get has tests of its own (test_bytecode.py).
        env.setdefault("PYRUN_COMPILE", "foreground")
        env.update(extra)
        return env

    def __call__(
        self, *args: str, cwd: Path | None = None, input: str | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pyrun", *args],
            check=False,
            capture_output=True,
            text=True,
            input=input,
            cwd=cwd,
            env=self.env(**extra),
            timeout=600,
        )

    def uv(self, *args: str, cwd: Path | None = None, **extra: str
           ) -> subprocess.CompletedProcess[str]:
        """The real ``uv ARGS`` (the binary pyrun uses) with this runner's caches; a ``run
        --script`` that succeeds is checked to have read the script's block (without it, uv
        runs the script on the Python it finds, which may have the packages anyway: a test
        would pass by accident)."""
        from pyrun.engine.installers.uv import find_uv

        if args[:1] == ("run",) and "--script" in args:
            args = (*args[:1], "-v", *args[1:])
        out = subprocess.run([find_uv(), *args], check=False, capture_output=True, text=True,
                             cwd=cwd, env=self.env(**extra), timeout=600)
        if args[:1] == ("run",) and "--script" in args and out.returncode == 0:
            assert "Reading inline script metadata" in out.stderr, out.stderr[-2000:]
        return out


def write(path: Path, text: str) -> Path:
    """Write a script and return its path."""
    path.write_text(text, encoding="utf-8")
    return path


def assert_fails(result: subprocess.CompletedProcess[Any], code: int, *messages: str) -> None:
    """Assert that ``result`` (a finished ``pyrun`` or other command, with text output) exited
    with ``code``, that each of ``messages`` is in its stderr, and that no traceback is in its
    stderr or stdout: a failure a user reads, not a crash."""
    stdout = result.stdout or ""
    stderr = result.stderr or ""
    shown = (f"exit {result.returncode}\n--- stderr ---\n{stderr[-3000:]}\n"
             f"--- stdout ---\n{stdout[-1000:]}")
    assert result.returncode == code, f"expected exit {code}; got {shown}"
    missing = [m for m in messages if m not in stderr]
    assert not missing, f"not in stderr: {missing!r}; got {shown}"
    assert "Traceback" not in stderr and "Traceback" not in stdout, f"a traceback; got {shown}"


# Scripts and what a run leaves in a cache -------------------------------------------------------

SHARED = """\
# /// script
# dependencies = [{deps}]
# ///
import importlib.metadata as m
print(" ".join(sorted(d.metadata["Name"].lower() for d in m.distributions())))
"""


def body(*deps: str) -> str:
    """A script needing ``deps`` that prints the names of the distributions it sees."""
    return SHARED.format(deps=", ".join(f'"{d}"' for d in deps))


def cold(pyrun: Runner, cache: Path, script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``cache`` as pyrun's cache, and check that it succeeded."""
    out = pyrun(*args, str(script), PYRUN_CACHE_DIR=str(cache))
    assert out.returncode == 0, out.stderr
    return out


def entry_of(cache: Path, name: str) -> Path:
    """The one pool entry of distribution ``name``."""
    (entry,) = [p for p in (cache / "pool").iterdir() if p.name.startswith(f"{name}-")]
    return entry


def env_of(cache: Path) -> Path:
    """The one environment in ``cache``."""
    (env,) = [p for p in (cache / "envs").iterdir() if not p.name.startswith(".")]
    return env


def pool_names(cache: Path) -> list[str]:
    """Distribution names of the finished pool entries, one per entry."""
    return sorted(p.name.rsplit("-", 2)[0] for p in (cache / "pool").iterdir()
                  if not p.name.startswith("."))


def assert_no_lock_held(cache: Path) -> None:
    """No lock file in ``cache`` is held by anyone."""
    for lock in (cache / "locks").glob("*.lock"):
        try:
            FileLock(str(lock), timeout=0).acquire().lock.release()
        except Timeout:  # pragma: no cover - the failure being tested for
            pytest.fail(f"{lock} is still held")


def cmdline(pid: int) -> bytes:
    """The command line of process ``pid`` (``b""`` once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def sigint_at_default() -> None:
    """For ``preexec_fn``: the child starts with SIGINT at its default action, as a shell
    starts a foreground job. A child inherits an ignored SIGINT (the suite started under
    ``nohup`` from a background job, say), and then Ctrl-C, sent by a test, would do nothing."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Waiting on a line or a file, never on a guessed time -------------------------------------------


def wait_for_line(stream: IO[str], needle: str, timeout: float = 120) -> str:
    """Read ``stream`` (a live process's text output) line by line until a line contains
    ``needle``, and return that line; fail after ``timeout`` seconds or at the end of the
    stream, showing what was read. Reads nothing past that line."""
    seen: list[str] = []
    found: list[str] = []

    def read() -> None:
        for line in iter(stream.readline, ""):
            if needle in line:
                found.append(line)
                return
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        pytest.fail(f"no line with {needle!r} in {timeout} s "
                    f"({'still waiting' if reader.is_alive() else 'the stream ended'}); "
                    f"read: {''.join(seen)[-2000:]!r}")
    return found[0]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll ``condition`` (a look at a file, a lock or ``/proc``) every 20 ms until it holds;
    fail after ``timeout`` seconds naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout} s")
        time.sleep(0.02)


def lock_is_free(marker: str) -> bool:
    """Whether no running script holds the shared lock on an environment's ``marker`` (the
    exclusive lock is taken and released at once, as prune would)."""
    from pyrun.launch import exclusive, release

    fd = exclusive(marker)
    if fd is None:
        return False
    if fd >= 0:
        release(fd)
    return True
