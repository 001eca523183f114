"""Sizes: a size as a person writes it (``500M``, ``2G``), what the cache's parts take on disk,
and which environments a size cap evicts first.

Sizes on disk are blocks allocated (``st_blocks``, what ``du`` counts), each inode once: a
link farm's files are hardlinks into the pool, and pool files are hardlinks shared with uv's
cache (counted here, as ``pyrun cache info`` counts them).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from pyrun import layout

#: The units a size may carry (powers of 1024, as ``du``, ``sort -h`` and docker read them).
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}

#: The words for "no cap".
NO_LIMIT = frozenset({"", "0", "none", "off"})


def parse_size(text: str) -> int | None:
    """Bytes from a size as a person writes it: a number of bytes, or a number with the unit
    K, M, G or T (powers of 1024; ``B`` or ``iB`` may follow, any case); None for no cap
    (``0``, ``none``, ``off``).

    >>> parse_size("500M"), parse_size("1.5g"), parse_size("2GiB"), parse_size("4096")
    (524288000, 1610612736, 2147483648, 4096)
    >>> parse_size("none") is None
    True

    Raises:
        ValueError: anything else (a negative size, an unknown unit); the message says what
            is accepted.
    """
    word = text.strip().lower()
    if word in NO_LIMIT:
        return None
    number = word.removesuffix("ib").removesuffix("b") if word[-1:] == "b" else word
    unit = number[-1:] if number[-1:] in _UNITS else ""
    try:
        value = float(number[:-1] if unit else number)
    except ValueError:
        value = -1.0
    if not 0 <= value < 2**63 / _UNITS[unit]:  # also NaN and infinity
        raise ValueError(f"needs a size: a number of bytes, or with K, M, G or T (500M, 2G), "
                         f"or none, not {text!r}")
    return int(value * _UNITS[unit]) or None


def format_size(size: int) -> str:
    """``size`` bytes for a person, in the largest binary unit that keeps a number of at
    least 1.

    >>> format_size(524288000), format_size(1536), format_size(12)
    ('500.0 MiB', '1.5 KiB', '12 B')
    """
    for unit, name in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if size >= unit:
            return f"{size / unit:.1f} {name}"
    return f"{size} B"


def disk_usage(paths: Iterable[Path]) -> int:
    """Bytes allocated to the files and directories under ``paths``, each inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in paths:
        for _path, st in _walk(str(top)):
            ident = (st.st_dev, st.st_ino)
            if ident not in seen:
                seen.add(ident)
                total += st.st_blocks * 512
    return total


def _walk(top: str) -> Iterable[tuple[str, os.stat_result]]:
    """Every path under ``top`` (``top`` included) with its ``lstat``; links not followed,
    what vanishes meanwhile skipped."""
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames, ""):
            p = os.path.join(dirpath, name) if name else dirpath
            try:
                yield p, os.lstat(p)
            except OSError:
                continue


class Usage:
    """What the cache at ``root`` takes on disk, by part: each environment (``envs/<key>``),
    each pool entry (``pool/<key>``), and the rest (``""``). An inode that several parts hold
    (hardlinks) counts once in :attr:`total`, and :meth:`drop` frees it only with the last
    part holding it. One walk of the cache: linear in its files.

    Attributes:
        total: bytes allocated to the whole cache, each inode once (as :func:`disk_usage`).
    """

    def __init__(self, root: Path) -> None:
        self.total = 0
        self._blocks: dict[tuple[int, int], int] = {}
        self._holders: Counter[tuple[int, int]] = Counter()
        self._parts: dict[str, set[tuple[int, int]]] = {}
        top = str(root)
        for path, st in _walk(top):
            rel = os.path.relpath(path, top).split(os.sep)
            part = "/".join(rel[:2]) if len(rel) > 1 and rel[0] in (layout.ENVS,
                                                                     layout.POOL) else ""
            ident = (st.st_dev, st.st_ino)
            if ident not in self._blocks:
                self._blocks[ident] = st.st_blocks * 512
                self.total += st.st_blocks * 512
            held = self._parts.setdefault(part, set())
            if ident not in held:
                held.add(ident)
                self._holders[ident] += 1

    def parts(self, directory: str) -> list[str]:
        """The names of the parts measured in ``directory`` (``envs`` or ``pool``)."""
        prefix = directory + "/"
        return sorted(p[len(prefix):] for p in self._parts if p.startswith(prefix))

    def drop(self, part: str) -> int:
        """Count ``part`` (``"envs/KEY"``, ``"pool/KEY"``) as removed: the bytes that frees
        (those of the inodes no other part holds), also taken off :attr:`total`; 0 for a part
        unknown or dropped already."""
        freed = 0
        for ident in self._parts.pop(part, set()):
            self._holders[ident] -= 1
            if self._holders[ident] == 0:
                freed += self._blocks[ident]
        self.total -= freed
        return freed


def plan_eviction(usage: Usage, environments: Sequence[tuple[Path, float, Sequence[str]]],
                  outside: Iterable[str], protected: Iterable[Path], max_bytes: int,
                  ) -> list[Path]:
    """The environments to evict so that the cache fits in ``max_bytes``: after the pool
    entries no environment uses (they go first, freeing what they take), the least recently
    used environments, each freeing itself and the pool entries only it used, until
    ``usage.total`` is at most ``max_bytes`` (``usage`` is left counting them as removed).

    Args:
        usage: the cache measured (:class:`Usage`).
        environments: ``(path, last used in seconds since the epoch, pool keys)`` of each.
        outside: the pool keys used from outside the cache (``refs/``): never freed.
        protected: environments never evicted (in use, held by a reference, about to run);
            their pool keys are never freed either.
    """
    uses = Counter(k for _path, _last, keys in environments for k in set(keys))
    uses.update(set(outside))
    for key in usage.parts(layout.POOL):
        if not uses[key]:
            usage.drop(f"{layout.POOL}/{key}")
    keep = set(protected)
    plan = []
    for path, _last, keys in sorted(environments, key=lambda e: (e[1], str(e[0]))):
        if usage.total <= max_bytes:
            break
        if path in keep:
            continue
        plan.append(path)
        usage.drop(f"{layout.ENVS}/{path.name}")
        for key in set(keys):
            uses[key] -= 1
            if not uses[key]:
                usage.drop(f"{layout.POOL}/{key}")
    return plan
