"""pyrun's exception tree and its documented exit codes.

Every error a user can cause is a :class:`PyrunError`. Its ``str()`` is the message the user
reads (one paragraph: what went wrong, where, and what to do); its ``exit_code`` is what the
``pyrun`` command exits with. The CLI is the only place that prints these and exits.

The exit codes sit in the range of BSD ``sysexits.h`` so that they rarely collide with a
script's own codes (scripts mostly use 0, 1 and 2); ``docs/reference.md`` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence


class ExitCode:
    """Exit codes of the ``pyrun`` command (its own failures, not the script's)."""

    USAGE = 64  #: bad command line
    METADATA = 65  #: invalid inline script metadata
    NO_SCRIPT = 66  #: the script is missing, a directory, or unreadable
    RESOLUTION = 67  #: a requirement cannot be resolved (unknown package, no matching version)
    NO_INTERPRETER = 68  #: no installed interpreter satisfies the request
    NETWORK = 69  #: the network is needed and unavailable (or ``--offline`` forbids it)
    INTERNAL = 70  #: a bug in pyrun
    INSTALL = 71  #: a distribution failed to build or install, or neither uv nor pip is there
    CACHE = 73  #: the cache directory cannot be created or written
    INTERRUPTED = 130  #: interrupted by Ctrl-C while pyrun itself was working


class PyrunError(Exception):
    """Base of every error a user can cause; ``str(error)`` is the message to show.

    Attributes:
        exit_code: the documented exit code for this kind of error (see :class:`ExitCode`).
    """

    exit_code: int = ExitCode.INTERNAL


class UsageError(PyrunError):
    """The command line is wrong (unknown option, missing script)."""

    exit_code = ExitCode.USAGE


class ScriptNotFoundError(PyrunError):
    """The script path does not name a readable file."""

    exit_code = ExitCode.NO_SCRIPT


class MetadataError(PyrunError, ValueError):
    """The inline script metadata block is invalid (PEP 723).

    Attributes:
        path: the script's path as given.
        problems: one entry per problem, each already prefixed ``path:line:column:``.
    """

    exit_code = ExitCode.METADATA

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class NoInterpreterError(PyrunError):
    """No installed interpreter satisfies ``--python`` or ``requires-python``."""

    exit_code = ExitCode.NO_INTERPRETER


class CommandError(PyrunError):
    """A subprocess (uv, an interpreter) failed.

    Attributes:
        argv: the exact command line that was run.
        returncode: its exit status.
        output: what it printed on stderr (and stdout), kept for the message.
    """

    exit_code = ExitCode.INSTALL

    def __init__(self, message: str, argv: Sequence[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        super().__init__(message)


class ResolutionError(CommandError):
    """uv could not resolve the requirements (unknown package, conflicting versions)."""

    exit_code = ExitCode.RESOLUTION


class NetworkError(CommandError):
    """The index could not be reached, or ``--offline`` forbids reaching it.

    Attributes:
        unreachable: there is no network at all (no DNS, no route, refused), so retrying now
            would not help.
    """

    exit_code = ExitCode.NETWORK
    unreachable = False


class InstallError(CommandError):
    """A distribution could not be installed or built."""

    exit_code = ExitCode.INSTALL


class ToolNotFoundError(PyrunError):
    """uv cannot be found (the ``uv`` package, ``$UV`` and ``PATH`` were tried)."""

    exit_code = ExitCode.INSTALL


class CacheError(PyrunError):
    """The cache directory cannot be created, locked or written."""

    exit_code = ExitCode.CACHE
