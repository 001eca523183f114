"""``pyrun bundle SCRIPT... -o DIR [--tar FILE]``: what scripts need to run on a machine with
no network and empty caches (:mod:`pyrun.engine.bundling`); ``pyrun --bundle DIR SCRIPT`` runs
from it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pyrun.cli.parsing import new_parser

if TYPE_CHECKING:
    from pyrun.cli import Edge


def parser(command: str = "bundle") -> argparse.ArgumentParser:
    """The parser of ``pyrun bundle``."""
    parser = new_parser(
        "pyrun bundle", "Write what SCRIPTs need to run with no network and empty caches into "
        "DIR: each script's PEP 751 lock and every pool entry the locks select (a pool "
        "layer, bytecode compiled), for the interpreter each script runs on here. Run one "
        "with `pyrun --bundle DIR SCRIPT`; a DIR bundled before is added to.")
    parser.add_argument("scripts", metavar="SCRIPT", nargs="+", help="scripts to bundle")
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="the bundle's directory")
    parser.add_argument("--tar", metavar="FILE", default=None,
                        help="also write the bundle as a tar archive (.tar.gz: compressed), "
                        "for a container image layer")
    parser.add_argument("--python", metavar="PYTHON", default=None,
                        help="the interpreter to bundle for (default: each script's, as a "
                        "run chooses it)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="print each step and command")
    return parser


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun bundle``: see :func:`parser`.

    Raises:
        UsageError: DIR cannot be a bundle. And what building a script raises.
    """
    from pyrun.engine import Reporter, RunOptions, bundle

    ns = parser().parse_args(argv)
    edge.verbosity = ns.verbose
    root = bundle(ns.scripts, ns.output, RunOptions(python=ns.python), Reporter(edge.verbosity),
                  tar=ns.tar)
    print(f"{root}: {len(ns.scripts)} script(s); run one with `pyrun --bundle {root} SCRIPT`")
    if ns.tar:
        print(f"and {ns.tar}: the same as a tar archive")
    return 0
