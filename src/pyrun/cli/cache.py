"""``pyrun cache dir|info|prune|clean|verify|seed``: the cache's upkeep, and pool layers
(:mod:`pyrun.store.maintenance`, :mod:`pyrun.store.upkeep`, :mod:`pyrun.store.settings`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pyrun.cli.parsing import new_parser

if TYPE_CHECKING:
    from pyrun.cli import Edge
    from pyrun.store.cache import Cache
    from pyrun.store.settings import CacheSettings


def parser(command: str = "cache") -> argparse.ArgumentParser:
    """The parser of ``pyrun cache dir|info|prune|clean|verify``."""
    parser = new_parser("pyrun cache", "Manage pyrun's cache. Locked (being built) and running "
                     "environments are always left alone. Runs keep it too: once a day a run "
                     "starts a prune in the background, and after a build the size cap "
                     "(PYRUN_CACHE_MAX_SIZE) is applied.", usage=(
                         "pyrun cache dir | info [--unused-for DAYS] [--json] | "
                         "prune [--unused-for DAYS] [--max-size SIZE] | clean | verify | "
                         "seed --into DIR SCRIPT..."))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     prog="pyrun cache",
                                     parser_class=type(parser))
    commands.add_parser("dir", help="print the cache directory",
                        description="Print the cache directory.")
    for name, text in (
        ("info", "environments, pool entries, sizes, what is unused, the cache's settings and "
                 "the last automatic upkeep"),
        ("prune", "remove environments unused for DAYS (default 30, or the configured "
                  "unused-for), then pool entries no environment uses; then, over the size cap, "
                  "the least recently used environments"),
    ):
        sub = commands.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        sub.add_argument("--unused-for", metavar="DAYS", type=_days, default=None,
                         help="the age in days after which an environment is unused (default: "
                         "PYRUN_CACHE_UNUSED_FOR or the config file's, else 30)")
        if name == "info":
            sub.add_argument("--json", action="store_true", help="print JSON")
        else:
            sub.add_argument("--max-size", metavar="SIZE", type=_size, default=None,
                             help="then remove the least recently used environments, and the "
                             "pool entries only they used, until the cache fits in SIZE (500M, "
                             "2G; none: no cap; default: PYRUN_CACHE_MAX_SIZE or the config "
                             "file's)")
    commands.add_parser("clean", help="remove every environment and pool entry",
                        description="Remove every environment and pool entry.")
    seed = commands.add_parser(
        "seed", help="build the pool entries scripts need into a pool layer",
        description="Build the pool entries SCRIPTs need (each resolved and built as a run "
        "builds it, with its bytecode compiled) into DIR, a pool layer other users and "
        "machines read in place (PYRUN_POOL_PATH). DIR must be yours and writable by no one "
        "else; entries it holds already are kept.")
    seed.add_argument("--into", metavar="DIR", required=True, help="the layer's directory")
    seed.add_argument("--python", metavar="PYTHON", default=None,
                      help="the interpreter to build for (default: each script's, as a run "
                      "chooses it)")
    seed.add_argument("scripts", metavar="SCRIPT", nargs="+", help="scripts whose entries to build")
    commands.add_parser(
        "verify", help="check every pool file against its wheel's RECORD hash",
        description="Check every file of every pool entry against the sha256 its wheel's "
        "RECORD gives (reads every file; a build only compares sizes and mtimes). A damaged "
        "entry is removed with the environments that use it; the next run reinstalls it.")
    return parser


def _size(text: str) -> int:
    """``--max-size``'s value: bytes, 0 for no cap."""
    import argparse

    from pyrun.store.sizes import parse_size

    try:
        return parse_size(text) or 0
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    from pyrun.errors import CacheError
    from pyrun.store import maintenance, settings, upkeep
    from pyrun.store.cache import Cache
    from pyrun.store.sizes import format_size

    ns = parser().parse_args(argv)
    cache = Cache()
    if ns.command == "dir":
        print(cache.root)
        return 0
    if ns.command == "seed":
        return _seed(ns, edge)
    cache.check()
    chosen = settings.read() if ns.command in ("info", "prune") else settings.CacheSettings()
    unused_for = chosen.unused_for if getattr(ns, "unused_for", None) is None else ns.unused_for
    try:
        if ns.command == "info":
            _info(cache, chosen, unused_for, ns.json)
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
            return _verify_layers()
        size = None
        if ns.command == "prune":
            result = maintenance.prune(cache, unused_for)
            cap = chosen.max_size if ns.max_size is None else (ns.max_size or None)
            if cap is not None:
                size = upkeep.shrink(cache, cap, result=result)
        else:
            result = maintenance.clean(cache)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise CacheError(str(exc.filename or cache.root), f"cannot {ns.command} the cache at "
                         f"{cache.root}: {exc.strerror or exc}{where}") from exc
    print(f"removed {len(result.environments)} environment(s) and "
          f"{len(result.entries)} pool entr{'y' if len(result.entries) == 1 else 'ies'}")
    if size is not None:
        print(f"the cache takes {format_size(size)} (the cap: {format_size(cap or 0)})")
    for path, why in result.skipped:
        print(f"skipped {path}: {why}")
    return 0


def _info(cache: Cache, chosen: CacheSettings, unused_for: float, as_json: bool) -> None:
    """``pyrun cache info``: what the cache holds, its settings, its last upkeep."""
    import json
    import time

    from pyrun.store import maintenance, upkeep
    from pyrun.store.sizes import format_size

    found = maintenance.info(cache, unused_for)
    for warning in maintenance.warnings(cache):
        print(f"pyrun: warning: {warning}", file=sys.stderr)
    last = upkeep.last(cache)
    for warning in (last or {}).get("warnings") or []:
        print(f"pyrun: warning: the last background upkeep did nothing: {warning}",
              file=sys.stderr)
    if as_json:
        print(json.dumps({
            "root": str(found.root),
            "size_bytes": found.size_bytes,
            "environments": [{"path": str(e.path), "last_used": e.last_used,
                              "entries": list(e.entries)} for e in found.environments],
            "entries": list(found.entries),
            "unused_environments": [str(e.path) for e in found.unused],
            "unreferenced_entries": list(found.unreferenced),
            "unused_for_days": unused_for,
            "max_size_bytes": chosen.max_size,
            "auto_prune": chosen.auto_prune,
            "settings_from": dict(chosen.origin),
            "upkeep_stamp": upkeep.stamp(cache),
            "last_upkeep": last,
            "pool_layers": _layers_json(cache),
        }, indent=1))
        return
    print(f"cache: {found.root} ({found.size_bytes / 2**20:.1f} MiB)")
    print(f"environments: {len(found.environments)} "
          f"({len(found.unused)} unused for {unused_for:g} days)")
    print(f"pool entries: {len(found.entries)} "
          f"({len(found.unreferenced)} used by no environment)")
    _info_layers(cache)
    cap = "none" if chosen.max_size is None else format_size(chosen.max_size)
    print(f"size cap: {cap} ({_origin(chosen, 'max-size')})")
    print("automatic prune: " + (f"daily, of environments unused for {chosen.unused_for:g} "
                                 f"days" if chosen.auto_prune else "off")
          + f" ({_origin(chosen, 'auto-prune')})")
    when = (last or {}).get("finished")
    if isinstance(when, (int, float)):
        print(f"last upkeep: {time.strftime('%Y-%m-%d %H:%M', time.localtime(when))}, removed "
              f"{(last or {}).get('removed_environments', 0)} environment(s) and "
              f"{(last or {}).get('removed_entries', 0)} pool entries")
    else:
        print("last upkeep: none yet")


def _info_layers(cache: Cache) -> None:
    """``pyrun cache info``'s lines for the pool layers (:func:`_layers_json`)."""
    for layer in _layers_json(cache):
        if not layer["used"]:
            print(f"pool layer: {layer['path']}: not used: {layer['why_not']}")
            continue
        count = layer["entries"]
        print(f"pool layer: {layer['path']}: {count} entr{'y' if count == 1 else 'ies'}, "
              f"{layer['entries_read']} read by this cache's environments")


def _layers_json(cache: Cache) -> list[dict[str, object]]:
    """The pool layers for ``pyrun cache info`` (``--json``): each one's path, whether it is
    used (else ``why_not``), its entries (0 when not used), and how many of them this cache's
    environments read in place."""
    import os

    from pyrun.store import layers

    found = layers.layers()
    served = layers.served(cache.envs, [la.path for la in found if not la.why])
    out: list[dict[str, object]] = []
    for la in found:
        count = 0
        if not la.why:
            try:
                count = sum(1 for n in os.listdir(la.path) if not n.startswith("."))
            except OSError:
                pass
        out.append({"path": str(la.path), "used": not la.why, "why_not": la.why,
                    "entries": count, "entries_read": served.get(la.path, 0)})
    return out


def _verify_layers() -> int:
    """``pyrun cache verify``'s part for the pool layers: every trusted layer's entries checked
    against their hashes, none changed (a layer is not yours to repair). 1 when one is
    damaged."""
    from pyrun.store import layers

    bad = 0
    for layer in layers.layers():
        if layer.why:
            print(f"pool layer {layer.path}: not used: {layer.why}")
            continue
        count, damaged = layers.verify(layer.path)
        for path, why in damaged:
            print(f"damaged: {path}: {why} (in the pool layer {layer.path}: not changed; "
                  "tell its owner, or leave it out of PYRUN_POOL_PATH)")
        print(f"verified the pool layer {layer.path}: {count} entr"
              f"{'y' if count == 1 else 'ies'}, {len(damaged)} damaged")
        bad += len(damaged)
    return 1 if bad else 0


def _seed(ns: argparse.Namespace, edge: Edge) -> int:
    """``pyrun cache seed --into DIR SCRIPT...`` (:func:`pyrun.engine.seed`)."""
    from pyrun.engine import Reporter, RunOptions, seed

    done = seed(ns.scripts, ns.into, RunOptions(python=ns.python), Reporter(edge.verbosity))
    print(f"{done.layer}: {len(done.added)} pool entr{'y' if len(done.added) == 1 else 'ies'} "
          f"added, {len(done.present)} there already")
    print(f"use it with PYRUN_POOL_PATH={done.layer}")
    return 0


def _origin(chosen: CacheSettings, key: str) -> str:
    where = chosen.origin.get(key, "default")
    return where if where == "default" else f"from {where}"
