"""``pyrun init``, ``pyrun add`` and ``pyrun remove``: a script's inline metadata block edited
in place, as ``uv init|add|remove --script`` do."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pyrun.cli.parsing import new_parser

if TYPE_CHECKING:
    from pyrun.cli import Edge


def parser(command: str) -> "argparse.ArgumentParser":
    """The parser of ``pyrun init``, ``pyrun add`` or ``pyrun remove``."""
    from pyrun.engine import BOUNDS

    if command == "init":
        parser = new_parser("pyrun init", "Make a new script with an inline metadata block "
                         "(PEP 723), as `uv init --script` does.")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("-p", "--python", metavar="PYTHON",
                            help="its requires-python: at least this interpreter's version")
        parser.add_argument("-d", "--dependency", dest="values", metavar="REQ",
                            action="append", default=[], help="a requirement (repeatable)")
    elif command == "add":
        parser = new_parser("pyrun add", "Add requirements to SCRIPT's inline metadata block "
                         "(made where there is none), as `uv add --script` does: each is "
                         "resolved once, so it is known to exist. The rest of the file is kept "
                         "byte for byte.")
        parser.add_argument("-p", "--python", metavar="PYTHON",
                            help="the interpreter to resolve for (default: as pyrun chooses)")
        parser.add_argument("--bounds", choices=BOUNDS,
                            help="the version bound each gets (uv's --bounds; default lower)")
        parser.add_argument("-r", "--requirements", metavar="FILE", action="append",
                            default=[], help="add the requirements of FILE too (repeatable)")
        parser.add_argument("--index", metavar="URL", action="append", default=[],
                            help="an index to resolve from, recorded in the block as uv's "
                            "--index records it (repeatable)")
        parser.add_argument("--raw", action="store_true",
                            help="add each requirement as written, with no bound (uv's --raw)")
        parser.add_argument("--frozen", action="store_true",
                            help="add without resolving (uv's --frozen)")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("values", metavar="REQ", nargs="*")
    else:
        parser = new_parser("pyrun remove", "Remove requirements from SCRIPT's inline metadata "
                         "block, as `uv remove --script` does.")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("values", metavar="NAME", nargs="+")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="print each command, and tracebacks on errors")
    return parser


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun init|add|remove SCRIPT ...`` (:func:`pyrun.engine.init_script`,
    :func:`~pyrun.engine.add_requirements`, :func:`~pyrun.engine.remove_requirements`)."""
    from pyrun import engine

    p = parser(command)
    if command == "add":  # options after the requirements too (`add x.py six --frozen`)
        ns, rest = p.parse_known_args(argv)
        if any(word.startswith("-") for word in rest):
            p.error(f"unrecognized arguments: {' '.join(rest)}")
        ns.values += rest
    else:
        ns = p.parse_args(argv)
    edge.verbosity = -1 if ns.quiet else ns.verbose
    reporter = engine.Reporter(edge.verbosity)
    options = engine.RunOptions(python=getattr(ns, "python", None))
    if command == "init":
        engine.init_script(ns.script, options, ns.values, reporter)
    elif command == "add":
        from pyrun.errors import UsageError
        from pyrun.script.requirementsfile import read_requirements

        wanted = [*ns.values, *(r for f in ns.requirements for r in read_requirements(f))]
        if not wanted:
            raise UsageError("pyrun add: give at least one requirement, or -r FILE")
        engine.add_requirements(ns.script, wanted, options, ns.bounds, reporter, raw=ns.raw,
                                frozen=ns.frozen, indexes=ns.index)
    else:
        engine.remove_requirements(ns.script, ns.values, reporter)
    if edge.verbosity >= 0:
        print(f"pyrun: updated {ns.script}" if command != "init" else
              f"pyrun: wrote {ns.script}", file=sys.stderr)
    return 0


