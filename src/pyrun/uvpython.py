"""uv's choice of a script's interpreter, asked early: ``uv python find --script SCRIPT``
started as soon as the script's bytes are read, so that it runs while pyrun imports what it
needs and parses the block (a cold run's critical path). :mod:`pyrun.interpreters` takes the
answer (:meth:`pyrun.interpreters.InterpreterFinder.choose`).

This module imports only ``os`` and :mod:`pyrun.subprocesses`: starting the question must not
wait for ``packaging``.
"""

from __future__ import annotations

import os
import subprocess

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
                        stderr=PIPE, text=True,
                        environ={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    except (OSError, UsageError):
        return None
    return Asked(script, process)
