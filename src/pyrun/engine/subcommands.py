"""uv's script subcommands, as uv does them: ``lock``, ``tree`` and ``export`` (uv reads the
script), and ``init``, ``add`` and ``remove`` (the block edited in place:
:mod:`pyrun.engine.editing`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pyrun.engine.context import (
    choose_interpreter,
    command_line_settings,
    installer_for,
    open_cache,
)
from pyrun.engine.options import RunOptions
from pyrun.engine.resolving import suggesting
from pyrun.errors import UsageError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter


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
    installer = installer_for(reporter, options.offline, command_line_settings(options, script))
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
    installer = installer_for(reporter, options.offline, command_line_settings(options, script))
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
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.script import metadata
    from pyrun.script.uvsettings import UvSettings

    reporter = reporter or Reporter()
    _lockable(script)
    meta = metadata.load(script, metadata.read_script(script))
    if options.lock_mode:
        from pyrun.engine.locking import check_mode

        check_mode(options.lock_mode, script)
    cache = open_cache(options, reporter, None)
    interpreter = choose_interpreter(InterpreterFinder(cache.root, reporter), options.python, meta,
                               script)
    installer = installer_for(reporter, options.offline, command_line_settings(options, script))
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
    with suggesting(installer), _writing(script):
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
    installer = installer_for(reporter, options.offline)
    if not interpreter:
        return reporter, installer, None
    cache = open_cache(options, reporter, None)
    return reporter, installer, choose_interpreter(InterpreterFinder(cache.root, reporter),
                                             options.python, None, "")


def _lockable(script: str) -> None:
    from pyrun import layout
    from pyrun.errors import ScriptNotFoundError

    if script != "-" and "://" not in script and not os.path.exists(script):
        raise ScriptNotFoundError(script, f"{script}: no such file; check the script's path")
    if script == "-" or "://" in script or not layout.is_regular_file(script):
        raise ScriptNotFoundError(script, f"{script}: a lock is written beside a script file; "
                                  "give the path of one")
