"""pyrun's one exception tree, its exit codes, and the one error edge (:func:`report`).

Every error pyrun raises is a :class:`PyrunError`. Its ``str()`` is the message the user reads
(one paragraph: what went wrong, where, and what to do); its ``exit_code`` is what the
``pyrun`` command exits with; its other attributes carry the data (path, requirement, command,
output). Foreign exceptions (``OSError``, ``UnicodeDecodeError``, ``ValueError`` from a parser)
are wrapped where they enter pyrun, so a front end only ever sees this tree.

The exit codes sit in the range of BSD ``sysexits.h`` so that they rarely collide with a
script's own codes (scripts mostly use 0, 1 and 2). :class:`ExitCode` is the one table;
``docs/reference.md`` states it for users.

Standard library only, and cheap to import: every front end uses it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

if TYPE_CHECKING:
    import argparse


class ExitCode:
    """Exit codes of the ``pyrun`` command (its own failures, not the script's)."""

    SERVER_ERROR = 1  #: ``pyrun wsp METHOD``: the workflow server answered with an error
    USAGE = 64  #: bad command line
    METADATA = 65  #: invalid inline script metadata, a lock that does not match it (``--locked``,
    #: ``--lock``), or ``pyrun wsp`` PARAMS_JSON not an object
    NO_SCRIPT = 66  #: the script is missing, a directory, or unreadable
    RESOLUTION = 67  #: a requirement cannot be resolved (unknown package, no matching version)
    NO_INTERPRETER = 68  #: no installed interpreter satisfies the request
    NETWORK = 69  #: the index is unreachable or answers HTTP 5xx, or ``--offline`` lacks something
    INTERNAL = 70  #: a bug in pyrun
    INSTALL = 71  #: a distribution failed to build or install, or neither uv nor pip is there
    CACHE = 73  #: the cache directory, or a file pyrun writes for you, cannot be written
    TIMEOUT = 75  #: a workflow server did not answer in time
    PROTOCOL = 76  #: a workflow server broke the protocol or exited
    NOT_TRUSTED = 77  #: a project-declared workflow server the user has not agreed to run
    CONFIG = 78  #: a project file is malformed or unsafe (``[workflow] wsp``, ``.python-envs``)
    CANNOT_RUN = 127  #: ``pyrun wsp run``: the command cannot be run (as a shell says it)
    INTERRUPTED = 130  #: interrupted by Ctrl-C while pyrun itself was working


class PyrunError(Exception):
    """Root of every error pyrun raises; ``str(error)`` is the message to show.

    Attributes:
        exit_code: the documented exit code for this kind of error (see :class:`ExitCode`).
        context: words a front end puts before the message (``"cannot start the workflow
            server"``); empty by default.
    """

    exit_code: int = ExitCode.INTERNAL
    context: str = ""


class UsageError(PyrunError):
    """The command line (or a library call's arguments) is wrong: an unknown option, a missing
    script, an invalid ``--with`` requirement."""

    exit_code = ExitCode.USAGE


class ScriptNotFoundError(PyrunError):
    """The script path does not name a readable file.

    Attributes:
        path: the script's path as given.
    """

    exit_code = ExitCode.NO_SCRIPT

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


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
    """No installed interpreter satisfies ``--python`` or ``requires-python``.

    Attributes:
        request: what was asked for (the ``--python`` value or the ``requires-python``
            specifier), as text.
    """

    exit_code = ExitCode.NO_INTERPRETER

    def __init__(self, request: str, message: str) -> None:
        self.request = request
        super().__init__(message)


class CommandError(PyrunError):
    """A subprocess (uv, pip, an interpreter, ``compileall``) could not start or exited non-zero.

    Attributes:
        argv: the exact command line that was run.
        returncode: its exit status (-1 when it could not be started).
        output: what it printed on stderr, then stdout.
    """

    exit_code = ExitCode.INSTALL

    def __init__(self, message: str, argv: Sequence[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        super().__init__(message)


class InstallerError(PyrunError):
    """The installer (uv or pip) failed in a way a user can act on; subclasses say how.

    Attributes:
        command: the failed subprocess, or None when the installer refused before running one
            (``--offline`` with pip, a local directory requirement).
    """

    exit_code = ExitCode.INSTALL

    def __init__(self, message: str, command: CommandError | None = None) -> None:
        self.command = command
        super().__init__(message)

    @property
    def output(self) -> str:
        """What the failed command printed (``""`` when none ran)."""
        return self.command.output if self.command is not None else ""


class ResolutionError(InstallerError):
    """No set of versions satisfies the requirements (unknown package, conflicting pins)."""

    exit_code = ExitCode.RESOLUTION


class NetworkError(InstallerError):
    """The package index could not be reached or failed, or ``--offline`` forbids reaching it.

    Attributes:
        unreachable: there is no network at all (no DNS, no route, refused), so retrying now
            would not help and uv's cache is worth a try.
        place: what could not be reached, as a message names it (``the package index``, ``the
            git repository https://host/x.git``).
    """

    exit_code = ExitCode.NETWORK

    def __init__(
        self, message: str, command: CommandError | None = None, *, unreachable: bool = False,
        place: str = "the package index",
    ) -> None:
        super().__init__(message, command)
        self.unreachable = unreachable
        self.place = place


class IndexServerError(InstallerError):
    """The package index was reached and answered with a server error (HTTP 5xx): not a
    network failure (the connection works; retrying later may), and not the user's fault.
    Exit code 69, sysexits' "service unavailable".

    Attributes:
        status: the HTTP status (500, 503, ...).
    """

    exit_code = ExitCode.NETWORK

    def __init__(self, message: str, command: CommandError | None = None, *, status: int) -> None:
        super().__init__(message, command)
        self.status = status


class DiskFullError(InstallerError):
    """The installer could not write: no space left on the device, or a disk quota reached
    (exit 73, as for any cache pyrun cannot write)."""

    exit_code = ExitCode.CACHE


class SettingsError(InstallerError):
    """uv refused the script's ``[tool.uv]`` table (a key it does not know, a value of the
    wrong kind, a ``required-version`` this uv does not meet): the script's metadata, as uv
    reads it, is invalid."""

    exit_code = ExitCode.METADATA


class InstallError(InstallerError):
    """A distribution could not be built or installed.

    Attributes:
        requirement: the distribution or requirement concerned, when one is known (``""``
            otherwise).
    """

    exit_code = ExitCode.INSTALL

    def __init__(
        self, message: str, command: CommandError | None = None, *, requirement: str = ""
    ) -> None:
        super().__init__(message, command)
        self.requirement = requirement


class LockError(PyrunError):
    """A lock (``pylock.toml``, PEP 751) or an installer's report cannot be read.

    Attributes:
        source: where it came from (a path, or ``uv pip compile``'s output).
    """

    exit_code = ExitCode.INSTALL

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(message)


class StaleLockError(LockError):
    """The lock beside a script (``x.py.lock``) no longer matches its inline script metadata
    (``--locked``), there is none to check, or it is damaged; or a ``--lock`` file lacks what
    the script requires."""

    exit_code = ExitCode.METADATA


class ToolNotFoundError(PyrunError):
    """Neither uv (the ``uv`` package, ``$UV``, ``PATH``) nor a usable pip can be found."""

    exit_code = ExitCode.INSTALL


class OutputError(PyrunError):
    """A file pyrun writes for the user cannot be written: a script being edited (``pyrun
    add``), a lock (``pyrun export -o``). Exit 73, sysexits' "cannot create output file".

    Attributes:
        path: the file concerned.
    """

    exit_code = ExitCode.CACHE

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class CacheError(PyrunError):
    """The cache directory cannot be created, locked or written.

    Attributes:
        path: the directory or file concerned.
    """

    exit_code = ExitCode.CACHE

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class EntriesVanished(CacheError):
    """Pool entries were removed (a prune, or by hand) between installing and composing; the
    engine installs them again once before giving up.

    Attributes:
        keys: the pool keys that vanished.
    """

    def __init__(self, path: str, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        super().__init__(path, f"pool entries vanished while composing an environment: "
                               f"{', '.join(self.keys)}; run again")


class ProjectFileError(PyrunError):
    """A project file pyrun reads or writes is malformed or unsafe: a ``[workflow] wsp``
    declaration, a ``.python-envs`` file that is not UTF-8 or is a symbolic link.

    Attributes:
        path: the file.
    """

    exit_code = ExitCode.CONFIG

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


def docs_link(prog: str) -> str:
    """The published docs' URL for the command ``prog`` (``"pyrun cache clean"``): its section of
    the command-line reference (docs/cli.md, whose ``## `pyrun cache clean``` heading mkdocs
    gives the id ``pyrun-cache-clean``)."""
    from pyrun import DOCS_URL

    return f"{DOCS_URL}cli/#{'-'.join(prog.split())}"


#: How alike a mistyped word and a real one must be for a "did you mean" (difflib's ratio): a
#: typo, a missing letter or two swapped ones (`lcok`: 0.75) pass; a merely similar word does
#: not (`--prerelease` for `--refresh`: 0.67, `tree` for `remove`: 0.6).
CLOSE = 0.75


def argument_parser(prog: str, **kwargs: Any) -> argparse.ArgumentParser:
    """An ``argparse`` parser for a front end whose usage errors raise :class:`UsageError`
    (one line naming the problem and ``PROG --help``) instead of printing the usage and exiting;
    options cannot be abbreviated; the help ends with a link to the command's published docs
    (:func:`docs_link`). ``kwargs`` go to :class:`argparse.ArgumentParser`."""
    import argparse

    class Parser(argparse.ArgumentParser):
        """See :func:`argument_parser`."""

        def __init__(self, prog: str, epilog: str | None = None, **kwargs: Any) -> None:
            # Sub-parsers (``pyrun cache clean``) are made by argparse with this class, so the
            # docs line is added here rather than by the factory.
            docs = f"docs: {docs_link(prog)}"
            kwargs["allow_abbrev"] = False  # sub-parsers too: `--unused-fo` is not an option
            super().__init__(prog=prog, epilog=f"{epilog.rstrip()}\n\n{docs}" if epilog
                             else docs, **kwargs)

        def error(self, message: str) -> NoReturn:
            raise UsageError(f"{message}{self._suggestion(message)} (see `{self.prog} --help`)")

        def _suggestion(self, message: str) -> str:
            """``; did you mean X?`` for an unrecognized option close to a real one (never
            ``--help``), or an invalid choice close to a valid one (``pyrun cache clen``)."""
            import difflib
            import re

            choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
            if choice is not None:
                valid = [c.strip().strip("'") for c in choice.group(2).split(",")]
                close = difflib.get_close_matches(choice.group(1), valid, n=1, cutoff=CLOSE)
                return f"; did you mean {close[0]}?" if close else ""
            if not message.startswith("unrecognized arguments:"):
                return ""
            parsers, known = [self], []
            while parsers:  # a sub-command's options too: argparse reports them here
                parser = parsers.pop()
                known += [o for o in parser._option_string_actions if o not in ("-h", "--help")]
                parsers += [sub for action in parser._actions
                            if isinstance(action, argparse._SubParsersAction)
                            for sub in action.choices.values()]
            for word in message.split(":", 1)[1].split():
                name = word.split("=", 1)[0]
                if name.startswith("-"):
                    close = difflib.get_close_matches(name, known, n=1, cutoff=CLOSE)
                    if close:
                        return f"; did you mean {close[0]}?"
            return ""

    class Formatter(argparse.RawDescriptionHelpFormatter):
        """The description wrapped to the terminal's width, as the options' help is; the
        epilog (a table of commands, kept as written) not."""

        def add_text(self, text: str | None) -> None:
            if isinstance(text, str) and text and text is description:
                fill = argparse.HelpFormatter._fill_text  # the raw formatter's keeps lines
                paragraphs = str(description).split("\n\n")
                text = "\n\n".join(fill(self, p, self._width, "") for p in paragraphs)
            super().add_text(text)

    description = kwargs.get("description")
    kwargs.setdefault("formatter_class", Formatter)
    return Parser(prog=prog, allow_abbrev=False, **kwargs)


def report(exc: BaseException, verbosity: int = 0, stream: TextIO | None = None) -> int:
    """The one error edge: print ``exc`` for a person and return the exit code.

    A :class:`PyrunError` prints as one ``pyrun: error: ...`` message (with its traceback
    only when ``verbosity > 0``); ``KeyboardInterrupt`` as ``pyrun: interrupted`` (130); any
    other exception is a bug: its traceback, then ``internal error (please report it)`` (70).

    Args:
        exc: what was raised.
        verbosity: -1 quiet, 0 normal, 1+ verbose (tracebacks).
        stream: where to print (default ``sys.stderr``).

    Returns:
        The exit code from :class:`ExitCode` (or the error's own ``exit_code``).
    """
    out = stream if stream is not None else sys.stderr
    context = getattr(exc, "context", "")
    prefix = f"{context}: " if context else ""
    if isinstance(exc, KeyboardInterrupt):
        print("pyrun: interrupted", file=out, flush=True)
        return ExitCode.INTERRUPTED
    if isinstance(exc, PyrunError):
        if verbosity > 0:
            _traceback(exc, out)
        from pyrun.progress import escaped, styled

        print(f"pyrun: {styled('error:', 'error', out)} {escaped(f'{prefix}{exc}')}", file=out,
              flush=True)
        return exc.exit_code
    _traceback(exc, out)
    print(f"pyrun: internal error (please report it): {prefix}{exc!r}", file=out,
          flush=True)  # repr: escaped already
    return ExitCode.INTERNAL


def _traceback(exc: BaseException, out: Any) -> None:
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__, file=out)
