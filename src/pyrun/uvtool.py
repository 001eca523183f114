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

#: uv output that means there is no network at all (as opposed to a slow or failing index):
#: no name resolution, no route, nobody listening. Retrying would only wait.
_UNREACHABLE_SIGNS = (
    "dns error",
    "failed to lookup address",
    "Network is unreachable",
    "Connection refused",
)

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
        # Fail fast without a network: the first try makes no retries (uv's default of 3 takes
        # 12 s to give up when DNS fails). A failure that is not plain unreachability is tried
        # again with uv's own retry policy. A UV_HTTP_RETRIES the user set is kept.
        fast = not self.offline and "UV_HTTP_RETRIES" not in os.environ
        try:
            return run_command(
                argv, self.reporter, input=input,
                env={**env, "UV_HTTP_RETRIES": "0"} if fast else env, what=what,
            )
        except CommandError as exc:
            error = classify(exc, what, offline=self.offline)
            if not fast or not isinstance(error, NetworkError) or error.unreachable:
                raise error from None
        try:
            return run_command(argv, self.reporter, input=input, env=env, what=what)
        except CommandError as exc:
            raise classify(exc, what, offline=self.offline) from None


def _said(output: str) -> str:
    """uv's own explanation, without its ``error:``/``cause:`` prefixes, indented."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    return "\n".join("    " + ln for ln in lines)


def uncached(output: str) -> str | None:
    """The distribution uv's offline output says is missing from its cache, if it names one."""
    import re

    m = re.search(r"Because (\S+?)(?:\[[^\]]*\])? was not found in the cache", output)
    if m is None:
        m = re.search(r"Failed to (?:download|fetch)(?: and build)?:? `?([A-Za-z0-9._-]+)", output)
    return m.group(1) if m else None


def classify(exc: CommandError, what: str, *, offline: bool) -> CommandError:
    """Turn a failed uv call into the error a user should see."""
    out = exc.output
    if "network was disabled" in out or (offline and "not found in the cache" in out):
        missing = uncached(out)
        return NetworkError(
            f"{what}: {missing or 'a distribution'} is not in the cache and --offline forbids "
            f"the network; run once without --offline (connected) to fetch it. "
            f"uv said:\n{_said(out)}",
            exc.argv,
            exc.returncode,
            out,
        )
    if any(sign in out for sign in _NETWORK_SIGNS):
        error = NetworkError(
            f"{what}: the package index cannot be reached; check the network connection (or "
            f"use --offline to work from the cache only). uv said:\n{_said(out)}",
            exc.argv,
            exc.returncode,
            out,
        )
        error.unreachable = any(sign in out for sign in _UNREACHABLE_SIGNS)
        return error
    if "No solution found" in out:
        return ResolutionError(
            f"{what}: the requirements cannot be satisfied; check each requirement's name and "
            f"version. uv said:\n{_said(out)}",
            exc.argv,
            exc.returncode,
            out,
        )
    return CommandError(f"{what} failed. uv said:\n{_said(out)}", exc.argv, exc.returncode, out)
