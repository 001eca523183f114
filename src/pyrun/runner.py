"""The library API: ``prepare(script)`` builds (or finds) a script's environment; ``run`` runs it.

This is the slow path, taken when the fast path (:mod:`pyrun.fastpath`) finds nothing::

    metadata -> interpreter -> resolution (uv, or pip) -> pool entries -> environment -> index -> exec
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from pyrun import bytecode, fastpath, metadata
from pyrun.cache import Cache, remove_leftovers
from pyrun.composition import LINK_MODES
from pyrun.environment import EntriesVanished, Environment, ensure_environment
from pyrun.errors import CacheError, NetworkError, ToolNotFoundError, UsageError
from pyrun.faults import point
from pyrun.interpreters import Interpreter, InterpreterFinder
from pyrun.launch import exec_script
from pyrun.piptool import Pip
from pyrun.pool import ENTRY_MARKER, Pool
from pyrun.progress import Reporter
from pyrun.resolution import Installer, Resolution, resolve
from pyrun.uvtool import Uv, uncached


@dataclass(frozen=True)
class RunOptions:
    """What a user can ask of one run.

    Attributes:
        python: ``--python``: a version (``3.12``), a specifier, a command or a path; or None.
        with_requirements: ``--with``: extra requirement strings (PEP 508) for this run.
        upgrade: ``--upgrade``: resolve again instead of reusing the recorded environment.
        offline: ``--offline``: never touch the network (uv reads only its cache).
        link_mode: ``--link-mode``: ``auto``, ``pth`` (pooled) or ``farm`` (one merged
            site-packages); see :mod:`pyrun.composition`.
    """

    python: str | None = None
    with_requirements: tuple[str, ...] = ()
    upgrade: bool = False
    offline: bool = False
    link_mode: str = "auto"


def fast_key_for(script: str | os.PathLike[str], options: RunOptions) -> str:
    """The fast-path key of ``script`` under ``options`` (what the warm path looks up).

    Raises:
        OSError: the script cannot be read.
    """
    with open(script, "rb") as f:
        span = fastpath.block_span(f.read())
    return fastpath.fast_key(
        span,
        options.python or "",
        list(options.with_requirements),
        sys.executable,
        options.link_mode,
    )


def prepare(
    script: str | os.PathLike[str],
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
    cache: Cache | None = None,
) -> Environment:
    """Return the environment ``script`` runs in, building whatever is missing.

    Args:
        script: path of a script with or without inline script metadata (PEP 723).
        options: see :class:`RunOptions`.
        reporter: progress and diagnostics (default: normal verbosity on stderr).
        cache: the cache to use (default: ``PYRUN_CACHE_DIR`` or the user cache directory).

    Raises:
        ScriptNotFoundError, MetadataError, UsageError, NoInterpreterError, ResolutionError,
        NetworkError, InstallError, ToolNotFoundError, CacheError: see :mod:`pyrun.errors`.
    """
    reporter = reporter or Reporter()
    cache = _open_cache(options, reporter, cache)
    meta = metadata.load(script)
    for warning in meta.warnings:
        reporter.warn(warning)
    return _find_or_build(script, meta, fast_key_for(script, options), options, reporter, cache)


def prepare_requirements(
    requirements: list[str],
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
    reporter = reporter or Reporter()
    cache = _open_cache(options, reporter, cache)
    try:
        deps = tuple(Requirement(r) for r in requirements)
    except InvalidRequirement as exc:
        raise UsageError(f"invalid requirement: {exc}") from None
    span = b"requires\0" + "\n".join(requirements).encode()
    key = fastpath.fast_key(span, options.python or "", list(options.with_requirements),
                            sys.executable, options.link_mode)
    meta = metadata.ScriptMetadata(path="<requires>", dependencies=deps, has_block=True)
    return _find_or_build("<requires>", meta, key, options, reporter, cache)


def _open_cache(options: RunOptions, reporter: Reporter, cache: Cache | None) -> Cache:
    """Check the options that need no cache, create the cache, remove dead runs' leftovers."""
    if options.link_mode not in LINK_MODES:
        raise UsageError(
            f"--link-mode must be one of {', '.join(LINK_MODES)}, not {options.link_mode!r}"
        )
    cache = (cache or Cache()).create()
    for leftover in remove_leftovers(cache):
        reporter.debug(f"removed {leftover}, left by a run that died")
    return cache


def _find_or_build(
    script: str | os.PathLike[str],
    meta: metadata.ScriptMetadata,
    key: str,
    options: RunOptions,
    reporter: Reporter,
    cache: Cache,
) -> Environment:
    """The recorded environment for ``key`` when it is usable, else :func:`_build`; a cache
    that cannot be written becomes :class:`CacheError`."""
    if not options.upgrade:
        python, why = fastpath.check(str(cache.root), key)
        if python is not None:
            env_dir = Path(python).parent.parent
            if why == fastpath.PENDING:
                bytecode.resume(cache, env_dir, reporter)
            return Environment(env_dir)
        if why:
            reporter.repair(f"{script}: {why}; building its environment again")
    try:
        return _build(script, meta, key, options, reporter, cache)
    except OSError as exc:
        if exc.errno in _CACHE_ERRNOS:
            raise CacheError(
                f"cannot write to pyrun's cache at {cache.root}: {exc.strerror} "
                f"({exc.filename}); free space or set PYRUN_CACHE_DIR to a writable directory"
            ) from exc
        raise


#: Write failures that mean the cache's file system, not pyrun, is the problem.
_CACHE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})


def _build(
    script: str | os.PathLike[str],
    meta: metadata.ScriptMetadata,
    key: str,
    options: RunOptions,
    reporter: Reporter,
    cache: Cache,
) -> Environment:
    """The slow path of :func:`prepare`: interpreter, resolution, pool, environment, index."""
    requirements = list(meta.dependencies)
    for text in options.with_requirements:
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as exc:
            raise UsageError(f"--with {text!r}: invalid requirement: {exc}") from None

    interpreter = InterpreterFinder(cache.root, reporter).choose(
        options.python, meta.requires_python, str(script)
    )
    reporter.debug(f"interpreter: {interpreter.executable} ({interpreter.version})")
    uv = installer(reporter, options.offline) if requirements else None
    if uv is not None:
        reporter.step(f"resolving {len(requirements)} requirement(s) for Python {interpreter.version}")
        try:
            resolution = resolve(requirements, interpreter, uv)
        except NetworkError as exc:
            if not exc.unreachable or isinstance(uv, Pip):  # pip has no cache-only mode
                raise
            uv = _resolve_offline_instead(exc, script, reporter)
            resolution = resolve_from_cache(requirements, interpreter, uv, exc, script)
        point("resolved")
        pins = ", ".join(f"{d.name}=={d.version}" for d in resolution.distributions)
        reporter.debug(f"resolved: {pins}")
    for attempt in (1, 2):
        if uv is not None:
            entries = Pool(cache, reporter).ensure(resolution.distributions, interpreter, uv)
        else:
            entries = []
        try:
            env = ensure_environment(cache, interpreter, entries, reporter, options.link_mode)
            break
        except EntriesVanished:  # a concurrent prune removed some: install them again
            if attempt == 2:
                raise
    point("env-placed")
    bytecode.schedule(cache, entries, interpreter, reporter)
    required = [str(env.activation)]
    if env.mode == "pth":  # a link farm holds its own links to the pool's files
        required += [str(e.path / ENTRY_MARKER) for e in entries]
    pending = tuple(str(bytecode.stamp_path(e, interpreter))
                    for e in bytecode.stale(entries, interpreter))
    cache.record_index(key, env.path, interpreter.executable, required, pending)
    reporter.debug(f"environment: {env.path}")
    return env


def installer(reporter: Reporter, offline: bool) -> Installer:
    """uv, or pip where uv cannot be had (the brief's fallback installer).

    Raises:
        ToolNotFoundError: neither is available.
    """
    try:
        return Uv(reporter, offline=offline)
    except ToolNotFoundError:
        reporter.debug("uv was not found: resolving and installing with pip")
        return Pip(reporter, offline=offline)


def _resolve_offline_instead(
    exc: NetworkError, script: str | os.PathLike[str], reporter: Reporter
) -> Uv:
    reporter.step(f"{script}: the package index cannot be reached; trying uv's cache")
    reporter.debug(str(exc))
    return Uv(reporter, offline=True)


def resolve_from_cache(
    requirements: list[Requirement],
    interpreter: Interpreter,
    uv: Installer,
    cause: NetworkError,
    script: str | os.PathLike[str],
) -> Resolution:
    """Resolve with ``uv --offline`` after the network proved unreachable.

    Raises:
        NetworkError: uv's cache lacks something; the message names it and what to do.
    """
    try:
        resolution = resolve(requirements, interpreter, uv)
    except NetworkError as exc:
        missing = uncached(exc.output) or "a distribution it needs"
        raise NetworkError(
            f"{script}: the package index cannot be reached, and {missing} is not in the "
            "cache; connect to the network and run again (pyrun --offline works once "
            "everything is cached)",
            exc.argv,
            exc.returncode,
            exc.output + "\n" + cause.output,
        ) from None
    uv.reporter.warn(
        f"{script}: the package index cannot be reached; resolved from uv's cache (newer "
        "releases, if any, are not seen)"
    )
    return resolution


def run(
    script: str,
    args: list[str],
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
) -> int:
    """Prepare ``script``'s environment and run it as ``python script *args`` would.

    On POSIX this replaces the current process and does not return; elsewhere it returns the
    script's exit code (128+N for signal N).

    Raises:
        The errors of :func:`prepare`.
    """
    env = prepare(script, options, reporter)
    return exec_script(str(env.python), script, args)
