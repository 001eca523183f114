"""A script made a command (``pyrun install``).

The command file and its records are :mod:`pyrun.store.commands`'; this module adds what needs
the engine: the script's environment, built now (so the command's first run is warm, and
the environment it needs is known and kept), and the absolute command line of the pyrun that
installs it (:func:`launcher`), which the command runs without looking anything up on
``PATH``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from pyrun.errors import ScriptNotFoundError, UsageError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.store.commands import Installed

#: The command line of the fallback launcher (no ``pyrun`` script found beside the
#: interpreter): ``-c`` puts the working directory first on ``sys.path``, which is dropped
#: before anything is imported, so a ``pyrun`` folder where the command runs cannot stand in.
LAUNCH = "import sys; del sys.path[0]; from pyrun.cli import main; sys.exit(main())"


def install_command(script: str, name: str | None = None, reporter: Reporter | None = None,
                    *, force: bool = False) -> Installed:
    """Make ``script`` a command named ``name`` (default: its file name without ``.py``) in
    the executable directory (:func:`pyrun.store.commands.bin_dir`) that runs it as
    ``pyrun --python INTERPRETER SCRIPT``, with the interpreter uv chooses for it now (by its
    absolute path): its environment is built, then kept from pruning for as long as the
    command exists, and the command file written. Installing again refreshes the command
    (and chooses the interpreter again); ``force`` lets it replace a command of pyrun's that
    runs another script.

    Raises:
        UsageError: a bad name, not POSIX, or (without ``force``) a command of that name runs
            another script. ScriptNotFoundError: ``script`` is not a file.
        OutputError: a file pyrun did not write has that name, or the directory cannot hold
            commands. CacheError; and the errors of :func:`pyrun.engine.preparing.prepare`.
    """
    from pyrun import layout
    from pyrun.engine.context import choose_interpreter, open_cache
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.engine.options import RunOptions
    from pyrun.engine.preparing import prepare
    from pyrun.errors import CacheError
    from pyrun.script import metadata
    from pyrun.store import commands, usage

    reporter = reporter or Reporter()
    if os.name != "posix":  # pragma: no cover - the command is a /bin/sh script
        raise UsageError("pyrun install makes /bin/sh commands: POSIX systems only for now")
    if script == "-" or "://" in script:
        raise UsageError(f"{script}: pyrun install needs a script file (a command runs it "
                         "from where it is); save it first")
    if not layout.is_regular_file(script):
        raise ScriptNotFoundError(script, f"{script}: no such file; check the script's path")
    path = os.path.abspath(script)
    name = commands.check_name(name if name is not None else commands.default_name(path))
    directory = commands.bin_dir()
    commands.check_directory(directory)
    target = directory / name
    existing = commands.check_replaceable(target)
    if existing is not None and existing.script != path and not force:
        raise UsageError(f"{target} runs {existing.script}; `pyrun install --force` replaces "
                         "it, or choose another name with --name")
    # The interpreter uv chooses here and now, by its path: the command runs on it from cron
    # too (whose PATH would find another), warm, in the environment built here.
    data = metadata.read_script(path)
    cache = open_cache(RunOptions(), reporter, None)
    python = choose_interpreter(InterpreterFinder(cache.root, reporter), None,
                                metadata.load(path, data), path).executable
    env = prepare(path, RunOptions(python=python), reporter, cache, data=data)
    text = commands.command_text([*launcher(), "--python", python], path, str(cache.root))
    installed = commands.Installed(name, target, path, env.path, time.time(), python)
    try:
        commands.record(cache, installed)  # kept from here on
        usage.record(env.path, path)
    except OSError as exc:
        raise CacheError(str(exc.filename or cache.root), f"cannot record the command in "
                         f"pyrun's cache at {cache.root}: {exc.strerror}") from exc
    try:
        commands.place(target, text)
    except BaseException:
        if existing is None:
            commands.forget(cache, target)
        raise
    return installed


def launcher() -> list[str]:
    """The absolute command line that starts the pyrun running now: this interpreter and the
    ``pyrun`` script installed with it (beside it, in the user scheme's scripts, or the one
    this process was started as), run by the interpreter so that its shebang does not
    matter; else this interpreter with :data:`LAUNCH`."""
    import sysconfig

    python = os.path.abspath(sys.executable)
    candidates = [sys.argv[0]] if os.path.basename(sys.argv[0] or "") == "pyrun" else []
    for scheme in (None, f"{os.name}_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else \
                sysconfig.get_path("scripts")
        except KeyError:
            continue
        candidates.append(os.path.join(scripts, "pyrun"))
    for candidate in candidates:
        if _is_pyrun(candidate):
            return [python, os.path.abspath(candidate)]
    return [python, "-c", LAUNCH]


def _is_pyrun(path: str) -> bool:
    """Whether ``path`` is pyrun's own ``pyrun`` script (not a pyenv shim, not the unrelated
    ``pyrun`` on PyPI): a Python script that starts pyrun's command line."""
    try:
        with open(path, "rb") as f:
            head = f.read(2048)
    except OSError:
        return False
    return head.startswith(b"#!") and b"from pyrun.cli import main" in head
