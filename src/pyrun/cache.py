"""The cache directory's layout, its locks, and safe removal of read-only trees.

Layout under the root (``PYRUN_CACHE_DIR`` or the platform's user cache directory)::

    pool/<name>-<version>-<digest>/   one installed distribution artifact (read-only)
    envs/<key>/                       one environment (a tiny venv)
    refs/<hash>.json                  an environment elsewhere (a project venv) using pool entries
    index/<xx>/<fast key>             fast-path index: a file holding an environment's path
    locks/<key>.lock                  per-key file locks
    interpreters.json                 answers of interpreter queries

Builds happen in ``.tmp-*`` directories beside their final place and are renamed into it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from filelock import FileLock

from pyrun.errors import CacheError
from pyrun.fastpath import cache_root, index_path, index_text


class Cache:
    """pyrun's cache at ``root`` (default :func:`pyrun.fastpath.cache_root`).

    Raises:
        CacheError: (from :meth:`create`) the directories cannot be made.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else Path(cache_root())
        self.pool = self.root / "pool"
        self.envs = self.root / "envs"
        self.locks = self.root / "locks"

    def create(self) -> Cache:
        """Create the directories, private to the user (mode 0700). Returns self."""
        try:
            for d in (self.root, self.pool, self.envs, self.locks, self.root / "index"):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create pyrun's cache at {self.root}: {exc.strerror}; set "
                "PYRUN_CACHE_DIR to a writable directory"
            ) from None
        return self

    @contextlib.contextmanager
    def locked(self, keys: Sequence[str]) -> Iterator[None]:
        """Hold the file locks of ``keys`` (taken in sorted order, so no two runs deadlock)."""
        with contextlib.ExitStack() as stack:
            for key in sorted(set(keys)):
                stack.enter_context(FileLock(str(self.locks / f"{key}.lock")))
            yield

    @property
    def refs(self) -> Path:
        """Where environments outside the cache that use pool entries are recorded."""
        return self.root / "refs"

    def record_reference(
        self, prefix: Path, keys: Sequence[str], listed_in: Path | None = None
    ) -> None:
        """Record that the environment at ``prefix`` is used from outside the cache, so that a
        prune keeps it: a project venv made by the WSP server, which uses the pool entries
        ``keys``; or one of pyrun's own environments that ``listed_in`` (a ``.python-envs``
        file) names, for an editor. One JSON file per prefix, replaced atomically."""
        import hashlib
        import json

        self.refs.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = hashlib.sha256(str(prefix).encode()).hexdigest()[:32]
        path = self.refs / f"{name}.json"
        tmp = path.with_name(f"{tmp_prefix()}{path.name}")
        record = {"prefix": str(prefix), "entries": list(keys),
                  "listed_in": str(listed_in) if listed_in else None}
        tmp.write_text(json.dumps(record), "utf-8")
        os.replace(tmp, path)

    def record_index(
        self,
        fast_key: str,
        env_dir: Path,
        base: str,
        required: list[str],
        pending: tuple[str, ...] = (),
    ) -> None:
        """Point the fast-path index entry ``fast_key`` at ``env_dir`` (atomic replace).

        Args:
            fast_key: :func:`pyrun.fastpath.fast_key` of the script and options.
            env_dir: the whole environment.
            base: the real path of its base interpreter.
            required: paths a warm run checks exist (see :func:`pyrun.fastpath.index_text`).
            pending: paths whose absence means bytecode is still to come.
        """
        path = Path(index_path(str(self.root), fast_key))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f"{tmp_prefix()}{path.name}")
        tmp.write_text(index_text(str(env_dir), base, required, pending), encoding="utf-8")
        os.replace(tmp, path)


def tmp_prefix(pid: int | str | None = None) -> str:
    """The name prefix of a temporary file or directory made by process ``pid`` (default:
    this one): ``.tmp-<pid>-``. A later run removes those whose process is gone."""
    return f".tmp-{os.getpid() if pid is None else pid}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_leftovers(cache: Cache) -> list[Path]:
    """Remove the temporary files and directories of runs that died (killed, crashed, power
    lost) from ``pool/``, ``envs/`` and ``index/``: those named by :func:`tmp_prefix` whose
    process no longer exists. Returns what was removed.
    """
    removed = []
    dirs = [cache.pool, cache.envs, *sorted((cache.root / "index").glob("??"))]
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if not name.startswith(".tmp-"):
                continue
            pid = name[len(".tmp-"):].partition("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                remove_tree(d / name)
                removed.append(d / name)
    return removed


def make_readonly(top: Path) -> None:
    """Remove write permission from every directory under ``top``, except ``top`` itself.

    Directories, not files: pool files are hardlinks into uv's cache, and their mode is shared
    with it. Read-only directories already stop anything from adding, removing or renaming a
    file (and Python from writing ``.pyc`` files) in a finished entry. ``top`` is left for the
    caller, so that it can still be renamed into place first.
    """
    for dirpath, _dirnames, _filenames in os.walk(top):
        if dirpath != str(top):
            os.chmod(dirpath, stat.S_IMODE(os.stat(dirpath).st_mode) & ~0o222)


def make_writable(top: Path) -> None:
    """Give the owner write permission on every directory under ``top``, ``top`` included."""
    for dirpath, _dirnames, _filenames in os.walk(top):
        os.chmod(dirpath, stat.S_IMODE(os.stat(dirpath).st_mode) | 0o200)


def remove_tree(path: Path) -> None:
    """Delete ``path`` even where read-only directories are inside it; missing is fine."""
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
