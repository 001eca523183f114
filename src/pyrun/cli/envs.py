"""``pyrun python SCRIPT`` and ``pyrun env SCRIPT [--record]``: a script's environment, for
editors and other tools."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from pyrun.cli.parsing import environment_options, new_parser, run_options

if TYPE_CHECKING:
    from pathlib import Path

    from pyrun.cli import Edge


def parser(command: str) -> "argparse.ArgumentParser":
    """The parser of ``pyrun python SCRIPT`` or ``pyrun env SCRIPT --record``."""
    if command == "python":
        parser = new_parser("pyrun python", "Print the interpreter of SCRIPT's environment "
                         "(building the environment if needed): for an editor.")
    else:
        parser = new_parser("pyrun env", "Append SCRIPT's environment (built if needed) to the "
                         ".python-envs file beside SCRIPT, so that editors find it; a "
                         "prune keeps it while the file lists it.")
        parser.add_argument("--record", action="store_true", required=True,
                            help="append the environment to .python-envs")
    environment_options(parser)
    parser.add_argument("script", metavar="SCRIPT")
    return parser


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun python SCRIPT`` (print the environment's interpreter, building it if needed) and
    ``pyrun env SCRIPT --record`` (append the environment to ``.python-envs`` beside SCRIPT):
    how an editor finds the interpreter of a script with inline metadata.

    Raises:
        The errors of :func:`pyrun.engine.prepare`, and of :func:`_record`.
    """
    from pyrun.engine import Reporter, prepare

    ns = parser(command).parse_args(argv)
    options, edge.verbosity = run_options(ns)
    env = prepare(ns.script, options, Reporter(edge.verbosity))
    if command == "python":
        print(env.python)
        return 0
    _record(ns.script, env.path)
    print(env.path)
    return 0


def _record(script: str, env_path: "Path") -> None:
    """Append ``env_path`` to ``.python-envs`` beside ``script`` and tell the cache, so that a
    prune keeps the environment while the file lists it.

    Raises:
        PythonEnvsError: the file cannot be read or written (exit 78).
        CacheError: the cache cannot record it.
    """
    from pathlib import Path

    from pyrun.errors import CacheError
    from pyrun.script import pythonenvs
    from pyrun.store.cache import Cache

    directory = Path(os.path.dirname(os.path.abspath(script)))
    pythonenvs.append(directory, env_path)
    try:
        Cache().record_reference(env_path, [], listed_in=directory / pythonenvs.FILE_NAME)
    except OSError as exc:
        raise CacheError(str(env_path), f"cannot record {env_path} in pyrun's cache: "
                         f"{exc.strerror}") from exc


