"""Pool layers: read-only pools below the user's own, searched in order for an entry the user's
pool lacks (issue 26). A layer is a directory of pool entries laid out as the user's ``pool/``
is (``<layer>/<name>-<version>-<digest>/``, built by ``pyrun cache seed --into``), on a shared
file system, a read-only mount or an image: a run reads it and never writes it, locks nothing
in it, compiles nothing into it.

Where they are: ``PYRUN_POOL_PATH`` (directories separated by ``os.pathsep``, searched in
order), else the ``pool-path`` key of pyrun's config file's ``[cache]`` table (a list of
directories, or one string separated as the variable is). Only absolute paths count.

**Which layers are trusted** (the threat model, docs/reliability.md): a layer is code every run
that uses it executes, so it is used only when no other user can change it:

* the layer's directory (its link followed: it may be a mount point) belongs to root or to
  you, and neither its group nor others may write to it;
* each entry used from it is a real directory (a symbolic link in its place is never
  followed) that belongs to root or to you, not writable by group or others, with its marker;
* its files are what the entry's marker lists, by size and mtime, each time an environment is
  built from it (as the user's own pool's are); ``pyrun cache verify`` checks every file's
  content against its wheel's ``RECORD``.

A layer that fails the first check is not used (the run says why, once); an entry that fails
the others is not used (the user's own pool installs it).

**Stamps**: ``<layer>/.stamps/<context>/<entry key>``, written by the seed as a cache's
``pool-stamps/`` are (:class:`pyrun.engine.freshness.Stamps`): the index chose the entry, under
those settings, at the stamp's mtime. A new script resolves from a layer's fresh entries as from
the user's own pool (:mod:`pyrun.engine.poolresolve`); the stamps' directories are trusted as
the layer is (:func:`stamps`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pyrun.layout import ENTRY_MARKER, shared_foreign

#: The variable that lists the layers.
VARIABLE = "PYRUN_POOL_PATH"

#: A layer's stamps directory (never an entry: keys do not start with a dot).
STAMPS = ".stamps"


@dataclass(frozen=True)
class Layer:
    """One configured layer.

    Attributes:
        path: its directory, as configured (absolute).
        why: ``""`` when it may be used, else why not (for a message).
    """

    path: Path
    why: str = ""


def configured(environ: Mapping[str, str] | None = None, config: Path | None = None,
               ) -> list[Path]:
    """The layers' directories, in search order: :data:`VARIABLE` when set (empty parts
    ignored), else the config file's ``[cache] pool-path`` (``config``: its path; default the
    file pyrun reads, found without ``platformdirs``). Relative paths are left out.

    Raises:
        ProjectFileError: the config file cannot be read or another user could have written
            it (see :mod:`pyrun.store.settings`).
    """
    environ = os.environ if environ is None else environ
    text = environ.get(VARIABLE)
    if text is not None and text.strip():
        parts = text.split(os.pathsep)
    else:
        from pyrun.launch import config_file

        path = Path(config_file()) if config is None else config
        if not path.is_file():
            return []
        from pyrun.store.settings import pool_path

        parts = list(pool_path(path))
    return [Path(p) for p in dict.fromkeys(p.strip() for p in parts) if p and os.path.isabs(p)]


def layers(environ: Mapping[str, str] | None = None) -> list[Layer]:
    """Every configured layer with the verdict of :func:`check`.

    Raises:
        ProjectFileError: see :func:`configured`.
    """
    return [Layer(p, check(p) or "") for p in configured(environ)]


def check(path: Path) -> str | None:
    """Why the layer directory ``path`` may not be used, or None (see the module docstring)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "it does not exist"
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    return shared_foreign(st)


def entry(layer: Path, key: str) -> Path | None:
    """The finished entry ``key`` in the trusted layer ``layer``, or None: a real directory of
    root's or yours, not writable by group or others, holding its marker."""
    path = layer / key
    try:
        whole = stat.S_ISREG(os.lstat(path / ENTRY_MARKER).st_mode)
    except OSError:
        return None
    return path if whole and _trusted_dir(path) else None


def stamps(layer: Path, context: str) -> Path | None:
    """The directory of the trusted layer ``layer``'s stamps for ``context`` (a digest,
    :func:`pyrun.engine.freshness.context`), or None: ``.stamps`` and ``.stamps/<context>``
    must each be a real directory of root's or yours that neither group nor others can write
    (a stamp lets an entry answer without the index)."""
    outer = layer / STAMPS
    path = outer / context
    return path if _trusted_dir(outer) and _trusted_dir(path) else None


def _trusted_dir(path: Path) -> bool:
    """Whether ``path`` is a real directory (not a link) of root's or yours that neither
    group nor others can write (:func:`pyrun.layout.shared_foreign`)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and shared_foreign(st) is None


def holds(layer: Path, path: Path) -> bool:
    """Whether ``path`` lies inside the layer directory ``layer``."""
    try:
        return os.path.commonpath([os.path.abspath(layer), os.path.abspath(path)]) == \
            os.path.abspath(layer)
    except ValueError:  # pragma: no cover - different drives
        return False


def verify(layer: Path) -> tuple[int, list[tuple[str, str]]]:
    """Check every file of every entry in the layer ``layer`` against its wheel's ``RECORD``
    hashes (and the hashes its marker records): ``(entries checked, [(entry path, what is
    wrong)])``. Reads every file; changes nothing (a layer is not yours to repair).
    """
    from pyrun.store.manifest import hash_mismatch, record_mismatch
    from pyrun.store.markers import read_entry_marker

    checked, damaged = 0, []
    try:
        names = sorted(os.listdir(layer))
    except OSError:
        return 0, []
    for name in names:
        path = entry(layer, name) if not name.startswith(".") else None
        if path is None:
            continue
        checked += 1
        marker = read_entry_marker(path)
        why = record_mismatch(path) or hash_mismatch(path, marker.hashes if marker else None)
        if why:
            damaged.append((str(path), why))
    return checked, damaged


def served(envs: Path, layer_paths: list[Path]) -> dict[Path, int]:
    """How many entries of each layer the environments under ``envs`` read in place (each
    entry counted once), from their activation files."""
    used: dict[Path, set[str]] = {layer: set() for layer in layer_paths}
    try:
        names = os.listdir(envs)
    except OSError:
        names = []
    for name in names:
        for pth in (envs / name / "lib").glob("python*/site-packages/_pyrun_pool.pth"):
            try:
                lines = pth.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                for layer in layer_paths:
                    if line.startswith("/") and holds(layer, Path(line)):
                        used[layer].add(Path(line).parent.name)
    return {layer: len(keys) for layer, keys in used.items()}
