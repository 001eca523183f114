"""pip, the fallback installer where uv cannot be had.

pip runs from pyrun's own interpreter and works on the target interpreter through its
``--python`` option (pip 22.3 or newer). A resolution is ``pip install --dry-run --report``
(the report names each artifact's URL and sha256, as uv's ``pylock.toml`` does), and a pool
install is ``pip install --no-deps --prefix`` of exactly those artifacts, hash-checked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from pyrun.commands import run_command
from pyrun.errors import CommandError, NetworkError, ResolutionError, ToolNotFoundError
from pyrun.progress import Reporter

#: pip output that means the index could not be reached at all.
_UNREACHABLE_SIGNS = (
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "Failed to establish a new connection",
)


#: The oldest pip with ``--python`` (working on another interpreter) and ``--report``.
MINIMUM_PIP = (22, 3)


def find_pip(reporter: Reporter) -> list[str]:
    """The command that runs pip: ``python -m pip`` on pyrun's interpreter, asked once for its
    version (a subprocess: pyrun's own process may run isolated from site-packages).

    Raises:
        ToolNotFoundError: pyrun's interpreter has no pip either, or one older than 22.3.
    """
    command = [sys.executable, "-m", "pip"]
    try:
        out = run_command([*command, "--version"], reporter, what="asking pip its version").stdout
    except CommandError:
        raise ToolNotFoundError(
            "neither uv nor pip is available to resolve and install this script's "
            "requirements; install uv with `pip install uv` (or pip with `python -m ensurepip`)"
        ) from None
    words = out.split()
    parts = words[1].split(".") if len(words) > 1 else []
    version = tuple(int(p) for p in parts[:2] if p.isdigit())
    if version < MINIMUM_PIP:
        raise ToolNotFoundError(
            f"uv is not available and pip {words[1] if len(words) > 1 else '?'} is too old to "
            "stand in for it (22.3 or newer is needed); install uv with `pip install uv`"
        )
    return command


class Pip:
    """pip and the settings every call shares (the counterpart of :class:`pyrun.uvtool.Uv`).

    Args:
        reporter: for verbose command lines.
        offline: asked to stay offline; pip has no offline mode, so every call raises
            :class:`~pyrun.errors.NetworkError` saying so.
    """

    def __init__(self, reporter: Reporter, *, offline: bool = False) -> None:
        self.command = find_pip(reporter)
        self.reporter = reporter
        self.offline = offline

    def run(self, args: Sequence[str], *, what: str) -> str:
        """Run ``pip --python ... ARGS``-style arguments; returns stdout.

        Raises:
            NetworkError: the index is unreachable, or ``offline`` was asked for.
            ResolutionError: no versions satisfy the requirements.
            CommandError: any other failure.
        """
        if self.offline:
            raise NetworkError(f"{what}: --offline needs uv (pip cannot work from its cache "
                               "only); install uv with `pip install uv`", [], 0, "")
        argv = [*self.command, "--disable-pip-version-check", "--no-input", *args]
        if self.reporter.verbosity <= 0:
            argv.append("--quiet")
        env = {"PIP_NO_PYTHON_VERSION_WARNING": "1", "PIP_RETRIES": os.environ.get("PIP_RETRIES", "1")}
        try:
            return run_command(argv, self.reporter, env=env, what=what).stdout
        except CommandError as exc:
            raise classify(exc, what) from None


def classify(exc: CommandError, what: str) -> CommandError:
    """Turn a failed pip call into the error a user should see."""
    out = exc.output
    said = "\n".join("    " + ln.strip() for ln in out.strip().splitlines() if ln.strip())
    if any(sign in out for sign in _UNREACHABLE_SIGNS):
        error = NetworkError(f"{what}: the package index cannot be reached; check the network "
                             f"connection. pip said:\n{said}", exc.argv, exc.returncode, out)
        error.unreachable = True
        return error
    if "No matching distribution found" in out or "ResolutionImpossible" in out:
        return ResolutionError(f"{what}: the requirements cannot be satisfied; check each "
                               f"requirement's name and version. pip said:\n{said}",
                               exc.argv, exc.returncode, out)
    return CommandError(f"{what} failed. pip said:\n{said}", exc.argv, exc.returncode, out)
