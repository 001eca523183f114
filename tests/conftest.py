"""Shared fixtures: one pyrun cache and one uv cache for the whole session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


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
        out = subprocess.run([find_uv(), *args], capture_output=True, text=True, cwd=cwd,
                             env=self.env(**extra), timeout=600)
        if args[:1] == ("run",) and "--script" in args and out.returncode == 0:
            assert "Reading inline script metadata" in out.stderr, out.stderr[-2000:]
        return out


@pytest.fixture(scope="session")
def pyrun(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    root = tmp_path_factory.mktemp("pyrun-session")
    yield Runner(cache=root / "cache", uv_cache=root / "uv-cache")


def write(path: Path, text: str) -> Path:
    """Write a script and return its path."""
    path.write_text(text, encoding="utf-8")
    return path
