"""The records pyrun writes in its cache, each with its one writer and its one reader here:
the contract between pyrun versions and between concurrent runs.

* :class:`EnvMarker`: an environment's completion marker (``envs/<key>/pyrun-env.json``),
  written last into the temporary directory before it is renamed into place.
* :class:`EntryMarker`: a pool entry's marker (``pool/<key>/pyrun-entry.json``), with the
  manifest of its files (:mod:`pyrun.store.manifest`), written before the final rename and
  replaced atomically when bytecode is added.
* :class:`Reference`: an environment used from outside the cache (or pool entries it uses)
  (``refs/<hash>.json``): a project venv, or an environment a ``.python-envs`` file lists or
  an installed command needs.
* Lock names: :func:`lock_file` (``locks/<name>.lock``), for pool entries (their key) and for
  environments being built (:func:`env_lock`) and for temporary files and directories
  (:func:`tmp_lock`).

The fast-path index entry is the one record read on the warm path, where nothing but the
standard library is loaded: :mod:`pyrun.layout` owns it (``index_text``, ``read_index``).

Every reader treats damage (missing, unreadable, not UTF-8, not JSON, not an object, a list of
entries that is not a list) as "absent": an environment or entry without a usable marker is not
whole, and is built again (:func:`pyrun.layout.read_marker`); a text field of another type is
read as its text. An entry marker's fields this version does not know are kept when it rewrites
the marker.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrun import layout
from pyrun.layout import ENTRY_MARKER, ENV_MARKER

__all__ = ["ENTRY_MARKER", "ENV_MARKER", "EntryMarker", "EnvMarker", "Reference", "env_lock",
           "lock_file", "read_entry_marker", "read_env_marker", "read_reference", "tmp_lock",
           "write_entry_marker", "write_env_marker", "write_reference"]


@dataclass(frozen=True)
class EnvMarker:
    """What an environment's completion marker says.

    Attributes:
        path: where the environment was built (a moved cache has another).
        executable: its base interpreter's real path.
        mode: its composition (``pooled`` or ``link-farm``).
        entries: the pool keys it uses.
        activation: the sha256 of its activation ``.pth`` as written (``""`` in markers from
            before it was recorded).
        key: the environment key (its directory's name).
        interpreter: the base interpreter's identity (executable, version, implementation,
            soabi: :meth:`pyrun.engine.interpreters.Interpreter.identity`).
        created: when it was built (seconds since the epoch).
    """

    path: str
    executable: str
    mode: str
    entries: tuple[str, ...]
    activation: str = ""
    key: str = ""
    interpreter: Mapping[str, str] = field(default_factory=dict)
    created: float = 0.0


def write_env_marker(env_dir: Path, marker: EnvMarker) -> None:
    """Write ``marker`` into the (temporary, not yet renamed) environment ``env_dir``."""
    data = {
        "format": layout.CACHE_FORMAT,
        "key": marker.key,
        "path": marker.path,
        "interpreter": {**marker.interpreter, "executable": marker.executable},
        "mode": marker.mode,
        "entries": list(marker.entries),
        "activation": marker.activation,
        "created": marker.created or time.time(),
    }
    (env_dir / ENV_MARKER).write_text(json.dumps(data, indent=1), encoding="utf-8")


def read_env_marker(env_dir: Path) -> EnvMarker | None:
    """The completion marker of the environment at ``env_dir``; None when it is missing or
    damaged (any damage: the environment is then not whole)."""
    data = layout.read_marker(str(env_dir / ENV_MARKER))
    if data is None:
        return None
    interpreter, entries = data.get("interpreter"), data.get("entries")
    if not isinstance(interpreter, dict) or not isinstance(entries, list):
        return None
    created = data.get("created")
    return EnvMarker(str(data.get("path", "")), str(interpreter.get("executable", "")),
                     str(data.get("mode", "")), tuple(str(k) for k in entries),
                     str(data.get("activation", "")), str(data.get("key", "")),
                     {str(k): str(v) for k, v in interpreter.items()},
                     float(created) if isinstance(created, (int, float)) else 0.0)


@dataclass(frozen=True)
class EntryMarker:
    """What a pool entry's marker says.

    Attributes:
        name, version, kind, url, sha256: the distribution it holds (as
            :class:`pyrun.engine.resolution.LockedDistribution` names them).
        installed_with: the identity of the interpreter that installed it.
        compiled_for: the ``cache_tag`` of each interpreter whose ``.pyc`` files it holds.
        files: ``{relative path: [size, mtime_ns]}`` of its files when the marker was written
            (:func:`pyrun.store.manifest.manifest`); None in markers from before manifests.
        hashes: ``{relative path: sha256}`` of every file, bytecode included, once the
            compiler has put it in place (:func:`pyrun.store.manifest.hashes`); None before.
        extra: fields this version does not know (a later pyrun's), kept as read so that
            rewriting the marker (bytecode added) never drops them.
    """

    name: str
    version: str
    kind: str
    url: str
    sha256: str
    installed_with: Mapping[str, str] = field(default_factory=dict)
    compiled_for: tuple[str, ...] = ()
    files: Mapping[str, list[int]] | None = None
    hashes: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def compiled(self, cache_tag: str, hashes: Mapping[str, str] | None = None,
                 ) -> EntryMarker:
        """This marker, saying the entry holds ``cache_tag``'s bytecode too (and, given, the
        ``hashes`` of its files as they are now)."""
        import dataclasses

        return dataclasses.replace(self, compiled_for=tuple(sorted({*self.compiled_for,
                                                                    cache_tag})),
                                   hashes=self.hashes if hashes is None else hashes)


def write_entry_marker(entry_dir: Path, marker: EntryMarker) -> None:
    """Write (or atomically replace) an entry's marker, with the entry's current manifest
    (``marker.files`` is ignored: the files are listed as they are now). Call it holding the
    entry's lock."""
    from pyrun.store.manifest import manifest

    data: dict[str, Any] = {
        **marker.extra,
        "name": marker.name, "version": marker.version, "kind": marker.kind,
        "url": marker.url, "sha256": marker.sha256,
        "installed-with": dict(marker.installed_with),
        "compiled-for": list(marker.compiled_for),
        "files": manifest(entry_dir),
    }
    if marker.hashes is not None:
        data["hashes"] = dict(marker.hashes)
    for stale in entry_dir.glob(f"{layout.tmp_prefix('*')}{ENTRY_MARKER}"):
        stale.unlink()  # left by a run killed while adding bytecode (we hold the lock)
    layout.write_atomic(str(entry_dir / ENTRY_MARKER), json.dumps(data, indent=1))


def read_entry_marker(entry_dir: Path) -> EntryMarker | None:
    """The marker of the pool entry at ``entry_dir``; None when it is missing or damaged. A
    symbolic link in the entry's place is never followed.

    A build reads each entry's marker several times (its manifest, its bytecode, its record),
    and a marker holds a line per file (a large distribution's is hundreds of KiB of JSON):
    a marker read again while its file is the same one (device, inode, size and mtime, taken
    before the read: a marker is replaced by a rename, never rewritten in place) is parsed
    once per process (the last :data:`_KEPT` markers)."""
    if entry_dir.is_symlink():
        return None
    path = str(entry_dir / ENTRY_MARKER)
    try:
        st = os.stat(path)
    except OSError:
        return None
    signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    kept = _READ.get(path)
    if kept is not None and kept[0] == signature:
        return kept[1]
    marker = _entry_marker(layout.read_marker(path))
    if len(_READ) >= _KEPT:
        _READ.clear()
    _READ[path] = (signature, marker)
    return marker


#: How many entry markers :func:`read_entry_marker` keeps parsed, and those it keeps.
_KEPT = 64
_READ: dict[str, tuple[tuple[int, int, int, int], EntryMarker | None]] = {}


def _entry_marker(data: dict[str, object] | None) -> EntryMarker | None:
    """An entry marker from its JSON object (None: missing or damaged)."""
    if data is None:
        return None
    tags, files, installed = data.get("compiled-for"), data.get("files"), \
        data.get("installed-with")
    hashes = data.get("hashes")
    return EntryMarker(
        name=str(data.get("name", "")), version=str(data.get("version", "")),
        kind=str(data.get("kind", "")), url=str(data.get("url", "")),
        sha256=str(data.get("sha256", "")),
        installed_with={str(k): str(v) for k, v in installed.items()}
        if isinstance(installed, dict) else {},
        compiled_for=tuple(t for t in tags if isinstance(t, str))
        if isinstance(tags, list) else (),
        files=files if isinstance(files, dict) else None,
        hashes={str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, dict) else None,
        extra={k: v for k, v in data.items() if k not in _ENTRY_FIELDS},
    )


#: The entry marker's fields this version writes.
_ENTRY_FIELDS = frozenset({"name", "version", "kind", "url", "sha256", "installed-with",
                           "compiled-for", "files", "hashes"})


@dataclass(frozen=True)
class Reference:
    """An environment outside the cache that uses pool entries.

    Its *holder* keeps it: for a project venv composed from the pool (``listed_in`` None),
    the venv itself, while its ``pyvenv.cfg`` exists; for one of pyrun's own environments, the
    file ``listed_in``: a ``.python-envs`` file while it lists the prefix (``pyrun env
    --record``), or any other file while it exists (an installed command's launcher, say).
    :mod:`pyrun.store.maintenance` keeps what a live holder refers to and drops the record
    once the holder is gone.

    Attributes:
        prefix: the environment's directory.
        entries: the pool keys it uses (none for a pyrun environment, whose marker lists them).
        listed_in: the file that holds it (see above); None for a project venv.
    """

    prefix: Path
    entries: tuple[str, ...] = ()
    listed_in: Path | None = None


def write_reference(refs: Path, reference: Reference) -> None:
    """Record ``reference`` in the ``refs`` directory: one JSON file per prefix and holder
    (two commands, or a command and a ``.python-envs`` file, that need one environment keep
    it each on their own), replaced atomically when written again."""
    holder = "" if reference.listed_in is None else f"\0{reference.listed_in}"
    name = hashlib.sha256(f"{reference.prefix}{holder}".encode()).hexdigest()[:32]
    data = {"prefix": str(reference.prefix), "entries": list(reference.entries),
            "listed_in": str(reference.listed_in) if reference.listed_in else None}
    refs.mkdir(mode=0o700, parents=True, exist_ok=True)
    layout.write_atomic(str(refs / f"{name}.json"), json.dumps(data))


def read_reference(path: Path) -> Reference | None:
    """The reference recorded in the file ``path``; None when it is damaged."""
    data = layout.read_marker(str(path))
    if data is None:
        return None
    prefix, keys, listed_in = data.get("prefix"), data.get("entries"), data.get("listed_in")
    if not isinstance(prefix, str) or not isinstance(keys, list):
        return None
    return Reference(Path(prefix), tuple(str(k) for k in keys),
                     Path(listed_in) if isinstance(listed_in, str) else None)


def lock_file(locks: Path, name: str) -> Path:
    """The lock file of ``name`` (a pool key, or :func:`env_lock`) in the ``locks``
    directory."""
    return locks / f"{name}.lock"


def env_lock(key: str) -> str:
    """The lock name of the environment ``key`` while it is built or removed."""
    return f"env-{key}"


def tmp_lock(directory: str, name: str) -> str:
    """The lock name of the temporary file or directory ``name`` in the cache's ``directory``
    (relative to the root: ``pool``, ``envs``, ``refs``, ``index/<xx>``), held by its maker
    for as long as it exists (:class:`pyrun.store.cache.Temporary`).

    >>> tmp_lock("index/ab", ".tmp-12-stage-0a1b2c3d")
    'tmp+index+ab+.tmp-12-stage-0a1b2c3d'
    """
    return f"tmp+{directory.replace('/', '+')}+{name}"
