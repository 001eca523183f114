"""The interface every installer implements: resolve requirements to a lock, install locked
distributions into a prefix, classify failures. uv is the installer; pip stands in where uv
cannot be had. Nothing outside :mod:`pyrun.installers` knows which one it holds.

An installer runs its tool through a *runner* with the signature of
:func:`pyrun.subprocesses.run_command`; tests pass another runner that replays recorded
outputs of real uv and pip runs, to check :meth:`Installer.classify` without a network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pyrun.errors import CommandError, InstallerError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    import subprocess

    from packaging.requirements import Requirement

    from pyrun.interpreters import Interpreter
    from pyrun.resolution import LockedDistribution, Resolution


def tool_said(output: str) -> str:
    """A tool's output for an error message: each non-blank line stripped and indented."""
    return "\n".join("    " + ln.strip() for ln in output.strip().splitlines() if ln.strip())


class Runner(Protocol):
    """Runs a command to completion (see :func:`pyrun.subprocesses.run_command`)."""

    def __call__(
        self,
        argv: Sequence[str],
        reporter: Reporter,
        *,
        input: str | None = None,
        environ: Mapping[str, str] | None = None,
        what: str = "command",
    ) -> subprocess.CompletedProcess[str]: ...


class Installer(ABC):
    """A resolver and installer driven as a subprocess.

    Args:
        reporter: progress and verbose command lines.
        offline: never touch the network (only the tool's cache is read).
        runner: how commands are run (default :func:`pyrun.subprocesses.run_command`).

    Attributes:
        name: ``"uv"`` or ``"pip"``, for messages.
    """

    name = "installer"

    def __init__(self, reporter: Reporter, *, offline: bool = False,
                 runner: Runner | None = None) -> None:
        from pyrun.subprocesses import run_command

        self.reporter = reporter
        self.offline = offline
        self.runner: Runner = runner or run_command

    @abstractmethod
    def resolve(
        self, requirements: Sequence[Requirement], interpreter: Interpreter
    ) -> Resolution:
        """Resolve ``requirements`` (PEP 508) for ``interpreter``: one pinned distribution
        per package, each with the one artifact to install there and its sha256.

        Raises:
            ResolutionError: no set of versions satisfies the requirements.
            NetworkError: the index is unreachable or failing (or ``offline`` lacks something).
            InstallError: anything else the tool reported (a build that failed, say).
            LockError: the tool's answer cannot be read.
        """

    @abstractmethod
    def install(
        self,
        distributions: Sequence[LockedDistribution],
        prefix: Path,
        interpreter: Interpreter,
        workdir: Path,
    ) -> None:
        """Install exactly ``distributions`` (no dependencies, hash-checked where hashes are
        known) into the new ``prefix`` with ``interpreter``'s prefix scheme; ``workdir`` is an
        empty directory for the installer's own files.

        Raises:
            NetworkError, InstallError: as for :meth:`resolve`.
        """

    @abstractmethod
    def classify(self, failure: CommandError, what: str) -> InstallerError:
        """The error a user should see for a failed run of this tool (``what`` names the step:
        ``resolving rich``): network, resolution, or install."""

    def from_cache(self) -> Installer | None:
        """An installer like this one that reads only its cache (to resolve once the network
        proved unreachable), or None when the tool has no cache-only mode."""
        return None

    def missing_from_cache(self, error: InstallerError) -> str | None:
        """The distribution an offline failure says is missing from the cache, when it says."""
        return None
