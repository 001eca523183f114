"""``pyrun list [--json]``: the cache's environments (the scripts they were built for, their
Python, size and last use) and the installed commands (:mod:`pyrun.store.inventory`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING

from pyrun.cli.parsing import new_parser

if TYPE_CHECKING:
    from pyrun.cli import Edge
    from pyrun.store.commands import Installed
    from pyrun.store.inventory import Inventory


def parser(command: str = "list") -> argparse.ArgumentParser:
    """The parser of ``pyrun list``."""
    parser = new_parser("pyrun list", "List the cache's environments, most recently used "
                        "first: the scripts each was last built or installed for (a warm run "
                        "records nothing, so a script sharing another's block may be missing), "
                        "its Python, its size (SIZE: its directory and pool entries; OWN: what "
                        "no other environment shares) and its last use; then the commands "
                        "`pyrun install` made.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(command: str, argv: list[str], edge: Edge) -> int:
    """``pyrun list``: see :func:`parser`.

    Raises:
        CacheError: the cache cannot be trusted.
    """
    from pyrun.store import commands
    from pyrun.store.cache import Cache
    from pyrun.store.inventory import inventory

    ns = parser().parse_args(argv)
    cache = Cache().check()
    for gone in commands.installed(cache):  # its file removed by hand, or replaced
        if commands.read_command(gone.command) is None:
            commands.forget(cache, gone.command)
            print(f"pyrun: note: {gone.command} is gone or no longer pyrun's: forgot the "
                  f"command {gone.name}", file=sys.stderr)
    found = inventory(cache)
    if ns.json:
        print(json.dumps(_as_json(found), indent=1))
    else:
        _print_table(found)
    return 0


def _as_json(found: Inventory) -> dict[str, object]:
    return {
        "cache": str(found.root),
        "size_bytes": found.size,
        "unused_entries": {"count": found.unused_entries[0], "size_bytes": found.unused_entries[1]},
        "environments": [{
            "path": str(e.path), "python": e.python, "implementation": e.implementation,
            "executable": e.executable, "created": e.created, "last_used": e.last_used,
            "size_bytes": e.size, "own_bytes": e.own,
            "scripts": [{"script": u.script, "recorded": u.at, "exists": _exists(u.script)}
                        for u in e.scripts],
            "commands": list(e.commands)} for e in found.environments],
        "commands": [_command_json(c) for c in found.commands],
    }


def _command_json(c: Installed) -> dict[str, object]:
    return {"name": c.name, "path": str(c.command), "script": c.script,
            "environment": str(c.environment), "installed": c.installed}


def _print_table(found: Inventory) -> None:
    from pyrun.progress import escaped

    if not found.environments:
        print(f"no environments in {escaped(str(found.root), keep='')}")
    rows = [("ENVIRONMENT", "PYTHON", "SIZE", "OWN", "LAST USED", "SCRIPTS")]
    more: list[list[str]] = []
    for e in found.environments:
        names = [escaped(u.script, keep="") + ("" if _exists(u.script) else " (gone)")
                 for u in e.scripts] or ["-"]
        names[0] += "".join(f" [command {escaped(c, keep='')}]" for c in e.commands)
        rows.append((e.path.name[:12], f"{e.implementation} {e.python}".strip() or "?",
                     _size(e.size), _size(e.own), _when(e.last_used), names[0]))
        more.append(names[1:])
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for i, row in enumerate(rows if found.environments else []):
        head = "  ".join(cell.ljust(w) for cell, w in zip(row, widths))
        print(f"{head}  {row[5]}")
        for name in more[i - 1] if i else []:
            print(f"{'':{len(head)}}  {name}")
    count = len(found.environments)
    if count:
        print(f"\n{count} environment{'' if count == 1 else 's'}, {_size(found.size)} on disk "
              "(files shared between environments counted once)")
    if found.unused_entries[0]:
        print(f"{found.unused_entries[0]} pool entries no environment uses "
              f"({_size(found.unused_entries[1])}): `pyrun cache prune` removes them")
    if found.commands:
        print()
        table = [("COMMAND", "FILE", "SCRIPT")] + [
            (escaped(c.name, keep=""), escaped(str(c.command), keep=""),
             escaped(c.script, keep="")) for c in found.commands]
        widths = [max(len(r[i]) for r in table) for i in range(2)]
        for name, path, script in table:
            print(f"{name.ljust(widths[0])}  {path.ljust(widths[1])}  {script}")


def _exists(script: str) -> bool:
    return "://" in script or os.path.exists(script)


def _size(n: int) -> str:
    """``n`` bytes for people: ``512 B``, ``48.0 KiB``, ``1.2 MiB``, ``3.4 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop returns


def _when(seconds: float) -> str:
    """A local date and time, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "-"
