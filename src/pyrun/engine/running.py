"""Running a prepared environment: a script or ``-m MODULE`` replaces this process; with
``--no-cache`` it runs as a child of a temporary cache; :func:`command_environ` is the process
environment of a command run in an environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.engine.context import readable_path
from pyrun.engine.options import RunOptions
from pyrun.engine.preparing import prepare, prepare_requirements
from pyrun.errors import UsageError
from pyrun.launch import activated
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.engine.uvpython import Asked


def run(
    script: str,
    args: list[str],
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
    *,
    data: bytes | None = None,
    early: Asked | None = None,
) -> int:
    """Prepare ``script``'s environment and run it as ``python script *args`` would
    (``data`` and ``early``: see :func:`prepare`).

    On POSIX this replaces the current process and does not return; elsewhere it returns the
    script's exit code (128+N for signal N). A script that is not a regular file (``-`` for
    standard input, a pipe, a FIFO: ``pyrun <(curl ...)``) is read once and run from a copy
    in the cache.

    Raises:
        The errors of :func:`prepare`.
    """
    from pyrun import layout
    from pyrun.launch import exec_script
    from pyrun.script import metadata

    data = metadata.read_script(script) if data is None else data
    from pyrun.script import envfiles

    extra = envfiles.variables(options.env_files, reporter or Reporter())
    if options.no_cache:
        return _run_without_cache(script, args, options, reporter, data, extra, early)
    for attempt in range(3):
        env = prepare(script, options, reporter, data=data, early=early)  # checks the cache
        early = None  # consumed (or stopped) by the first attempt
        runnable = readable_path(script, data, layout.cache_root())
        try:
            return exec_script(str(env.python), runnable, args, extra=extra)
        except FileNotFoundError:  # removed by a clean between the build and the exec
            if attempt == 2 or env.python.exists():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def run_module(module: str, args: list[str], options: RunOptions = RunOptions(),
               reporter: Reporter | None = None) -> int:
    """Run ``python -m MODULE *args`` in the environment the ``--with`` requirements of
    ``options`` make (none: an empty one), as ``uv run --with REQ -m MODULE`` does. On POSIX
    this replaces the current process, as :func:`run`.

    Raises:
        UsageError: ``module`` is not a dotted name; and the errors of
            :func:`prepare_requirements`.
    """
    import dataclasses
    import re

    from pyrun.launch import exec_script
    from pyrun.script import envfiles

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", module):
        raise UsageError(f"-m {module!r}: a module's name is dotted identifiers (http.server)")
    reporter = reporter or Reporter()
    extra = envfiles.variables(options.env_files, reporter)
    env = prepare_requirements(options.with_requirements,
                               dataclasses.replace(options, with_requirements=()), reporter)
    return exec_script(str(env.python), module, args, module=True, extra=extra)


def _run_without_cache(script: str, args: list[str], options: RunOptions,
                       reporter: Reporter | None, data: bytes, extra: dict[str, str],
                       early: Asked | None = None) -> int:
    """``--no-cache``: build in a temporary cache, run the script as a child (a cache that
    outlived the run would be a cache), remove it all, and return the script's exit code
    (128+N for signal N)."""
    import shutil
    import tempfile

    from pyrun.launch import activated
    from pyrun.store.cache import Cache
    from pyrun.subprocesses import run_attached

    root = tempfile.mkdtemp(prefix="pyrun-no-cache-")
    try:
        cache = Cache(Path(root))
        env = prepare(script, options, reporter, cache, data=data, early=early)
        runnable = readable_path(script, data, root)
        if runnable.startswith("-"):
            runnable = os.path.join(os.curdir, runnable)
        environ = activated(str(env.path), {**os.environ, **extra})
        return run_attached([str(env.python), runnable, *args], environ)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def command_environ(prefix: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment of a command run in the environment at ``prefix``: this
    process's, as activation changes it (:func:`pyrun.launch.activated`), then ``extra``. A
    ``PATH`` in ``extra`` comes after the environment's ``bin``, never instead of it (as
    activation does to any ``PATH``), so ``python``, ``pip`` and the environment's commands
    resolve inside it."""
    extra = dict(extra or {})
    base = dict(os.environ)
    if "PATH" in extra:
        base["PATH"] = extra.pop("PATH")
    environ = activated(str(prefix), base)
    environ.update(extra)
    return environ
