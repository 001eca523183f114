"""``pyrun cache seed --into DIR SCRIPT...``: the pool entries some scripts need, built into a
pool layer (:mod:`pyrun.store.layers`) on a build machine, for other users or machines to read
in place.

Each script is prepared as a run prepares it (its interpreter, its resolution), in a scratch
cache inside the layer (``DIR/.seed-*``: on the layer's file system, so finished entries move
in with one rename, and never taken for an entry: keys do not start with a dot), with every
entry's bytecode compiled before it moves (a layer is never compiled by a run). Entries the
layer holds already are kept; the stamps of the index's choices go with them
(``DIR/.stamps/``, :mod:`pyrun.store.layers`), so that a new script resolves from the layer
without the index; the scratch cache is removed at the end, even after a failure,
and a later seed removes those a killed seed left: each scratch cache
(``.seed-<pid>-<random>``, the pid for people) is covered by an exclusive lock on its own
file beside it (``.seed-<pid>-<random>.lock``, :func:`pyrun.store.cache.try_hold`), taken
before it is made and held until it is gone; one whose lock can be taken is a dead seed's,
whatever machine, container or PID namespace it ran in (as the cache's temporaries,
:func:`pyrun.store.cache.remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.errors import UsageError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.engine.options import RunOptions

#: The name prefix of a seed's scratch cache in a layer (never an entry: a dot first).
SCRATCH = ".seed-"


@dataclass
class Seeded:
    """What a seed did.

    Attributes:
        layer: the layer's directory.
        added: the keys of the entries moved into it.
        present: the keys it held already.
        python, version: the base interpreter the last script's environment runs on (its real
            path) and its version.
    """

    layer: Path
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    python: str = ""
    version: str = ""


def seed(scripts: Sequence[str], into: str | os.PathLike[str], options: RunOptions,
         reporter: Reporter) -> Seeded:
    """Build the pool entries ``scripts`` need (with ``options``: ``--python``, ``--with``...)
    into the layer directory ``into`` (created, mode 0755, when missing).

    Raises:
        UsageError: ``into`` is not a directory you may seed: it must belong to you and be
            writable by no one else, as a layer must (exit 64).
        And whatever preparing a script raises (:func:`pyrun.engine.prepare`).
    """
    from pyrun.engine.preparing import prepare
    from pyrun.store import layers
    from pyrun.store.cache import Cache, remove_tree, try_hold

    layer = Path(os.path.abspath(into))
    layer.mkdir(mode=0o755, parents=True, exist_ok=True)
    why = layers.check(layer)
    if why is None and layer.stat().st_uid != os.geteuid():
        why = "it belongs to another user"
    if why:
        raise UsageError(f"cannot seed {layer}: {why}; a pool layer must be yours and writable "
                         "by no one else (chmod go-w)")
    _sweep(layer)
    while True:  # its lock first, then the scratch cache: a sweep never takes a live one's
        scratch = Cache(layer / f"{SCRATCH}{os.getpid()}-{os.urandom(4).hex()}")
        lock = layer / f"{scratch.root.name}.lock"
        held = try_hold(lock)
        if held is not None and not scratch.root.exists():
            break
        if held is not None:  # pragma: no cover - 32 random bits met another seed's
            os.close(held)
    done = Seeded(layer)
    compile_mode = os.environ.get("PYRUN_COMPILE")
    os.environ["PYRUN_COMPILE"] = "foreground"  # every entry compiled before it moves
    try:
        for script in scripts:
            env = prepare(script, options, reporter, cache=scratch)
            done.python = os.path.realpath(env.python)
            done.version = _version(env.path)
        for entry in sorted(scratch.pool.iterdir()) if scratch.pool.is_dir() else []:
            if entry.name.startswith(".") or not (entry / "pyrun-entry.json").is_file():
                continue
            if layers.entry(layer, entry.name) is not None:
                done.present.append(entry.name)
                continue
            os.chmod(entry, 0o755)  # a directory moved to another parent must be writable
            os.rename(entry, layer / entry.name)
            os.chmod(layer / entry.name, 0o555)
            done.added.append(entry.name)
        _stamp(scratch.root, layer, {*done.added, *done.present})
    finally:
        if compile_mode is None:
            os.environ.pop("PYRUN_COMPILE", None)
        else:
            os.environ["PYRUN_COMPILE"] = compile_mode
        try:
            remove_tree(scratch.root)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(held)
    return done


def _stamp(scratch: Path, layer: Path, keys: set[str]) -> None:
    """Give the layer the stamps the scratch cache's index resolutions left for ``keys``
    (``pool-stamps/<context>/<key>`` -> ``<layer>/.stamps/<context>/<key>``, readable by all,
    the newer time kept), so that new scripts resolve from its entries as from a pool
    (:func:`pyrun.store.layers.stamps`)."""
    from pyrun.engine.freshness import STAMPS, Stamps
    from pyrun.store.layers import STAMPS as LAYER_STAMPS

    source = scratch / STAMPS
    for context in sorted(os.listdir(source)) if source.is_dir() else []:
        if context.startswith("."):
            continue
        stamps = Stamps(layer, context, layer / LAYER_STAMPS / context)
        for key in sorted(set(os.listdir(source / context)) & keys):
            chosen = os.stat(source / context / key).st_mtime
            with contextlib.suppress(FileNotFoundError):
                chosen = max(chosen, os.stat(stamps.directory / key).st_mtime)
            stamps.touch([key], at=chosen, shared=True)


def _sweep(layer: Path) -> None:
    """Remove the scratch caches (and lock files) of seeds that died: those whose lock can be
    taken now, each removed holding it; a running seed's lock is held, so it is left alone."""
    from pyrun.store.cache import remove_if_free

    names = os.listdir(layer)
    for name in names:
        if not name.startswith(SCRATCH):
            continue
        if name.endswith(".lock"):
            if name[:-len(".lock")] not in names:  # its seed died after removing its cache
                remove_if_free(None, layer / name, False)
        else:
            remove_if_free(layer / name, layer / f"{name}.lock", False)


def _version(env: Path) -> str:
    """The Python version an environment's ``pyvenv.cfg`` names (``""`` if none)."""
    try:
        lines = (env / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return ""
