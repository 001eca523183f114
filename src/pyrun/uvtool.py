"""Find and call uv, the resolver and installer pyrun drives as a subprocess.

uv is looked up as pypa/build does: the ``uv`` package's binary (``uv.find_uv_bin()``), then
``$UV``, then ``PATH``. Every call pins the interpreter by path and forbids Python downloads, so
uv never picks another interpreter behind pyrun's back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from pyrun.commands import run_command
from pyrun.errors import CommandError, NetworkError, ResolutionError, ToolNotFoundError
from pyrun.progress import Reporter

_NETWORK_SIGNS = (
    "Failed to fetch",
    "error sending request",
    "dns error",
    "Connection refused",
    "tcp connect error",
    "Network is unreachable",
    "timed out",
)


def find_uv() -> str:
    """Path of the uv binary.

    Raises:
        ToolNotFoundError: neither the ``uv`` package, ``$UV`` nor ``PATH`` provides one.
    """
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    explicit = os.environ.get("UV")
    if explicit and os.path.isfile(explicit) and os.access(explicit, os.X_OK):
        return explicit
    found = shutil.which("uv")
    if found:
        return found
    raise ToolNotFoundError(
        "uv is needed to resolve and install this script's requirements and was not found "
        "(tried the `uv` package, $UV and PATH); install it with `pip install uv`"
    )


class Uv:
    """A uv binary and the settings every call shares.

    Args:
        binary: path of uv (default: :func:`find_uv`).
        reporter: for verbose command lines.
        offline: pass ``--offline`` (uv then reads only its cache).
    """

    def __init__(self, reporter: Reporter, *, offline: bool = False, binary: str | None = None):
        self.binary = binary or find_uv()
        self.reporter = reporter
        self.offline = offline

    def run(
        self, args: Sequence[str], *, what: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``uv ARGS``; failures are classified into network, resolution or install errors.

        Raises:
            NetworkError: the index could not be reached, or ``--offline`` lacked a package.
            ResolutionError: no versions satisfy the requirements (unknown package, conflict).
            CommandError: any other failure (with uv's output).
        """
        argv = [self.binary, *args]
        if self.offline:
            argv.append("--offline")
        if self.reporter.verbosity <= 0:
            argv.append("--quiet")
        env = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
        try:
            return run_command(argv, self.reporter, input=input, env=env, what=what)
        except CommandError as exc:
            raise classify(exc, what, offline=self.offline) from None


def _said(output: str) -> str:
    """uv's own explanation, without its ``error:``/``cause:`` prefixes, indented."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    return "\n".join("    " + ln for ln in lines)


def classify(exc: CommandError, what: str, *, offline: bool) -> CommandError:
    """Turn a failed uv call into the error a user should see."""
    out = exc.output
    if "network was disabled" in out or (offline and "not found in the cache" in out):
        return NetworkError(
            f"{what}: a distribution is not in the cache and --offline forbids the network; "
            f"run once without --offline (connected) to fetch it. uv said:\n{_said(out)}",
            exc.argv,
            exc.returncode,
            out,
        )
    if any(sign in out for sign in _NETWORK_SIGNS):
        return NetworkError(
            f"{what}: the package index cannot be reached; check the network connection (or "
            f"use --offline to work from the cache only). uv said:\n{_said(out)}",
            exc.argv,
            exc.returncode,
            out,
        )
    if "No solution found" in out:
        return ResolutionError(
            f"{what}: the requirements cannot be satisfied; check each requirement's name and "
            f"version. uv said:\n{_said(out)}",
            exc.argv,
            exc.returncode,
            out,
        )
    return CommandError(f"{what} failed. uv said:\n{_said(out)}", exc.argv, exc.returncode, out)
