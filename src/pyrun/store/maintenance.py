"""Cache management: what the cache holds (``info``), removing what is unused (``prune``), and
removing everything (``clean``), safely while other runs go on.

Last use is the mtime of an environment's completion marker, which every run touches (the warm
path too: one ``utime``). An environment is *unused* when that is older than the cut-off; a
pool entry is *unreferenced* when no environment lists it in its marker, and no environment
outside the cache (a project venv the WSP server composed from the pool, recorded in
``refs/``) that still exists uses it.

What is never removed: anything whose file lock another run holds (a build in progress), an
environment that a live reference holds (``refs/``: one that ``pyrun env x.py --record`` wrote
into a ``.python-envs`` file that still lists it, which an editor uses without running pyrun;
one an installed command needs, while the command's file exists), an environment a running
process was started from (its ``bin/python`` is that process's ``argv[0]``, as ``/proc``
shows; Linux), and an environment whose marker is touched between
the decision and the removal (re-checked under the lock). Removal renames into a temporary
name first, so no run ever sees half of a removed environment or entry.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from pyrun import layout
from pyrun.launch import exclusive, release
from pyrun.layout import ENTRY_MARKER, ENV_MARKER
from pyrun.script import pythonenvs
from pyrun.store.cache import Cache, Temporary, remove_leftovers
from pyrun.store.markers import (
    Reference,
    env_lock,
    lock_file,
    read_env_marker,
    read_reference,
)
from pyrun.store.settings import DEFAULT_UNUSED_FOR
from pyrun.store.sizes import disk_usage

#: Default age (days) after which an environment nobody ran is pruned.
DEFAULT_MAX_AGE_DAYS = DEFAULT_UNUSED_FOR


@dataclass(frozen=True)
class EnvironmentInfo:
    """One environment.

    Attributes:
        path: its directory.
        last_used: seconds since the epoch (its marker's mtime); 0 for an incomplete one.
        entries: the pool keys it uses.
    """

    path: Path
    last_used: float
    entries: tuple[str, ...]


@dataclass(frozen=True)
class CacheInfo:
    """What the cache holds.

    Attributes:
        root: the cache directory.
        environments: every environment (complete or not).
        entries: every finished pool entry's key.
        unused: environments not used for ``max_age_days``.
        unreferenced: pool entries no environment uses.
        size_bytes: disk use of the cache, each inode counted once (files shared with uv's
            cache by hardlinks are counted here too).
        max_age_days: the cut-off used for ``unused``.
    """

    root: Path
    environments: tuple[EnvironmentInfo, ...]
    entries: tuple[str, ...]
    unused: tuple[EnvironmentInfo, ...]
    unreferenced: tuple[str, ...]
    size_bytes: int
    max_age_days: float


@dataclass
class PruneResult:
    """What a prune (or clean) did.

    Attributes:
        environments: removed environment directories.
        entries: removed pool entry keys.
        skipped: ``(path, reason)`` for each thing left because it was locked or in use.
    """

    environments: list[Path] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class VerifyResult:
    """What ``pyrun cache verify`` found and did.

    Attributes:
        entries: how many pool entries were checked.
        damaged: ``(pool key, what differs)`` for each entry whose files do not match.
        removed: the damaged entries removed, and the environments that used them (a later run
            installs and composes them again).
        skipped: ``(path, reason)`` for what was left because a run holds its lock.
    """

    entries: int = 0
    damaged: list[tuple[str, str]] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def verify(cache: Cache) -> VerifyResult:
    """Check every file of every pool entry against its wheel's ``RECORD`` hashes
    (:func:`pyrun.store.manifest.record_mismatch`): more than the size-and-mtime check a build
    makes, for users who need it. A damaged entry is removed, with every environment that uses it
    (a link farm holds hardlinks to the same damaged files), so the next run reinstalls it;
    an entry still used (by a running script's environment, or a project venv in ``refs/``)
    is reported and left."""
    from pyrun.store.manifest import hash_mismatch, record_mismatch
    from pyrun.store.markers import read_entry_marker

    result = VerifyResult()
    damaged = []
    for entry in sorted(p for p in _children(cache.pool) if (p / ENTRY_MARKER).is_file()):
        result.entries += 1
        marker = read_entry_marker(entry)
        why = record_mismatch(entry) or hash_mismatch(entry, marker.hashes if marker else None)
        if why:
            result.damaged.append((entry.name, why))
            damaged.append(entry)
    keys = {e.name for e in damaged}
    prune_like = PruneResult()
    for env in environments(cache):
        if keys & set(env.entries):
            remove_environment(cache, env.path, None, prune_like)
    for entry in damaged:
        lock = _try_lock(cache, entry.name)
        if lock is None:
            result.skipped.append((entry, "locked by a run that is using or building it"))
            continue
        try:
            if entry.name in used_entries(cache):  # a running script's, or a project venv's
                result.skipped.append((entry, "damaged, but still used (a running script or "
                                              "a project venv); run verify again when it ends"))
                continue
            _discard(cache, entry)
            result.removed.append(entry)
        finally:
            lock.release()
    result.removed += prune_like.environments
    result.skipped += prune_like.skipped
    return result


def warnings(cache: Cache) -> list[str]:
    """Problems found while reading what the cache's references point at (a ``.python-envs``
    file that cannot be read, say), one line each; they never stop ``info`` or ``prune``."""
    found = []
    for _reference, problem in _references(cache):
        if problem:
            found.append(problem)
    return found


def environments(cache: Cache) -> list[EnvironmentInfo]:
    """Every environment directory in the cache (temporary build directories excluded)."""
    found = []
    for path in sorted(_children(cache.envs)):
        marker = read_env_marker(path)
        try:
            last_used = os.stat(path / ENV_MARKER).st_mtime if marker else 0.0
        except OSError:
            last_used = 0.0
        found.append(EnvironmentInfo(path, last_used, marker.entries if marker else ()))
    return found


def references(cache: Cache) -> list[tuple[Path, list[str]]]:
    """``(prefix, pool keys)`` of each environment used from outside the cache (``refs/``)
    while its holder lives (:class:`pyrun.store.markers.Reference`): project venvs composed
    from the pool while they exist; pyrun environments while the ``.python-envs`` file that
    recorded them still lists them (or cannot be read: then they are kept, see
    :func:`warnings`), or while the file of the command installed for them exists. Records
    whose holder is gone are removed."""
    return [(r.prefix, list(r.entries)) for r, _problem in _references(cache)]


def holders(cache: Cache) -> dict[Path, str]:
    """``{environment: why it is kept}`` for each environment a live reference holds
    (:func:`references`): ``"a .python-envs file lists it"``, or ``"<file> needs it"`` for
    another holder (an installed command)."""
    found: dict[Path, str] = {}
    for reference, _problem in sorted(_references(cache), key=lambda r: (
            not _is_listing(r[0]), str(r[0].listed_in))):  # one reason, the same each time
        holder = reference.listed_in
        found.setdefault(reference.prefix, "a project venv" if holder is None else (
            "a .python-envs file lists it" if _is_listing(reference) else f"{holder} needs it"))
    return found


def _is_listing(reference: Reference) -> bool:
    return reference.listed_in is not None and \
        reference.listed_in.name == pythonenvs.FILE_NAME


def _references(cache: Cache) -> list[tuple[Reference, str]]:
    """Each live reference, with a problem met while judging it (``""`` when none)."""
    found = []
    for ref in _children(cache.refs):
        reference = read_reference(ref)
        if reference is None:
            continue
        prefix, holder = reference.prefix, reference.listed_in
        alive = (prefix / "pyvenv.cfg").is_file()
        problem = ""
        if alive and holder is not None and not _is_listing(reference):
            alive = os.path.lexists(holder)  # an installed command: kept while its file is
        elif alive and holder is not None:
            try:
                alive = any(ln.path == prefix for ln in pythonenvs.read(holder.parent).lines)
            except pythonenvs.PythonEnvsError as exc:
                problem = f"{exc}; the environments it may list are kept"
        if alive:
            found.append((reference, problem))
        else:
            try:
                ref.unlink()
            except OSError:
                pass
    return found


def used_entries(cache: Cache) -> set[str]:
    """The pool keys some environment uses: pyrun's own, and those of :func:`references`."""
    used = {k for e in environments(cache) for k in e.entries}
    for _prefix, keys in references(cache):
        used.update(keys)
    return used


def info(cache: Cache, max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> CacheInfo:
    """Describe ``cache`` (see :class:`CacheInfo`); never raises for a missing cache (it is
    then empty). Changes nothing but one thing: a reference record (``refs/``) whose
    environment is gone, or no longer listed by its ``.python-envs`` file, is removed as it is
    read (:func:`references`)."""
    envs = environments(cache)
    entries = sorted(p.name for p in _children(cache.pool) if (p / ENTRY_MARKER).is_file())
    cutoff = time.time() - max_age_days * 86400
    used = used_entries(cache)
    return CacheInfo(
        root=cache.root,
        environments=tuple(envs),
        entries=tuple(entries),
        unused=tuple(e for e in envs if e.last_used < cutoff),
        unreferenced=tuple(k for k in entries if k not in used),
        size_bytes=disk_usage([cache.root]),
        max_age_days=max_age_days,
    )


def prune(
    cache: Cache, max_age_days: float = DEFAULT_MAX_AGE_DAYS, *, now: float | None = None
) -> PruneResult:
    """Remove environments unused for ``max_age_days``, then pool entries no environment
    uses, then index entries that point nowhere, then leftovers of dead runs.

    Safe while other runs go on (see the module docstring).
    """
    result = PruneResult()
    remove_leftovers(cache)
    cutoff = (time.time() if now is None else now) - max_age_days * 86400
    running = running_environments(cache)
    held = holders(cache)
    for env in environments(cache):
        if env.last_used >= cutoff:
            continue
        if env.path in running:
            result.skipped.append((env.path, "a running process uses it"))
            continue
        if env.path in held:
            result.skipped.append((env.path, held[env.path]))
            continue
        remove_environment(cache, env.path, cutoff, result)
    remove_unreferenced_entries(cache, result)
    remove_dangling_index(cache)
    _remove_script_copies(cache, cutoff)
    return result


def clean(cache: Cache) -> PruneResult:
    """Remove every environment and pool entry (and the fast-path index), except what is
    locked by a build in progress or used by a running process."""
    result = PruneResult()
    remove_leftovers(cache)
    running = running_environments(cache)
    for env in environments(cache):
        if env.path in running:
            result.skipped.append((env.path, "a running process uses it"))
        else:
            remove_environment(cache, env.path, None, result)
    remove_unreferenced_entries(cache, result)
    remove_dangling_index(cache)
    _remove_script_copies(cache, time.time() - 300)  # not one a run is about to start
    try:  # answers about interpreters are asked again; a damaged file cannot outlive a clean
        os.unlink(cache.interpreters)
    except OSError:
        pass
    return result


def _children(d: Path) -> list[Path]:
    try:
        return [d / n for n in os.listdir(d) if not n.startswith(".")]
    except OSError:
        return []


def _try_lock(cache: Cache, key: str) -> FileLock | None:
    lock = FileLock(str(lock_file(cache.locks, key)), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return None
    return lock


def _discard(cache: Cache, path: Path) -> None:
    """Rename ``path`` out of the way (atomic: nothing sees half of it), then delete it, under
    the trash's lock (:class:`pyrun.store.cache.Temporary`)."""
    trash = Temporary(cache, path.parent, f"trash-{path.name}-")
    try:
        os.rename(path, trash.path)
    finally:
        trash.close()  # removes the trash


def remove_environment(cache: Cache, path: Path, cutoff: float | None,
                       result: PruneResult) -> None:
    """Remove the environment at ``path`` (added to ``result.environments``) unless a build
    holds its lock or a running script its marker's shared lock (then added to
    ``result.skipped``), or, with ``cutoff``, its marker was touched at or after ``cutoff``
    (seconds since the epoch), looked at again under the locks."""
    lock = _try_lock(cache, env_lock(path.name))
    if lock is None:
        result.skipped.append((path, "locked by a run that is building it"))
        return
    try:
        if cutoff is not None:
            try:  # a run may have used it since the list was made
                if os.stat(path / ENV_MARKER).st_mtime >= cutoff:
                    return
            except OSError:
                pass  # incomplete: no marker
        # Every script holds a shared lock on its environment's marker from before its exec
        # until it ends (pyrun.launch.hold): removal happens only under the exclusive lock, and
        # a run waiting for it finds the marker gone afterwards, and builds again.
        held = exclusive(str(path / ENV_MARKER))
        if held is None:
            result.skipped.append((path, "a running script uses it"))
            return
        try:
            if cutoff is not None:  # a warm run touches the marker before it takes the lock
                try:
                    if os.stat(path / ENV_MARKER).st_mtime >= cutoff:
                        return
                except OSError:
                    pass
            _discard(cache, path)
        finally:
            release(held)
        result.environments.append(path)
    finally:
        lock.release()


def remove_unreferenced_entries(cache: Cache, result: PruneResult) -> None:
    """Remove the pool entries no environment uses (:func:`used_entries`, looked at again
    under their locks), skipping those whose lock a run holds (into ``result``)."""
    candidates = [p for p in _children(cache.pool)]
    used = used_entries(cache)
    locks = []
    try:
        held = []
        for entry in sorted(p for p in candidates if p.name not in used):
            lock = _try_lock(cache, entry.name)
            if lock is None:
                result.skipped.append((entry, "locked by a run that is using or building it"))
                continue
            locks.append(lock)
            held.append(entry)
        # Under the locks, no run can be composing an environment from these entries (it
        # holds their locks while it does): look again at what the environments use.
        used = used_entries(cache)
        for entry in held:
            if entry.name not in used:
                _discard(cache, entry)
                result.entries.append(entry.name)
    finally:
        for lock in locks:
            lock.release()


def remove_dangling_index(cache: Cache) -> None:
    """Remove the fast-path index entries whose environment is gone (or that are damaged)."""
    for d in _children(cache.index):
        for f in _children(d):
            entry = layout.read_index(str(cache.root), f.name)
            if entry is None:
                continue
            if isinstance(entry, str) or not os.path.isdir(entry.env_dir):
                try:
                    f.unlink()
                except OSError:
                    pass


def _remove_script_copies(cache: Cache, cutoff: float) -> None:
    """Remove the copies of piped scripts (``scripts/``) last used before ``cutoff``."""
    directory = cache.root / layout.SCRIPTS
    for path in _children(directory):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def running_environments(cache: Cache) -> set[Path]:
    """Environments whose interpreter some running process was started as (Linux ``/proc``)."""
    envs = str(cache.envs) + os.sep
    found = set()
    for pid in _children(Path("/proc")) if os.path.isdir("/proc") else []:
        if not pid.name.isdigit():
            continue
        try:
            argv0 = (pid / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        if argv0.startswith(envs):
            found.add(Path(envs) / argv0[len(envs):].split(os.sep, 1)[0])
    return found
