"""How a set of pool entries becomes one environment: their order, the top-level names two of
them both provide, and whether the set only works merged into one site-packages.

Pooled environments (the ``pooled`` composition) put each entry's ``site-packages`` on
``sys.path``. Python's import system merges namespace packages across such directories (PEP
420, and ``pkgutil``-style ``extend_path`` packages), but three things only work in one flat
directory:

* a top-level directory that several distributions write into and whose native libraries find
  each other through ``$ORIGIN`` (``cmeel.prefix/lib``, ``nvidia/*/lib``);
* a regular package (with ``__init__.py``) split across distributions, each shipping its own
  part (older ``nvidia-*`` wheels all ship ``nvidia/__init__.py``);
* code that looks for packages under ``site.getsitepackages()`` instead of ``sys.path``
  (:data:`SITE_PACKAGES_SEARCHERS`).

Those sets are built as a *link farm* (``link-farm`` composition): every entry's files
hardlinked into the environment's own ``site-packages``. Everything else stays pooled. A user
can ask for either (``--composition``; ``--link-mode pth|farm`` is its deprecated spelling).

Precedence: entries are ordered by canonical distribution name, then pool key. When two
distributions provide the same top-level module or regular package as rivals (opencv-python
and opencv-python-headless both ship ``cv2``; attr and attrs both ship ``attr``), the first in
that order wins, in both modes, and :func:`compose` reports an :class:`Overlap`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from pyrun.errors import UsageError

if TYPE_CHECKING:  # the pool (and filelock) load only when a build needs them
    from pyrun.engine.pool import PoolEntry

POOLED = "pooled"
LINK_FARM = "link-farm"

#: The values ``--composition`` accepts. ``auto`` picks ``link-farm`` when :func:`compose`
#: finds a reason to, else ``pooled``.
COMPOSITIONS = ("auto", POOLED, LINK_FARM)


#: Distributions known to search ``site.getsitepackages()`` (not ``sys.path``) for the files of
#: other distributions: with them in a set, it is built as a link farm.
SITE_PACKAGES_SEARCHERS = frozenset({"cuda-pathfinder"})

_EXTENSION = re.compile(r"\.(?:cpython-[^.]+|abi3|pypy[^.]*|graalpy[^.]*)\.(?:so|pyd)$|\.pyd$")
_SHARED_LIBRARY = re.compile(r"^lib.*\.so(?:\.\d+)*$|\.dylib$")
_MODULE_FILE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\..*)?\.(?:py|so|pyd)$")
_NAMESPACE_INIT = re.compile(rb"extend_path|declare_namespace")


@dataclass(frozen=True)
class Overlap:
    """One top-level import name that several distributions provide.

    Attributes:
        name: the import name (``cv2``).
        winner: the distribution whose copy is imported (first by name).
        others: the distributions whose copies are hidden.
    """

    name: str
    winner: str
    others: tuple[str, ...]

    def message(self) -> str:
        """The warning a user sees."""
        hidden = ", ".join(self.others)
        return (
            f"{self.name!r} is provided by {self.winner} and by {hidden}; "
            f"{self.winner}'s copy is used (first by name). Depend on only one of them."
        )


@dataclass(frozen=True)
class Composition:
    """How an environment is built from its entries.

    Attributes:
        entries: the entries in precedence order (canonical name, then key).
        mode: :data:`POOLED` or :data:`LINK_FARM` (hardlinked into one site-packages).
        reasons: why ``auto`` chose a link farm (empty when it did not, or was not asked).
        overlaps: rival top-level names, see :class:`Overlap`.
    """

    entries: tuple[PoolEntry, ...]
    mode: str
    reasons: tuple[str, ...]
    overlaps: tuple[Overlap, ...]

    def hidden_names(self) -> dict[str, frozenset[str]]:
        """``{pool key: top-level names it loses}``: what a link farm leaves out of each
        entry, so that the winner of an overlap is the same in both modes."""
        by_name = {e.distribution.name: e.key for e in self.entries}
        hidden: dict[str, set[str]] = {}
        for overlap in self.overlaps:
            for dist in overlap.others:
                hidden.setdefault(by_name[dist], set()).add(overlap.name)
        return {k: frozenset(v) for k, v in hidden.items()}


def ordered(entries: Iterable[PoolEntry]) -> list[PoolEntry]:
    """``entries`` in precedence order: canonical distribution name, then pool key."""
    return sorted(entries, key=lambda e: (canonicalize_name(e.distribution.name), e.key))


def check(composition: str) -> None:
    """Raises :class:`~pyrun.errors.UsageError` unless ``composition`` is one of
    :data:`COMPOSITIONS`."""
    if composition not in COMPOSITIONS:
        raise UsageError(f"--composition must be one of {', '.join(COMPOSITIONS)}, "
                         f"not {composition!r}")


def compose(entries: Sequence[PoolEntry], composition: str = "auto") -> Composition:
    """Decide how ``entries`` (finished pool entries) make one environment.

    Args:
        entries: the pool entries of a resolution, in any order.
        composition: one of :data:`COMPOSITIONS`.

    Raises:
        UsageError: ``composition`` is not one of :data:`COMPOSITIONS`.
    """
    check(composition)
    order = ordered(entries)
    providers: dict[str, list[tuple[PoolEntry, str]]] = {}
    for entry in order:
        for name, kind in _top_level(entry.site_packages):
            providers.setdefault(name, []).append((entry, kind))
    reasons = [
        f"{e.distribution.name} searches site.getsitepackages() for other distributions' files"
        for e in order
        if canonicalize_name(e.distribution.name) in SITE_PACKAGES_SEARCHERS
    ]
    overlaps = []
    for name, portions in sorted(providers.items()):
        if len(portions) < 2:
            continue
        dists = [p[0].distribution.name for p in portions]
        shared = ", ".join(dists)
        dirs = [p for p in portions if p[1] != "module"]
        if len(dirs) >= 2 and any(_has_shared_library(p[0].site_packages / name) for p in dirs):
            reasons.append(f"{name}/ holds native libraries and is shared by {shared}")
        elif all(kind == "namespace" for _, kind in portions):
            continue  # merged by the import system
        elif len(dirs) == len(portions) and _disjoint([e.site_packages / name for e, _ in dirs]):
            reasons.append(f"package {name} is split across {shared}")
        else:
            overlaps.append(Overlap(name, dists[0], tuple(dists[1:])))
    if composition == "auto":
        mode = LINK_FARM if reasons else POOLED
    else:
        mode, reasons = composition, []
    return Composition(tuple(order), mode, tuple(reasons), tuple(overlaps))


def _top_level(site: Path) -> list[tuple[str, str]]:
    """``(import name, kind)`` for each top-level module or package in ``site``.

    kind is ``"module"`` (a file), ``"package"`` (a directory with an ``__init__.py``) or
    ``"namespace"`` (a directory without one, or whose ``__init__.py`` only extends
    ``__path__`` the ``pkgutil`` or ``pkg_resources`` way).
    """
    found = []
    try:
        names = os.listdir(site)
    except OSError:
        return []
    for name in names:
        if name.startswith(".") or name == "__pycache__" or name.endswith((".dist-info", ".data")):
            continue
        path = site / name
        if path.is_dir():
            if not name.isidentifier():
                if "." in name or "-" in name:  # cmeel.prefix, numpy.libs: not importable
                    found.append((name, "namespace"))
                continue
            init = path / "__init__.py"
            kind = "package" if init.is_file() and not _is_namespace_init(init) else "namespace"
            found.append((name, kind))
        elif _MODULE_FILE.match(name):
            found.append((top_level_name(name), "module"))
    return found


def top_level_name(filename: str) -> str:
    """The import name a top-level file or directory of site-packages provides
    (``attr.py``, ``attr.cpython-312-x86_64-linux-gnu.so`` and ``attr/`` all give ``attr``);
    the name itself for anything else."""
    m = _MODULE_FILE.match(filename)
    return m.group(1) if m else filename


def _is_namespace_init(init: Path) -> bool:
    try:
        with open(init, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return bool(_NAMESPACE_INIT.search(head))


def _has_shared_library(top: Path) -> bool:
    for _dirpath, _dirnames, filenames in os.walk(top):
        for f in filenames:
            if _SHARED_LIBRARY.search(f) and not _EXTENSION.search(f):
                return True
    return False


def _disjoint(tops: list[Path]) -> bool:
    """Whether the directories share no file but ``__init__.py`` and bytecode."""
    seen: set[str] = set()
    for top in tops:
        files: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            rel = os.path.relpath(dirpath, top)
            files.update(os.path.join(rel, f) for f in filenames if f != "__init__.py")
        if files & seen:
            return False
        seen |= files
    return True
