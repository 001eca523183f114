"""uv's choice of a script's interpreter, asked early: ``uv python find --script SCRIPT``
started as soon as the script's bytes are read, so that it runs while pyrun imports what it
needs and parses the block (a cold run's critical path). :mod:`pyrun.engine.interpreters` takes the
answer (:func:`pyrun.engine.choice.choose`).

This module imports only ``os`` and :mod:`pyrun.subprocesses` (and the engine's face,
:mod:`pyrun.engine`, which imports nothing until a name is used): starting the question must
not wait for ``packaging``.

pyenv's shims: uv finds an interpreter behind a shim on ``PATH`` only by running it (a shell
script that runs pyenv, about 200 ms each time, and uncacheable, since the version behind it
depends on the working directory). uv's answer is the interpreter the shim runs, so pyrun gives
uv a ``PATH`` where the shims directory is replaced by the ``bin`` directories of the versions
pyenv selects (:func:`direct_path`, what each shim would ``exec``): the same interpreters in
the same order, queried from uv's cache. Where that cannot be said for sure, uv gets ``PATH``
as it is.
"""

from __future__ import annotations

import os
import subprocess
import sys

from pyrun.errors import UsageError
from pyrun.subprocesses import DEVNULL, PIPE, start


class Asked:
    """A ``uv python find --script SCRIPT`` started by :func:`ask_early`.

    Attributes:
        script: the script as given. process: the running uv (text, stdout and stderr piped).
    """

    def __init__(self, script: str, process: subprocess.Popen[str]) -> None:
        self.script = script
        self.process = process

    def close(self) -> None:
        """Stop it and reap it, when its answer was not needed (the environment was found
        without it); nothing when it was."""
        if self.process.returncode is None:
            self.process.kill()
            self.process.communicate()


def environ() -> dict[str, str]:
    """The process environment for ``uv python find``: this one, with downloads off and
    pyenv's shims made direct (:func:`direct_path`)."""
    out = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    direct = direct_path(out)
    if direct is not None:
        out["PATH"] = direct
    return out


def direct_path(env: dict[str, str], cwd: str | None = None) -> str | None:
    """``env``'s ``PATH`` with pyenv's shims directory replaced by the ``bin`` directories of
    the versions pyenv selects, in its order (``PYENV_VERSION``, else the nearest
    ``.python-version`` from ``PYENV_DIR`` up, then from ``cwd`` up, else
    ``$PYENV_ROOT/version``; ``system``: no directory, the rest of ``PATH`` answers); None
    when ``PATH`` has no shims, or the selection is not certain (a version not installed
    under that exact name, which pyenv would resolve or refuse; ``system`` beside other
    versions).

    Source: pyenv 2.6's ``pyenv-version-name``, ``pyenv-version-file``,
    ``pyenv-version-file-read`` and ``pyenv-which``.

    >>> direct_path({"PATH": "/usr/bin"}) is None
    True
    """
    root = env.get("PYENV_ROOT") or os.path.join(os.path.expanduser("~"), ".pyenv")
    shims = os.path.join(root, "shims")
    parts = env.get("PATH", "").split(os.pathsep)
    if shims not in parts:
        return None
    versions = _selected(root, env, cwd)
    if versions is None or ("system" in versions and len(versions) > 1):
        return None
    dirs = [] if versions == ["system"] else [os.path.join(root, "versions", v, "bin")
                                              for v in versions]
    if not all(os.path.isdir(d) and "/" not in v and v not in (".", "..")
               for d, v in zip(dirs, versions)):
        return None
    out: list[str] = []
    for part in parts:
        out += dirs if part == shims else [part]
    return os.pathsep.join(out)


def _selected(root: str, env: dict[str, str], cwd: str | None) -> list[str] | None:
    """The versions pyenv selects, or None when a version file cannot be read."""
    if env.get("PYENV_VERSION"):
        return [v for v in env["PYENV_VERSION"].split(":") if v] or ["system"]
    try:
        starts = [os.path.abspath(cwd if cwd is not None else os.getcwd())]
    except OSError:
        return None
    if env.get("PYENV_DIR"):  # set by a shim that started this process: searched first
        starts.insert(0, os.path.abspath(env["PYENV_DIR"]))
    found = ""
    for here in starts:
        while not found:
            if os.path.isfile(os.path.join(here, ".python-version")):
                found = os.path.join(here, ".python-version")
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
    found = found or os.path.join(root, "version")
    if not os.path.exists(found):
        return ["system"]
    try:
        with open(found, encoding="utf-8", errors="replace") as f:
            words = [line.split()[0] for line in f.read(1 << 16).replace("\r", "\n").split("\n")
                     if line.split() and not line.split()[0].startswith("#")]
    except OSError:
        return None
    return words or ["system"]


def uv_binary() -> str | None:
    """The uv binary :func:`pyrun.engine.installers.uv.find_uv` looks for first: the ``uv``
    package's, beside this interpreter (as in a venv or a tool environment), found without
    importing the installers, so that a cold run's question to uv starts sooner; None when it
    is not there."""
    import importlib.util

    beside = os.path.join(os.path.dirname(sys.executable), "uv")
    if (os.name == "posix" and importlib.util.find_spec("uv") is not None
            and os.path.isfile(beside) and os.access(beside, os.X_OK)):
        return beside
    return None


def ask_early(uv: str, script: str) -> Asked | None:
    """Start uv's choice for ``script`` when uv will be asked to read the script itself: a
    regular file, and no ``UV_PYTHON`` (the caller checks ``--python``); None otherwise, or
    when uv cannot be started.

    Raises nothing: a question that cannot be asked early is asked later.
    """
    if os.environ.get("UV_PYTHON") or script in ("", "-") or "://" in script \
            or not os.path.isfile(script):
        return None
    try:
        process = start([uv, "python", "find", "--no-python-downloads",
                         f"--script={os.path.abspath(script)}"], stdin=DEVNULL, stdout=PIPE,
                        stderr=PIPE, text=True, environ=environ())
    except (OSError, UsageError):
        return None
    return Asked(script, process)
