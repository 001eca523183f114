"""``pyrun cache dir|info|prune|clean|verify``: the cache's upkeep
(:mod:`pyrun.store.maintenance`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pyrun.cli.parsing import new_parser

if TYPE_CHECKING:
    from pyrun.cli import Edge


def parser(command: str = "cache") -> argparse.ArgumentParser:
    """The parser of ``pyrun cache dir|info|prune|clean``."""
    parser = new_parser("pyrun cache", "Manage pyrun's cache. Locked (being built) and running "
                     "environments are always left alone.", usage=(
                         "pyrun cache dir | info [--unused-for DAYS] [--json] | "
                         "prune [--unused-for DAYS] | clean | verify"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     prog="pyrun cache",
                                     parser_class=type(parser))
    commands.add_parser("dir", help="print the cache directory",
                        description="Print the cache directory.")
    for name, text in (
        ("info", "environments, pool entries, sizes, and what is unused"),
        ("prune", "remove environments unused for DAYS (default 30), then pool entries no "
                  "environment uses"),
    ):
        sub = commands.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        sub.add_argument("--unused-for", metavar="DAYS", type=_days, default=30.0,
                         help="the age in days after which an environment is unused (default 30)")
        if name == "info":
            sub.add_argument("--json", action="store_true", help="print JSON")
    commands.add_parser("clean", help="remove every environment and pool entry",
                        description="Remove every environment and pool entry.")
    commands.add_parser(
        "verify", help="check every pool file against its wheel's RECORD hash",
        description="Check every file of every pool entry against the sha256 its wheel's "
        "RECORD gives (reads every file; a build only compares sizes and mtimes). A damaged "
        "entry is removed with the environments that use it; the next run reinstalls it.")
    return parser


def _days(text: str) -> float:
    """``--unused-for``'s value: a number of days, 0 or more."""
    import argparse

    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"needs a number of days, not {text!r}")
    return days


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun cache ...``: see :func:`parser` and :mod:`pyrun.store.maintenance`.

    Raises:
        UsageError: a bad command line. CacheError: the cache cannot be read or changed.
    """
    import json

    from pyrun.errors import CacheError
    from pyrun.store import maintenance
    from pyrun.store.cache import Cache

    ns = parser().parse_args(argv)
    cache = Cache()
    if ns.command == "dir":
        print(cache.root)
        return 0
    cache.check()
    try:
        if ns.command == "info":
            found = maintenance.info(cache, ns.unused_for)
            for warning in maintenance.warnings(cache):
                print(f"pyrun: warning: {warning}", file=sys.stderr)
            if ns.json:
                print(json.dumps({
                    "root": str(found.root),
                    "size_bytes": found.size_bytes,
                    "environments": [{"path": str(e.path), "last_used": e.last_used,
                                      "entries": list(e.entries)} for e in found.environments],
                    "entries": list(found.entries),
                    "unused_environments": [str(e.path) for e in found.unused],
                    "unreferenced_entries": list(found.unreferenced),
                    "unused_for_days": ns.unused_for,
                }, indent=1))
            else:
                print(f"cache: {found.root} ({found.size_bytes / 2**20:.1f} MiB)")
                print(f"environments: {len(found.environments)} "
                      f"({len(found.unused)} unused for {ns.unused_for:g} days)")
                print(f"pool entries: {len(found.entries)} "
                      f"({len(found.unreferenced)} used by no environment)")
            return 0
        if ns.command == "verify":
            checked = maintenance.verify(cache)
            for key, why in checked.damaged:
                print(f"damaged: {key}: {why}")
            for path in checked.removed:
                print(f"removed {path}")
            for path, why in checked.skipped:
                print(f"skipped {path}: {why}")
            print(f"verified {checked.entries} pool entr"
                  f"{'y' if checked.entries == 1 else 'ies'}: {len(checked.damaged)} damaged")
            return 0
        if ns.command == "prune":
            result = maintenance.prune(cache, ns.unused_for)
        else:
            result = maintenance.clean(cache)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise CacheError(str(exc.filename or cache.root), f"cannot {ns.command} the cache at "
                         f"{cache.root}: {exc.strerror or exc}{where}") from exc
    print(f"removed {len(result.environments)} environment(s) and "
          f"{len(result.entries)} pool entr{'y' if len(result.entries) == 1 else 'ies'}")
    for path, why in result.skipped:
        print(f"skipped {path}: {why}")
    return 0


