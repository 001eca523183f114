"""Start a script the way ``python x.py`` would, in an environment's interpreter.

Imports only ``os`` and ``sys`` (both loaded at start-up): the warm path uses it. Not even
``collections.abc``: in a plain venv it is not loaded at start-up, and importing it (and
the ``collections`` package with it) costs a warm run about 2 ms. On POSIX the script replaces this process; elsewhere it runs as a child through
:mod:`pyrun.subprocesses`.
"""

# No ``from __future__ import annotations``: importing ``__future__`` costs a warm run a module
# load. Annotations that Python 3.9 cannot evaluate are written as strings.

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a warm run 3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping


def activated(env_dir: str, base: "Mapping[str, str]") -> dict[str, str]:
    """``base`` (a process environment) as activating the environment at ``env_dir`` makes it:
    its ``bin`` (``Scripts`` on Windows) first on ``PATH``, ``VIRTUAL_ENV`` naming it, and no
    ``PYTHONHOME``."""
    bin_dir = os.path.join(env_dir, "Scripts" if os.name == "nt" else "bin")
    environ = dict(base)
    path = environ.get("PATH")
    environ["PATH"] = bin_dir + os.pathsep + path if path else bin_dir
    environ["VIRTUAL_ENV"] = env_dir
    environ.pop("PYTHONHOME", None)
    return environ


def exec_script(python: str, script: str, args: list[str]) -> int:
    """Run ``python script *args`` with this process's stdio, terminal, environment and cwd.

    As ``uv run`` does, the environment's ``bin`` directory is put first on ``PATH`` (so the
    script can run its dependencies' commands by name) and ``VIRTUAL_ENV`` names it.

    On POSIX the current process is replaced (``os.execv``): the script's exit status, signals
    and terminal are its own and this function does not return. Elsewhere the script runs as a
    child and its exit code is returned, 128+N when signal N ended it.

    A script whose name starts with ``-`` is passed as ``./NAME``, so that the interpreter
    reads it as a file, never as an option (``pyrun -- -c`` runs the file ``-c``).

    Raises:
        OSError: the interpreter cannot be executed.
    """
    if script.startswith("-"):
        script = os.path.join(os.curdir, script)
    argv = [python, script, *args]
    environ = activated(os.path.dirname(os.path.dirname(python)), os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(python, argv, environ)
    from pyrun.subprocesses import run_attached  # pragma: no cover - Windows

    return run_attached(argv, environ)  # pragma: no cover
