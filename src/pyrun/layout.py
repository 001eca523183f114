"""The cache's on-disk layout: the names of its directories and files, the fast-path index
entry (the one record the warm path reads: :func:`index_text` writes it, :func:`read_index`
reads it), one atomic write and the one JSON reader every record goes through
(:func:`read_marker`). What the other records hold is :mod:`pyrun.store.markers`' (environment
and entry markers, references, lock names); the directories' creation and ownership checks are
:class:`pyrun.store.cache.Cache`'s.

Layout under the root (``PYRUN_CACHE_DIR`` or the platform's user cache directory)::

    pool/<name>-<version>-<digest>/   one installed distribution artifact (read-only)
        pyrun-entry.json              its marker (ENTRY_MARKER), written last
        pyrun-compiled-<cache tag>    flag: that interpreter's .pyc files are in place
    envs/<key>/                       one environment (a tiny venv)
        pyrun-env.json                its completion marker (ENV_MARKER), written last
    refs/<hash>.json                  an environment elsewhere using pool entries
    index/<xx>/<fast key>             the fast-path index: see :func:`index_text`
    locks/<key>.lock                  per-key file locks
    scripts/<hash>.py                 copies of scripts read from a pipe or FIFO
    package-path/pyrun                a link to this pyrun's package: a Ray driver's path
    interpreters.json                 answers of interpreter queries

Temporary files and directories are named ``.tmp-<pid>-...`` (:func:`tmp_prefix`) beside their
final place and renamed into it, so a later run can remove those of runs that died.

Standard library only, and only ``os`` and ``sys`` at import: the warm path imports it.
"""

# No ``from __future__ import annotations``: importing ``__future__`` costs a warm run a module
# load. Annotations that Python 3.9 cannot evaluate are written as strings.

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the warm path does not import typing
if TYPE_CHECKING:
    from collections.abc import Callable

#: Version of the on-disk layout; part of every fast-path and environment key. 2: composition
#: modes named ``pooled`` and ``link-farm``; resolution inputs from
#: :func:`pyrun.inputs.resolution_inputs`.
CACHE_FORMAT = "2"

POOL = "pool"
ENVS = "envs"
INDEX = "index"
LOCKS = "locks"
REFS = "refs"
INTERPRETERS = "interpreters.json"
#: Copies of scripts that came from a pipe or FIFO (read once, run from here).
SCRIPTS = "scripts"

#: A directory holding only a link named ``pyrun`` to this pyrun's package (:func:`package_path`).
PACKAGE_PATH = "package-path"

#: An environment's completion marker, written last; its mtime is the environment's last use.
ENV_MARKER = "pyrun-env.json"
#: A pool entry's marker, written last (name, version, artifact, compiled-for, file manifest).
ENTRY_MARKER = "pyrun-entry.json"
#: Name prefix of the flag files that say an entry holds an interpreter's ``.pyc`` files.
COMPILED_FLAG = "pyrun-compiled-"
#: Name prefix of every temporary file or directory.
TMP = ".tmp-"


def cache_root() -> str:
    """pyrun's cache directory: ``$PYRUN_CACHE_DIR``, else the platform's user cache directory.

    On Linux this is platformdirs' rule (``$XDG_CACHE_HOME/pyrun``, else ``~/.cache/pyrun``),
    computed here without importing platformdirs (it costs more than a warm run's budget);
    elsewhere platformdirs itself is asked.
    """
    explicit = os.environ.get("PYRUN_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    if sys.platform.startswith("linux"):
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        return os.path.join(xdg or os.path.expanduser("~/.cache"), "pyrun")
    import platformdirs  # pragma: no cover - macOS and Windows

    return platformdirs.user_cache_dir("pyrun", appauthor=False)  # pragma: no cover


def tmp_prefix(pid: "int | str | None" = None) -> str:
    """The name prefix of a temporary file or directory made by process ``pid`` (default: this
    one): ``.tmp-<pid>-``."""
    return f"{TMP}{os.getpid() if pid is None else pid}-"


def is_key(name: str) -> bool:
    """Whether ``name`` can be a pool or environment key read back from a file: one plain
    path component (no separator, not ``.`` or ``..``, not a temporary name)."""
    separators = (os.sep, os.altsep or os.sep, "\0")
    return bool(name) and not name.startswith(".") and not any(c in name for c in separators)


def tmp_owner(name: str) -> "int | None":
    """The pid in a :func:`tmp_prefix` name, or None when ``name`` is not a temporary name."""
    if not name.startswith(TMP):
        return None
    pid = name[len(TMP):].partition("-")[0]
    return int(pid) if pid.isdigit() else None


def foreign(st: "os.stat_result", owner_only: bool = False) -> "str | None":
    """Why a file or directory with status ``st`` cannot be trusted by this user, or None: it
    belongs to another user; or (unless ``owner_only``) everyone can write to it, or a group
    can that is not the user's private group (one named as the user, with no other members:
    the default with a ``002`` umask). Always None where there are no user ids (Windows)."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # pragma: no cover - Windows
        return None
    if st.st_uid != getuid():
        return f"it belongs to another user (uid {st.st_uid})"
    if owner_only:
        return None
    if st.st_mode & 0o002:
        return "everyone can write to it"
    if st.st_mode & 0o020 and not _private_group(st.st_gid):
        return f"its group (gid {st.st_gid}) can write to it"
    return None


def _private_group(gid: int) -> bool:
    """Whether group ``gid`` is the user's private group: named as the user and with no other
    members (the default with a ``002`` umask); not, say, macOS's ``staff``."""
    try:
        import grp
        import pwd

        group = grp.getgrgid(gid)
        return group.gr_name == pwd.getpwuid(os.getuid()).pw_name and not [
            m for m in group.gr_mem if m != group.gr_name]
    except (ImportError, KeyError):
        return False


def check_root(root: str) -> "str | None":
    """Why the cache directory ``root`` cannot be used, or None: pyrun uses a cache only when
    the current user owns it and no one else can write to it (another user could plant an
    index entry or an environment there); a missing directory is fine (it is created)."""
    if any(c < " " for c in root):
        return "its path holds a control character (a line break?)"
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    why = foreign(st)
    return why


def digest(data: bytes) -> str:
    """A 32-hex-digit name for ``data`` (BLAKE2b, 16 bytes): of a script's copy, by content
    (:func:`runnable_copy`), and of a URL's record (:mod:`pyrun.script.remote`)."""
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - other implementations
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


def runnable_copy(root: str, data: bytes) -> str:
    """The path of a private copy of a script's ``data`` under ``root/scripts/``, named by its
    content and written once (atomically): for a script that came from a pipe or a FIFO, which
    pyrun has read and the interpreter could not read again.

    Raises:
        OSError: the copy cannot be written.
    """
    directory = os.path.join(root, SCRIPTS)
    path = os.path.join(directory, digest(data) + ".py")
    try:
        os.utime(path)  # in use: a prune keeps it
    except FileNotFoundError:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        write_atomic(path, data)
    return path


def package_path(root: str) -> str:
    """The directory ``root/package-path/``, made (or its link renewed) on demand, holding only
    ``pyrun``, a symbolic link to the package this pyrun runs from: put on ``PYTHONPATH`` where
    a script's own process must import ``pyrun`` (a Ray driver whose ``RAY_RUNTIME_ENV_HOOK``
    names ``pyrun.ray.hook``) while its environment holds only the script's dependencies.

    Raises:
        OSError: it cannot be made, or the directory is not a real one of this user's that no
            one else can write to (its link is then not trusted, nor changed).
    """
    directory = os.path.join(root, PACKAGE_PATH)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    st = os.lstat(directory)
    why = "it is not a directory" if st.st_mode & 0o170000 != 0o040000 else foreign(st)
    if why:
        raise OSError(1, f"{directory} is not pyrun's: {why}")
    target = os.path.dirname(os.path.abspath(__file__))
    link = os.path.join(directory, "pyrun")
    try:
        if os.readlink(link) == target:
            return directory
    except OSError:
        pass
    _into_place(link, lambda tmp: os.symlink(target, tmp))
    return directory


def is_regular_file(path: str) -> bool:
    """Whether ``path`` (followed) is a regular file, as opposed to a pipe, a FIFO, a device."""
    try:
        return os.stat(path).st_mode & 0o170000 == 0o100000
    except OSError:
        return False


def index_path(root: str, key: str) -> str:
    """Path of the fast-path index entry for ``key`` under cache ``root``."""
    return os.path.join(root, INDEX, key[:2], key)


def env_python(env_dir: str) -> str:
    """Path of an environment's interpreter."""
    if os.name == "nt":  # pragma: no cover
        return os.path.join(env_dir, "Scripts", "python.exe")
    return os.path.join(env_dir, "bin", "python")


def compiled_flag(entry_dir: str, cache_tag: str) -> str:
    """The flag file whose presence says the pool entry at ``entry_dir`` holds the ``.pyc``
    files of the interpreter whose ``sys.implementation.cache_tag`` is ``cache_tag`` (one
    ``stat`` for a warm run; the marker's ``compiled-for`` says the same, but costs JSON)."""
    return os.path.join(entry_dir, f"{COMPILED_FLAG}{cache_tag}")


def file_signature(path: str) -> str:
    """``size:mtime_ns`` of ``path`` (following symlinks), or ``"-"`` when it cannot be read.
    A file replaced or edited in place (an interpreter upgraded, a config file changed) gets a
    new signature."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


#: The files of a local directory source whose change means a rebuild, as uv's default
#: ``cache-keys`` say ("Caching" in uv's documentation): its build configuration, and whether
#: it has a ``src`` directory. Editing other files needs ``-U``, as with uv.
DIRECTORY_WATCH = ("pyproject.toml", "setup.py", "setup.cfg", "src")


def content_digest(path: str) -> str:
    """:func:`digest` of the small file at ``path`` (at most 1 MiB read), or ``"-"`` when it
    cannot be read: what the warm path compares for the files whose content, not only their
    presence, makes an environment work (its activation ``.pth``)."""
    try:  # os.read, not open(): a warm run pays about 10 microseconds for it
        fd = os.open(path, os.O_RDONLY)
        try:
            chunks = [os.read(fd, 1 << 16)]
            while len(chunks[-1]) == 1 << 16 and len(chunks) < 16:
                chunks.append(os.read(fd, 1 << 16))
        finally:
            os.close(fd)
    except OSError:
        return "-"
    return digest(b"".join(chunks))


def watch_signature(path: str) -> str:
    """What a watched path looks like now: ``-`` when missing, ``d`` for a directory that
    belongs to root or this user and that no group or other can write to (a pool layer and
    its entries are watched for that), ``d!`` for another directory, else
    :func:`file_signature`."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    if st.st_mode & 0o170000 == 0o040000:
        return "d!" if shared_foreign(st) else "d"
    return f"{st.st_size}:{st.st_mtime_ns}"


def shared_foreign(st: "os.stat_result") -> "str | None":
    """Why a directory others share (a pool layer, its entries and stamps: issue 26) with
    status ``st`` could be changed by someone other than root and this user, or None: it must
    belong to root or to this user, and neither its group nor others may write to it (stricter
    than :func:`foreign`, which admits the user's private group)."""
    if st.st_uid not in (0, getattr(os, "geteuid", lambda: 0)()):
        return f"it belongs to another user (uid {st.st_uid}), not to root or you"
    if st.st_mode & 0o002:
        return "everyone can write to it"
    if st.st_mode & 0o020:
        return "its group can write to it"
    return None


def directory_watch(directory: str) -> "list[tuple[str, str]]":
    """``[(path, watch_signature(path))]`` for the :data:`DIRECTORY_WATCH` paths of a local
    directory source."""
    paths = [os.path.join(directory, name) for name in DIRECTORY_WATCH]
    return [(p, watch_signature(p)) for p in paths]


def index_text(
    env_dir: str, base: str, required: list[str], pending: tuple[str, ...] = (),
    watched: "list[tuple[str, str]] | None" = None,
    contents: "list[tuple[str, str]] | None" = None,
    inputs: "tuple[str, str] | None" = None,
) -> str:
    """The text of an index entry (written by the engine, read by :func:`read_index`).

    Line 1: the environment's directory. Line 2: its base interpreter's real path and
    :func:`file_signature`, tab-separated. Then one path per line that must exist for the
    environment to work (its activation ``.pth``, each pool entry's marker),
    ``?``-prefixed paths whose absence means only that bytecode is still pending (the
    compiled flags of its entries), and ``=``-prefixed ``path<TAB>signature`` lines: paths
    whose :func:`watch_signature` must not have changed (a local directory source's build
    files), and ``%``-prefixed ``path<TAB>digest`` lines: paths whose :func:`content_digest`
    must not have changed (the activation ``.pth``: emptied or truncated, it would leave the
    script to die of its own import error). An entry under a block key ends with one
    ``@``-prefixed ``installer<TAB>digest`` line: the installer that resolved the environment
    and the digest of the settings it read (:func:`pyrun.fastpath.installer_inputs`).
    """
    lines = [env_dir, f"{base}\t{file_signature(base)}", *required, *(f"?{p}" for p in pending)]
    lines += [f"={p}\t{sig}" for p, sig in watched or ()]
    lines += [f"%{p}\t{d}" for p, d in contents or ()]
    if inputs is not None:
        lines.append(f"@{inputs[0]}\t{inputs[1]}")
    return "\n".join(lines) + "\n"


class IndexEntry:
    """A parsed index entry (a plain class: ``dataclasses`` costs a warm run milliseconds).

    Attributes:
        env_dir: the environment's directory.
        base: its base interpreter's real path.
        base_signature: that interpreter's :func:`file_signature` when the entry was written.
        required: paths that must exist.
        pending: paths whose absence means bytecode is pending.
        watched: ``[(path, signature)]`` that must still match (:func:`watch_signature`).
        contents: ``[(path, digest)]`` whose content must still match (:func:`content_digest`).
        inputs: ``(installer, digest)`` of an entry under a block key, else None.
    """

    def __init__(self, env_dir: str, base: str, base_signature: str,
                 required: list[str], pending: list[str],
                 watched: "list[tuple[str, str]]",
                 contents: "list[tuple[str, str]] | None" = None,
                 inputs: "tuple[str, str] | None" = None) -> None:
        self.env_dir = env_dir
        self.base = base
        self.base_signature = base_signature
        self.required = required
        self.pending = pending
        self.watched = watched
        self.contents = contents or []
        self.inputs = inputs


def read_index(root: str, key: str) -> "IndexEntry | str | None":
    """The index entry for ``key``: an :class:`IndexEntry`; None when there is none; or a
    string saying why the file there is damaged (not UTF-8, too short, not absolute paths)."""
    try:
        with open(index_path(root, key), "rb") as f:
            why = foreign(os.fstat(f.fileno()))  # the stat the open made anyway
            data = f.read(1 << 20)
    except OSError:
        return None
    if why:
        return f"the fast-path index entry is not trustworthy ({why})"
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return "the fast-path index entry is damaged (not UTF-8)"
    if len(lines) < 2 or "\t" not in lines[1] or not os.path.isabs(lines[0]):
        return "the fast-path index entry is damaged"
    base, _, signature = lines[1].partition("\t")
    required = [p for p in lines[2:] if p and not p.startswith(("?", "=", "%", "@"))]
    pending = [p[1:] for p in lines[2:] if p.startswith("?")]
    watched = [(p, sig) for p, _, sig in (w[1:].partition("\t") for w in lines[2:]
                                          if w.startswith("="))]
    contents = [(p, d) for p, _, d in (c[1:].partition("\t") for c in lines[2:]
                                       if c.startswith("%"))]
    inputs = [(i, d) for i, _, d in (c[1:].partition("\t") for c in lines[2:]
                                     if c.startswith("@"))]
    return IndexEntry(lines[0], base, signature, required, pending, watched, contents,
                      inputs[-1] if inputs else None)


def write_atomic(path: str, data: "bytes | str", mode: int = 0o600) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` by writing a new temporary file beside it and
    renaming it into place: a reader sees the old content or the new, never a part. The
    temporary file is created exclusively (never through a planted file or symbolic link) with
    ``mode`` (less the umask). On failure (a full disk, say) it is removed and the ``OSError``
    raised.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)

    def make(tmp: str) -> None:
        with os.fdopen(os.open(tmp, flags, mode), "wb") as f:
            f.write(raw)

    _into_place(path, make)


def _into_place(path: str, make: "Callable[[str], object]") -> None:
    """Make a temporary file beside ``path`` with ``make(tmp)`` (a file, a link) and rename it
    over ``path``; on failure the temporary is removed and the error raised."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f"{tmp_prefix()}{os.urandom(4).hex()}-{name}")
    try:
        make(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_marker(path: str) -> "dict[str, object] | None":
    """A marker or record file (``pyrun-env.json``, ``pyrun-entry.json``, ``refs/*.json``) as
    a dict, or None when it is missing, unreadable, not UTF-8, not JSON or not an object: the
    one way the cache's JSON files are read, so every kind of damage means "absent"."""
    import json

    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) else None
