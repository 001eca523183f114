"""The cache as an object: its directories, its file locks, the records it writes (index
entries, references from outside), removal of dead runs' leftovers and of read-only trees.

Where things live and how their files are named is :mod:`pyrun.layout`'s business; this module
adds what needs more than the standard library (``filelock``) or more than one file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from pyrun import layout
from pyrun.errors import CacheError


class Cache:
    """pyrun's cache at ``root`` (default :func:`pyrun.layout.cache_root`).

    Attributes:
        root, pool, envs, index, locks, refs: its directories (see :mod:`pyrun.layout`).
        interpreters: the file of cached interpreter queries.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(os.path.abspath(root if root is not None else layout.cache_root()))
        self.pool = self.root / layout.POOL
        self.envs = self.root / layout.ENVS
        self.index = self.root / layout.INDEX
        self.locks = self.root / layout.LOCKS
        self.refs = self.root / layout.REFS
        self.interpreters = self.root / layout.INTERPRETERS

    def create(self) -> Cache:
        """Create the directories, private to the user (mode 0700). Returns self.

        Raises:
            CacheError: they cannot be made, or see :meth:`check`.
        """
        self.check()
        try:
            for d in (self.root, self.pool, self.envs, self.locks, self.index, self.refs):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                str(self.root),
                f"cannot create pyrun's cache at {self.root}: {exc.strerror}; set "
                "PYRUN_CACHE_DIR to a writable directory",
            ) from None
        return self

    def check(self) -> Cache:
        """Return self if this user may trust the cache (see :func:`pyrun.layout.check_root`).

        Raises:
            CacheError: it belongs to another user, others can write to it, or its path holds a
                control character.
        """
        why = layout.check_root(str(self.root))
        if why:
            raise CacheError(str(self.root), f"pyrun's cache at {self.root!s} cannot be used: "
                             f"{why}; use a directory only you can write to (set "
                             "PYRUN_CACHE_DIR, or fix its owner and mode: chmod go-w)")
        return self

    @contextlib.contextmanager
    def locked(self, keys: Sequence[str]) -> Iterator[None]:
        """Hold the file locks of ``keys`` (taken in sorted order, so no two runs deadlock),
        waiting for each as long as another run holds it.

        ``flock`` on POSIX, as ``filelock`` takes it (the two exclude each other: the cache
        commands take these files' locks with ``filelock``), without importing it: a cold run
        is 15 to 30 ms shorter (``filelock`` 4 loads ``inspect``, ``logging``, ``secrets``).
        """
        from pyrun.store.markers import lock_file

        with contextlib.ExitStack() as stack:
            for key in sorted(set(keys)):
                path = lock_file(self.locks, key)
                if sys.platform == "win32":  # pragma: no cover
                    from filelock import FileLock

                    stack.enter_context(FileLock(str(path)))
                    continue
                fd = _hold(path)
                stack.callback(os.close, fd)
            yield

    def record_reference(
        self, prefix: Path, keys: Sequence[str], listed_in: Path | None = None
    ) -> None:
        """Record that the environment at ``prefix`` is used from outside the cache, so that a
        prune keeps it: a project venv composed from the pool, which uses the pool entries
        ``keys``; or one of pyrun's own environments that ``listed_in`` (a ``.python-envs``
        file) names, for an editor. One JSON file per prefix, replaced atomically."""
        from pyrun.store.markers import Reference, write_reference

        write_reference(self.refs, Reference(prefix, tuple(keys), listed_in))

    def record_index(
        self,
        fast_key: str,
        env_dir: Path,
        base: str,
        required: list[str],
        pending: tuple[str, ...] = (),
        watched: list[tuple[str, str]] | None = None,
        contents: list[tuple[str, str]] | None = None,
        inputs: tuple[str, str] | None = None,
    ) -> None:
        """Point the fast-path index entry ``fast_key`` at ``env_dir`` (atomic replace).

        Args:
            fast_key: :func:`pyrun.fastpath.fast_key` of the script and options.
            env_dir: the whole environment.
            base: the real path of its base interpreter.
            required: paths a warm run checks exist (see :func:`pyrun.layout.index_text`).
            pending: paths whose absence means bytecode is still to come.
            watched: ``[(path, signature)]`` a warm run checks have not changed (a local
                directory source's build files: :func:`pyrun.layout.directory_watch`).
            contents: ``[(path, digest)]`` whose content a warm run checks
                (:func:`pyrun.layout.content_digest`): the activation ``.pth``.
            inputs: for an entry under a block key, ``(installer, digest)`` of the settings
                the installer read (:func:`pyrun.inputs.installer_inputs`).
        """
        path = layout.index_path(str(self.root), fast_key)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        layout.write_atomic(path, layout.index_text(str(env_dir), base, required, pending,
                                                    watched, contents, inputs))


class Temporary:
    """A temporary file or directory in the cache, ``.tmp-<pid>-<label><random>`` (the pid is
    for people reading the directory; it decides nothing), and the exclusive lock that covers it
    for as long as it exists: a lock on its own file in ``locks/``
    (:func:`pyrun.store.markers.tmp_lock`), taken before the temporary is created, held until
    :meth:`close` has removed what is left of it. A killed process's lock is released by the
    kernel (or, on a network file system, by the server); :func:`remove_leftovers` removes only
    temporaries whose lock it can take.

    Attributes:
        path: where to create it (nothing is there yet: see :meth:`mkdir`).
    """

    def __init__(self, cache: Cache, directory: Path, label: str) -> None:
        from pyrun.store.markers import lock_file, tmp_lock

        relative = directory.relative_to(cache.root).as_posix()
        while True:  # a name no one uses, whose lock is ours; then it is created
            name = f"{layout.tmp_prefix()}{label}{os.urandom(4).hex()}"
            self.path = directory / name
            self._lock = lock_file(cache.locks, tmp_lock(relative, name))
            fd = try_hold(self._lock)
            if fd is not None and not os.path.lexists(self.path):
                self._fd = fd
                return
            if fd is not None:  # pragma: no cover - 32 random bits met another run's
                os.close(fd)

    def mkdir(self) -> Path:
        """Create the temporary directory (mode 0700) and return its path."""
        self.path.mkdir(mode=0o700)
        return self.path

    def close(self) -> None:
        """Remove what is left at :attr:`path` (nothing, once it was renamed into place), then
        the lock's file, then release the lock."""
        try:
            remove_tree(self.path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._lock)
            os.close(self._fd)


def _hold(path: Path) -> int:
    """An exclusive ``flock`` on the file ``path`` (created if missing), waited for: the open
    descriptor that holds it (POSIX). As :func:`try_hold`, a lock is kept only on the file
    still at ``path``.

    Raises:
        OSError: the file cannot be opened or locked.
    """
    import fcntl

    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    while True:
        fd = os.open(path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def try_hold(path: Path) -> int | None:
    """An exclusive lock on the file ``path`` (created if missing), taken without waiting: the
    open descriptor that holds it, or None when someone else holds it.

    ``flock``: the kernel releases it when its holder dies however it dies; Linux takes it on
    NFS as a POSIX lock, which the server sees from every client. A lock file is unlinked by
    whoever holds it once its temporary is gone, so a lock is kept only when the file locked is
    still the one at ``path`` (else another run's, opened before that unlink, is tried again).

    Raises:
        OSError: the lock file cannot be opened or created.
    """
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    while True:
        fd = os.open(path, flags, 0o600)
        try:
            if sys.platform == "win32":  # pragma: no cover
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: held (PermissionError on Windows)
            os.close(fd)
            return None
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


#: How old (by the file system's clock) a temporary file in ``refs/`` or ``index/`` must be to
#: be removed: those are written by :func:`pyrun.layout.write_atomic`, which takes no lock (it
#: writes a few bytes, then renames), so their free lock alone says nothing.
UNLOCKED_FILE_AGE = 3600.0


def remove_leftovers(cache: Cache) -> list[Path]:
    """Remove the temporary files and directories of runs that died (killed, crashed, power
    lost) from ``pool/``, ``envs/``, ``refs/`` and ``index/``: those named by
    :func:`pyrun.layout.tmp_prefix` whose lock (:class:`Temporary`) can be taken now, each
    removed holding it. Never judged by the pid in the name: a process in another PID
    namespace (a container sharing the cache) or on another machine (a network file system)
    has pids that mean nothing here. Temporaries from versions that took no lock are removed
    the same way (their lock is free); so are the lock files left without a temporary. Returns
    what was removed.
    """
    from pyrun.store.markers import lock_file, tmp_lock

    removed = []
    try:
        locks = os.listdir(cache.locks)
    except OSError:
        locks = []
    dirs = [cache.pool, cache.envs, cache.refs, *sorted(cache.index.glob("??"))]
    for d in dirs:
        relative = d.relative_to(cache.root).as_posix()
        try:
            names = [n for n in os.listdir(d) if n.startswith(layout.TMP)]
        except OSError:
            continue
        unlocked_files = d not in (cache.pool, cache.envs)
        for name in names:
            if remove_if_free(d / name, lock_file(cache.locks, tmp_lock(relative, name)),
                               unlocked_files):
                removed.append(d / name)
        prefix = tmp_lock(relative, "")
        for stale in [n for n in locks if n.startswith(prefix) and n.endswith(".lock")]:
            if not os.path.lexists(d / stale[len(prefix):-len(".lock")]):
                remove_if_free(None, cache.locks / stale, False)  # its holder died after
    return removed


def remove_if_free(path: Path | None, lock: Path, unlocked_files: bool) -> bool:
    """Remove ``path`` (if any) and then ``lock`` holding ``lock``, if it can be taken now.
    With ``unlocked_files``, a file (not a directory) must also be :data:`UNLOCKED_FILE_AGE`
    old. Whether ``path`` was removed."""
    try:
        fd = try_hold(lock)
    except OSError:
        return False
    if fd is None:
        return False
    try:
        if path is None:
            return False
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if unlocked_files and not stat.S_ISDIR(st.st_mode) and (
                os.fstat(fd).st_mtime - st.st_mtime < UNLOCKED_FILE_AGE):
            return False
        remove_tree(path)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def make_readonly(top: Path) -> None:
    """Remove write permission from every directory under ``top``, except ``top`` itself.

    Directories, not files: pool files are hardlinks into uv's cache, and their mode is shared
    with it. Read-only directories already stop anything from adding, removing or renaming a
    file (and Python from writing ``.pyc`` files) in a finished entry. ``top`` is left for the
    caller, so that it can still be renamed into place first.
    """
    _refuse_link(top)
    for dirpath, _dirnames, _filenames in os.walk(top):
        if dirpath != str(top):
            os.chmod(dirpath, stat.S_IMODE(os.lstat(dirpath).st_mode) & ~0o222)


def make_writable(top: Path) -> None:
    """Give the owner write permission on every directory under ``top``, ``top`` included."""
    _refuse_link(top)
    for dirpath, _dirnames, _filenames in os.walk(top):
        os.chmod(dirpath, stat.S_IMODE(os.lstat(dirpath).st_mode) | 0o200)


def _refuse_link(top: Path) -> None:
    """Raises ``OSError`` when ``top`` is a symbolic link: permissions are changed only on
    directories pyrun made, never on what a link points to (``os.walk`` would follow it)."""
    if os.path.islink(top):
        raise OSError(f"{top} is a symbolic link; pyrun does not change what it points to")


def remove_tree(path: Path) -> None:
    """Delete ``path`` even where read-only directories are inside it; missing is fine. A
    symbolic link is removed itself, never followed."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)
        for dirpath, dirnames, _filenames in os.walk(path):
            for name in dirnames:
                with contextlib.suppress(OSError):
                    p = os.path.join(dirpath, name)
                    if not os.path.islink(p):
                        os.chmod(p, 0o700)
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink()
