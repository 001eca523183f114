"""``pyrun wsp init [PATH]``: write a workflow script whose inline metadata block points at this
pyrun (:mod:`pyrun.wsp.scaffold`), and with ``--declare`` declare it in ``pyproject.toml``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyrun.errors import argument_parser

DESCRIPTION = """\
Write PATH (default wf.py), a workflow server in one file made with pyrun's toolkit: the venvs
in ./envs, served over WSP. Its inline metadata block needs pyrun-scripts, which is not on PyPI
yet: a [tool.uv.sources] line points at this pyrun (its project directory for an editable
install, else its installed files rebuilt into a wheel kept in pyrun's data directory). Once
pyrun-scripts is on PyPI, --from-index writes the requirement alone.

  --declare     also declare it in ./pyproject.toml: [workflow] wsp = {script = "./PATH"}
  --from-index  no [tool.uv.sources] line: pyrun-scripts comes from the package index

exit codes: 0 written; 64 PATH exists or is outside this directory (--declare); 71 this pyrun is
not an installed pyrun-scripts; 73 a file cannot be written; 78 pyproject.toml already declares
a server or is not valid TOML.
"""


def parser(command: str = "init") -> argparse.ArgumentParser:
    """The parser of ``pyrun wsp init``."""
    p = argument_parser("pyrun wsp init",
                        usage="pyrun wsp init [PATH] [--declare] [--from-index] [-q]",
                        description=DESCRIPTION,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH", nargs="?", default="wf.py",
                   help="the script to write (default wf.py)")
    p.add_argument("--declare", action="store_true",
                   help="declare it in ./pyproject.toml ([workflow] wsp)")
    p.add_argument("--from-index", action="store_true",
                   help="take pyrun-scripts from the package index (no [tool.uv.sources])")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    return p


def main(argv: list[str], edge: object = None) -> int:
    """Run ``pyrun wsp init ARGV`` (:func:`pyrun.wsp.scaffold.init`); returns 0. ``edge`` is
    :func:`pyrun.cli.main`'s (:class:`pyrun.cli.Edge`), told the verbosity.

    Raises:
        UsageError, ProjectFileError, InstallError, OutputError: for the one error edge.
    """
    from pyrun.cli import Edge
    from pyrun.wsp.scaffold import init

    ns = parser().parse_args(argv)
    if isinstance(edge, Edge):
        edge.verbosity = -1 if ns.quiet else 0
    written = init(Path(ns.path), declare=ns.declare, from_index=ns.from_index)
    if not ns.quiet:
        print(f"pyrun: wrote {ns.path} (pyrun-scripts from {written.source.where})",
              file=sys.stderr)
        if written.pyproject is not None:
            print(f"pyrun: declared it in {written.pyproject.name}: [workflow] wsp",
                  file=sys.stderr)
        print("pyrun: next: pyrun wsp --trust environment/list" if written.pyproject else
              "pyrun: next: declare it in pyproject.toml ([workflow] wsp), or run this with "
              "--declare", file=sys.stderr)
    return 0
