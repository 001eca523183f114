"""The automatic upkeep: the daily prune and the size cap, done in the background.

A run starts it (:func:`pyrun.launch.exec_script`, just before the script starts, at the cost
of one ``stat`` of the stamp when nothing is due) as a detached process that init adopts:
``python -c "... from pyrun.store.upkeep import main; main()" --after=PID [--daily]
--keep=KEY ROOT``. Two things make it due:

* a day since the stamp (``upkeep.stamp`` in the cache; its mtime is when a run last started
  the daily upkeep, set by that run before it starts it): a prune of environments unused for
  the configured period (:func:`pyrun.store.maintenance.prune`);
* a run that built its environment: the size cap (:func:`shrink`), when one is set.

The process waits for the script (PID) to exit, at most :data:`WAIT_LIMIT` seconds, so that it
never competes with it; reads the settings (:mod:`pyrun.store.settings`; a setting it cannot
read is recorded as a warning, and then it does nothing); takes the upkeep's lock
(``locks/upkeep.lock``), so that two upkeeps never run at once (a second one waits, then finds
its work done by the first when that one started after it was asked for); does the work; and
records what it did in ``upkeep.json`` (:func:`last`), which ``pyrun cache info`` shows. It
never removes the environment it was started for (``--keep``), one a running script uses, one
a live reference holds (``refs/``), or anything a build holds locked.

A killed upkeep leaves what a killed prune leaves (renamed trash under locks, removed by the
next run) and an ``upkeep.json`` that is the last one written whole; the next daily upkeep comes
a day after the stamp.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyrun import layout
from pyrun.launch import UPKEEP_STAMP
from pyrun.store.cache import Cache
from pyrun.store.markers import lock_file
from pyrun.store.settings import CacheSettings
from pyrun.subprocesses import wait_for_exit

if TYPE_CHECKING:  # imported where used: an upkeep with nothing to do never loads them
    from pyrun.store.maintenance import PruneResult

#: What the last upkeep did (JSON), in the cache's root.
RECORD = "upkeep.json"

#: The upkeep's lock name (``locks/upkeep.lock``).
LOCK = "upkeep"

#: The longest the upkeep waits for the script it was started for to exit, in seconds.
WAIT_LIMIT = 20.0

#: The longest an upkeep waits for another one to finish, in seconds.
LOCK_WAIT = 600.0

__all__ = ["LOCK", "RECORD", "UPKEEP_STAMP", "last", "main", "shrink", "stamp", "upkeep"]


def shrink(cache: Cache, max_bytes: int, keep: Iterable[Path] = (),
           result: PruneResult | None = None) -> int:
    """Make the cache fit in ``max_bytes``: remove the pool entries no environment uses, then
    the least recently used environments, each with the pool entries only it used
    (:func:`pyrun.store.sizes.plan_eviction`), until it fits; never an environment in
    ``keep``, one a running script uses, one a live reference holds (``refs/``), or anything a
    build holds locked. Safe while runs go on (the removals are
    :func:`pyrun.store.maintenance.remove_environment`'s: an environment used after it was
    chosen stays). What was removed and skipped goes into ``result``.

    Returns:
        the cache's size afterwards, in bytes (each inode once): above ``max_bytes`` only when
        what is left cannot go.
    """
    from pyrun.store import maintenance
    from pyrun.store.sizes import Usage, plan_eviction

    result = maintenance.PruneResult() if result is None else result
    for _attempt in range(3):  # again, if a build or a run kept what the plan counted on
        usage = Usage(cache.root)
        if usage.total <= max_bytes:
            return usage.total
        envs = maintenance.environments(cache)
        outside = [k for _prefix, keys in maintenance.references(cache) for k in keys]
        protected = {*keep, *maintenance.running_environments(cache),
                     *maintenance.holders(cache)}
        plan = plan_eviction(usage, [(e.path, e.last_used, e.entries) for e in envs], outside,
                             protected, max_bytes)
        last_used = {e.path: e.last_used for e in envs}
        done = len(result.environments) + len(result.entries)
        for path in plan:  # the cut-off: a run that used it since keeps it
            maintenance.remove_environment(cache, path, last_used[path] + 0.001, result)
        maintenance.remove_unreferenced_entries(cache, result)
        maintenance.remove_dangling_index(cache)  # a block each, and they lead nowhere now
        if len(result.environments) + len(result.entries) == done:
            break
    return Usage(cache.root).total


def upkeep(cache: Cache, *, daily: bool, keep: Iterable[Path] = (),
           asked: float | None = None, chosen: CacheSettings | None = None) -> dict[str, Any]:
    """Do the upkeep now, under its lock (waiting for another upkeep at most
    :data:`LOCK_WAIT` seconds), and record it in ``upkeep.json``: with ``daily``, a prune of
    environments unused for the configured period (unless ``auto-prune`` is off); and the size
    cap, when one is set (:func:`shrink`, never evicting ``keep``). Work that an upkeep started
    after ``asked`` (seconds since the epoch; default now) has done already is not done again.
    ``chosen``: the settings (default: :func:`pyrun.store.settings.read`).

    Returns:
        the record written (:func:`last`), or ``{}`` when there was nothing to do.

    Raises:
        UsageError, ProjectFileError: a setting cannot be read (see
            :mod:`pyrun.store.settings`); nothing is done.
        filelock.Timeout: another upkeep held the lock for :data:`LOCK_WAIT` seconds.
    """
    from pyrun.store import settings

    asked = time.time() if asked is None else asked
    chosen = settings.read() if chosen is None else chosen
    daily = daily and chosen.auto_prune
    if not daily and chosen.max_size is None:
        return {}
    from filelock import FileLock

    from pyrun.store import maintenance

    with FileLock(str(lock_file(cache.locks, LOCK)), timeout=LOCK_WAIT):
        _remove_dead_records(cache)
        record = dict(last(cache) or {})
        record.update(started=time.time(), removed_environments=0, removed_entries=0,
                      skipped=[], warnings=[], unused_for_days=chosen.unused_for,
                      max_size=chosen.max_size)
        result = maintenance.PruneResult()
        if daily and not _since(record.get("pruned"), asked):
            record["pruned"] = record["started"]
            pruned = maintenance.prune(cache, chosen.unused_for)
            result.environments += pruned.environments
            result.entries += pruned.entries
            result.skipped += pruned.skipped
        if chosen.max_size is not None and not _since(record.get("sized"), asked):
            record["sized"] = time.time()
            record["size_bytes"] = shrink(cache, chosen.max_size, keep, result)
        record.update(finished=time.time(), removed_environments=len(result.environments),
                      removed_entries=len(result.entries),
                      skipped=[f"{path}: {why}" for path, why in result.skipped][:20])
        _write(cache, record)
    return record


def last(cache: Cache) -> dict[str, Any] | None:
    """What the last upkeep recorded (``upkeep.json``), None when none did (or the record is
    damaged). Fields: ``started``, ``finished`` (seconds since the epoch), ``pruned`` and
    ``sized`` (when the last prune and the last size pass started), ``unused_for_days``,
    ``max_size`` (bytes or None), ``size_bytes`` (the cache's size after the last size pass),
    ``removed_environments``, ``removed_entries``, ``skipped`` (lines), ``warnings`` (lines:
    settings it could not read)."""
    return layout.read_marker(str(cache.root / RECORD))


def stamp(cache: Cache) -> float | None:
    """When a run last started the daily upkeep (the stamp's mtime, seconds since the epoch);
    None before the first."""
    try:
        return os.lstat(cache.root / UPKEEP_STAMP).st_mtime
    except OSError:
        return None


def _since(done: object, asked: float) -> bool:
    """Whether ``done`` (a time an upkeep recorded) is after ``asked`` and not in the future
    (a clock set back since then must not put the next upkeep off until that time)."""
    return isinstance(done, (int, float)) and asked <= done <= time.time()


def _write(cache: Cache, record: dict[str, Any]) -> None:
    import json

    layout.write_atomic(str(cache.root / RECORD), json.dumps(record, indent=1))


def _remove_dead_records(cache: Cache) -> None:
    """Remove what a killed upkeep left of its record: the temporary files of
    ``upkeep.json`` (only an upkeep writes them, and this one holds the lock)."""
    suffix = f"-{RECORD}"
    for name in os.listdir(cache.root):
        if name.startswith(layout.TMP) and name.endswith(suffix):
            try:
                os.unlink(cache.root / name)
            except OSError:
                pass


def _warn(cache: Cache, message: str) -> None:
    """Record a setting the background upkeep could not read, for ``pyrun cache info``."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(lock_file(cache.locks, LOCK)), timeout=LOCK_WAIT):
            record = dict(last(cache) or {})
            record.update(finished=time.time(), warnings=[message])
            _write(cache, record)
    except (OSError, Timeout):
        pass


def main(argv: list[str] | None = None) -> int:
    """The background upkeep: ``[--after=PID] [--daily] [--keep=KEY] ROOT`` (see the module
    docstring). Never raises: a setting it cannot read is recorded as a warning; any other
    failure ends it (exit 1), to be tried again by a later run."""
    from pyrun.errors import CacheError, PyrunError

    args = sys.argv[1:] if argv is None else argv
    asked = time.time()
    options = {a.partition("=")[0]: a.partition("=")[2] for a in args[:-1]}
    if not args or not os.path.isabs(args[-1]):
        return 2
    if options.get("--after", "").isdigit():
        wait_for_exit(int(options["--after"]), WAIT_LIMIT)
    cache = Cache(args[-1])
    keep = [cache.envs / options["--keep"]] if options.get("--keep") else []
    try:
        cache.check()
    except CacheError:  # not a cache this user may trust: nothing to do, nothing written
        return 1
    from pyrun.store import settings

    try:
        chosen = settings.read()
    except PyrunError as exc:  # a setting it could not read
        _warn(cache, str(exc))
        return 1
    try:
        upkeep(cache, daily="--daily" in options, keep=keep, asked=asked, chosen=chosen)
    except Exception:  # noqa: BLE001 - in the background, with no one to tell
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
