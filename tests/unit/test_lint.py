"""The lint gate, run by the suite so that CI (``.ci/run``, which runs the README's test
command) holds it: ``mypy --strict`` over ``src/pyrun`` and ``ruff`` over the repository, each
pinned in the ``test`` extra (``pyproject.toml``) so a new release cannot turn CI red. Their
settings are ``pyproject.toml``'s ``[tool.mypy]`` and ``[tool.ruff]``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=600)


def test_mypy_strict_finds_nothing() -> None:
    done = _run("mypy", "--no-incremental")  # files and strictness: [tool.mypy]
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "--no-cache", "src", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr
