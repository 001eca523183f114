"""A pool entry's manifest: the files it holds as they were when it was finished, and two
checks against it.

* :func:`altered`: every file's size and mtime against the manifest in the entry's marker
  (:class:`pyrun.store.markers.EntryMarker`), one ``stat`` per file: what a build checks.
* :func:`record_mismatch`: every file's sha256 against its wheel's ``RECORD``: what
  ``pyrun cache verify`` checks.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from pyrun import layout
from pyrun.layout import ENTRY_MARKER


def manifest(entry_dir: Path) -> dict[str, list[int]]:
    """``{relative path: [size, mtime_ns]}`` of every file in an entry but its marker and
    compiled flags (:mod:`pyrun.layout`'s files, not the distribution's); a link to a
    directory is neither followed nor listed (as ``os.walk`` leaves it). A file that vanishes
    while the walk goes on (a background compiler's temporary ``.pyc``) is left out: the walk
    may run beside a compiler that holds the entry's lock. One ``scandir`` per directory and
    one ``lstat`` per file (a new environment's build checks every entry it uses: about half
    the time of ``os.walk`` with a path made per file)."""
    found = {}
    pending = [("", str(entry_dir))]
    while pending:
        prefix, directory = pending.pop()
        try:
            listing = os.scandir(directory)
        except OSError:  # gone, or unreadable: as os.walk, nothing listed from it
            continue
        with listing:
            for item in listing:
                name = item.name
                try:
                    if item.is_dir():
                        if not item.is_symlink():
                            pending.append((prefix + name + os.sep, item.path))
                        continue
                except OSError:
                    continue
                if (not prefix and name == ENTRY_MARKER) or name.startswith(_LAYOUT_FILES):
                    continue  # the layout's own files: the compiler adds a flag before the marker
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:  # a compiler's temporary .pyc, renamed meanwhile
                    continue
                found[prefix + name] = [st.st_size, st.st_mtime_ns]
    return found


#: Names of the files the layout (not the distribution) puts in an entry.
_LAYOUT_FILES = (layout.TMP, layout.COMPILED_FLAG)


def hashes(entry_dir: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file in an entry but its marker and compiled flags
    (the files :func:`manifest` lists), bytecode included: what ``pyrun cache verify`` and
    ``-U`` compare (:func:`hash_mismatch`), since ``RECORD`` lists no ``.pyc`` file and a
    file can be rewritten with its size and mtime kept. Computed by the background compiler,
    once the entry's bytecode is in place (:mod:`pyrun.engine.bytecode`), never on a run's
    critical path."""
    found = {}
    for rel in manifest(entry_dir):
        digest = hashlib.sha256()
        try:
            with open(entry_dir / rel, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            continue
        found[rel] = digest.hexdigest()
    return found


def hash_mismatch(entry_dir: Path, recorded: Mapping[str, str] | None) -> str | None:
    """The first file of the entry whose sha256 differs from ``recorded`` (the ``hashes`` of
    its marker), or that is missing, said in a few words; None when all match or nothing is
    recorded (an entry whose bytecode the compiler has not written yet). Reads every file."""
    if not recorded:
        return None
    current = hashes(entry_dir)
    for rel, expected in sorted(recorded.items()):
        now = current.get(rel)
        if now is None:
            return f"{rel} is missing"
        if now != expected:
            return f"{rel} differs from its recorded sha256"
    return None


def altered(entry_dir: Path, recorded: Mapping[str, list[int]] | None,
            slack_ns: int = 0) -> str | None:
    """What changed in the entry at ``entry_dir`` since it was finished, or None.

    Compares every file's size and mtime with ``recorded`` (the manifest in its marker):
    a file edited, removed or added by hand (or by a tool running as root, which read-only
    directories do not stop) shows. Costs one ``stat`` per file. Bytecode a compiler added
    without recording it (killed before it rewrote the marker) is not damage: only the
    compiler writes ``__pycache__`` files, atomically, under the entry's lock, and removing
    the entry for it would pull it from under the scripts that use it. None too for an entry
    from before manifests (``recorded`` None): nothing to compare with. ``slack_ns``: how far
    an mtime may be off (a pool layer unpacked from a tar archive, which keeps mtimes to the
    microsecond at best: :data:`ARCHIVE_SLACK_NS`).
    """
    if recorded is None:
        return None
    current = manifest(entry_dir)
    for rel, st in recorded.items():
        now = current.pop(rel, None)
        if now is None:
            return f"{rel} was removed"
        if now[0] != st[0] or abs(now[1] - st[1]) > slack_ns:
            return f"{rel} was modified"
    added = [rel for rel in current if not _is_bytecode(rel)]
    if added:
        return f"{min(added)} was added"
    return None


#: How far a file's mtime may be off in a pool layer (:func:`altered`): a second.
ARCHIVE_SLACK_NS = 10**9


def record_mismatch(entry_dir: Path) -> str | None:
    """The first file of the entry's ``site-packages`` whose content differs from the sha256
    its wheel's ``RECORD`` gives (or that is missing), said in a few words; None when all match.

    This reads every file: it is what ``pyrun cache verify`` runs, not what a build runs (a
    build compares sizes and mtimes with the entry's manifest, :func:`altered`).
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


def _is_bytecode(rel: str) -> bool:
    """Whether ``rel`` (a path inside an entry) is a compiler's ``__pycache__/*.pyc``."""
    parts = rel.split(os.sep)
    return len(parts) > 1 and parts[-2] == "__pycache__" and parts[-1].endswith(".pyc")
