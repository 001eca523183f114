"""What ``pyrun list`` shows: each whole environment with the scripts it was built for, its
interpreter, its size on disk and its last use, and the installed commands.

Sizes count allocated blocks, each file (inode) once. An environment's ``size`` is its own
directory plus every pool entry it uses; ``own`` is the part no other environment uses (its
directory and the entries only it uses: what removing it frees); the total counts every file
once, however many environments share it. A link farm's hardlinks into the pool are the pool's
files, counted with their entries. One walk over the environments and the pool: linear in the
cache's files, as ``pyrun cache info`` is.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pyrun.store import usage
from pyrun.store.cache import Cache
from pyrun.store.commands import Installed, installed
from pyrun.store.markers import ENTRY_MARKER, ENV_MARKER, read_env_marker


@dataclass(frozen=True)
class EnvironmentRow:
    """One whole environment.

    Attributes:
        path: its directory.
        python: its base interpreter's version (``3.12.1``), ``""`` when the marker lacks it.
        implementation: ``cpython``, ``pypy``, ... (``""`` when unknown).
        executable: its base interpreter.
        created: when it was built; last_used: when a run last used it (seconds since the
            epoch: its marker's mtime, touched by every run).
        size: bytes it uses on disk (its directory and its pool entries).
        own: the part no other environment uses.
        scripts: the scripts it was built or installed for, most recent first
            (:mod:`pyrun.store.usage`).
        commands: the names of the installed commands that need it.
    """

    path: Path
    python: str
    implementation: str
    executable: str
    created: float
    last_used: float
    size: int
    own: int
    scripts: tuple[usage.Use, ...]
    commands: tuple[str, ...]


@dataclass(frozen=True)
class Inventory:
    """The cache as ``pyrun list`` shows it.

    Attributes:
        root: the cache directory.
        environments: the whole environments, most recently used first.
        commands: the installed commands the cache records.
        size: bytes the environments use, every file counted once.
        unused_entries: pool entries no environment uses, and their size.
    """

    root: Path
    environments: tuple[EnvironmentRow, ...]
    commands: tuple[Installed, ...]
    size: int
    unused_entries: tuple[int, int]


def inventory(cache: Cache) -> Inventory:
    """Describe the environments of ``cache`` and its installed commands (reads only)."""
    seen: set[tuple[int, int]] = set()
    entry_size: dict[str, int] = {}
    for entry in _children(cache.pool):
        if (entry / ENTRY_MARKER).is_file() and not entry.is_symlink():
            entry_size[entry.name] = _blocks([entry], seen)
    found = []
    for env in _children(cache.envs):
        marker = read_env_marker(env)
        if marker is None:
            continue  # being built, or damaged: not an environment a run would use
        try:
            last_used = os.stat(env / ENV_MARKER).st_mtime
        except OSError:
            continue
        found.append((env, marker, last_used, _blocks([env], seen)))
    users = Counter(k for _env, marker, _t, _own in found for k in set(marker.entries))
    needed: dict[Path, list[str]] = {}
    recorded = installed(cache)
    for command in recorded:
        needed.setdefault(command.environment, []).append(command.name)
    rows = []
    for env, marker, last_used, own_dir in found:
        keys = set(marker.entries)
        size = own_dir + sum(entry_size.get(k, 0) for k in keys)
        own = own_dir + sum(entry_size.get(k, 0) for k in keys if users[k] == 1)
        rows.append(EnvironmentRow(
            env, marker.interpreter.get("version", ""),
            marker.interpreter.get("implementation", ""), marker.executable, marker.created,
            last_used, size, own, tuple(usage.read(env)), tuple(sorted(needed.get(env, [])))))
    rows.sort(key=lambda r: (-r.last_used, str(r.path)))
    used_size = sum(r[3] for r in found) + sum(s for k, s in entry_size.items() if users[k])
    unused = [s for k, s in entry_size.items() if not users[k]]
    return Inventory(cache.root, tuple(rows), tuple(recorded), used_size,
                     (len(unused), sum(unused)))


def _children(directory: Path) -> list[Path]:
    try:
        return sorted(directory / n for n in os.listdir(directory) if not n.startswith("."))
    except OSError:
        return []


def _blocks(tops: Iterable[Path], seen: set[tuple[int, int]]) -> int:
    """Bytes allocated under ``tops`` to files (and directories) not in ``seen``, which
    gains them: each inode counted once, links never followed."""
    total = 0
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in (*dirnames, *filenames, ""):
                path = os.path.join(dirpath, name) if name else dirpath
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                ident = (st.st_dev, st.st_ino)
                if ident not in seen:
                    seen.add(ident)
                    total += st.st_blocks * 512
    return total
