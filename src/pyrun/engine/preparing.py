"""The engine's entry operations: the environment of a script (:func:`prepare`), of a list of
requirements (:func:`prepare_requirements`), and a venv composed from the pool
(:func:`create_venv`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.engine.options import RunOptions, parse_requirements
from pyrun.errors import UsageError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.engine.environment import Environment
    from pyrun.engine.uvpython import Asked
    from pyrun.store.cache import Cache


def prepare(
    script: str | os.PathLike[str],
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
    cache: Cache | None = None,
    *,
    data: bytes | None = None,
    early: Asked | None = None,
) -> Environment:
    """Return the environment ``script`` runs in, building whatever is missing.

    Args:
        script: path of a script with or without inline script metadata (PEP 723).
        options: see :class:`RunOptions`.
        reporter: progress and diagnostics (default: normal verbosity on stderr).
        cache: the cache to use (default: ``PYRUN_CACHE_DIR`` or the user cache directory).
        data: the script's bytes when the caller has read them already (the script is read
            once per run, so its key and its metadata come from the same bytes).
        early: uv's choice of the interpreter when the caller has asked already
            (:func:`pyrun.engine.uvpython.ask_early`); else it is asked here, as early as it can be.
            Either way, it is stopped if it is not needed.

    Raises:
        ScriptNotFoundError, MetadataError, UsageError, NoInterpreterError, ResolutionError,
        NetworkError, InstallError, LockError, ToolNotFoundError, CacheError: see
        :mod:`pyrun.errors`.
    """
    from pyrun.engine.build import find_or_build
    from pyrun.engine.context import ask_uv_early, open_cache, readable_path
    from pyrun.engine.options import fast_key_for
    from pyrun.engine.request import BuildRequest
    from pyrun.script import metadata

    reporter = reporter or Reporter()
    source = metadata.read_script(script) if data is None else data
    name = os.fspath(script)
    if options.bundle:  # its lock, its layer, its interpreter, offline: no resolver
        from pyrun.engine.bundles import options_for

        options = options_for(options.bundle, name, source, options)
        reporter.debug(f"from the bundle: --lock {options.lock}, the pool layer "
                       f"{options.layers[0]}, Python {options.python}, offline")
    early = early if early is not None else ask_uv_early(name, options, source)
    try:
        meta = metadata.load(script, source)
        for warning in meta.warnings:
            reporter.warn(warning)
        if options.lock_mode:
            from pyrun.engine.locking import check_mode

            check_mode(options.lock_mode, name)
        cache = open_cache(options, reporter, cache)
        readable = readable_path(name, source, str(cache.root))  # what uv reads
        return find_or_build(BuildRequest(
            name, meta, options, lambda: fast_key_for(source, options, name), reporter,
            cache, readable, early, lambda: fast_key_for(source, options, name, block=True)))
    finally:
        if early is not None and early.close():
            reporter.debug("a resolution started ahead was not taken: stopped")


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
    from pyrun import fastpath
    from pyrun.engine.build import find_or_build
    from pyrun.engine.context import open_cache
    from pyrun.engine.request import BuildRequest
    from pyrun.script import metadata

    reporter = reporter or Reporter()
    deps = parse_requirements(requirements, "requirement")
    cache = open_cache(options, reporter, cache)
    span = b"requires\0" + "\n".join(requirements).encode()
    key = fastpath.fast_key(span, options.python or "", options.with_key,
                            sys.executable, options.composition)
    meta = metadata.ScriptMetadata(path="<requires>", dependencies=tuple(deps), has_block=True)
    return find_or_build(BuildRequest("<requires>", meta, options, lambda: key, reporter, cache))


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
    from pyrun.engine import bytecode
    from pyrun.engine.build import compose_entries
    from pyrun.engine.context import choose_interpreter, installer_for, open_cache
    from pyrun.engine.environment import populate
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.engine.pins import Pins
    from pyrun.engine.resolving import resolve
    from pyrun.store.cache import remove_tree
    from pyrun.subprocesses import run_command

    reporter = reporter or Reporter()
    deps = parse_requirements(requirements, "requirement")
    if os.path.lexists(prefix):
        raise UsageError(f"{prefix} exists already; choose another place for the new venv")
    cache = open_cache(RunOptions(), reporter, cache)
    interpreter = choose_interpreter(InterpreterFinder(cache.root, reporter), python, None, "")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_command([interpreter.executable, "-m", "venv", "--without-pip", str(prefix)],
                    reporter, what=f"creating a venv at {prefix}")
        if deps:
            installer = installer_for(reporter, offline=False)
            resolution, installer = resolve(installer, str(prefix), reporter, interpreter, deps,
                                             lambda inst: inst.resolve(deps, interpreter))
            entries, plan = compose_entries(cache, Pins(resolution, installer), interpreter,
                                            "auto", reporter)
            with cache.locked([e.key for e in entries]):  # no prune between these two
                populate(prefix, prefix, interpreter, plan)
                cache.record_reference(prefix, [e.key for e in entries])
            bytecode.schedule(cache, entries, interpreter, reporter)
    except BaseException:
        remove_tree(prefix)
        raise
