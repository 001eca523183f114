"""Start a script the way ``python x.py`` would, in an environment's interpreter.

Imports only ``os`` and ``sys``: the warm path uses it.
"""

from __future__ import annotations

import os
import sys


def exec_script(python: str, script: str, args: list[str]) -> int:
    """Run ``python script *args`` with this process's stdio, terminal, environment and cwd.

    As ``uv run`` does, the environment's ``bin`` directory is put first on ``PATH`` (so the
    script can run its dependencies' commands by name) and ``VIRTUAL_ENV`` names it.

    On POSIX the current process is replaced (``os.execv``): the script's exit status, signals
    and terminal are its own and this function does not return. Elsewhere the script runs as a
    child and its exit code is returned, 128+N when signal N ended it.

    Raises:
        OSError: the interpreter cannot be executed.
    """
    argv = [python, script, *args]
    bin_dir = os.path.dirname(python)
    path = os.environ.get("PATH")
    os.environ["PATH"] = bin_dir + os.pathsep + path if path else bin_dir
    os.environ["VIRTUAL_ENV"] = os.path.dirname(bin_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(python, argv)
    import subprocess  # pragma: no cover - Windows

    code = subprocess.call(argv)  # pragma: no cover
    return 128 - code if code < 0 else code  # pragma: no cover
