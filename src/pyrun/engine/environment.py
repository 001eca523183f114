"""Environments: a tiny venv that sees its pool entries as one flat install would.

An environment is keyed by the interpreter's identity, the sorted pool keys it holds and its
composition (:func:`environment_key`), so scripts whose requirements resolve to the same
set share one, however they spell their requirements. Its layout (POSIX)::

    pyvenv.cfg                              a real venv (PEP 405): own sys.prefix, no user site
    bin/python, python3, python3.X          symlinks to the base interpreter
    bin/<console and gui scripts>           entry-point wrappers using bin/python
    bin/<.data/scripts>                     the wheels' own scripts, ``#!python`` made bin/python
    lib/pythonX.Y/site-packages/            the activation files (pooled), or every entry's
                                            files hardlinked (link-farm)
    include/site/pythonX.Y/                 the wheels' ``.data/headers``
    share/, etc/, ...                       the wheels' ``.data/data``, merged (hardlinks)
    pyrun-env.json                          the completion marker, written last

How the entries are ordered and which mode is used: :mod:`pyrun.engine.composition`. What the
activation files are: :func:`write_activation`. Where two entries write the same file (data,
headers, scripts, or in a link farm any file), the first in precedence order wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyrun import __version__, layout
from pyrun.engine.composition import LINK_FARM, POOLED, Composition, top_level_name
from pyrun.engine.interpreters import Interpreter
from pyrun.engine.launchers import link_file, write_entry_scripts
from pyrun.engine.pool import PoolEntry
from pyrun.errors import EntriesVanished
from pyrun.faults import point
from pyrun.progress import Reporter
from pyrun.store.cache import Cache, Temporary, remove_tree
from pyrun.store.markers import EnvMarker, env_lock, read_env_marker, write_env_marker

PTH_NAME = "_pyrun_pool.pth"
ACTIVATION_MODULE = "_pyrun_pool"

#: The activation module of an environment whose entries ship ``.pth`` files: every pool
#: directory is already on ``sys.path`` (plain lines of the ``.pth``) when it runs.
ACTIVATION_SOURCE = '''"""pyrun's activation for this environment (generated; do not edit)."""

import os
import site
import sys

#: Pool entries that ship .pth files of their own.
DIRS = {dirs!r}


def activate():
    """No bytecode writes on import; process the .pth (and, on 3.15+, .start) files of DIRS
    as site-packages would."""
    sys.dont_write_bytecode = True
    known = {{os.path.normcase(os.path.abspath(p)) for p in sys.path}}
    for d in DIRS:
        site.addsitedir(d, known)
'''

@dataclass(frozen=True)
class Environment:
    """A finished environment.

    Attributes:
        path: its directory.
        mode: ``"pooled"`` or ``"link-farm"``; see :mod:`pyrun.engine.composition`.
        python: its interpreter (``bin/python``), the one scripts run with.
        activation: its ``_pyrun_pool.pth``.
    """

    path: Path
    mode: str = POOLED

    @classmethod
    def at(cls, env_dir: Path) -> Environment:
        """The environment at ``env_dir`` as its marker describes it (its composition); a
        pooled one when the marker cannot be read (the warm path's checks passed: the
        activation file is there)."""
        marker = read_env_marker(env_dir)
        return cls(env_dir, marker.mode if marker and marker.mode in (POOLED, LINK_FARM)
                   else POOLED)

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return Path(layout.env_python(str(self.path)))

    @property
    def activation(self) -> Path:
        """The activation ``.pth`` (its site-packages found through ``lib/python*/``)."""
        found = sorted(self.path.glob(f"lib/python*/site-packages/{PTH_NAME}"))
        return found[0] if found else self.path / "lib" / PTH_NAME


def _digest(path: Path) -> str:
    """The sha256 of a small file, or ``""`` when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def environment_key(
    interpreter: Interpreter, entries: Sequence[PoolEntry], mode: str = POOLED
) -> str:
    """The environment key: sha256 over the interpreter's identity, the sorted pool keys and
    the composition (``pooled`` or ``link-farm``, see :mod:`pyrun.engine.composition`). Returns 32
    hex digits. The order of the entries does not matter, so scripts whose requirements
    resolve to the same set share one environment however they spell or order them:

    >>> from types import SimpleNamespace as Fake
    >>> python = Fake(identity=lambda: {"executable": "/usr/bin/python3.12"})
    >>> rich, six = Fake(key="rich-14.0.0-1f2e"), Fake(key="six-1.17.0-4c1d")
    >>> environment_key(python, [rich, six]) == environment_key(python, [six, rich])
    True
    >>> environment_key(python, [rich, six]) == environment_key(python, [rich])
    False
    >>> environment_key(python, [rich], "link-farm") == environment_key(python, [rich])
    False
    """
    payload: dict[str, object] = {
        "format": layout.CACHE_FORMAT,
        "interpreter": interpreter.identity(),
        "entries": sorted(e.key for e in entries),
        "mode": mode,
    }
    read_in_place = sorted(str(e.path) for e in entries if getattr(e, "layer", ""))
    if read_in_place:  # an environment reading pool layers points at them: another one
        payload["layers"] = read_in_place
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def ensure_environment(
    cache: Cache, interpreter: Interpreter, plan: Composition, reporter: Reporter
) -> Environment:
    """Return the environment ``plan`` describes on ``interpreter``, building it if needed.

    Args:
        cache: the cache whose ``envs/`` holds environments.
        interpreter: the base interpreter.
        plan: from :func:`pyrun.engine.composition.compose`; for a link farm, its entries' bytecode
            must already be in place (:func:`pyrun.engine.bytecode.before_link_farm`).
        reporter: progress, and the warnings about overlapping top-level names.

    The build happens in a temporary directory under the environment's lock; the completion
    marker is written last and the directory renamed into place, so no run ever sees half an
    environment.

    Raises:
        EntriesVanished: some of the entries were removed meanwhile (a prune).
        OSError: the environment cannot be written.
    """
    entries = plan.entries
    key = environment_key(interpreter, entries, plan.mode)
    final = cache.envs / key
    env = Environment(final, plan.mode)
    if _usable(final, None):
        return env
    with cache.locked([env_lock(key), *(e.key for e in entries)]):
        if _usable(final, reporter):
            return env
        missing = [e.key for e in entries if not e.is_complete()]
        if missing:  # removed meanwhile (by hand, or by a prune)
            raise EntriesVanished(str(cache.pool), missing)
        reporter.step(f"creating an environment for Python {interpreter.version}")
        for overlap in plan.overlaps:
            reporter.warn(overlap.message())
        for reason in plan.reasons:
            reporter.step(f"building a link farm: {reason}")
        held = Temporary(cache, cache.envs, f"{key}-")  # its lock, then it
        tmp = held.mkdir()
        try:
            _build(tmp, final, key, interpreter, plan)
            point("env-written")
            if os.path.lexists(final):  # a leftover, a link, or one being rebuilt (-U)
                _replace(final)
            os.rename(tmp, final)
        finally:
            held.close()  # removes what is left of it (nothing, once renamed)
    return env


def _replace(final: Path) -> None:
    """Remove the environment at ``final`` to put a new one there, under the exclusive lock
    that running scripts' shared locks exclude (:func:`pyrun.launch.hold`).

    Raises:
        CacheError: a running script uses it.
    """
    from pyrun.errors import CacheError
    from pyrun.launch import exclusive, release

    held = exclusive(str(final / layout.ENV_MARKER)) if not final.is_symlink() else -1
    if held is None:
        raise CacheError(str(final), f"{final} must be built again, and a running script uses "
                         "it; run again once that script has ended")
    try:
        remove_tree(final)
    finally:
        release(held)


def existing(cache: Cache, interpreter: Interpreter, plan: Composition) -> Environment | None:
    """The environment ``plan`` describes on ``interpreter`` when it is built and whole (as
    :func:`ensure_environment` finds one it can use), else None; nothing is written or locked.
    """
    final = cache.envs / environment_key(interpreter, plan.entries, plan.mode)
    return Environment(final, plan.mode) if _usable(final, None) else None


def _usable(env_dir: Path, reporter: Reporter | None) -> bool:
    """Whether ``env_dir`` is whole and was built where it is (a moved cache has absolute paths
    of its old place in its environments). Says what it found through ``reporter``, if any."""
    if env_dir.is_symlink():
        if reporter:
            reporter.repair(f"{env_dir} is a symbolic link, not an environment pyrun made; "
                            "building it again")
        return False
    marker = read_env_marker(env_dir)
    if marker is None or not os.path.exists(layout.env_python(str(env_dir))):
        if env_dir.exists() and reporter:
            reporter.repair(f"{env_dir} is incomplete (an interrupted build?); building it again")
        return False
    built_at = marker.path
    activation = Environment(env_dir).activation
    if not activation.is_file():
        if reporter:
            reporter.repair(f"{env_dir} has lost its {PTH_NAME}; building it again")
        return False
    if marker.activation and _digest(activation) != marker.activation:
        if reporter:
            reporter.repair(f"{activation} was changed since it was written; building the "
                            "environment again")
        return False
    if built_at != str(env_dir):
        if reporter:
            reporter.repair(
                f"{env_dir} was built at {built_at} (was the cache moved?); building it again"
            )
        return False
    return True


def site_packages(env_dir: Path, interpreter: Interpreter) -> Path:
    """The environment's own site-packages directory."""
    return env_dir / "lib" / f"python{interpreter.short_version}" / "site-packages"


def _build(tmp: Path, final: Path, key: str, interpreter: Interpreter, plan: Composition) -> None:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    base = interpreter.executable
    (tmp / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(base)}\n"
        "include-system-site-packages = false\n"
        f"version = {interpreter.version}\n"
        f"executable = {base}\n"
        f"pyrun = {__version__}\n",
        encoding="utf-8",
    )
    os.symlink(base, bin_dir / "python")
    for alias in ("python3", f"python{interpreter.short_version}"):
        os.symlink("python", bin_dir / alias)
    site_packages(tmp, interpreter).mkdir(parents=True)
    if sys.maxsize > 2**32 and sys.platform != "darwin":
        os.symlink("lib", tmp / "lib64")
    populate(tmp, final, interpreter, plan)
    identity = interpreter.identity()
    write_env_marker(tmp, EnvMarker(
        path=str(final), executable=identity["executable"], mode=plan.mode,
        entries=tuple(e.key for e in plan.entries),
        activation=_digest(Environment(tmp).activation), key=key, interpreter=identity))


def populate(prefix: Path, final: Path, interpreter: Interpreter, plan: Composition) -> None:
    """Put ``plan``'s distributions into the venv at ``prefix``: the activation (or the link
    farm) in its site-packages, entry-point wrappers and ``.data/scripts`` in ``bin/``,
    ``.data/data`` under the prefix, ``.data/headers`` in ``include/site/pythonX.Y``.

    Args:
        prefix: an existing venv directory (pyrun's own, or one made by ``python -m venv``).
        final: where that venv will live when scripts run (shebangs name its interpreter).
        interpreter: the venv's base interpreter.
        plan: from :func:`pyrun.engine.composition.compose`.
    """
    site = site_packages(prefix, interpreter)
    site.mkdir(parents=True, exist_ok=True)
    if plan.mode == LINK_FARM:
        hidden = plan.hidden_names()
        for entry in plan.entries:
            _link_site_packages(entry, site, hidden.get(entry.key, frozenset()))
        write_activation(site, [])
    else:
        write_activation(site, plan.entries)
    python = layout.env_python(str(final))
    bin_dir = prefix / "bin"
    headers = prefix / "include" / "site" / f"python{interpreter.short_version}"
    for entry in plan.entries:
        write_entry_scripts(entry.path, bin_dir, python)
        link_tree(entry.path / "data", prefix)
        link_tree(entry.path / "headers", headers)


def write_activation(site: Path, entries: Sequence[PoolEntry]) -> None:
    """Write an environment's activation files into its ``site``-packages.

    * ``_pyrun_pool.pth``: each entry's ``site-packages`` as a plain path line, in precedence
      order (``site`` appends them after the stdlib and the venv's own site-packages; editors
      read such lines too), then one ``import`` line (Python 3.8 to 3.14) that does what
      ``activate()`` below does.
    * ``_pyrun_pool.py``: ``activate()`` turns off writing bytecode on import (everything
      from the pool is precompiled, and as root, permissions would not stop a write into the
      shared pool) and calls ``site.addsitedir`` on the entries that ship ``.pth`` files of
      their own, so those run as in a flat install, once every pool directory is on
      ``sys.path``.
    * ``_pyrun_pool.start``: ``_pyrun_pool:activate`` (PEP 829, Python 3.15+: a matching
      ``.start`` file replaces the ``.pth`` file's import lines).

    A link farm passes no ``entries``: its files are in ``site`` itself.
    """
    dirs = [str(e.site_packages) for e in entries]
    nested = tuple(d for d in dirs if any(n.endswith(".pth") for n in os.listdir(d)))
    if nested:
        call = f"import {ACTIVATION_MODULE}; {ACTIVATION_MODULE}.activate()"
    else:  # the same, without importing a module on every start
        call = "import sys; sys.dont_write_bytecode = True"
    (site / f"{ACTIVATION_MODULE}.py").write_text(
        ACTIVATION_SOURCE.format(dirs=nested), encoding="utf-8"
    )
    (site / f"{ACTIVATION_MODULE}.start").write_text(
        f"{ACTIVATION_MODULE}:activate\n", encoding="utf-8"
    )
    (site / PTH_NAME).write_text("\n".join([*dirs, call]) + "\n", encoding="utf-8")


def link_tree(src: Path, dest: Path) -> None:
    """Hardlink every file under ``src`` to the same place under ``dest`` (copy where a hardlink
    is refused). Files already in ``dest`` are kept: the first writer wins. A missing ``src``
    is an empty tree.
    """
    for dirpath, _dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        out = dest if rel == "." else dest / rel
        out.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            target = out / name
            if not os.path.lexists(target):
                link_file(Path(dirpath, name), target)


def _link_site_packages(entry: PoolEntry, site: Path, hidden: frozenset[str]) -> None:
    """Hardlink an entry's ``site-packages`` into a link farm's, leaving out the top-level
    modules and packages it loses to another distribution (and their top-level bytecode)."""
    src = entry.site_packages
    for name in os.listdir(src):
        if top_level_name(name) in hidden:
            continue
        if (src / name).is_dir() and name != "__pycache__":
            link_tree(src / name, site / name)
        elif name == "__pycache__":
            cache = site / name
            cache.mkdir(exist_ok=True)
            for pyc in os.listdir(src / name):
                if pyc.split(".")[0] not in hidden and not os.path.lexists(cache / pyc):
                    link_file(src / name / pyc, cache / pyc)
        elif not os.path.lexists(site / name):
            link_file(src / name, site / name)


