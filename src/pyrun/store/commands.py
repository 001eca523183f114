"""Scripts installed as commands (``pyrun install``): the command files pyrun writes into the
user's executable directory, the record of each in the cache (``commands/<hash>.json``), and
the reference that keeps each command's environment from being pruned while its file exists
(``refs/``: a :class:`pyrun.store.markers.Reference` whose holder is the command's file).

A command file is a ``/bin/sh`` script (no ``env -S``, nothing looked up on ``PATH``)::

    #!/bin/sh
    # pyrun-command: {"format": 1, "script": "/home/me/jobs/report.py", "cache": "..."}
    ...
    exec '/path/to/python3' '/path/to/bin/pyrun' '/home/me/jobs/report.py' "$@"

every path absolute and quoted for the shell (:func:`shlex.quote`: spaces, quotes, even line
breaks stay one word), so it runs under cron's ``PATH=/usr/bin:/bin``. It uses the cache it was
installed from (where its environment is kept) unless ``PYRUN_CACHE_DIR`` says otherwise. Its
second line is the mark by which pyrun knows a file it wrote (:func:`read_command`): pyrun
never replaces or removes a file without it, and writes each file atomically (a temporary file
beside it, linked into place where nothing is, renamed over a command of its own), mode 0755.

Where commands go is uv's and pipx's convention (:func:`bin_dir`): ``$PYRUN_BIN_DIR``, else
``$UV_TOOL_BIN_DIR``, ``$XDG_BIN_HOME``, ``$XDG_DATA_HOME/../bin``, ``~/.local/bin``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
import stat
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyrun import layout
from pyrun.errors import OutputError, UsageError
from pyrun.store.cache import Cache
from pyrun.store.markers import Reference, read_reference, write_reference

#: The cache's directory of installed-command records.
COMMANDS = "commands"

#: The second line of every command file pyrun writes starts with this.
MARK = "# pyrun-command: "

#: The command file's format (its mark's ``format``).
FORMAT = 1

#: How much of a file is read to find the mark.
_HEAD = 4096


@dataclass(frozen=True)
class Installed:
    """One installed command, as the cache records it.

    Attributes:
        name: the command's name.
        command: its file.
        script: the script it runs (an absolute path).
        environment: the environment it needs (kept from pruning while the file exists).
        installed: when it was installed (seconds since the epoch).
        python: the interpreter it runs the script on (``--python``), chosen at install.
    """

    name: str
    command: Path
    script: str
    environment: Path
    installed: float = 0.0
    python: str = ""


@dataclass(frozen=True)
class CommandFile:
    """What a command file pyrun wrote says (its mark).

    Attributes:
        script: the script it runs.
        cache: the cache it was installed from.
    """

    script: str
    cache: str


def bin_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory commands are installed into: ``$PYRUN_BIN_DIR``, else uv's tool
    executable directory (``$UV_TOOL_BIN_DIR``, ``$XDG_BIN_HOME``, ``$XDG_DATA_HOME/../bin``,
    ``~/.local/bin``: the XDG variables only when absolute, as uv reads them), which is
    pipx's default too."""
    env = os.environ if environ is None else environ
    for name in ("PYRUN_BIN_DIR", "UV_TOOL_BIN_DIR"):
        if env.get(name):
            return Path(os.path.abspath(os.path.expanduser(env[name])))
    xdg = env.get("XDG_BIN_HOME", "")
    if os.path.isabs(xdg):
        return Path(os.path.normpath(xdg))
    data = env.get("XDG_DATA_HOME", "")
    if os.path.isabs(data):
        return Path(os.path.normpath(os.path.join(data, "..", "bin")))
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home, ".local", "bin")


def check_name(name: str) -> str:
    """``name`` when it can name a command: one file name (no ``/`` or ``\\``, not ``.`` or
    ``..``), not starting with ``-`` or ``.``, with no white space and no control, format
    (a right-to-left override, say) or unassigned character, at most 255 bytes.

    Raises:
        UsageError: it cannot.
    """
    why = ""
    if not name or name in (".", ".."):
        why = "it is empty" if not name else "it names a directory"
    elif name[0] in "-.":
        why = f"it starts with {name[0]!r}"
    elif "/" in name or "\\" in name:
        why = "it holds a path separator"
    elif any(c.isspace() or unicodedata.category(c).startswith(("C", "Z")) for c in name):
        why = "it holds white space or a control, format or unassigned character"
    elif len(name.encode("utf-8")) > 255:
        why = "it is longer than 255 bytes"
    if why:
        raise UsageError(f"{name!r} cannot name a command: {why}; choose another with --name")
    return name


def default_name(script: str) -> str:
    """The command name a script gets when none is given: its file name without ``.py``
    (``report.py`` -> ``report``)."""
    base = os.path.basename(script)
    stem, ext = os.path.splitext(base)
    return stem if ext.lower() in (".py", ".pyw") and stem else base


def command_text(launcher: Sequence[str], script: str, cache_root: str) -> bytes:
    """The command file that runs ``script`` (absolute) with ``launcher`` (pyrun's absolute
    command line, ``[python, pyrun]``), in the cache at ``cache_root`` unless
    ``PYRUN_CACHE_DIR`` is set."""
    mark = json.dumps({"format": FORMAT, "script": script, "cache": cache_root})
    q = shlex.quote
    text = ("#!/bin/sh\n"
            f"{MARK}{mark}\n"
            "# Written by `pyrun install`: runs the script above with pyrun, by absolute paths\n"
            "# (cron's PATH is enough). `pyrun uninstall` removes it; pyrun never touches a\n"
            "# file without the line above.\n"
            'if [ -z "${PYRUN_CACHE_DIR:-}" ]; then\n'
            f"  PYRUN_CACHE_DIR={q(cache_root)}\n"
            "  export PYRUN_CACHE_DIR\n"
            "fi\n"
            f'exec {" ".join(q(word) for word in launcher)} {q(script)} "$@"\n')
    return text.encode("utf-8", "surrogateescape")


def read_command(path: Path) -> CommandFile | None:
    """What the command file at ``path`` says, when it is a regular file (not a link) that
    pyrun wrote (its second line is :data:`MARK`); else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(
            os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            head = f.read(_HEAD)
    except OSError:
        return None
    lines = head.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 3 or lines[0] != "#!/bin/sh" or not lines[1].startswith(MARK):
        return None
    try:
        data = json.loads(lines[1][len(MARK):])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("script"), str):
        return None
    return CommandFile(data["script"], str(data.get("cache", "")))


def check_directory(directory: Path) -> None:
    """Create ``directory`` (mode 0755) if it is missing, and make sure only its owner, this
    user, can write to it (a command in a directory others can write to could be swapped).

    Raises:
        OutputError: it cannot be made, or it is not this user's alone.
    """
    try:
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        st = os.stat(directory)
    except OSError as exc:
        raise OutputError(str(directory), f"{directory}: cannot be made or read ({exc.strerror}); "
                          "set PYRUN_BIN_DIR to a directory of yours") from None
    why = layout.foreign(st) or ("" if os.path.isdir(directory) else "it is not a directory")
    if why:
        raise OutputError(str(directory), f"{directory} cannot hold commands: {why}; set "
                          "PYRUN_BIN_DIR to a directory only you can write to")


def check_replaceable(path: Path) -> CommandFile | None:
    """What the command at ``path`` says, when pyrun wrote it; None when nothing is there.

    Raises:
        OutputError: a file (or link, or directory) pyrun did not write is there.
    """
    if not os.path.lexists(path):
        return None
    found = read_command(path)
    if found is None:
        raise OutputError(str(path), f"{path} exists and was not written by `pyrun install`; "
                          "pyrun leaves it alone: choose another name with --name, or remove "
                          "the file yourself")
    return found


def place(path: Path, text: bytes) -> None:
    """Write the command file ``path`` atomically, mode 0755: linked into place where nothing
    is (so a file that appears meanwhile is never replaced), renamed over a command pyrun wrote.

    Raises:
        OutputError: a file pyrun did not write is there, or it cannot be written.
    """
    tmp = path.parent / f"{layout.tmp_prefix()}{os.urandom(4).hex()}-{path.name}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o700)
        try:
            os.write(fd, text)
            os.fchmod(fd, 0o755)  # whatever the umask: a command others may run, as pip's
            os.fsync(fd)
        finally:
            os.close(fd)
        if check_replaceable(path) is not None:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                check_replaceable(path)  # appeared meanwhile: refused unless it is ours
                os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(str(path), f"{path}: cannot be written ({exc.strerror}); check the "
                          "directory's permissions, or set PYRUN_BIN_DIR") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def remove(path: Path) -> None:
    """Remove the command file ``path``, which pyrun must have written.

    Raises:
        OutputError: the file there was not written by pyrun, or cannot be removed.
    """
    check_replaceable(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(str(path), f"{path}: cannot be removed ({exc.strerror})") from None


# -- the cache's records ------------------------------------------------------------------------


def _record_path(cache: Cache, command: Path) -> Path:
    digest = hashlib.sha256(os.fsencode(str(command))).hexdigest()[:32]
    return cache.root / COMMANDS / f"{digest}.json"


def record(cache: Cache, installed: Installed) -> None:
    """Record ``installed`` in the cache, and keep its environment for as long as its file
    exists (a reference held by the file; the reference of the environment it needed before,
    if another, is dropped).

    Raises:
        OSError: the cache cannot be written.
    """
    write_reference(cache.refs, Reference(installed.environment, (), installed.command))
    _drop_references(cache, installed.command, keep=installed.environment)
    data = {"name": installed.name, "command": str(installed.command),
            "script": installed.script, "environment": str(installed.environment),
            "installed": installed.installed or time.time(), "python": installed.python}
    path = _record_path(cache, installed.command)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    layout.write_atomic(str(path), json.dumps(data))


def forget(cache: Cache, command: Path) -> None:
    """Drop the record of the command at ``command`` and the references it holds, so that a
    prune may take its environment."""
    _drop_references(cache, command)
    try:
        os.unlink(_record_path(cache, command))
    except FileNotFoundError:
        pass


def installed(cache: Cache) -> list[Installed]:
    """Every command the cache records, by name (damaged records skipped)."""
    found = []
    try:
        names = sorted(os.listdir(cache.root / COMMANDS))
    except OSError:
        return []
    for name in names:
        if name.startswith("."):
            continue
        data = layout.read_marker(str(cache.root / COMMANDS / name))
        if data is None:
            continue
        fields = [data.get(k) for k in ("name", "command", "script", "environment")]
        if not all(isinstance(v, str) and v for v in fields):
            continue
        at, python = data.get("installed"), data.get("python")
        found.append(Installed(str(fields[0]), Path(str(fields[1])), str(fields[2]),
                               Path(str(fields[3])), float(at) if isinstance(at, (int, float))
                               else 0.0, python if isinstance(python, str) else ""))
    return sorted(found, key=lambda i: (i.name, str(i.command)))


def follow(cache: Cache, script: str, environment: Path, python: str | None) -> None:
    """Point every installed command that runs ``script`` (an absolute path; compared by real
    path) on the interpreter ``python`` at ``environment``, the one its runs now use (its block
    changed, say), so that its new environment is kept and its old one may be pruned.

    Raises:
        OSError: the cache cannot be written.
    """
    commands = installed(cache)
    if not commands:
        return
    real = os.path.realpath(script)
    for command in commands:
        if command.environment != environment and command.python == (python or "") \
                and os.path.realpath(command.script) == real \
                and read_command(command.command) is not None:
            record(cache, dataclasses.replace(command, environment=environment))


def _drop_references(cache: Cache, command: Path, keep: Path | None = None) -> None:
    """Remove the references held by the file ``command``, except one for ``keep``."""
    try:
        names = os.listdir(cache.refs)
    except OSError:
        return
    for name in names:
        if name.startswith("."):
            continue
        reference = read_reference(cache.refs / name)
        if reference is not None and reference.listed_in == command \
                and reference.prefix != keep:
            try:
                os.unlink(cache.refs / name)
            except FileNotFoundError:
                pass
