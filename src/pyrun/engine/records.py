"""What every build records after it (:func:`noted`): the script it was for, which ``pyrun
list`` shows (:mod:`pyrun.store.usage`), and, for a script installed as a command, the
environment the command now needs (:func:`pyrun.store.commands.follow`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyrun.engine.request import BuildRequest

#: :data:`pyrun.store.commands.COMMANDS` (a unit test holds them equal): a build looks for
#: installed commands only where some were recorded, without importing their module.
COMMANDS = "commands"


def noted(request: BuildRequest, env_path: Path) -> None:
    """After a build: record the script it was for (:mod:`pyrun.store.usage`), and, when the
    run was an installed command's (``pyrun --python INTERPRETER SCRIPT``, nothing else on the
    command line that chooses the environment), point the commands installed for that script
    with that interpreter at this environment (:func:`pyrun.store.commands.follow`). A record
    is never worth failing a run: errors are ignored (``-v`` says so)."""
    from pyrun.store import usage

    script, options = request.script, request.options
    remote = "://" in script
    copied = request.readable not in (None, script)  # read from stdin, a pipe or a URL
    if options.no_cache or (copied and not remote) or script == "-" or script.startswith("<"):
        return  # a temporary cache, or a script read from stdin or a pipe: no path to record
    name = script if remote else os.path.abspath(script)
    try:
        usage.record(env_path, name)
        if not remote and not (options.with_key or options.index or options.lock
                               or options.lock_mode) and options.composition == "auto" \
                and os.path.isdir(request.cache.root / COMMANDS):  # else none is installed
            from pyrun.store import commands

            commands.follow(request.cache, name, env_path, options.python)
    except OSError as exc:
        request.reporter.debug(f"cannot record {name} for {env_path}: {exc}")
