"""The pool: each distribution artifact installed once, in its own content-addressed directory.

An entry is ``pool/<name>-<version>-<digest>/`` where the digest comes from the artifact's own
sha256 (a wheel is the same bytes for every interpreter that can use it, so a pure wheel is one
entry for all of them; a platform wheel is another artifact and so another entry). An sdist,
a VCS checkout or an artifact without a hash is built per interpreter ABI, so its digest also
covers the interpreter's ``soabi``.

Entry layout::

    site-packages/      the wheel's purelib and platlib content (and, once compiled, .pyc)
    bin/                ``.data/scripts`` (``#!python`` kept as is; not entry-point wrappers)
    headers/            ``.data/headers`` (an environment puts them in include/site/pythonX.Y/)
    data/               ``.data/data`` (merged under an environment's prefix: share/, etc/)
    pyrun-compiled-<tag>  one empty flag per interpreter whose ``.pyc`` files are in place
    pyrun-entry.json    what the entry holds (name, version, artifact URL and hash, the cache
                        tags of the interpreters its ``.pyc`` files are for, a file manifest)

Missing entries are installed in one installer call (:mod:`pyrun.engine.installers`) into a staging
prefix (uv hardlinks from its own cache), split per distribution by each wheel's
RECORD, made read-only and renamed into place under per-entry file locks. A finished entry is
never written again, with one exception: each interpreter version that uses it adds its own
``.pyc`` files, once, under the entry's lock (:mod:`pyrun.engine.bytecode`).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from pyrun import layout
from pyrun.engine.installers.base import Installer
from pyrun.engine.interpreters import Interpreter
from pyrun.engine.launchers import neutral_script, script_entry_points
from pyrun.engine.resolution import LockedDistribution
from pyrun.errors import InstallError
from pyrun.faults import point
from pyrun.layout import ENTRY_MARKER
from pyrun.progress import Reporter
from pyrun.store.cache import Cache, Temporary, make_readonly, remove_tree
from pyrun.store.manifest import ARCHIVE_SLACK_NS, altered, hash_mismatch
from pyrun.store.markers import EntryMarker, read_entry_marker, write_entry_marker


@dataclass(frozen=True)
class PoolEntry:
    """One pool directory.

    Attributes:
        key: the entry's directory name, ``<name>-<version>-<digest>``.
        path: the entry's directory.
        distribution: the pin it holds.
    """

    key: str
    path: Path
    distribution: LockedDistribution
    #: The pool layer it is read from (:mod:`pyrun.store.layers`), ``""`` for your own pool:
    #: a layer's entry is never written, locked or compiled by a run.
    layer: str = ""

    @property
    def site_packages(self) -> Path:
        """The directory that goes on ``sys.path``."""
        return self.path / "site-packages"

    def is_complete(self) -> bool:
        """Whether the entry was finished (its marker is written before the final rename). An
        entry is a real directory: a symbolic link in its place is never followed."""
        return not self.path.is_symlink() and (self.path / ENTRY_MARKER).is_file()

    def marker(self) -> EntryMarker | None:
        """The entry's marker (:class:`pyrun.store.markers.EntryMarker`); None when it is
        missing or damaged."""
        return read_entry_marker(self.path)

    def altered(self, thorough: bool = False) -> str | None:
        """What changed in the entry since it was finished, or None: every file's size and
        mtime against the manifest (:func:`pyrun.store.manifest.altered`); with ``thorough``
        (``-U``, ``--refresh``) every file's content too, bytecode included, once the compiler
        has recorded it (:func:`pyrun.store.manifest.hash_mismatch`)."""
        marker = self.marker()
        slack = ARCHIVE_SLACK_NS if self.layer else 0  # a layer may come out of a tar archive
        return altered(self.path, marker.files if marker else None, slack) or (
            hash_mismatch(self.path, marker.hashes if marker else None) if thorough else None)

    def compiled_flag(self, cache_tag: str) -> Path:
        """The flag file that says the entry holds the ``.pyc`` files of ``cache_tag``."""
        return Path(layout.compiled_flag(str(self.path), cache_tag))

    def compiled_for(self) -> list[str]:
        """The ``cache_tag`` of each interpreter whose ``.pyc`` files the entry holds."""
        marker = self.marker()
        return list(marker.compiled_for) if marker else []


def entry_key(dist: LockedDistribution, interpreter: Interpreter) -> str:
    """The pool key of ``dist`` as installed for ``interpreter``.

    A wheel with a sha256 is keyed by that hash alone; anything that is built locally, or has
    no hash, is keyed by its source and the interpreter's ABI; a local directory also by its
    build files as they are now (:func:`pyrun.layout.directory_watch`), so a changed
    ``pyproject.toml`` means a new build, as with uv, and by whether it is installed editable
    (``editable = true`` in its source: a link to the directory, not a copy).
    """
    if dist.kind == "wheel" and dist.sha256:
        digest = dist.sha256
    else:
        source = (f"{dist.kind}\0{dist.url}\0{dist.sha256}\0{interpreter.soabi}"
                  f"\0{interpreter.platform}")
        if dist.kind == "directory":
            source += "".join(f"\0{p}={sig}" for p, sig in layout.directory_watch(dist.url))
            table = dist.package.get("directory")
            if isinstance(table, dict) and table.get("editable") is True:
                source += "\0editable"  # keys of non-editable directories stay as they were
        digest = hashlib.sha256(source.encode()).hexdigest()
    version = dist.version or "0"
    return f"{dist.name}-{version}-{digest[:32]}"


#: The layers this process has warned about (:meth:`Pool.layers`).
_WARNED: set[Path] = set()


class Pool:
    """The pool under a :class:`~pyrun.store.cache.Cache`.

    Args:
        cache: the cache whose ``pool/`` and ``locks/`` are used.
        reporter: progress and diagnostics.
        first: layers searched before the configured ones (a bundle's, ``pyrun --bundle``).
    """

    def __init__(self, cache: Cache, reporter: Reporter, first: Sequence[str] = ()) -> None:
        self.cache = cache
        self.reporter = reporter
        self.first = [Path(p) for p in first]  # searched before the configured ones (a bundle)
        self._layers: list[Path] | None = None

    def layers(self) -> list[Path]:
        """The trusted pool layers, in search order (:mod:`pyrun.store.layers`); each one that
        is configured and not trusted is said once, as a warning.

        Raises:
            ProjectFileError: the config file naming them cannot be read.
        """
        if self._layers is None:
            from pyrun.store.layers import VARIABLE, Layer, check, layers

            self._layers = []
            for layer in [Layer(p, check(p) or "") for p in self.first] + layers():
                if not layer.why:
                    self._layers.append(layer.path)
                elif layer.path not in _WARNED:  # said once a run
                    _WARNED.add(layer.path)
                    self.reporter.warn(f"the pool layer {layer.path} is not used: {layer.why}; "
                                       "a layer must belong to root or to you and be writable "
                                       f"by no one else (chmod go-w), or take it out of {VARIABLE}")
        return self._layers

    def entries_for(
        self, distributions: Sequence[LockedDistribution], interpreter: Interpreter
    ) -> list[PoolEntry]:
        """The pool entries (finished or not) that hold ``distributions`` for ``interpreter``:
        your own pool's when it holds one finished, else the first trusted layer's that does
        (read in place), else your own pool's (to be installed)."""
        from pyrun.store import layers

        out = []
        for dist in distributions:
            key = entry_key(dist, interpreter)
            own = PoolEntry(key, self.cache.pool / key, dist)
            if not own.is_complete():
                for layer in self.layers():
                    found = layers.entry(layer, key)
                    if found is not None:
                        own = PoolEntry(key, found, dist, str(layer))
                        break
            out.append(own)
        return out

    def ensure(
        self,
        distributions: Sequence[LockedDistribution],
        interpreter: Interpreter,
        installer: Installer,
        thorough: bool = False,
    ) -> list[PoolEntry]:
        """Return the entries for ``distributions``, installing the missing ones with
        ``installer``; an entry changed since it was finished is installed again (by size and
        mtime; with ``thorough``, by content too: :meth:`PoolEntry.altered`).

        Raises:
            InstallError: the installer failed to install one.
            NetworkError: the installer could not fetch an artifact.
        """
        entries = self.entries_for(distributions, interpreter)
        for i, e in enumerate(entries):
            why = e.altered(thorough) if e.layer else None
            if why:  # a layer is never repaired: your own pool gets the entry
                self.reporter.warn(f"pool layer entry {e.path}: {why} since it was installed; "
                                   "installing it into your own pool instead")
                entries[i] = PoolEntry(e.key, self.cache.pool / e.key, e.distribution)
        suspect = {e.key for e in entries
                   if not e.layer and e.is_complete() and e.altered(thorough)}
        missing = [e for e in entries if not e.layer and (e.key in suspect
                                                          or not e.is_complete())]
        if not missing:
            return entries
        with self.cache.locked([e.key for e in missing]):
            for e in missing:  # under the lock: not a compile in progress, really changed
                why = e.altered(thorough) if e.key in suspect and e.is_complete() else None
                if why:
                    self.reporter.repair(f"pool entry {e.key}: {why} since it was installed; "
                                         "installing it again")
                    remove_tree(e.path)
            missing = [e for e in missing if not e.is_complete()]  # another run may have won
            if missing:
                self._install(missing, interpreter, installer)
        return entries

    def _install(
        self, missing: list[PoolEntry], interpreter: Interpreter, installer: Installer
    ) -> None:
        import time

        names = ", ".join(e.distribution.pin for e in missing)
        size = sum(artifact_size(e.distribution) for e in missing)
        shown = (f" ({size / 2**20:.1f} MiB)" if size >= 2**20 else
                 f" ({max(1, size // 1024)} KiB)" if size else "")
        self.reporter.step(f"installing {len(missing)} distribution(s){shown} into the pool: "
                           f"{names}")
        for e in missing:  # minutes, sometimes: said even off a terminal, as uv says it
            if e.distribution.kind in ("sdist", "vcs", "directory", "archive"):
                why = ("no wheel of it fits this Python; choose another with --python"
                       if e.distribution.kind == "sdist" else
                       f"{'an' if e.distribution.kind == 'archive' else 'a'} "
                       f"{e.distribution.kind} source")
                self.reporter.notice(f"building {e.distribution.pin} for Python "
                                     f"{interpreter.version} ({interpreter.executable}): {why}")
        started = time.monotonic()
        held = Temporary(self.cache, self.cache.pool, "stage-")  # its lock, then it
        stage = held.mkdir()
        try:
            prefix = stage / "prefix"
            installer.install([e.distribution for e in missing], prefix, interpreter, stage)
            point("staged")
            shared = _shared_top_levels(prefix)
            built = [self._split(e, prefix, stage, interpreter, shared) for e in missing]
            point("split")
            for i, (entry, tmp) in enumerate(zip(missing, built)):
                if i == 1:
                    point("entry-placed")
                dist = entry.distribution
                write_entry_marker(tmp, EntryMarker(  # bytecode adds compiled-for tags later
                    dist.name, dist.version, dist.kind, dist.url, dist.sha256,
                    installed_with=interpreter.identity()))
                make_readonly(tmp)
                if os.path.lexists(entry.path):  # a leftover of a killed run, or a link
                    remove_tree(entry.path)
                os.rename(tmp, entry.path)
                os.chmod(entry.path, 0o555)
            self.reporter.step(f"installed {len(missing)} distribution(s) in "
                               f"{time.monotonic() - started:.1f} s")
        finally:
            held.close()  # removes the stage

    def _split(
        self, entry: PoolEntry, prefix: Path, stage: Path, interpreter: Interpreter,
        shared: frozenset[str] = frozenset(),
    ) -> Path:
        """Move the files one distribution installed under ``prefix`` into a new entry.

        uv installs with the prefix scheme: ``lib/pythonX.Y/site-packages`` (purelib and
        platlib), ``bin`` (``.data/scripts`` and entry-point wrappers), ``include/site/pythonX.Y``
        (``.data/headers``) and the prefix itself (``.data/data``). RECORD says which files are
        this distribution's; each goes to the entry's ``site-packages``, ``bin``, ``headers`` or
        ``data``. Entry-point wrappers are dropped (each environment writes its own) and the
        shebang uv wrote into Python scripts is turned back into ``#!python``, so the entry
        names no interpreter.

        A top-level directory of ``site-packages`` that no other distribution's RECORD lists
        (not in ``shared``) moves with one rename (numpy's 1,000-odd files); the files of a
        shared one (a namespace package) move one by one.
        """
        found = _find_dist_info(prefix, entry.distribution.name)
        if found is None:
            raise InstallError(
                f"the installer put no {entry.distribution.name} into {prefix}",
                requirement=entry.distribution.name,
            )
        site_root, dist_info = found
        tmp = stage / entry.key
        (tmp / "site-packages").mkdir(parents=True)
        wrappers = script_entry_points(dist_info)
        with open(dist_info / "RECORD", newline="", encoding="utf-8") as f:
            paths = [row[0] for row in csv.reader(f) if row]
        root = os.path.realpath(prefix)
        site = os.path.realpath(site_root)
        moved: set[str] = set()
        for rel in paths:
            src = os.path.normpath(os.path.join(site, rel))
            in_site = src.startswith(site + os.sep)
            top = src[len(site) + 1:].split(os.sep, 1)[0] if in_site else ""
            if top in moved or not src.startswith(root + os.sep) or not os.path.lexists(src):
                continue
            whole = os.path.join(site, top)
            if in_site and top not in shared and src != whole and os.path.isdir(whole) and (
                    not os.path.islink(whole)):
                os.rename(whole, tmp / "site-packages" / top)  # all of it, in one rename
                moved.add(top)
                continue
            if in_site:
                dest = tmp / "site-packages" / os.path.relpath(src, site)
            else:
                parts = Path(os.path.relpath(src, root)).parts
                if parts[0] == "bin" and len(parts) == 2:
                    if parts[1] in wrappers:
                        continue  # regenerated per environment, with its interpreter
                    (tmp / "bin").mkdir(exist_ok=True)
                    neutral_script(Path(src), tmp / "bin" / parts[1], interpreter.executable)
                    continue
                if parts[:2] == ("include", "site") and len(parts) > 3:  # uv: a venv's scheme
                    dest = tmp.joinpath("headers", *parts[3:])
                elif parts[0] == "include" and parts[1].startswith("python") and len(parts) > 2:
                    dest = tmp.joinpath("headers", *parts[2:])  # pip: the prefix scheme
                else:
                    dest = tmp.joinpath("data", *parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dest)
        return tmp


def artifact_size(dist: LockedDistribution) -> int:
    """The size in bytes of the artifact ``dist`` installs, as its lock says (0 if unsaid)."""
    table = dist.package
    art = (table.get("wheels") or [None])[0] if dist.kind == "wheel" else table.get(dist.kind)
    size = art.get("size") if isinstance(art, dict) else None
    return size if isinstance(size, int) and size > 0 else 0


def _shared_top_levels(prefix: Path) -> frozenset[str]:
    """The top-level names of a staged prefix's ``site-packages`` that more than one
    distribution's RECORD lists (namespace packages, say): their files must move one by one."""
    owners: dict[str, int] = {}
    for record in prefix.glob("lib/*/site-packages/*.dist-info/RECORD"):
        tops = set()
        with open(record, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                if row and not row[0].startswith(("..", "/")):
                    tops.add(os.path.normpath(row[0]).split(os.sep, 1)[0])
        for top in tops:
            owners[top] = owners.get(top, 0) + 1
    return frozenset(top for top, count in owners.items() if count > 1)


def entry_from_key(cache: Cache, key: str) -> PoolEntry | None:
    """The finished entry ``key`` as its marker describes it, or None (also for a ``key`` that
    is not one plain name: keys are read back from files)."""
    if not layout.is_key(key):
        return None
    path = cache.pool / key
    marker = read_entry_marker(path)
    if marker is None:
        return None
    dist = LockedDistribution(name=marker.name, version=marker.version, kind=marker.kind,
                              url=marker.url, sha256=marker.sha256, package={})
    return PoolEntry(key, path, dist)


def _find_dist_info(prefix: Path, name: str) -> tuple[Path, Path] | None:
    """``(site-packages, .dist-info)`` of distribution ``name`` installed under ``prefix``."""
    wanted = canonicalize_name(name)
    for site in sorted(prefix.glob("lib*/*/site-packages")):
        for child in site.iterdir():
            if child.suffix == ".dist-info" and child.is_dir():
                dist_name = child.name[: -len(".dist-info")].rpartition("-")[0]
                if canonicalize_name(dist_name) == wanted:
                    return site, child
    return None


