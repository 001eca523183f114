"""Offline bundles as they lie on disk (issue 26, point 2): the one owner of their format,
and the options a run from one takes (``pyrun --bundle DIR SCRIPT``). A bundle is written by
:mod:`pyrun.engine.bundling`::

    DIR/pyrun-bundle.json      which scripts it holds: for each block (its digest), the script's
                               name, its lock and the interpreter its entries were built for
    DIR/locks/<block>.pylock.toml   each script's PEP 751 lock (``uv export --script``)
    DIR/pool/<entry>/          a pool layer (:mod:`pyrun.store.layers`) of every entry the
                               locks select for that interpreter, bytecode compiled

A run from it installs exactly what the script's lock pins (``--lock``), reads every entry
from the bundle's layer in place (your own pool only composes the environment), and runs on
the bundle's interpreter: another one is an error naming both, since the entries were chosen
and built for it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyrun.errors import NoInterpreterError, UsageError

if TYPE_CHECKING:
    from pyrun.engine.options import RunOptions

#: The bundle's description, its locks' and its layer's names.
MANIFEST, LOCKS, LAYER = "pyrun-bundle.json", "locks", "pool"


def block_id(data: bytes) -> str:
    """The digest a bundle knows a script by: its block's bytes
    (:func:`pyrun.fastpath.block_span`), 32 hex digits (:func:`pyrun.layout.digest`); an edit
    to the code keeps it."""
    from pyrun.fastpath import block_span
    from pyrun.layout import digest

    return digest(block_span(data))


def options_for(directory: str, script: str, data: bytes, options: RunOptions) -> RunOptions:
    """``options`` for running ``script`` (its bytes ``data``) from the bundle ``directory``:
    its lock, its layer first, its interpreter, offline.

    Raises:
        UsageError: ``directory`` is not a bundle, does not hold this script's block, or is not
            trusted as a pool layer is (:func:`pyrun.store.layers.check`: it names the
            interpreter that runs and the lock that is installed).
        NoInterpreterError: ``--python`` names another interpreter than the bundle's, or the
            bundle's is not on this machine; the message names both.
    """
    from pyrun.store.layers import check

    root = Path(os.path.abspath(directory))
    why = check(root)  # it names the interpreter run and the lock installed: as a layer is
    if why:
        raise UsageError(f"{script}: the bundle {root} is not used: {why}; a bundle must "
                         "belong to root or to you and be writable by no one else (chmod go-w)")
    described = read(root)
    held = described["scripts"].get(block_id(data))
    if not isinstance(held, dict) or not isinstance(held.get("lock"), str):
        names = sorted(str(s.get("script")) for s in described["scripts"].values()
                       if isinstance(s, dict))
        raise UsageError(f"{script}: its block is not in the bundle {root} (it holds "
                         f"{', '.join(names) or 'nothing'}); add it with `pyrun bundle "
                         f"{script} -o {root}`")
    python, version = str(held.get("python", "")), str(held.get("version", ""))
    if options.python and os.path.realpath(options.python) != python:
        raise NoInterpreterError(options.python, f"{script}: the bundle {root} was built for "
                                 f"Python {version} ({python}), not {options.python}; run "
                                 "without --python, or bundle it for that one")
    if not os.path.isfile(python):
        raise NoInterpreterError(python, f"{script}: the bundle {root} was built for Python "
                                 f"{version} at {python}, which this machine does not have; "
                                 "install that interpreter there, or bundle it on this machine")
    lock = root / held["lock"]
    if not lock.is_file() or lock.parent != root / LOCKS:
        raise UsageError(f"{script}: the bundle {root} has no lock {held['lock']}")
    return dataclasses.replace(options, lock=str(lock), python=python, offline=True,
                               layers=(str(root / LAYER), *options.layers), bundle=None)


def read(root: Path) -> dict[str, Any]:
    """The bundle's description.

    Raises:
        UsageError: there is none, or it is not one.
    """
    try:
        described = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{root} is not a pyrun bundle ({MANIFEST}: "
                         f"{getattr(exc, 'strerror', None) or exc}); make one with "
                         "`pyrun bundle SCRIPT... -o DIR`") from None
    if not isinstance(described, dict) or not isinstance(described.get("scripts"), dict):
        raise UsageError(f"{root}/{MANIFEST} is not a bundle's description")
    return described
