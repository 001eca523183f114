"""The cache, the interpreter and the installer a request works with, each opened or chosen
once: the parts every engine operation starts from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter, InterpreterFinder
    from pyrun.engine.options import RunOptions
    from pyrun.engine.uvpython import Asked
    from pyrun.script.metadata import ScriptMetadata
    from pyrun.script.uvsettings import UvSettings
    from pyrun.store.cache import Cache


def open_cache(options: RunOptions, reporter: Reporter, cache: Cache | None) -> Cache:
    """Check the options that need no cache, create the cache, remove dead runs' leftovers."""
    from pyrun.engine import composition
    from pyrun.store.cache import Cache, remove_leftovers

    composition.check(options.composition)  # before any work
    cache = (cache or Cache()).create()
    for leftover in remove_leftovers(cache):
        reporter.debug(f"removed {leftover}, left by a run that died")
    return cache


def choose_interpreter(finder: InterpreterFinder, python: str | None, meta: ScriptMetadata | None,
                 script: str, early: Asked | None = None) -> Interpreter:
    """The interpreter ``uv run --script`` would choose for ``script`` (``""``: none, as for a
    new venv), asked of the uv pyrun drives (:func:`pyrun.engine.choice.choose`); pyrun's own
    discovery where there is no uv."""
    from pyrun.engine.choice import choose
    from pyrun.engine.installers.uv import find_uv
    from pyrun.errors import ToolNotFoundError

    try:
        uv: str | None = find_uv()
    except ToolNotFoundError:
        uv = None
    if meta is None:
        return choose(finder, python, None, script, uv=uv)
    return choose(finder, python, meta.requires_python, script, uv=uv, settings=meta.uv,
                         has_block=meta.has_block, early=early)


def installer_for(
    reporter: Reporter, offline: bool, settings: UvSettings | None = None, cache_mode: str = "",
) -> Installer:
    from pyrun.engine.installers import find_installer

    return find_installer(reporter, offline=offline, settings=settings, cache_mode=cache_mode)


def readable_path(script: str, data: bytes, root: str) -> str:
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


def ask_uv_early(script: str, options: RunOptions, source: bytes) -> Asked | None:
    """uv's choice of the interpreter, started now when it will be needed as uv reads the
    script (:func:`pyrun.engine.uvpython.ask_early`): no ``--python`` or ``--lock``, a block."""
    from pyrun import fastpath

    if options.python or options.lock is not None or not fastpath.block_span(source):
        return None
    from pyrun.engine.installers.uv import find_uv
    from pyrun.engine.uvpython import ask_early
    from pyrun.errors import ToolNotFoundError

    try:
        return ask_early(find_uv(), script)
    except ToolNotFoundError:
        return None


def command_line_settings(options: RunOptions, script: str) -> UvSettings:
    """The command line's uv settings for a uv that reads ``script`` itself (``uv lock``,
    ``uv export --script``)."""
    from pyrun.script.uvconfig import root_of
    from pyrun.script.uvsettings import UvSettings

    return UvSettings(command_line=dict(options.index), root=root_of(script))
