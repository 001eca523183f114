"""The one subprocess helper: argument lists only, a cleaned environment, the output kept.

Every subprocess pyrun starts (uv, an interpreter's query, ``compileall``) goes through
:func:`run_command`. No shell is ever involved.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence

from pyrun.errors import CommandError
from pyrun.progress import Reporter

#: Variables that would leak pyrun's own environment into the tools it runs.
_SCRUBBED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX", "PIP_TARGET")


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``os.environ`` without variables that redirect Python or its installers."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(extra or {})
    return env


def run_command(
    argv: Sequence[str],
    reporter: Reporter,
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    what: str = "command",
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and return it completed, its stdout and stderr captured as text.

    Args:
        argv: program and arguments (never a shell string).
        reporter: receives the command line at verbose level.
        input: text for the command's stdin, or None for no stdin.
        env: extra environment variables on top of :func:`clean_environ`.
        what: a few words naming the step, for the error message.

    Raises:
        CommandError: the command could not be started, or exited non-zero; it carries the
            command line, the exit status and the output.
    """
    reporter.debug("running: " + shlex.join(argv))
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=clean_environ(env),
            check=False,
        )
    except OSError as exc:
        raise CommandError(f"{what} failed: cannot run {argv[0]}: {exc}", argv, -1, "") from exc
    if proc.returncode != 0:
        output = (proc.stderr or "") + (proc.stdout or "")
        raise CommandError(
            f"{what} failed (exit {proc.returncode}): {shlex.join(argv)}\n{output.strip()}",
            argv,
            proc.returncode,
            output,
        )
    return proc
