"""The engine's public API: the one front door the CLI, ``pyrun python``, ``pyrun env`` and the
workflow server protocol (:mod:`pyrun.wsp`) all use.

* :func:`prepare` finds or builds a script's environment; :func:`run` runs the script in it.
* :func:`prepare_requirements` does the same for a list of requirements (a tool's ``requires``).
* :func:`create_venv` makes a venv at a given prefix and composes requirements into it from the
  pool (WSP's ``environment/create``).
* :func:`command_environ`, :func:`run_captured` and :func:`start` run commands in an
  environment, through the one subprocess helper.

The stages, each one module::

    script -> metadata -> interpreter -> resolution (installer) -> pool -> environment -> launch

A warm run never comes here: :mod:`pyrun.fastpath` finds the environment and execs. The errors
are :mod:`pyrun.errors`' tree; :class:`~pyrun.progress.Reporter` is re-exported here for
callers that want progress.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.errors import CacheError, NetworkError, UsageError
from pyrun.launch import activated
from pyrun.progress import Reporter
from pyrun.subprocesses import run_captured, start

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.cache import Cache
    from pyrun.composition import Composition
    from pyrun.environment import Environment
    from pyrun.installers.base import Installer
    from pyrun.interpreters import Interpreter
    from pyrun.metadata import ScriptMetadata
    from pyrun.pool import PoolEntry
    from pyrun.resolution import Resolution
    from pyrun.uvsettings import UvSettings

__all__ = [
    "Reporter", "RunOptions", "command_environ", "create_venv", "fast_key_for", "prepare",
    "prepare_requirements", "run", "run_captured", "start",
]


@dataclass(frozen=True)
class RunOptions:
    """What a user can ask of one run.

    Attributes:
        python: ``--python``: a version (``3.12``), a specifier, a command or a path; or None.
        with_requirements: ``--with``: extra requirement strings (PEP 508) for this run.
        upgrade: ``--upgrade``: resolve again instead of reusing the recorded environment.
        offline: ``--offline``: never touch the network (uv reads only its cache).
        composition: ``--composition``: ``auto``, ``pooled`` or ``link-farm``; see
            :mod:`pyrun.composition`.
        index: index options, ``{key: value}`` with the keys of :mod:`pyrun.uvsettings`
            (``index``, ``default-index``, ``index-url``, ``extra-index-url``, ``find-links``,
            ``no-index``, ``index-strategy``): on top of the script's ``[tool.uv]``.
    """

    python: str | None = None
    with_requirements: tuple[str, ...] = ()
    upgrade: bool = False
    offline: bool = False
    composition: str = "auto"
    index: tuple[tuple[str, object], ...] = ()


def fast_key_for(data: bytes, options: RunOptions) -> str:
    """The fast-path key of a script whose bytes are ``data``, under ``options`` (what the warm
    path looks up: :func:`pyrun.fastpath.fast_key`)."""
    from pyrun import fastpath
    from pyrun.uvsettings import UvSettings, key_parts

    return fastpath.fast_key(fastpath.block_span(data), options.python or "",
                             list(options.with_requirements), sys.executable,
                             options.composition, key_parts(UvSettings(dict(options.index))))


def prepare(
    script: str | os.PathLike[str],
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
    cache: Cache | None = None,
    *,
    data: bytes | None = None,
) -> Environment:
    """Return the environment ``script`` runs in, building whatever is missing.

    Args:
        script: path of a script with or without inline script metadata (PEP 723).
        options: see :class:`RunOptions`.
        reporter: progress and diagnostics (default: normal verbosity on stderr).
        cache: the cache to use (default: ``PYRUN_CACHE_DIR`` or the user cache directory).
        data: the script's bytes when the caller has read them already (the script is read
            once per run, so its key and its metadata come from the same bytes).

    Raises:
        ScriptNotFoundError, MetadataError, UsageError, NoInterpreterError, ResolutionError,
        NetworkError, InstallError, LockError, ToolNotFoundError, CacheError: see
        :mod:`pyrun.errors`.
    """
    from pyrun import metadata

    reporter = reporter or Reporter()
    source = metadata.read_script(script) if data is None else data
    meta = metadata.load(script, source)
    for warning in meta.warnings:
        reporter.warn(warning)
    lock = f"{os.fspath(script)}.lock"
    if "://" not in lock and os.path.isfile(lock):  # uv reads it; pyrun says it does not (yet), never silently
        reporter.warn(f"{lock} (a uv lock for this script) is not read by pyrun yet: the "
                      "script's requirements are resolved afresh; `uv run --script` honours it")
    cache = _open_cache(options, reporter, cache)
    return _find_or_build(str(script), meta, fast_key_for(source, options), options, reporter,
                          cache)


def prepare_requirements(
    requirements: Sequence[str],
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
    cache: Cache | None = None,
) -> Environment:
    """The environment for a list of requirements (PEP 508 strings), built like a script's:
    for a tool's ``requires`` (a ``[workflow] wsp`` ``cmd`` declaration), say. Warm when the
    same list was prepared before.

    Raises:
        UsageError: an invalid requirement; and the errors of :func:`prepare`.
    """
    from pyrun import fastpath, metadata

    reporter = reporter or Reporter()
    deps = _requirements(requirements, "requirement")
    cache = _open_cache(options, reporter, cache)
    span = b"requires\0" + "\n".join(requirements).encode()
    key = fastpath.fast_key(span, options.python or "", list(options.with_requirements),
                            sys.executable, options.composition)
    meta = metadata.ScriptMetadata(path="<requires>", dependencies=tuple(deps), has_block=True)
    return _find_or_build("<requires>", meta, key, options, reporter, cache)


def create_venv(
    prefix: Path,
    python: str | None,
    requirements: Sequence[str],
    reporter: Reporter | None = None,
    cache: Cache | None = None,
) -> None:
    """Make a venv at ``prefix`` (the standard library's ``venv``, without pip) on the
    interpreter ``python`` asks for (any form ``--python`` takes; None: pyrun's own), and
    compose ``requirements`` (PEP 508) into it from the pool: the same resolution, pool entries
    and activation files as :func:`prepare`. The cache records the venv, so a prune keeps the
    entries it uses while it exists. Nothing is left at ``prefix`` when this fails.

    Raises:
        UsageError: an invalid requirement, or ``prefix`` exists already (it is never
        replaced). NoInterpreterError: nothing matches ``python``. CommandError: ``venv``
        failed. CacheError, OSError: the cache or ``prefix`` cannot be written. And the
        installer errors of :func:`prepare`.
    """
    from pyrun import bytecode
    from pyrun.cache import remove_tree
    from pyrun.environment import populate
    from pyrun.interpreters import InterpreterFinder
    from pyrun.subprocesses import run_command

    reporter = reporter or Reporter()
    deps = _requirements(requirements, "requirement")
    if os.path.lexists(prefix):
        raise UsageError(f"{prefix} exists already; choose another place for the new venv")
    cache = _open_cache(RunOptions(), reporter, cache)
    interpreter = InterpreterFinder(cache.root, reporter).choose(python, None, str(prefix))
    prefix.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_command([interpreter.executable, "-m", "venv", "--without-pip", str(prefix)],
                    reporter, what=f"creating a venv at {prefix}")
        if deps:
            installer = _installer(reporter, offline=False)
            resolution, installer = _resolve(deps, interpreter, installer, str(prefix), reporter)
            entries, plan = _compose(cache, resolution, interpreter, installer, "auto", reporter)
            with cache.locked([e.key for e in entries]):  # no prune between these two
                populate(prefix, prefix, interpreter, plan)
                cache.record_reference(prefix, [e.key for e in entries])
            bytecode.schedule(cache, entries, interpreter, reporter)
    except BaseException:
        remove_tree(prefix)
        raise


def run(
    script: str,
    args: list[str],
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
    *,
    data: bytes | None = None,
) -> int:
    """Prepare ``script``'s environment and run it as ``python script *args`` would.

    On POSIX this replaces the current process and does not return; elsewhere it returns the
    script's exit code (128+N for signal N). A script that is not a regular file (``-`` for
    standard input, a pipe, a FIFO: ``pyrun <(curl ...)``) is read once and run from a copy
    in the cache.

    Raises:
        The errors of :func:`prepare`.
    """
    from pyrun import layout, metadata
    from pyrun.launch import exec_script

    data = metadata.read_script(script) if data is None else data
    for attempt in range(3):
        env = prepare(script, options, reporter, data=data)  # opens (and checks) the cache
        runnable = script
        if script == "-" or not layout.is_regular_file(script):  # stdin, a URL, a FIFO:
            # read once, so the interpreter runs a copy of what was read
            runnable = layout.runnable_copy(layout.cache_root(), data)
        try:
            return exec_script(str(env.python), runnable, args)
        except FileNotFoundError:  # removed by a clean between the build and the exec
            if attempt == 2 or env.python.exists():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def command_environ(prefix: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment of a command run in the environment at ``prefix``: this
    process's, as activation changes it (:func:`pyrun.launch.activated`), then ``extra``."""
    environ = activated(str(prefix), os.environ)
    environ.update(extra or {})
    return environ


# -- the stages ------------------------------------------------------------------------------


def _requirements(texts: Sequence[str], what: str) -> list[Requirement]:
    """Parse PEP 508 strings (:func:`pyrun.metadata.parse_requirement`: no control
    characters, so nothing can reach the installer as an option of its own).

    Raises:
        UsageError: one is invalid; the message names it.
    """
    from pyrun.metadata import parse_requirement

    out = []
    for text in texts:
        if not isinstance(text, str):
            raise UsageError(f"{what} {text!r}: a requirement is one line of PEP 508 text")
        try:
            out.append(parse_requirement(text))
        except ValueError as exc:
            raise UsageError(f"{what} {text!r}: invalid requirement: {exc}") from None
    return out


def _open_cache(options: RunOptions, reporter: Reporter, cache: Cache | None) -> Cache:
    """Check the options that need no cache, create the cache, remove dead runs' leftovers."""
    from pyrun import composition
    from pyrun.cache import Cache, remove_leftovers

    composition.check(options.composition)  # before any work
    cache = (cache or Cache()).create()
    for leftover in remove_leftovers(cache):
        reporter.debug(f"removed {leftover}, left by a run that died")
    return cache


def _find_or_build(
    script: str,
    meta: ScriptMetadata,
    key: str,
    options: RunOptions,
    reporter: Reporter,
    cache: Cache,
) -> Environment:
    """The recorded environment for ``key`` when it is usable, else :func:`_build`; a cache
    that cannot be written becomes :class:`CacheError`."""
    from pyrun import fastpath
    from pyrun.environment import Environment

    if not options.upgrade:
        python, why = fastpath.check(str(cache.root), key)
        if python is not None:
            env_dir = Path(python).parent.parent
            if why == fastpath.PENDING:
                _resume_bytecode(cache, env_dir, reporter)
            return Environment(env_dir)
        if why:
            reporter.repair(f"{script}: {why}; building its environment again")
    try:
        return _build(script, meta, key, options, reporter, cache)
    except OSError as exc:
        if exc.errno in _CACHE_ERRNOS:
            raise CacheError(
                str(exc.filename or cache.root),
                f"cannot write to pyrun's cache at {cache.root}: {exc.strerror} "
                f"({exc.filename}); free space or set PYRUN_CACHE_DIR to a writable directory",
            ) from exc
        raise


#: How often a build installs pool entries again that a concurrent prune or clean removed
#: between their install and the composing of the environment, before it gives up.
_ATTEMPTS = 5

#: Write failures that mean the cache's file system, not pyrun, is the problem.
_CACHE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})


def _build(
    script: str,
    meta: ScriptMetadata,
    key: str,
    options: RunOptions,
    reporter: Reporter,
    cache: Cache,
) -> Environment:
    """The slow path of :func:`prepare`: interpreter, resolution, pool, environment, index."""
    from pyrun import bytecode
    from pyrun.composition import POOLED
    from pyrun.environment import ensure_environment
    from pyrun.errors import EntriesVanished
    from pyrun.faults import point
    from pyrun.interpreters import InterpreterFinder
    from pyrun.layout import ENTRY_MARKER
    from pyrun.resolution import Resolution

    requirements = [*meta.dependencies, *_requirements(options.with_requirements, "--with")]
    interpreter = InterpreterFinder(cache.root, reporter).choose(
        options.python, meta.requires_python, script
    )
    reporter.debug(f"interpreter: {interpreter.executable} ({interpreter.version})")
    from pyrun.uvsettings import merged

    settings = merged(meta.uv, dict(options.index))
    installer = _installer(reporter, options.offline, settings) if requirements else None
    resolution = Resolution((), ())
    if installer is not None:
        resolution, installer = _resolve(requirements, interpreter, installer, script, reporter)
    for attempt in range(1, _ATTEMPTS + 1):
        entries, plan = _compose(cache, resolution, interpreter, installer,
                                 options.composition, reporter)
        try:
            env = ensure_environment(cache, interpreter, plan, reporter)
            break
        except EntriesVanished:  # a concurrent prune or clean removed some: install again
            if attempt == _ATTEMPTS:
                raise
            reporter.debug(f"pool entries vanished (attempt {attempt}); installing them again")
    point("env-placed")
    bytecode.schedule(cache, entries, interpreter, reporter)
    required = [str(env.activation)]
    if env.mode == POOLED:  # a link farm holds its own links to the pool's files
        required += [str(e.path / ENTRY_MARKER) for e in entries]
    pending = tuple(str(e.compiled_flag(interpreter.cache_tag))
                    for e in bytecode.stale(entries, interpreter))
    cache.record_index(key, env.path, interpreter.executable, required, pending)
    reporter.debug(f"environment: {env.path}")
    return env


def _installer(
    reporter: Reporter, offline: bool, settings: UvSettings | None = None
) -> Installer:
    from pyrun.installers import find_installer

    return find_installer(reporter, offline=offline, settings=settings)


def _resolve(
    requirements: Sequence[Requirement],
    interpreter: Interpreter,
    installer: Installer,
    script: str,
    reporter: Reporter,
) -> tuple[Resolution, Installer]:
    """Resolve with ``installer``; when the network proves unreachable, once more from the
    installer's cache (uv's ``--offline``), with a warning that newer releases are not seen.
    Returns the resolution and the installer to install it with (the cache-only one after
    that fallback).

    Raises:
        NetworkError: unreachable and the cache lacks something; the message names it.
        And the other errors of :meth:`pyrun.installers.base.Installer.resolve`.
    """
    from pyrun.faults import point

    reporter.step(f"resolving {len(requirements)} requirement(s) for Python {interpreter.version}")
    try:
        resolution = installer.resolve(requirements, interpreter)
    except NetworkError as exc:
        cached = installer.from_cache() if exc.unreachable else None
        if cached is None:
            raise
        reporter.step(f"{script}: the package index cannot be reached; trying the cache")
        reporter.debug(str(exc))
        try:
            resolution = cached.resolve(requirements, interpreter)
        except NetworkError as offline_exc:
            missing = cached.missing_from_cache(offline_exc.output) or "a distribution it needs"
            raise NetworkError(
                f"{script}: the package index cannot be reached, and {missing} is not in the "
                "cache; connect to the network and run again (pyrun --offline works once "
                "everything is cached)",
                offline_exc.command,
            ) from None
        reporter.warn(f"{script}: the package index cannot be reached; resolved from "
                      f"{installer.name}'s cache (newer releases, if any, are not seen)")
        installer = cached
    point("resolved")
    pins = ", ".join(f"{d.name}=={d.version}" for d in resolution.distributions)
    reporter.debug(f"resolved: {pins}")
    return resolution, installer


def _compose(
    cache: Cache,
    resolution: Resolution,
    interpreter: Interpreter,
    installer: Installer | None,
    composition: str,
    reporter: Reporter,
) -> tuple[list[PoolEntry], Composition]:
    """The pool entries of ``resolution`` (installing the missing ones with ``installer``;
    None when there is nothing to install) and how they compose; for a link farm, the
    entries' bytecode is put in place first (a farm links the files there are)."""
    from pyrun import bytecode
    from pyrun.composition import LINK_FARM, compose
    from pyrun.pool import Pool

    entries: list[PoolEntry] = []
    if installer is not None and resolution.distributions:
        entries = Pool(cache, reporter).ensure(resolution.distributions, interpreter, installer)
    plan = compose(entries, composition)
    if plan.mode == LINK_FARM:
        bytecode.before_link_farm(cache, entries, interpreter, reporter)
    return entries, plan


def _resume_bytecode(cache: Cache, env_dir: Path, reporter: Reporter) -> None:
    """Schedule the bytecode an environment's entries still lack (the warm path found it
    pending: the compiler has not finished, or died with its machine or container)."""
    from pyrun import bytecode
    from pyrun.environment import read_env_marker
    from pyrun.interpreters import InterpreterFinder
    from pyrun.pool import entry_from_key

    marker = read_env_marker(env_dir)
    if marker is None:
        return
    interpreter = InterpreterFinder(cache.root, reporter).query(marker.executable)
    if interpreter is None:
        return
    entries = [e for e in (entry_from_key(cache, k) for k in marker.entries) if e is not None]
    bytecode.schedule(cache, entries, interpreter, reporter)

