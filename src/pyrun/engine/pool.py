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
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from pyrun import layout
from pyrun.store.cache import Cache, make_readonly, remove_tree
from pyrun.errors import InstallError
from pyrun.faults import point
from pyrun.engine.installers.base import Installer
from pyrun.engine.interpreters import Interpreter
from pyrun.layout import ENTRY_MARKER, tmp_prefix
from pyrun.progress import Reporter
from pyrun.engine.resolution import LockedDistribution


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

    @property
    def site_packages(self) -> Path:
        """The directory that goes on ``sys.path``."""
        return self.path / "site-packages"

    def is_complete(self) -> bool:
        """Whether the entry was finished (its marker is written before the final rename). An
        entry is a real directory: a symbolic link in its place is never followed."""
        return not self.path.is_symlink() and (self.path / ENTRY_MARKER).is_file()

    def record(self) -> dict[str, Any]:
        """The entry's marker: name, version, kind, url, sha256, installed-with, compiled-for,
        files; empty when it is missing or damaged."""
        return dict(layout.read_marker(str(self.path / ENTRY_MARKER)) or {})

    def altered(self) -> str | None:
        """What changed in the entry since it was finished, or None.

        Compares every file's size and mtime with the manifest in the marker (``files``):
        a file edited, removed or added by hand (or by a tool running as root, which read-only
        directories do not stop) shows. Costs one ``stat`` per file. Bytecode a compiler added
        without recording it (killed before it rewrote the marker) is not damage: only the
        compiler writes ``__pycache__`` files, atomically, under the entry's lock, and removing
        the entry for it would pull it from under the scripts that use it.
        """
        recorded = self.record().get("files")
        if not isinstance(recorded, dict):
            return None  # an entry from before manifests: nothing to compare with
        current = manifest(self.path)
        for rel, st in recorded.items():
            now = current.pop(rel, None)
            if now is None:
                return f"{rel} was removed"
            if now != st:
                return f"{rel} was modified"
        added = [rel for rel in current if not _is_bytecode(rel)]
        if added:
            return f"{min(added)} was added"
        return None

    def compiled_flag(self, cache_tag: str) -> Path:
        """The flag file that says the entry holds the ``.pyc`` files of ``cache_tag``."""
        return Path(layout.compiled_flag(str(self.path), cache_tag))

    def compiled_for(self) -> list[str]:
        """The ``cache_tag`` of each interpreter whose ``.pyc`` files the entry holds."""
        tags = self.record().get("compiled-for", [])
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def entry_key(dist: LockedDistribution, interpreter: Interpreter) -> str:
    """The pool key of ``dist`` as installed for ``interpreter``.

    A wheel with a sha256 is keyed by that hash alone; anything that is built locally, or has
    no hash, is keyed by its source and the interpreter's ABI; a local directory also by its
    build files as they are now (:func:`pyrun.layout.directory_watch`), so a changed
    ``pyproject.toml`` means a new build, as with uv.
    """
    if dist.kind == "wheel" and dist.sha256:
        digest = dist.sha256
    else:
        source = f"{dist.kind}\0{dist.url}\0{dist.sha256}\0{interpreter.soabi}\0{interpreter.platform}"
        if dist.kind == "directory":
            source += "".join(f"\0{p}={sig}" for p, sig in layout.directory_watch(dist.url))
        digest = hashlib.sha256(source.encode()).hexdigest()
    version = dist.version or "0"
    return f"{dist.name}-{version}-{digest[:32]}"


class Pool:
    """The pool under a :class:`~pyrun.store.cache.Cache`.

    Args:
        cache: the cache whose ``pool/`` and ``locks/`` are used.
        reporter: progress and diagnostics.
    """

    def __init__(self, cache: Cache, reporter: Reporter) -> None:
        self.cache = cache
        self.reporter = reporter

    def entries_for(
        self, distributions: Sequence[LockedDistribution], interpreter: Interpreter
    ) -> list[PoolEntry]:
        """The pool entries (finished or not) that hold ``distributions`` for ``interpreter``."""
        out = []
        for dist in distributions:
            key = entry_key(dist, interpreter)
            out.append(PoolEntry(key, self.cache.pool / key, dist))
        return out

    def ensure(
        self,
        distributions: Sequence[LockedDistribution],
        interpreter: Interpreter,
        installer: Installer,
    ) -> list[PoolEntry]:
        """Return the entries for ``distributions``, installing the missing ones with
        ``installer``.

        Raises:
            InstallError: the installer failed to install one.
            NetworkError: the installer could not fetch an artifact.
        """
        entries = self.entries_for(distributions, interpreter)
        suspect = {e.key for e in entries if e.is_complete() and e.altered()}
        missing = [e for e in entries if e.key in suspect or not e.is_complete()]
        if not missing:
            return entries
        with self.cache.locked([e.key for e in missing]):
            for e in missing:  # under the lock: not a compile in progress, really changed
                why = e.altered() if e.key in suspect and e.is_complete() else None
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
                       if e.distribution.kind == "sdist" else f"a {e.distribution.kind} source")
                self.reporter.notice(f"building {e.distribution.pin} for Python "
                                     f"{interpreter.version} ({interpreter.executable}): {why}")
        started = time.monotonic()
        stage = Path(tempfile.mkdtemp(prefix=f"{tmp_prefix()}stage-", dir=self.cache.pool))
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
                record = {
                    "name": entry.distribution.name,
                    "version": entry.distribution.version,
                    "kind": entry.distribution.kind,
                    "url": entry.distribution.url,
                    "sha256": entry.distribution.sha256,
                    "installed-with": interpreter.identity(),
                    "compiled-for": [],  # pyrun.engine.bytecode adds each interpreter's tag
                }
                write_marker(tmp, record)
                make_readonly(tmp)
                if os.path.lexists(entry.path):  # a leftover of a killed run, or a link
                    remove_tree(entry.path)
                os.rename(tmp, entry.path)
                os.chmod(entry.path, 0o555)
            self.reporter.step(f"installed {len(missing)} distribution(s) in "
                               f"{time.monotonic() - started:.1f} s")
        finally:
            remove_tree(stage)

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
                    _neutral_script(Path(src), tmp / "bin" / parts[1], interpreter.executable)
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


def _is_bytecode(rel: str) -> bool:
    """Whether ``rel`` (a path inside an entry) is a compiler's ``__pycache__/*.pyc``."""
    parts = rel.split(os.sep)
    return len(parts) > 1 and parts[-2] == "__pycache__" and parts[-1].endswith(".pyc")


def record_mismatch(entry_dir: Path) -> str | None:
    """The first file of the entry's ``site-packages`` whose content differs from the sha256
    its wheel's ``RECORD`` gives (or that is missing), said in a few words; None when all match.

    This reads every file: it is what ``pyrun cache verify`` runs, not what a build runs (a
    build compares sizes and mtimes with the entry's manifest, :meth:`PoolEntry.altered`).
    Files ``RECORD`` lists outside ``site-packages`` (``.data`` scripts, whose shebang pyrun
    rewrites, headers, data) and files it lists without a hash (``INSTALLER``, ``RECORD``
    itself) are not covered. Source: the binary distribution format, "The RECORD file".
    """
    import base64

    site = entry_dir / "site-packages"
    top = os.path.realpath(site)
    for record in sorted(site.glob("*.dist-info/RECORD")):
        try:
            with open(record, newline="", encoding="utf-8") as f:
                rows = [row for row in csv.reader(f) if len(row) >= 2]
        except (OSError, UnicodeDecodeError, csv.Error):
            return f"{record.relative_to(entry_dir)} cannot be read"
        for row in rows:
            rel, digest = row[0], row[1]
            path = os.path.normpath(os.path.join(top, rel))
            if not digest or not path.startswith(top + os.sep):
                continue
            algorithm, _, expected = digest.partition("=")
            if algorithm != "sha256":
                continue
            digest_of = hashlib.sha256()
            try:
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):  # CUDA libraries: GBs
                        digest_of.update(chunk)
            except OSError:
                return f"site-packages/{rel} is missing"
            actual = digest_of.digest()
            if base64.urlsafe_b64encode(actual).rstrip(b"=").decode() != expected:
                return f"site-packages/{rel} differs from its wheel's RECORD"
    return None


def manifest(entry_dir: Path) -> dict[str, list[int]]:
    """``{relative path: [size, mtime_ns]}`` of every file in an entry but its marker and
    compiled flags (:mod:`pyrun.layout`'s files, not the distribution's). A file
    that vanishes while the walk goes on (a background compiler's temporary ``.pyc``) is
    left out: the walk may run beside a compiler that holds the entry's lock."""
    found = {}
    top = str(entry_dir)
    for dirpath, _dirnames, filenames in os.walk(top):
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if rel == ENTRY_MARKER or name.startswith((layout.TMP, layout.COMPILED_FLAG)):
                continue  # the layout's own files: the compiler adds a flag before the marker
            try:
                st = os.lstat(path)
            except FileNotFoundError:  # a compiler's temporary .pyc, renamed meanwhile
                continue
            found[rel] = [st.st_size, st.st_mtime_ns]
    return found


def entry_from_key(cache: Cache, key: str) -> PoolEntry | None:
    """The finished entry ``key`` as its marker describes it, or None (also for a ``key`` that
    is not one plain name: keys are read back from files)."""
    if not layout.is_key(key):
        return None
    path = cache.pool / key
    probe = PoolEntry(key, path, LockedDistribution("", "", "", "", "", {}))
    record = probe.record()
    if not record:
        return None
    dist = LockedDistribution(
        name=str(record.get("name", "")), version=str(record.get("version", "")),
        kind=str(record.get("kind", "")), url=str(record.get("url", "")),
        sha256=str(record.get("sha256", "")), package={},
    )
    return PoolEntry(key, path, dist)


def write_marker(entry_dir: Path, record: dict[str, Any]) -> None:
    """Write (or atomically replace) an entry's marker, with its current :func:`manifest`.
    Call it holding the entry's lock."""
    record = {**record, "files": manifest(entry_dir)}
    for stale in entry_dir.glob(f"{tmp_prefix('*')}{ENTRY_MARKER}"):
        stale.unlink()  # left by a run killed while adding bytecode (we hold the lock)
    layout.write_atomic(str(entry_dir / ENTRY_MARKER), json.dumps(record, indent=1))


def _neutral_script(src: Path, dest: Path, executable: str) -> None:
    """Move a ``.data/scripts`` file into an entry, undoing uv's shebang rewrite.

    uv replaces a script's ``#!python`` with the installing interpreter (or a ``/bin/sh``
    trampoline naming it when the path is long). The entry keeps ``#!python`` instead, as the
    wheel had it (binary distribution format, "Recommended installer features"); each
    environment writes its own interpreter in. Other files (shell scripts, binaries) are moved
    as they are.
    """
    data = src.read_bytes()
    exe = executable.encode()
    first, _, rest = data.partition(b"\n")
    body: bytes | None = None
    if first.rstrip(b"\r") == b"#!" + exe:
        body = rest
    elif first == b"#!/bin/sh":
        lines = data.split(b"\n", 3)
        if len(lines) == 4 and exe in lines[1] and lines[1].startswith(b"'''exec'"):
            body = lines[3]
    if body is None:
        os.rename(src, dest)
        return
    dest.write_bytes(b"#!python\n" + body)  # a new file: src is a hardlink into uv's cache
    dest.chmod(0o755)
    src.unlink()


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


def script_entry_points(dist_info: Path) -> dict[str, str]:
    """The ``console_scripts`` and ``gui_scripts`` of a ``.dist-info`` directory.

    Returns ``{name: "module:attr"}``; empty when there is no (readable) ``entry_points.txt``.
    Source: the entry points specification (PyPA), file format section.
    """
    import configparser

    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read(dist_info / "entry_points.txt", encoding="utf-8")
    except configparser.Error:
        return {}
    found: dict[str, str] = {}
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            found.update((name, target.strip()) for name, target in parser.items(section))
    return found
