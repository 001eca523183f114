"""The interface every installer implements: resolve requirements to a lock, install locked
distributions into a prefix, classify failures. uv is the installer; pip stands in where uv
cannot be had. Nothing outside :mod:`pyrun.engine.installers` knows which one it holds.

An installer runs its tool through a *runner* with the signature of
:func:`pyrun.subprocesses.run_command`; tests pass another runner that replays recorded
outputs of real uv and pip runs, to check :meth:`Installer.classify` without a network.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from pyrun.errors import (
    CommandError,
    DiskFullError,
    IndexServerError,
    InstallerError,
    InstallError,
    NetworkError,
    ResolutionError,
    SettingsError,
)
from pyrun.progress import Reporter

if TYPE_CHECKING:
    import subprocess

    from packaging.requirements import Requirement

    from pyrun.engine.interpreters import Interpreter
    from pyrun.engine.resolution import LockedDistribution, Resolution
    from pyrun.errors import ToolNotFoundError
    from pyrun.script.metadata import Editable
    from pyrun.script.uvsettings import UvSettings


def unreachable_place(output: str) -> str:
    """What a tool's ``output`` says could not be reached, for a message: ``the git repository
    URL (host HOST: REASON)`` from git's own words, ``URL (host HOST)`` for a request that
    failed, else ``the package index``. Credentials in a URL are shown as ``***``.

    >>> print(unreachable_place("fatal: unable to access 'https://h.invalid/x.git/': Could "
    ...                         "not resolve host: h.invalid"))  # doctest: +NORMALIZE_WHITESPACE
    the git repository https://h.invalid/x.git/
    (host h.invalid: Could not resolve host: h.invalid)
    >>> unreachable_place("error sending request for url (https://u:p@idx.example/simple/six/)")
    'https://***@idx.example/simple/six/ (host idx.example)'
    """
    import re
    from urllib.parse import urlsplit

    from pyrun.subprocesses import redact

    git = re.search(r"unable to access '([^']+)': ([^\n]+)", output)
    if git is not None:
        url = redact(git.group(1))
        return f"the git repository {url} (host {urlsplit(git.group(1)).hostname}: " \
               f"{git.group(2).strip()})"
    sent = re.search(r"(?:error sending request for url \(|Failed to fetch: `)"
                     r"([a-z][a-z0-9+.-]*://[^)`\s]+)", output)
    if sent is not None:
        return f"{redact(sent.group(1))} (host {urlsplit(sent.group(1)).hostname})"
    return "the package index"


def _needs_uv(what: str) -> ToolNotFoundError:
    """The error for something only uv can do (``what`` says what), when pip stands in."""
    from pyrun.errors import ToolNotFoundError

    return ToolNotFoundError(f"{what}, and uv was not found; install it with `pip install uv`")


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
        progress: bool = False,
    ) -> subprocess.CompletedProcess[str]: ...


class Installer(ABC):
    """A resolver and installer driven as a subprocess.

    Args:
        reporter: progress and verbose command lines.
        offline: never touch the network (only the tool's cache is read).
        runner: how commands are run (default :func:`pyrun.subprocesses.run_command`).
        settings: the script's ``[tool.uv]`` with the command line's index options on top
            (:mod:`pyrun.script.uvsettings`), for every resolution and install.
        cache_mode: ``""``; ``"refresh"`` (``--refresh``: revalidate what the tool cached);
            or ``"no-cache"`` (``--no-cache``: neither read nor write the tool's cache).

    Attributes:
        name: ``"uv"`` or ``"pip"``, for messages.

    A subclass says how its tool's output reads (the class attributes below, taken from
    recorded outputs of real runs); :meth:`classify` is written once, here.
    """

    name = "installer"
    #: Output that means the index cannot be reached at all (no DNS, no route, refused).
    UNREACHABLE: ClassVar[tuple[str, ...]] = ()
    #: Output that means another network failure (a timeout, a reset): worth a retry.
    NETWORK: ClassVar[tuple[str, ...]] = ()
    #: Output that means no set of versions satisfies the requirements.
    UNSATISFIABLE: ClassVar[tuple[str, ...]] = ()
    #: Output naming the HTTP 5xx status the index answered with (first non-empty group).
    SERVER_ERROR: ClassVar[re.Pattern[str] | None] = None
    #: Output that means the disk is full (the operating system's words, whatever the tool).
    DISK_FULL: ClassVar[tuple[str, ...]] = ("No space left on device", "Disk quota exceeded",
                                            "os error 28", "os error 122")

    def __init__(self, reporter: Reporter, *, offline: bool = False,
                 runner: Runner | None = None, settings: UvSettings | None = None,
                 cache_mode: str = "") -> None:
        from pyrun.subprocesses import run_command

        self.reporter = reporter
        self.offline = offline
        self.runner: Runner = runner or run_command
        self.settings = settings
        self.cache_mode = cache_mode

    @abstractmethod
    def resolve(
        self, requirements: Sequence[Requirement | Editable], interpreter: Interpreter,
        prefer: Sequence[tuple[str, str]] = (),
    ) -> Resolution:
        """Resolve ``requirements`` (PEP 508) for ``interpreter`` with :attr:`settings`: one
        pinned distribution per package, each with the one artifact to install there and its
        sha256. ``prefer`` holds ``(name, version)`` pairs kept where they still fit
        (``--upgrade-package`` upgrades the others); an installer without preferences
        ignores them.

        Raises:
            ResolutionError: no set of versions satisfies the requirements.
            NetworkError: the index is unreachable (or ``offline`` lacks something).
            IndexServerError: the index answered with HTTP 5xx.
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
            NetworkError, IndexServerError, InstallError: as for :meth:`resolve`.
        """

    def tree_script(self, script: str, options: Sequence[str] = ()) -> str:
        """``script``'s dependency tree as the tool prints it (``options``: the tool's own).

        Raises:
            ToolNotFoundError: the tool cannot read scripts (only uv can).
            ResolutionError, NetworkError, InstallError.
        """
        raise _needs_uv(f"{script}: `pyrun tree` asks uv (`uv tree --script`)")

    def export_script(self, script: str, interpreter: Interpreter, *, mode: str = "",
                      options: Sequence[str] = (), format: str = "pylock.toml") -> str:
        """A universal ``pylock.toml`` (PEP 751) of ``script``'s requirements as the tool
        reads the script itself (``[tool.uv]`` whole, the lock beside it), or with ``format``
        ``requirements.txt`` the same as a hashed requirements file; ``mode`` is ``""``,
        ``"locked"`` or ``"frozen"`` (:data:`pyrun.engine.locking.MODES`); ``options`` are the
        command line's uv options (indexes, upgrades).

        Raises:
            ToolNotFoundError: the tool cannot read scripts (only uv can).
            StaleLockError, ResolutionError, NetworkError, InstallError.
        """
        raise _needs_uv(f"{script}: its [tool.uv] sources or indexes, or its lock, can be "
                        "honoured only by uv")

    def edit_script(self, args: Sequence[str], *, what: str) -> str:
        """Run the tool's script-editing command ``args`` (``init``/``add``/``remove``
        ``--script``, see :mod:`pyrun.engine.editing`); returns what it printed.

        Raises:
            ToolNotFoundError: the tool cannot edit scripts (only uv can).
            ResolutionError, NetworkError, InstallError: as the tool reports them.
        """
        raise _needs_uv(f"{what}: editing a script's metadata needs uv")

    def lock_script(self, script: str, options: Sequence[str] = ()) -> str:
        """Write or update ``script``'s lock (``x.py.lock``) and return what the tool said.

        Raises:
            ToolNotFoundError: the tool cannot lock scripts (only uv can).
            ResolutionError, NetworkError, InstallError.
        """
        raise _needs_uv(f"{script}: locking a script needs uv")

    def classify(self, failure: CommandError, what: str) -> InstallerError:  # noqa: C901
        """The error a user should see for a failed run of this tool (``what`` names the step:
        ``resolving rich``), by what its output says, in this order: a full disk, offline
        without the cache, an index that answered with HTTP 5xx (reached, and failing: not the
        user's connection), no network, no solution; anything else is an install error. Each keeps
        ``failure`` and quotes the tool."""
        out = failure.output
        said = f"{self.name} said:\n{tool_said(out)}"
        if any(sign in out for sign in self.DISK_FULL):
            return DiskFullError(f"{what}: the disk is full; free space, or set PYRUN_CACHE_DIR "
                                 f"(and UV_CACHE_DIR) to a disk with room. {said}", failure)
        if self.offline_miss(out):
            missing = self.missing_from_cache(out) or "a distribution"
            return NetworkError(f"{what}: {missing} is not in the cache and --offline forbids "
                                "the network; run once without --offline (connected) to fetch "
                                f"it. {said}", failure)
        if "the script's [tool.uv]" in out or "Required uv version" in out:
            return SettingsError(f"{what}: uv refuses the script's [tool.uv] table; change or "
                                 f"remove the setting it names. {said}", failure)
        status = self.SERVER_ERROR.search(out) if self.SERVER_ERROR is not None else None
        if status is not None:
            code = next(g for g in status.groups() if g)
            return IndexServerError(f"{what}: the package index answered with HTTP {code} (a "
                                    "server error, not your connection); try again later, or "
                                    f"check the index URL. {said}", failure, status=int(code))
        unreachable = any(sign in out for sign in self.UNREACHABLE)
        if unreachable or any(sign in out for sign in self.NETWORK):
            place = unreachable_place(out)
            return NetworkError(f"{what}: {place} cannot be reached; check the network "
                                f"connection. {said}", failure, unreachable=unreachable,
                                place=place)
        from pyrun.subprocesses import redact

        refused = re.search(r"index URL \(([^)]+)\) could not be queried due to a lack of "
                            r"valid authentication credentials \((\d+)[^)]*\)|"
                            r"(401 Unauthorized|403 Forbidden)", out)
        if refused is not None:
            index = redact(refused.group(1)) if refused.group(1) else "the index"
            http = refused.group(2) or refused.group(3)
            return ResolutionError(
                f"{what}: {index} refused pyrun's request for lack of valid credentials (HTTP "
                f"{http}); give them as uv reads them: UV_INDEX_<NAME>_USERNAME and "
                "_PASSWORD for a named index, ~/.netrc, a keyring (UV_KEYRING_PROVIDER), or "
                f"in the index URL. {said}", failure)
        if any(sign in out for sign in self.UNSATISFIABLE):
            return ResolutionError(f"{what}: the requirements cannot be satisfied; check each "
                                   f"requirement's name and version. {said}", failure)
        return InstallError(f"{what} failed. {said}", failure)

    def offline_miss(self, output: str) -> bool:
        """Whether ``output`` says a distribution is missing from the cache while the network
        is off limits."""
        return False

    def from_cache(self) -> Installer | None:
        """An installer like this one that reads only its cache (to resolve once the network
        proved unreachable), or None when the tool has no cache-only mode."""
        return None

    def missing_packages(self, output: str) -> list[str]:
        """The names of the packages that the tool's failure ``output`` says no index has
        (for "did you mean"); empty when it says none, or the tool's messages are not known."""
        return []

    def known_names(self) -> set[str]:
        """Distribution names this tool has seen (its cache's index pages), for "did you
        mean"; empty when it keeps none."""
        return set()

    def missing_from_cache(self, output: str) -> str | None:
        """The distribution the tool's offline ``output`` says is missing from its cache, when
        it names one."""
        return None
