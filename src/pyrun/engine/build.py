"""Building an environment, as the algorithm reads: choose the interpreter, choose the pins,
install them into the pool, compose the environment, record it for the warm path.

One :class:`~pyrun.engine.request.BuildRequest` carries what a build needs; each step is a
function of it and of what the steps before it chose. A build that fails leaves nothing a
later run would use: the pool and the environments are written in temporary directories and
renamed into place, and the fast-path index is written last (:mod:`pyrun.fastpath`).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.errors import CacheError, InstallError, ResolutionError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.engine.composition import Composition
    from pyrun.engine.environment import Environment
    from pyrun.engine.interpreters import Interpreter
    from pyrun.engine.pins import Pins
    from pyrun.engine.pool import PoolEntry
    from pyrun.engine.request import BuildRequest
    from pyrun.script.metadata import Editable
    from pyrun.store.cache import Cache

#: How often a build installs pool entries again that a concurrent prune or clean removed
#: between their install and the composing of the environment, before it gives up.
ATTEMPTS = 5

#: Write failures that mean the cache's file system, not pyrun, is the problem.
CACHE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})

#: What a build needs after its resolution, imported meanwhile (:func:`_prefetch`).
LATER = ("pyrun.engine.pool", "pyrun.engine.environment", "pyrun.engine.bytecode")


def find_or_build(request: BuildRequest) -> Environment:
    """The environment recorded for the request's fast key when it is usable (none is, with
    ``--upgrade``, ``--upgrade-package`` or ``--refresh``), else a new one (:func:`build`).

    Raises:
        CacheError: the cache cannot be written (read-only, full, not permitted). And the
        errors of :func:`build`.
    """
    from pyrun import fastpath
    from pyrun.engine.environment import Environment

    options, cache = request.options, request.cache
    key = request.key_of()  # first: a --lock file that cannot be read is the first error
    if not (options.upgrade or options.refresh or options.upgrade_packages):
        python, why = fastpath.check(str(cache.root), key)
        if python is None and not why and request.block_key_of is not None:
            block = request.block_key_of()  # only settings its installer never reads changed
            python = fastpath.lookup_block(str(cache.root), block, request.script)
            if python is not None:
                request.reporter.debug("the environment recorded for this block still holds: "
                                       "the settings its installer reads are the same")
                fastpath.adopt(str(cache.root), key, block)
        if python is not None:
            env_dir = Path(python).parent.parent
            if why == fastpath.PENDING:
                resume_bytecode(cache, env_dir, request.reporter)
            return Environment.at(env_dir)
        if why:
            request.reporter.repair(f"{request.script}: {why}; building its environment again")
    try:
        return build(request)
    except OSError as exc:
        if exc.errno in CACHE_ERRNOS:
            raise CacheError(
                str(exc.filename or cache.root),
                f"cannot write to pyrun's cache at {cache.root}: {exc.strerror} "
                f"({exc.filename}); free space or set PYRUN_CACHE_DIR to a writable directory",
            ) from exc
        raise


def build(request: BuildRequest) -> Environment:
    """The slow path: the four steps, in order.

    Raises:
        NoInterpreterError, ResolutionError, NetworkError, InstallError, LockError,
        ToolNotFoundError, OSError: see :mod:`pyrun.errors`. A resolution or an install that
        fails says which Python it was for and how to choose another.
    """
    from pyrun.engine import pins as choosing
    from pyrun.engine.context import choose_interpreter
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.engine.options import parse_editables, parse_requirements

    _prefetch()
    extra: list[Requirement | Editable] = [
        *parse_requirements(request.options.with_requirements, "--with"),
        *parse_editables(request.options.with_editables)]
    finder = InterpreterFinder(request.cache.root, request.reporter)
    interpreter = choose_interpreter(finder, request.options.python, request.meta,
                                     request.script, request.early)
    request.reporter.debug(f"interpreter: {interpreter.executable} ({interpreter.version})")
    with _naming_the_python(request, interpreter):
        pins = choosing.choose(request, interpreter, finder, extra)
        key = request.key_of()  # as it is now: uv may have brought the lock up to date
        entries, env = install_and_compose(request, pins, interpreter)
    record(request, key, env, entries, pins, interpreter)
    return env


@contextmanager
def _naming_the_python(request: BuildRequest, interpreter: Interpreter) -> Iterator[None]:
    """A resolution or install failure inside says which Python it was for, and how to
    choose another."""
    try:
        yield
    except (ResolutionError, InstallError) as exc:
        how = "as --python asked" if request.options.python else \
            "the one uv chooses for this script"
        exc.args = (f"{exc}\n(for Python {interpreter.version} at {interpreter.executable}, "
                    f"{how}; to choose another: pyrun --python 3.X {request.script})",)
        raise


def install_and_compose(request: BuildRequest, pins: Pins, interpreter: Interpreter,
                        ) -> tuple[list[PoolEntry], Environment]:
    """Install the pins' missing distributions into the pool and compose the environment of
    them; again (up to :data:`ATTEMPTS` times) when a concurrent prune or clean removed
    entries in between.

    Raises:
        EntriesVanished: they kept vanishing. InstallError, OSError: as the pool raises them.
    """
    from pyrun.engine.environment import ensure_environment
    from pyrun.errors import EntriesVanished
    from pyrun.faults import point

    for attempt in range(1, ATTEMPTS + 1):
        entries, plan = compose_entries(request.cache, pins, interpreter,
                                        request.options.composition, request.reporter,
                                        thorough=request.options.upgrade
                                        or request.options.refresh,
                                        layers=request.options.layers)
        try:
            env = ensure_environment(request.cache, interpreter, plan, request.reporter)
            break
        except EntriesVanished:  # a concurrent prune or clean removed some: install again
            if attempt == ATTEMPTS:
                raise
            request.reporter.debug(f"pool entries vanished (attempt {attempt}); "
                                   "installing them again")
    point("env-placed")
    return entries, env


def record(request: BuildRequest, key: str, env: Environment, entries: list[PoolEntry],
           pins: Pins, interpreter: Interpreter) -> None:
    """Start compiling the entries' bytecode after this process ends, and record the
    environment under ``key`` for the warm path, with the files whose absence or change makes
    the record stale (:meth:`pyrun.store.cache.Cache.record_index`)."""
    from pyrun import layout
    from pyrun.engine import bytecode
    from pyrun.engine.composition import POOLED
    from pyrun.engine.records import noted
    from pyrun.layout import directory_watch
    from pyrun.store.markers import ENTRY_MARKER

    cache, reporter = request.cache, request.reporter
    if not request.options.no_cache:  # a temporary cache goes with the run: no bytecode
        bytecode.schedule(cache, entries, interpreter, reporter, after_exit=True)
    required = [str(env.activation)]
    if env.mode == POOLED:  # a link farm holds its own links to the pool's files
        required += [str(e.path / ENTRY_MARKER) for e in entries]
    pending = tuple(str(e.compiled_flag(interpreter.cache_tag))
                    for e in bytecode.stale(entries, interpreter))
    watched = [w for d in pins.resolution.distributions if d.kind == "directory"
               for w in directory_watch(d.url)]
    read_in_place = [str(e.path) for e in entries if e.layer]  # and their layers: a warm run
    read_in_place += sorted({e.layer for e in entries if e.layer})  # sees one made writable
    watched += [(path, layout.watch_signature(path)) for path in read_in_place]
    activation = str(env.activation)
    contents = [(activation, layout.content_digest(activation))]
    cache.record_index(key, env.path, interpreter.executable, required, pending, watched,
                       contents)
    if request.block_key_of is not None:  # for a run whose other settings differ (cron)
        from pyrun.inputs import NO_INSTALLER, installer_inputs

        installer = pins.installer.name if pins.installer is not None else NO_INSTALLER
        cache.record_index(request.block_key_of(), env.path, interpreter.executable, required,
                           pending, watched, contents,
                           (installer, installer_inputs(installer, request.script)))
    reporter.debug(f"environment: {env.path}")
    noted(request, env.path)  # which script it was for (pyrun list); installed commands follow


def compose_entries(
    cache: Cache,
    pins: Pins,
    interpreter: Interpreter,
    composition: str,
    reporter: Reporter,
    thorough: bool = False,
    layers: Sequence[str] = (),
) -> tuple[list[PoolEntry], Composition]:
    """The pool entries of the pins (installing the missing ones with the pins' installer;
    None when there is nothing to install) and how they compose; for a link farm, the
    entries' bytecode is put in place first (a farm links the files there are). With
    ``thorough`` (``-U``, ``--refresh``), an entry whose files' content changed is installed
    again (:meth:`pyrun.engine.pool.PoolEntry.altered`). Without it, entries of your own
    pool that compose an environment built already are used as they are, as a warm run uses
    them: their manifests were checked when it was built (a new block resolving to a built
    set checks no file; ``pyrun cache verify`` checks them all)."""
    from pyrun.engine import bytecode
    from pyrun.engine.composition import LINK_FARM, compose
    from pyrun.engine.environment import existing
    from pyrun.engine.pool import Pool

    entries: list[PoolEntry] = []
    if pins.installer is not None and pins.resolution.distributions:
        pool = Pool(cache, reporter, layers)
        if not thorough:  # a new block resolving to a built set: nothing to check or build
            found = pool.entries_for(pins.resolution.distributions, interpreter)
            if all(not e.layer and e.is_complete() for e in found):
                plan = compose(found, composition)
                if existing(cache, interpreter, plan) is not None:
                    reporter.debug("the environment of this set is built; its entries were "
                                   "checked against their manifests when it was")
                    return found, plan
        entries = pool.ensure(pins.resolution.distributions, interpreter, pins.installer,
                              thorough)
    plan = compose(entries, composition)
    if plan.mode == LINK_FARM:
        bytecode.before_link_farm(cache, entries, interpreter, reporter)
    return entries, plan


def _prefetch() -> None:
    """Import what the build needs after the resolution in a background thread, while this
    one chooses the interpreter and waits for the resolver (a subprocess): about 25 ms of
    imports off a cold run's critical path (issue 12). The import graph has no cycles
    (``tests/unit/test_layers.py``), so the two threads cannot deadlock on module locks."""
    import threading

    def load() -> None:
        import importlib

        for name in LATER:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the main thread imports it again and sees why
                return

    threading.Thread(target=load, name="pyrun-prefetch", daemon=True).start()


def resume_bytecode(cache: Cache, env_dir: Path, reporter: Reporter) -> None:
    """Schedule the bytecode an environment's entries still lack (the warm path found it
    pending: the compiler has not finished, or died with its machine or container)."""
    from pyrun.engine import bytecode
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.engine.pool import entry_from_key
    from pyrun.store.markers import read_env_marker

    marker = read_env_marker(env_dir)
    if marker is None:
        return
    interpreter = InterpreterFinder(cache.root, reporter).query(marker.executable)
    if interpreter is None:
        return
    entries = [e for e in (entry_from_key(cache, k) for k in marker.entries) if e is not None]
    bytecode.schedule(cache, entries, interpreter, reporter, after_exit=True)
