"""``pyrun lock``, ``pyrun export`` and ``pyrun tree``: a script's lock, as ``uv lock|export|tree
--script`` make and read it."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from pyrun.cli.parsing import environment_options, new_parser, run_options

if TYPE_CHECKING:
    from pyrun.cli import Edge


def parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``pyrun lock``, ``export`` or ``tree`` (``command``)."""
    if command == "tree":
        return _tree_parser()
    if command == "lock":
        parser = new_parser("pyrun lock", "Write or update SCRIPT.lock beside SCRIPT, the lock "
                         "`uv lock --script` writes: pyrun and `uv run --script` then both run "
                         "the versions it pins.")
    else:
        parser = new_parser("pyrun export", "Print SCRIPT's requirements locked as a PEP 751 "
                         "pylock.toml (universal: every platform and Python the script "
                         "allows), from SCRIPT.lock when there is one; `pyrun --lock FILE "
                         "SCRIPT` runs from it.")
        parser.add_argument("-o", "--output-file", metavar="FILE",
                            help="write it to FILE (pylock.toml, or pylock.NAME.toml, for "
                            "that format)")
        parser.add_argument("--format", choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0],
                            help="pylock.toml (PEP 751, the default) or requirements.txt (with "
                            "hashes), as uv export writes them")
    environment_options(parser)
    parser.add_argument("script", metavar="SCRIPT")
    return parser


#: ``pyrun export --format``'s values, as ``uv export --script`` writes them.
EXPORT_FORMATS = ("pylock.toml", "requirements.txt")


def _tree_parser() -> argparse.ArgumentParser:
    """The parser of ``pyrun tree SCRIPT``."""
    parser = new_parser("pyrun tree", "Print SCRIPT's dependency tree, as `uv tree --script` "
                     "prints it (uv reads the script, its [tool.uv] and its lock).")
    parser.add_argument("--outdated", action="store_true",
                        help="show the latest release of each package beside its version")
    parser.add_argument("-d", "--depth", type=int, metavar="N", help="at most N levels")
    parser.add_argument("--invert", action="store_true",
                        help="show what depends on each package instead")
    parser.add_argument("--package", metavar="PACKAGE", action="append", default=[],
                        help="only the tree under PACKAGE (repeatable)")
    parser.add_argument("--prune", metavar="PACKAGE", action="append", default=[],
                        help="leave PACKAGE and what only it needs out (repeatable)")
    parser.add_argument("--no-dedupe", action="store_true",
                        help="repeat a package's dependencies wherever it appears")
    parser.add_argument("--universal", action="store_true",
                        help="every platform and Python the script allows, not this one's")
    parser.add_argument("--show-sizes", action="store_true", help="show each package's size")
    environment_options(parser)
    parser.add_argument("script", metavar="SCRIPT")
    return parser


def _tree_main(argv: list[str], edge: Edge) -> int:
    """``pyrun tree SCRIPT`` (:func:`pyrun.engine.tree`).

    Raises:
        UsageError: a package name that is not one; and the errors of that function.
    """
    import re

    from pyrun import engine
    from pyrun.errors import UsageError

    ns = _tree_parser().parse_args(argv)
    options, edge.verbosity = run_options(ns)
    flags = [f"--{f.replace('_', '-')}" for f in ("outdated", "invert", "no_dedupe",
                                                     "universal", "show_sizes") if getattr(ns, f)]
    if ns.depth is not None:
        flags.append(f"--depth={ns.depth}")
    for option in ("package", "prune"):
        for name in getattr(ns, option):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
                raise UsageError(f"--{option} {name!r}: not a package name")
            flags.append(f"--{option}={name}")
    sys.stdout.write(engine.tree(ns.script, options, flags, engine.Reporter(edge.verbosity)))
    return 0


def _lock_main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun lock SCRIPT`` (:func:`pyrun.engine.lock`) and ``pyrun export SCRIPT``
    (:func:`pyrun.engine.export`).

    Raises:
        UsageError: ``-o`` names a file that is not ``pylock.toml`` or ``pylock.NAME.toml``;
        and the errors of those functions.
    """
    from pyrun import engine
    from pyrun.errors import UsageError

    ns = parser(command).parse_args(argv)
    options, edge.verbosity = run_options(ns)
    if command == "lock":
        path = engine.lock(ns.script, options, engine.Reporter(edge.verbosity))
        if edge.verbosity >= 0:
            print(f"pyrun: wrote {path}", file=sys.stderr)
        return 0
    output = ns.output_file
    if output is not None and ns.format == "pylock.toml" \
            and not _pylock_name(os.path.basename(output)):
        raise UsageError(f"-o {output}: a PEP 751 lock is named pylock.toml or "
                         "pylock.NAME.toml (or give --format requirements.txt)")
    text = engine.export(ns.script, options, engine.Reporter(edge.verbosity), ns.format)
    if output is None:
        sys.stdout.write(text)
        return 0
    from pyrun.errors import OutputError
    from pyrun.layout import write_atomic

    try:
        write_atomic(output, text, mode=0o644)
    except OSError as exc:
        raise OutputError(output, f"-o {output}: cannot be written ({exc.strerror})") from None
    if edge.verbosity >= 0:
        print(f"pyrun: wrote {output}", file=sys.stderr)
    return 0


def _pylock_name(name: str) -> bool:
    """PEP 751's file names: ``pylock.toml``, or ``pylock.NAME.toml`` with no dot in NAME."""
    if name == "pylock.toml":
        return True
    middle = name[len("pylock."):-len(".toml")]
    return name.startswith("pylock.") and name.endswith(".toml") and bool(middle) and (
        "." not in middle)


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun lock``, ``pyrun export`` or ``pyrun tree`` (``command``) with ``argv``."""
    return _tree_main(argv, edge) if command == "tree" else _lock_main(command, argv, edge)
