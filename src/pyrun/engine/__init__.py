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

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.errors import CacheError, NetworkError, ResolutionError, UsageError
from pyrun.launch import activated
from pyrun.progress import Reporter
from pyrun.subprocesses import run_captured, start

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.store.cache import Cache
    from pyrun.engine.composition import Composition
    from pyrun.engine.environment import Environment
    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter, InterpreterFinder
    from pyrun.script.metadata import Editable, ScriptMetadata
    from pyrun.engine.pool import PoolEntry
    from pyrun.engine.resolution import Resolution
    from pyrun.engine.uvpython import Asked
    from pyrun.script.uvsettings import UvSettings

__all__ = [
    "Reporter", "RunOptions", "add_requirements", "command_environ", "create_venv", "export",
    "fast_key_for", "init_script", "lock", "prepare", "prepare_requirements",
    "remove_requirements", "run", "run_captured", "run_module", "start", "tree",
]


@dataclass(frozen=True)
class RunOptions:
    """What a user can ask of one run.

    Attributes:
        python: ``--python``: a version (``3.12``), a specifier, a command or a path; or None.
        with_requirements: ``--with``: extra requirement strings (PEP 508) for this run.
        upgrade: ``--upgrade``: resolve again instead of reusing the recorded environment;
            the lock beside the script is upgraded too (as ``uv run --upgrade``).
        upgrade_packages: ``--upgrade-package``: resolve again, upgrading these packages (PEP
            508 names or requirements) and keeping the other versions as they were (in the
            lock beside the script, or the environment recorded for the script).
        with_editables: ``--with-editable``: local project directories installed editable
            for this run (their code is used where it lies), as absolute paths.
        offline: ``--offline``: never touch the network (uv reads only its cache).
        composition: ``--composition``: ``auto``, ``pooled`` or ``link-farm``; see
            :mod:`pyrun.engine.composition`.
        index: uv's settings from the command line, ``((key, value), ...)``: the index
            options (:data:`pyrun.script.uvsettings.OPTIONS`: ``index``, ``index-url``, ...) and
            uv's resolver and installer settings (:data:`pyrun.script.uvsettings.SETTINGS`:
            ``exclude-newer``, ``no-build``, ...), on top of the script's ``[tool.uv]``.
        lock_mode: ``--locked`` or ``--frozen`` (``"locked"``, ``"frozen"``) for the lock
            beside the script (``x.py.lock``), or ``""``; see :mod:`pyrun.engine.locking`.
        lock: ``--lock FILE``: a ``pylock.toml`` (PEP 751) to install from, with no
            resolution; or None.
        refresh: ``--refresh``: resolve again (as ``upgrade``) and have uv revalidate what it
            cached (its own ``--refresh``).
        no_cache: ``--no-cache``: build the environment in a temporary cache, run the script in
            it as a child, and remove it all afterwards; uv reads and writes no cache either.
        env_files: ``--env-file``: dotenv files whose variables the script's process gets (not
            pyrun's own resolution), later files winning, the environment's own variables
            winning over them (as uv's). The CLI fills it from ``UV_ENV_FILE`` too.
    """

    python: str | None = None
    with_requirements: tuple[str, ...] = ()
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    with_editables: tuple[str, ...] = ()
    offline: bool = False
    composition: str = "auto"
    index: tuple[tuple[str, object], ...] = ()
    lock_mode: str = ""
    lock: str | None = None
    refresh: bool = False
    no_cache: bool = False
    env_files: tuple[str, ...] = ()

    @property
    def upgrade_args(self) -> list[str]:
        """uv's ``--upgrade`` and ``--upgrade-package=P`` for these options, each package
        checked as a requirement (so none can be read as another option).

        Raises:
            UsageError: a package that is not a valid requirement.
        """
        packages = [str(r) for r in _requirements(self.upgrade_packages, "--upgrade-package")]
        return (["--upgrade"] if self.upgrade else []) + [f"--upgrade-package={p}"
                                                           for p in packages]

    @property
    def with_key(self) -> list[str]:
        """The ``--with`` requirements and editables as the fast-path key takes them."""
        return [*self.with_requirements, *(f"-e {p}" for p in self.with_editables)]

    @property
    def cache_mode(self) -> str:
        """What the installer is told of its cache: ``no-cache``, ``refresh`` or ``""``."""
        return "no-cache" if self.no_cache else "refresh" if self.refresh else ""


def fast_key_for(data: bytes, options: RunOptions, script: str = "-") -> str:
    """The fast-path key of ``script`` whose bytes are ``data``, under ``options`` (what the
    warm path looks up: :func:`pyrun.fastpath.fast_key`): the lock beside the script and a
    ``--lock`` file are read for it.

    Raises:
        UsageError: the ``--lock`` file cannot be read.
    """
    from pyrun import fastpath
    from pyrun.script.uvsettings import UvSettings, key_parts

    lock = fastpath.lock_bytes(script)
    extra = key_parts(UvSettings(command_line=dict(options.index)))
    if options.lock is not None:
        try:
            with open(options.lock, "rb") as f:
                lock += b"\0--lock\0" + f.read()
        except OSError as exc:
            raise UsageError(f"--lock {options.lock}: cannot be read ({exc.strerror})") from None
    return fastpath.fast_key(fastpath.block_span(data), options.python or "",
                             options.with_key, sys.executable,
                             options.composition, extra, lock=lock, lock_mode=options.lock_mode,
                             script=script)


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
    from pyrun.script import metadata

    reporter = reporter or Reporter()
    source = metadata.read_script(script) if data is None else data
    name = os.fspath(script)
    early = early if early is not None else _ask_early(name, options, source)
    try:
        meta = metadata.load(script, source)
        for warning in meta.warnings:
            reporter.warn(warning)
        if options.lock_mode:
            from pyrun.engine.locking import check_mode

            check_mode(options.lock_mode, name)
        cache = _open_cache(options, reporter, cache)
        readable = _readable(name, source, str(cache.root))  # what uv reads, as the interpreter
        return _find_or_build(name, meta, lambda: fast_key_for(source, options, name), options,
                              reporter, cache, readable, early)
    finally:
        if early is not None:
            early.close()


def _ask_early(script: str, options: RunOptions, source: bytes) -> Asked | None:
    """uv's choice of the interpreter, started now when it will be needed as uv reads the
    script (:func:`pyrun.engine.uvpython.ask_early`): no ``--python`` or ``--lock``, a block."""
    from pyrun import fastpath

    if options.python or options.lock is not None or not fastpath.block_span(source):
        return None
    from pyrun.errors import ToolNotFoundError
    from pyrun.engine.installers.uv import find_uv
    from pyrun.engine.uvpython import ask_early

    try:
        return ask_early(find_uv(), script)
    except ToolNotFoundError:
        return None


def _readable(script: str, data: bytes, root: str) -> str:
    """A path from which a process can read ``script``: the script itself when it is a regular
    file, else a copy of ``data`` (what was read, once, from stdin, a pipe, a FIFO or a URL)
    under the cache ``root`` (:func:`pyrun.layout.runnable_copy`).

    Raises:
        OSError: the copy cannot be written.
    """
    from pyrun import layout

    if script != "-" and "://" not in script and layout.is_regular_file(script):
        return script
    return layout.runnable_copy(root, data)


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
    from pyrun.script import metadata

    reporter = reporter or Reporter()
    deps = _requirements(requirements, "requirement")
    cache = _open_cache(options, reporter, cache)
    span = b"requires\0" + "\n".join(requirements).encode()
    key = fastpath.fast_key(span, options.python or "", options.with_key,
                            sys.executable, options.composition)
    meta = metadata.ScriptMetadata(path="<requires>", dependencies=tuple(deps), has_block=True)
    return _find_or_build("<requires>", meta, lambda: key, options, reporter, cache)


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
    from pyrun.store.cache import remove_tree
    from pyrun.engine.environment import populate
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.subprocesses import run_command

    reporter = reporter or Reporter()
    deps = _requirements(requirements, "requirement")
    if os.path.lexists(prefix):
        raise UsageError(f"{prefix} exists already; choose another place for the new venv")
    cache = _open_cache(RunOptions(), reporter, cache)
    interpreter = _interpreter(InterpreterFinder(cache.root, reporter), python, None, "")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_command([interpreter.executable, "-m", "venv", "--without-pip", str(prefix)],
                    reporter, what=f"creating a venv at {prefix}")
        if deps:
            installer = _installer(reporter, offline=False)
            resolution, installer = _resolve(installer, str(prefix), reporter, interpreter, deps,
                                             lambda inst: inst.resolve(deps, interpreter))
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
    from pyrun.script import metadata
    from pyrun.launch import exec_script

    data = metadata.read_script(script) if data is None else data
    from pyrun.script import envfiles

    extra = envfiles.variables(options.env_files, reporter or Reporter())
    if options.no_cache:
        return _run_without_cache(script, args, options, reporter, data, extra, early)
    for attempt in range(3):
        env = prepare(script, options, reporter, data=data, early=early)  # checks the cache
        early = None  # consumed (or stopped) by the first attempt
        runnable = _readable(script, data, layout.cache_root())
        os.environ.update(extra)  # the script's process environment (--env-file)
        try:
            return exec_script(str(env.python), runnable, args)
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

    from pyrun.script import envfiles
    from pyrun.launch import exec_script

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", module):
        raise UsageError(f"-m {module!r}: a module's name is dotted identifiers (http.server)")
    reporter = reporter or Reporter()
    extra = envfiles.variables(options.env_files, reporter)
    env = prepare_requirements(options.with_requirements,
                               dataclasses.replace(options, with_requirements=()), reporter)
    os.environ.update(extra)
    return exec_script(str(env.python), module, args, module=True)


def _run_without_cache(script: str, args: list[str], options: RunOptions,
                       reporter: Reporter | None, data: bytes, extra: dict[str, str],
                       early: Asked | None = None) -> int:
    """``--no-cache``: build in a temporary cache, run the script as a child (a cache that
    outlived the run would be a cache), remove it all, and return the script's exit code
    (128+N for signal N)."""
    import shutil
    import tempfile

    from pyrun.store.cache import Cache
    from pyrun.launch import activated
    from pyrun.subprocesses import run_attached

    root = tempfile.mkdtemp(prefix="pyrun-no-cache-")
    try:
        cache = Cache(Path(root))
        env = prepare(script, options, reporter, cache, data=data, early=early)
        runnable = _readable(script, data, root)
        if runnable.startswith("-"):
            runnable = os.path.join(os.curdir, runnable)
        environ = activated(str(env.path), {**os.environ, **extra})
        return run_attached([str(env.python), runnable, *args], environ)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def lock(script: str, options: RunOptions = RunOptions(), reporter: Reporter | None = None) -> str:
    """Write or update the lock beside ``script`` (``x.py.lock``) as ``uv lock --script``
    does, so that ``pyrun`` and ``uv run --script`` run the same versions from it. Returns the
    lock's path. ``options.index`` reaches uv; the script's ``[tool.uv]`` is read by uv.

    Raises:
        ScriptNotFoundError: ``script`` is not a regular file (a lock sits beside a file).
        MetadataError: the script's metadata is invalid. ToolNotFoundError: no uv.
        ResolutionError, NetworkError, InstallError: as uv reports them.
    """
    from pyrun.script.uvsettings import UvSettings

    reporter = reporter or Reporter()
    _lockable(script)
    installer = _installer(reporter, options.offline, _command_line(options, script))
    reporter.step(f"locking {script}")
    installer.lock_script(script, [*UvSettings(command_line=dict(options.index)).index_options(),
                                   *options.upgrade_args])
    return f"{script}.lock"


def tree(script: str, options: RunOptions = RunOptions(), flags: Sequence[str] = (),
         reporter: Reporter | None = None) -> str:
    """``script``'s dependency tree, as ``uv tree --script`` prints it: uv reads the script
    (its ``[tool.uv]``, the lock beside it) and the command line's settings; ``flags`` are
    uv tree's own (``--outdated``, ``--depth=N``, ...), already checked.

    Raises:
        The errors of :func:`lock`.
    """
    from pyrun.script.uvsettings import UvSettings

    reporter = reporter or Reporter()
    _lockable(script)
    installer = _installer(reporter, options.offline, _command_line(options, script))
    cli = UvSettings(command_line=dict(options.index)).index_options()
    python = [f"--python={options.python}"] if options.python else []
    mode = [f"--{options.lock_mode}"] if options.lock_mode else []
    return installer.tree_script(script, [*cli, *options.upgrade_args, *python, *mode, *flags])


def export(script: str, options: RunOptions = RunOptions(),
           reporter: Reporter | None = None, format: str = "pylock.toml") -> str:
    """The PEP 751 ``pylock.toml`` text of ``script``'s requirements, as ``uv export --script
    --format pylock.toml`` writes it: universal (every interpreter ``requires-python``
    admits, every platform), from the lock beside the script when there is one (brought up to
    date unless ``options.lock_mode`` says otherwise). ``pyrun --lock FILE`` runs from it.
    With ``format`` ``requirements.txt``, the same as uv writes it in that format.

    Raises:
        The errors of :func:`lock`, NoInterpreterError, and StaleLockError (``--locked``).
    """
    from pyrun.script import metadata
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.script.uvsettings import UvSettings

    reporter = reporter or Reporter()
    _lockable(script)
    meta = metadata.load(script, metadata.read_script(script))
    if options.lock_mode:
        from pyrun.engine.locking import check_mode

        check_mode(options.lock_mode, script)
    cache = _open_cache(options, reporter, None)
    interpreter = _interpreter(InterpreterFinder(cache.root, reporter), options.python, meta,
                               script)
    installer = _installer(reporter, options.offline, _command_line(options, script))
    cli = UvSettings(command_line=dict(options.index)).index_options()
    return installer.export_script(script, interpreter, mode=options.lock_mode,
                                   options=[*cli, *options.upgrade_args], format=format)


def init_script(script: str, options: RunOptions = RunOptions(),
                dependencies: Sequence[str] = (), reporter: Reporter | None = None) -> None:
    """Make a new script with an inline metadata block (``uv init --script``): its
    ``requires-python`` from ``options.python`` (the interpreter pyrun would choose), then
    ``dependencies`` added as :func:`add_requirements` adds them. See :mod:`pyrun.engine.editing`.

    Raises:
        UsageError: ``script`` exists; NoInterpreterError; and the errors of
        :func:`add_requirements`.
    """
    from pyrun.engine import editing

    reporter, installer, interpreter = _editor(options, reporter)
    assert interpreter is not None
    with _writing(script):
        editing.init(installer, script, interpreter, dependencies)


def add_requirements(script: str, requirements: Sequence[str],
                     options: RunOptions = RunOptions(), bounds: str | None = None,
                     reporter: Reporter | None = None, *, raw: bool = False,
                     frozen: bool = False, indexes: Sequence[str] = ()) -> None:
    """Add ``requirements`` to ``script``'s block (``uv add --script``: resolved once, so each
    is known to exist; ``bounds`` is uv's ``--bounds``; ``raw``, ``frozen`` and ``indexes``
    are uv add's ``--raw`` (as written, no bound added), ``--frozen`` (not resolved) and
    ``--index URL``). The rest of the file is kept byte for byte. See :mod:`pyrun.engine.editing`.

    Raises:
        ScriptNotFoundError, MetadataError (two blocks, an unclosed one), UsageError,
        ResolutionError (no such package, or no version fits), NetworkError.
    """
    from pyrun.engine import editing

    reporter, installer, interpreter = _editor(options, reporter)
    assert interpreter is not None
    for url in indexes:
        if url.startswith("-") or any(c < " " for c in url):
            raise UsageError(f"--index {url!r}: a URL is one line, not starting with -")
    flags = [*(["--raw"] if raw else []), *(["--frozen"] if frozen else []),
             *(f"--index={url}" for url in indexes)]
    with _suggesting(installer), _writing(script):
        editing.add(installer, script, requirements, interpreter, bounds, flags)
    _warn_where_uv_is_blind(script, reporter)


def _warn_where_uv_is_blind(script: str, reporter: Reporter) -> None:
    """Say so when the edited ``script``'s block is one uv cannot see
    (:func:`pyrun.engine.editing.uv_blind_spot`), and how to make both tools read it."""
    from pyrun.engine import editing

    try:
        with open(script, "rb") as f:
            blind = editing.uv_blind_spot(f.read())
    except OSError:
        return
    if blind is not None:
        what, fix = blind
        reporter.warn(f"{script} has {what}, where `uv run --script` does not see the block "
                      f"(uv 0.13 runs the script without its dependencies); {fix} for uv to "
                      "read it too")


def remove_requirements(script: str, names: Sequence[str],
                        reporter: Reporter | None = None) -> None:
    """Remove the requirements named ``names`` from ``script``'s block (``uv remove
    --script``). See :mod:`pyrun.engine.editing`.

    Raises:
        ScriptNotFoundError, MetadataError, UsageError (a name the block does not require).
    """
    from pyrun.engine import editing

    reporter, installer, _ = _editor(RunOptions(), reporter, interpreter=False)
    with _writing(script):
        editing.remove(installer, script, names)


@contextlib.contextmanager
def _writing(path: str) -> Iterator[None]:
    """Turn a failure to write ``path`` (or the copy beside it) into :class:`OutputError`."""
    from pyrun.errors import OutputError

    try:
        yield
    except OSError as exc:
        raise OutputError(str(exc.filename or path), f"{path}: cannot be written "
                          f"({exc.strerror}: {exc.filename or path}); check the file's and its "
                          "directory's permissions") from None


def _editor(options: RunOptions, reporter: Reporter | None, interpreter: bool = True,
            ) -> tuple[Reporter, Installer, Interpreter | None]:
    """The reporter, uv, and (with ``interpreter``) the interpreter ``options.python`` asks
    for, for the script-editing functions."""
    from pyrun.engine.interpreters import InterpreterFinder

    reporter = reporter or Reporter()
    installer = _installer(reporter, options.offline)
    if not interpreter:
        return reporter, installer, None
    cache = _open_cache(options, reporter, None)
    return reporter, installer, _interpreter(InterpreterFinder(cache.root, reporter),
                                             options.python, None, "")


def _lockable(script: str) -> None:
    from pyrun import layout
    from pyrun.errors import ScriptNotFoundError

    if script != "-" and "://" not in script and not os.path.exists(script):
        raise ScriptNotFoundError(script, f"{script}: no such file; check the script's path")
    if script == "-" or "://" in script or not layout.is_regular_file(script):
        raise ScriptNotFoundError(script, f"{script}: a lock is written beside a script file; "
                                  "give the path of one")


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


# -- the stages ------------------------------------------------------------------------------


def _editables(paths: Sequence[str]) -> list[Editable]:
    """``--with-editable`` directories, checked: each an existing directory with a
    ``pyproject.toml``, ``setup.py`` or ``setup.cfg``, named by a path that cannot be read as
    an option or a second line.

    Raises:
        UsageError: one is not such a directory.
    """
    from pyrun.script.metadata import Editable

    out = []
    for path in paths:
        full = os.path.abspath(path)
        if any(c < " " for c in full) or not any(
                os.path.isfile(os.path.join(full, f))
                for f in ("pyproject.toml", "setup.py", "setup.cfg")):
            raise UsageError(f"--with-editable {path}: not a project directory (one with "
                             "pyproject.toml, setup.py or setup.cfg)")
        out.append(Editable(full))
    return out


def _requirements(texts: Sequence[str], what: str) -> list[Requirement]:
    """Parse PEP 508 strings (:func:`pyrun.script.metadata.parse_requirement`: no control
    characters, so nothing can reach the installer as an option of its own).

    Raises:
        UsageError: one is invalid; the message names it.
    """
    from pyrun.script.metadata import parse_requirement

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
    from pyrun.engine import composition
    from pyrun.store.cache import Cache, remove_leftovers

    composition.check(options.composition)  # before any work
    cache = (cache or Cache()).create()
    for leftover in remove_leftovers(cache):
        reporter.debug(f"removed {leftover}, left by a run that died")
    return cache


def _find_or_build(
    script: str,
    meta: ScriptMetadata,
    key_of: Callable[[], str],
    options: RunOptions,
    reporter: Reporter,
    cache: Cache,
    readable: str | None = None,
    early: Asked | None = None,
) -> Environment:
    """The recorded environment for the fast key (``key_of()``) when it is usable, else
    :func:`_build`; a cache that cannot be written becomes :class:`CacheError`. ``readable``
    is a path where uv can read the script (a copy of one from stdin or a URL); ``early`` is
    uv's choice of its interpreter, already asked (:func:`_ask_early`)."""
    from pyrun import fastpath
    from pyrun.engine.environment import Environment

    key = key_of()
    if not (options.upgrade or options.refresh or options.upgrade_packages):
        python, why = fastpath.check(str(cache.root), key)
        if python is not None:
            env_dir = Path(python).parent.parent
            if why == fastpath.PENDING:
                _resume_bytecode(cache, env_dir, reporter)
            return Environment(env_dir)
        if why:
            reporter.repair(f"{script}: {why}; building its environment again")
    try:
        return _build(script, meta, key_of, options, reporter, cache, readable or script,
                      early)
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
    key_of: Callable[[], str],
    options: RunOptions,
    reporter: Reporter,
    cache: Cache,
    readable: str,
    early: Asked | None = None,
) -> Environment:
    """The slow path of :func:`prepare`: interpreter, resolution, pool, environment, index.
    The environment is recorded under the fast key as it is after the resolution (uv brings
    a stale lock beside the script up to date, which changes the key). A resolution or an
    install that fails says which Python it was for and how to choose another."""
    from pyrun.errors import InstallError
    from pyrun.engine.interpreters import InterpreterFinder

    _prefetch()
    extra: list[Requirement | Editable] = [*_requirements(options.with_requirements, "--with"),
                                           *_editables(options.with_editables)]
    finder = InterpreterFinder(cache.root, reporter)
    interpreter = _interpreter(finder, options.python, meta, script, early)
    reporter.debug(f"interpreter: {interpreter.executable} ({interpreter.version})")
    try:
        return _build_on(interpreter, finder, extra, script, meta, key_of, options, reporter,
                         cache, readable)
    except (ResolutionError, InstallError) as exc:  # which Python, and how to choose another
        how = "as --python asked" if options.python else "the one uv chooses for this script"
        exc.args = (f"{exc}\n(for Python {interpreter.version} at {interpreter.executable}, "
                    f"{how}; to choose another: pyrun --python 3.X {script})",)
        raise


def _build_on(
    interpreter: Interpreter,
    finder: InterpreterFinder,
    extra: list[Requirement | Editable],
    script: str,
    meta: ScriptMetadata,
    key_of: Callable[[], str],
    options: RunOptions,
    reporter: Reporter,
    cache: Cache,
    readable: str,
) -> Environment:
    """:func:`_build` once the interpreter is chosen: resolution, pool, environment, index."""
    from pyrun.engine import bytecode
    from pyrun.engine.composition import POOLED
    from pyrun.engine.environment import ensure_environment
    from pyrun.errors import EntriesVanished
    from pyrun.faults import point
    from pyrun.layout import ENTRY_MARKER
    from pyrun.engine.resolution import Resolution
    from pyrun.engine import locking
    from pyrun.script.uvsettings import UvSettings, merged, not_applied

    settings = merged(meta.uv, dict(options.index))
    for warning in not_applied(meta.uv):
        reporter.warn(f"{script}: {warning}")
    exported = options.lock is None and locking.takes_export(script, meta, options.lock_mode)
    installer: Installer | None = None
    resolution = Resolution((), ())
    if options.lock is not None:
        installer = _installer(reporter, options.offline, settings, options.cache_mode)
        pins = locking.from_pylock(options.lock, meta.dependencies, finder.target(interpreter))
        reporter.debug(f"from {options.lock}: {', '.join(d.pin for d in pins)}")
        resolution = Resolution(tuple(str(r) for r in meta.dependencies), pins)
    elif exported:
        installer = _installer(reporter, options.offline, settings, options.cache_mode)
        target = finder.target(interpreter)
        cli = [*UvSettings(command_line=dict(options.index)).index_options(),
               *options.upgrade_args]
        resolution, installer = _resolve(
            installer, script, reporter, interpreter, meta.dependencies,
            lambda inst: Resolution(tuple(str(r) for r in meta.dependencies),
                                    locking.resolve_script(inst, readable, interpreter, target,
                                                           options.lock_mode, cli)))
    elif meta.dependencies or extra:
        requirements = [*meta.dependencies, *extra]
        installer = _installer(reporter, options.offline, settings, options.cache_mode)
        keep = () if options.upgrade or not options.upgrade_packages else _kept(
            cache, key_of(), options.upgrade_packages)
        resolution, installer = _resolve(
            installer, script, reporter, interpreter, requirements,
            lambda inst: inst.resolve(requirements, interpreter, prefer=keep))
        extra = []
    if extra and installer is not None:  # --with on top of a lock: resolved within its pins
        resolution = _overlay(resolution, extra, interpreter, installer, script, reporter)
    key = key_of()  # as it is now: uv may have brought the lock beside the script up to date
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
    if not options.no_cache:  # a temporary cache is removed with the run: no bytecode for it
        bytecode.schedule(cache, entries, interpreter, reporter, after_exit=True)
    required = [str(env.activation)]
    if env.mode == POOLED:  # a link farm holds its own links to the pool's files
        required += [str(e.path / ENTRY_MARKER) for e in entries]
    pending = tuple(str(e.compiled_flag(interpreter.cache_tag))
                    for e in bytecode.stale(entries, interpreter))
    from pyrun.layout import directory_watch

    watched = [w for d in resolution.distributions if d.kind == "directory"
               for w in directory_watch(d.url)]
    cache.record_index(key, env.path, interpreter.executable, required, pending, watched)
    reporter.debug(f"environment: {env.path}")
    return env


def _kept(cache: Cache, key: str, upgrading: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``(name, version)`` of each distribution of the environment recorded under ``key``
    but those named in ``upgrading`` (``--upgrade-package``): the versions a resolution
    keeps where it can, as ``uv run --upgrade-package`` keeps the installed ones. Empty when
    nothing usable is recorded."""
    from packaging.utils import canonicalize_name

    from pyrun import layout

    entry = layout.read_index(str(cache.root), key)
    if not isinstance(entry, layout.IndexEntry):
        return ()
    marker = layout.read_marker(os.path.join(entry.env_dir, layout.ENV_MARKER)) or {}
    names = {canonicalize_name(str(r.name)) for r in _requirements(upgrading,
                                                                   "--upgrade-package")}
    kept = []
    entries = marker.get("entries")
    for name in entries if isinstance(entries, list) else ():
        if not (isinstance(name, str) and layout.is_key(name)):
            continue
        about = layout.read_marker(str(cache.pool / name / layout.ENTRY_MARKER)) or {}
        dist, version = about.get("name"), about.get("version")
        if isinstance(dist, str) and isinstance(version, str) \
                and canonicalize_name(dist) not in names:
            kept.append((dist, version))
    return tuple(kept)


#: What a build needs after its resolution, imported meanwhile (:func:`_prefetch`).
_LATER = ("pyrun.engine.pool", "pyrun.engine.environment", "pyrun.engine.bytecode", "filelock")


def _prefetch() -> None:
    """Import what the build needs after the resolution in a background thread, while this
    one chooses the interpreter and waits for the resolver (a subprocess): about 25 ms of
    imports off a cold run's critical path (issue 12). The import graph has no cycles
    (``tests/unit/test_layers.py``), so the two threads cannot deadlock on module locks."""
    import threading

    def load() -> None:
        import importlib

        for name in _LATER:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the main thread imports it again and sees why
                return

    threading.Thread(target=load, name="pyrun-prefetch", daemon=True).start()


def _command_line(options: RunOptions, script: str) -> UvSettings:
    """The command line's uv settings for a uv that reads ``script`` itself (``uv lock``,
    ``uv export --script``)."""
    from pyrun.script.uvsettings import UvSettings, root_of

    return UvSettings(command_line=dict(options.index), root=root_of(script))


def _interpreter(finder: InterpreterFinder, python: str | None, meta: ScriptMetadata | None,
                 script: str, early: Asked | None = None) -> Interpreter:
    """The interpreter ``uv run --script`` would choose for ``script`` (``""``: none, as for a
    new venv), asked of the uv pyrun drives (:meth:`InterpreterFinder.choose`); pyrun's own
    discovery where there is no uv."""
    from pyrun.errors import ToolNotFoundError
    from pyrun.engine.installers.uv import find_uv

    try:
        uv: str | None = find_uv()
    except ToolNotFoundError:
        uv = None
    if meta is None:
        return finder.choose(python, None, script, uv=uv)
    return finder.choose(python, meta.requires_python, script, uv=uv, settings=meta.uv,
                         has_block=meta.has_block, early=early)


def _installer(
    reporter: Reporter, offline: bool, settings: UvSettings | None = None, cache_mode: str = "",
) -> Installer:
    from pyrun.engine.installers import find_installer

    return find_installer(reporter, offline=offline, settings=settings, cache_mode=cache_mode)


def _resolve(
    installer: Installer,
    script: str,
    reporter: Reporter,
    interpreter: Interpreter,
    requirements: Sequence[object],
    how: Callable[[Installer], Resolution],
) -> tuple[Resolution, Installer]:
    """Resolve with ``how(installer)``; when the network proves unreachable, once more with
    the installer's cache only (uv's ``--offline``), with a warning that newer releases are
    not seen. Returns the resolution and the installer to install it with (the cache-only one
    after that fallback). ``requirements`` are for the progress line.

    Raises:
        NetworkError: unreachable and the cache lacks something; the message names it.
        And the other errors of :meth:`pyrun.engine.installers.base.Installer.resolve`.
    """
    import time

    from pyrun.faults import point

    reporter.step(f"resolving {len(requirements)} requirement(s) for Python {interpreter.version}")
    started = time.monotonic()
    try:
        with _suggesting(installer):
            resolution = how(installer)
    except NetworkError as exc:
        cached = installer.from_cache() if exc.unreachable else None
        if cached is None:
            raise
        reporter.step(f"{script}: {exc.place} cannot be reached; trying the cache")
        reporter.debug(str(exc))
        try:
            resolution = how(cached)
        except NetworkError as offline_exc:
            missing = cached.missing_from_cache(offline_exc.output) or "a distribution it needs"
            raise NetworkError(
                f"{script}: {exc.place} cannot be reached, and {missing} is not in the "
                "cache; connect to the network and run again (pyrun --offline works once "
                f"everything is cached). {installer.name} said:\n{_said(exc)}",
                offline_exc.command, place=exc.place,
            ) from None
        reporter.warn(f"{script}: {exc.place} cannot be reached; resolved from "
                      f"{installer.name}'s cache (newer releases, if any, are not seen)")
        installer = cached
    point("resolved")
    reporter.step(f"resolved {len(resolution.distributions)} distribution(s) in "
                  f"{time.monotonic() - started:.1f} s")
    pins = ", ".join(d.pin for d in resolution.distributions)
    reporter.debug(f"resolved: {pins}")
    return resolution, installer


def _said(exc: NetworkError) -> str:
    """What the tool said when it could not reach the network (its first failure), indented,
    credentials shown as ``***``."""
    from pyrun.engine.installers.base import tool_said
    from pyrun.subprocesses import redact

    return redact(tool_said(exc.output)) if exc.command is not None else ""


@contextlib.contextmanager
def _suggesting(installer: Installer) -> Iterator[None]:
    """A :class:`ResolutionError` raised inside gets :func:`_did_you_mean`'s hint appended."""
    try:
        yield
    except ResolutionError as exc:
        hint = _did_you_mean(exc.output, installer)
        if not hint:
            raise
        raise ResolutionError(f"{exc}\n{hint}", exc.command) from None


def _did_you_mean(output: str, installer: Installer) -> str:
    """``did you mean `requests`?`` when the resolver's ``output`` says a package does not
    exist and a close name is one the installer has seen (uv's cached index pages: names this
    machine has used), else ``""``."""
    import difflib

    from packaging.utils import canonicalize_name

    missing = installer.missing_packages(output)
    if not missing:
        return ""
    known = sorted(installer.known_names())
    hints = []
    for name in dict.fromkeys(missing):
        close = difflib.get_close_matches(canonicalize_name(name), known, n=1, cutoff=0.75)
        if close and close[0] != canonicalize_name(name):
            hints.append(f"did you mean `{close[0]}` instead of `{name}`?")
    return "; ".join(hints)


def _overlay(
    base: Resolution,
    extra: Sequence[Requirement | Editable],
    interpreter: Interpreter,
    installer: Installer,
    script: str,
    reporter: Reporter,
) -> Resolution:
    """``base`` (a locked set) with ``--with`` requirements resolved on top of it: every
    registry pin of ``base`` is a constraint, so the overlay never moves a locked version
    (as ``uv run --script --with`` resolves its extras beside a locked script)."""
    from pyrun.engine.resolution import Resolution
    from pyrun.script.uvsettings import UvSettings, merged

    pins = tuple(d.pin for d in base.distributions if d.version and d.kind in ("wheel", "sdist"))
    constrained = merged(installer.settings or UvSettings(), {"constraint-dependencies": pins})
    overlay = _installer(reporter, installer.offline, constrained, installer.cache_mode)
    got, _ = _resolve(overlay, script, reporter, interpreter, extra,
                      lambda inst: inst.resolve(extra, interpreter))
    locked = {d.name for d in base.distributions}
    merged_set = sorted([*base.distributions,
                         *(d for d in got.distributions if d.name not in locked)],
                        key=lambda d: d.name)
    return Resolution((*base.requirements, *(str(r) for r in extra)), tuple(merged_set))


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
    from pyrun.engine import bytecode
    from pyrun.engine.composition import LINK_FARM, compose
    from pyrun.engine.pool import Pool

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
    from pyrun.engine import bytecode
    from pyrun.engine.environment import read_env_marker
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.engine.pool import entry_from_key

    marker = read_env_marker(env_dir)
    if marker is None:
        return
    interpreter = InterpreterFinder(cache.root, reporter).query(marker.executable)
    if interpreter is None:
        return
    entries = [e for e in (entry_from_key(cache, k) for k in marker.entries) if e is not None]
    bytecode.schedule(cache, entries, interpreter, reporter, after_exit=True)

