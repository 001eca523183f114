"""``pyrun outdated [PATH...]`` (the scripts' direct requirements with newer releases, in one
table: :func:`pyrun.engine.outdated`) and ``pyrun upgrade SCRIPT [PACKAGE...]`` (their lower
bounds raised, and the lock beside the script updated: :func:`pyrun.engine.upgrade`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from pyrun.cli.parsing import new_parser

if TYPE_CHECKING:
    from pyrun.cli import Edge
    from pyrun.engine import OutdatedReport, UpgradeReport


def parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``pyrun outdated`` or ``pyrun upgrade``."""
    if command == "outdated":
        parser = new_parser("pyrun outdated", "For every script under PATHs (files with a "
                            "`# /// script` block; a directory's *.py files and executable "
                            "scripts, its subdirectories too with -r), the direct requirements "
                            "whose resolved version (the lock's, beside a locked script) has a "
                            "newer release on the index, as `uv tree --outdated --script` "
                            "shows them: one table. Exit 0 when every script was checked.")
        parser.add_argument("paths", metavar="PATH", nargs="*", default=["."],
                            help="scripts and directories (default: the current directory)")
        parser.add_argument("-r", "--recursive", action="store_true",
                            help="scan subdirectories too (not hidden ones, venvs, "
                                 "__pycache__, node_modules)")
        parser.add_argument("--json", action="store_true", help="print JSON")
    else:
        parser = new_parser("pyrun upgrade", "Raise the lower bounds of SCRIPT's direct "
                            "requirements to the versions uv resolves now, upgrades allowed "
                            "(as `pyrun add` writes a bound: >=VERSION), and update the lock "
                            "beside it (SCRIPT.lock) if any; print what changed. Upper bounds "
                            "and exact pins are kept.")
        parser.add_argument("script", metavar="SCRIPT")
        parser.add_argument("packages", metavar="PACKAGE", nargs="*",
                            help="only these requirements (default: all)")
    parser.add_argument("-p", "--python", metavar="PYTHON",
                        help="the interpreter uv resolves for (default: as pyrun chooses)")
    parser.add_argument("--offline", action="store_true",
                        help="use only what uv has cached")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="print each command, and tracebacks on errors")
    return parser


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun outdated|upgrade``: see :func:`parser`.

    Raises:
        ScriptNotFoundError, MetadataError, UsageError, ToolNotFoundError, and uv's errors
        (``upgrade``; ``outdated`` reports each script's own and exits with the first's code).
    """
    from pyrun import engine

    ns = parser(command).parse_args(argv)
    edge.verbosity = -1 if ns.quiet else ns.verbose
    reporter = engine.Reporter(edge.verbosity)
    options = engine.RunOptions(python=ns.python, offline=ns.offline)
    if command == "outdated":
        report = engine.outdated(ns.paths, options, reporter, recursive=ns.recursive)
        return _print_outdated(report, ns.json, edge.verbosity)
    done = engine.upgrade(ns.script, ns.packages, options, reporter)
    if edge.verbosity >= 0:
        _print_upgrade(done)
    return 0


def _print_outdated(report: OutdatedReport, as_json: bool, verbosity: int) -> int:
    """Print the table (or JSON) and the notes; each failure as an error line. Returns the
    exit code: 0, or the first failure's."""
    from pyrun.errors import report as report_error
    from pyrun.progress import escaped

    if verbosity >= 0:
        for note in report.notes:
            print(f"pyrun: note: {escaped(note)}", file=sys.stderr)
    code = 0
    for _script, error in report.failures:
        found = report_error(error, verbosity)
        code = code or found
    if as_json:
        print(json.dumps({
            "scripts": report.checked,
            "outdated": [{"script": o.script, "name": o.name, "version": o.version,
                          "latest": o.latest, "requirements": list(o.requirements),
                          "locked": o.locked} for o in report.outdated],
            "failed": [{"script": s, "error": str(e), "exit_code": e.exit_code}
                       for s, e in report.failures],
        }, indent=1))
        return code
    if not report.checked:
        if verbosity >= 0:
            print("pyrun: no script (a file with a `# /// script` block) there; -r scans "
                  "subdirectories too", file=sys.stderr)
        return code
    if not report.outdated:
        if verbosity >= 0:
            checked = len(report.checked) - len(report.failures)
            print(f"pyrun: {checked} script{'' if checked == 1 else 's'} checked: every direct "
                  "requirement is at its newest release", file=sys.stderr)
        return code
    rows = [("SCRIPT", "PACKAGE", "VERSION", "LATEST", "FROM")] + [
        (escaped(o.script, keep=""), o.name, o.version, o.latest,
         "lock" if o.locked else "resolution") for o in report.outdated]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + f"  {row[4]}")
    return code


def _print_upgrade(done: UpgradeReport) -> None:
    from pyrun.progress import escaped

    script = escaped(done.script, keep="")
    for before, after in done.raised:
        print(f"{script}: {before} -> {after}")
    lock = escaped(done.lock, keep="") if done.lock else ""
    for name, before, after in done.versions:
        print(f"{lock}: {name} {before or '(new)'} -> {after or '(removed)'}")
    for name, version, latest in done.held:
        print(f"{script}: {name} stays at {version} (latest {latest}): its bounds, or another "
              "requirement's, hold it back")
    if not done.raised and not done.versions:
        print(f"{script}: nothing to raise: every direct requirement's lower bound is at the "
              f"version uv resolves{' (the lock is up to date)' if done.lock else ''}")
