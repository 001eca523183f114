"""``pyrun install SCRIPT [--name NAME]`` and ``pyrun uninstall NAME``: a script as a command
in the executable directory (:func:`pyrun.engine.install_command`,
:mod:`pyrun.store.commands`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from pyrun.cli.parsing import new_parser

if TYPE_CHECKING:
    from pyrun.cli import Edge

_WHERE = ("$PYRUN_BIN_DIR, else uv's tool directory: $UV_TOOL_BIN_DIR, $XDG_BIN_HOME, "
          "$XDG_DATA_HOME/../bin, ~/.local/bin")


def parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``pyrun install`` or ``pyrun uninstall``."""
    if command == "install":
        parser = new_parser("pyrun install", "Make SCRIPT a command: a small /bin/sh file in "
                            f"the executable directory ({_WHERE}) that runs it with this pyrun "
                            "by absolute paths, so it works under cron's PATH. Its environment "
                            "is built now, and kept from pruning while the command exists. "
                            "A file pyrun did not write is never replaced (exit 73).")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("--name", metavar="NAME",
                            help="the command's name (default: SCRIPT's name without .py)")
        parser.add_argument("--force", action="store_true",
                            help="replace a command of pyrun's that runs another script")
    else:
        parser = new_parser("pyrun uninstall", "Remove a command `pyrun install` wrote, and "
                            "let a prune take its environment. A file pyrun did not write is "
                            "never removed (exit 73).")
        parser.add_argument("name", metavar="NAME")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="print each step, and tracebacks on errors")
    return parser


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun install|uninstall``: see :func:`parser`.

    Raises:
        UsageError, OutputError, CacheError, and the errors of
        :func:`pyrun.engine.install_command`.
    """
    ns = parser(command).parse_args(argv)
    edge.verbosity = -1 if ns.quiet else ns.verbose
    if command == "install":
        from pyrun.engine import Reporter, install_command

        done = install_command(ns.script, ns.name, Reporter(edge.verbosity), force=ns.force)
        if edge.verbosity >= 0:
            print(f"pyrun: installed {done.command} (runs {done.script})", file=sys.stderr)
            if not _on_path(done.command.parent):
                print(f"pyrun: warning: {done.command.parent} is not on your PATH: add it (as "
                      "`uv tool update-shell` does), or run the command by its path",
                      file=sys.stderr)
        return 0
    return _uninstall(ns.name, edge.verbosity)


def _uninstall(name: str, verbosity: int) -> int:
    """Remove the command ``name`` from the executable directory (or from the one directory
    the cache records a command of that name in) and forget it.

    Raises:
        UsageError: no such command. OutputError: a file pyrun did not write is there.
    """
    from pyrun.errors import UsageError
    from pyrun.store import commands
    from pyrun.store.cache import Cache

    commands.check_name(name)
    cache = Cache().check()
    target = commands.bin_dir() / name
    named = [c for c in commands.installed(cache) if c.name == name]
    if not os.path.lexists(target) and len(named) == 1:  # installed into another directory
        target = named[0].command
    recorded = [c for c in named if c.command == target]
    if os.path.lexists(target):
        commands.remove(target)  # refuses a file pyrun did not write
        what = f"removed {target}"
    elif recorded:
        what = f"forgot {target} (its file was already gone)"
    else:
        raise UsageError(f"no command {name} in {target.parent}; `pyrun list` shows the "
                         "installed commands (and where they are)")
    commands.forget(cache, target)
    if verbosity >= 0:
        print(f"pyrun: {what}", file=sys.stderr)
    return 0


def _on_path(directory: os.PathLike[str]) -> bool:
    """Whether ``directory`` is one of ``$PATH``'s."""
    wanted = os.path.realpath(directory)
    return any(os.path.realpath(p) == wanted
               for p in os.environ.get("PATH", "").split(os.pathsep) if p)
