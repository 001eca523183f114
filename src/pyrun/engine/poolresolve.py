"""The resolver over the pool: which pooled distributions a script's requirements take, for
one interpreter, when the pool alone can say (:class:`PoolResolver`; the build asks it through
:mod:`pyrun.engine.poolfirst`).

Its answer is the one an index holding exactly the offered versions would give (``uv pip
compile`` against it: tested so); otherwise it gives up (:class:`GiveUp`, saying why), so that
the index decides:

* **What it offers**: the entries an index resolution under the same settings chose within
  the freshness window (:mod:`pyrun.engine.freshness`: the stamps, the context, the window),
  in the user's own pool or a trusted pool layer's (its own stamps, written by the seed:
  :func:`pyrun.store.layers.stamps`), that are whole, whose wheel's tags fit the interpreter
  (an entry built from an sdist: built for this very interpreter), whose ``Requires-Python``
  admits it. Of several artifacts of one version, the best-tagged wheel.
* **How it picks**: breadth first from the script's requirements (markers evaluated with the
  interpreter's marker environment), each package the highest offered version its requirement
  admits, then its ``Requires-Dist`` (with the extras asked of it). The set is the closure of
  what the requirements need, never more.
* **When it gives up**: a requirement with a URL or path (or an editable); one that admits
  pre-releases, or only pre-releases on offer; nothing on offer for a requirement; a second
  requirement on a package whose own highest admitted version is not the one picked (a
  conflict, or a choice an index resolver might make otherwise: whatever order a resolver
  that prefers the highest version takes the requirements in, every decision it makes is then
  this one, so it never backtracks); an offered entry without readable metadata; a marker that
  cannot be evaluated.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pyrun.engine import freshness
from pyrun.engine.resolution import LockedDistribution

if TYPE_CHECKING:
    from packaging.markers import Marker

    from pyrun.engine.interpreters import Interpreter
    from pyrun.script.metadata import Editable
    from pyrun.store.cache import Cache

#: A ``Requires-Dist`` whose whole marker is ``extra == "NAME"``: NAME.
_ONLY_EXTRA = re.compile(r""";\s*extra\s*==\s*(?:"([^"]+)"|'([^']+)')\s*$""")

#: Where PyPI's files are served from, and the index that names them (an entry from there is
#: installed again from uv's registry cache if a prune removed it meanwhile).
_PYPI_FILES, _PYPI = "https://files.pythonhosted.org/", "https://pypi.org/simple"


class GiveUp(Exception):
    """The pool cannot settle a resolution; the message says why (for ``-v``)."""


@dataclass(frozen=True)
class Offer:
    """One pool entry on offer.

    Attributes:
        key: its pool key.
        dist: the pin it holds, as a resolution names it.
        version: its version.
        rank: how well its artifact fits the interpreter (its best tag's place among the
            interpreter's tags; an sdist's build after every wheel).
        requires: its ``Requires-Dist``, as written (parsed when a resolution needs them).
        age: seconds since an index resolution last chose it.
    """

    key: str
    dist: LockedDistribution
    version: Version
    rank: int
    requires: tuple[str, ...]
    age: float


class PoolResolver:
    """The resolver over one context's fresh entries (see the module's docstring).

    Args:
        cache: the cache whose pool and stamps are read.
        context: the settings' digest.
        interpreter: the interpreter to resolve for; ``target`` its marker environment and
            wheel tags, best first.
        limit: the oldest stamp (seconds) that answers.
        layers: the trusted pool layers (:meth:`pyrun.engine.pool.Pool.layers`), whose fresh
            entries are offered too; an entry of the user's own pool wins a tie of age.
    """

    def __init__(self, cache: Cache, context: str, interpreter: Interpreter,
                 target: tuple[dict[str, str], list[str]], limit: float,
                 layers: Sequence[Path] = ()) -> None:
        from pyrun.store import layers as layer_store

        self.interpreter = interpreter
        self.environment = dict(target[0])
        self.rank = {tag: i for i, tag in enumerate(target[1])}
        self.python = interpreter.version
        self.limit = limit
        self.now = time.time()
        #: Where entries are offered from: (its stamps, its layer or None for the pool).
        self.sources: list[tuple[freshness.Stamps, Path | None]] = [
            (freshness.Stamps(cache.root, context), None)]
        self.pool = cache.pool
        for layer in layers:
            directory = layer_store.stamps(layer, context)
            if directory is not None:
                self.sources.append((freshness.Stamps(cache.root, context, directory), layer))
        self.keys: dict[str, list[tuple[str, int]]] = {}
        for i, (stamps, _) in enumerate(self.sources):
            for key in stamps.keys():
                name = key.rsplit("-", 2)[0]
                self.keys.setdefault(name, []).append((key, i))
        self._offers: dict[str, list[Offer]] = {}
        self._parsed: dict[str, Requirement] = {}

    def resolve(self, wanted: Sequence[Requirement | Editable]) -> list[Offer]:
        """The offers the requirements ``wanted`` need, one per package.

        Raises:
            GiveUp: the pool cannot settle it; the message says why.
        """
        picked: dict[str, Offer] = {}
        extras: dict[str, set[str]] = {}
        queue: deque[Requirement] = deque()
        for req in wanted:
            if not isinstance(req, Requirement):
                raise GiveUp(f"{req} is not a requirement on an index")
            if req.marker is None or self._applies(req.marker, ""):
                queue.append(req)
        while queue:
            req = queue.popleft()
            if req.url:
                raise GiveUp(f"{req} is a direct reference")
            name = canonicalize_name(req.name)
            best = self.best(name, req.specifier)
            held = picked.setdefault(name, best)
            if held is not best:
                raise GiveUp(f"{req} admits {best.dist.pin}, another requirement {held.dist.pin}")
            asked = {canonicalize_name(e) for e in req.extras} | {""}
            for extra in sorted(asked - extras.setdefault(name, set())):
                extras[name].add(extra)
                queue.extend(self.needs(held, extra))
        return list(picked.values())

    def needs(self, offer: Offer, extra: str) -> list[Requirement]:
        """What ``offer`` requires on the interpreter for ``extra`` (``""``: its own
        dependencies), in its metadata's order. A dependency whose marker is only ``extra ==
        "NAME"`` is told by its text (most of a package's extras), without parsing it.

        Raises:
            GiveUp: one cannot be parsed, or its marker cannot be evaluated.
        """
        out = []
        for text in offer.requires:
            only = _ONLY_EXTRA.search(text)
            if only is not None:
                if extra and canonicalize_name(only.group(1) or only.group(2)) == extra:
                    out.append(self._parse(text, offer))
                continue
            dep = self._parse(text, offer)
            if (dep.marker is None and extra == "") or (
                    dep.marker is not None and self._applies(dep.marker, extra)):
                out.append(dep)
        return out

    def _parse(self, text: str, offer: Offer) -> Requirement:
        """``text`` (one of ``offer``'s ``Requires-Dist``) parsed, once per resolver.

        Raises:
            GiveUp: it is not a requirement.
        """
        if text not in self._parsed:
            try:
                self._parsed[text] = Requirement(text)
            except InvalidRequirement as exc:
                raise GiveUp(f"pool entry {offer.key}: {exc}") from None
        return self._parsed[text]

    def best(self, name: str, specifier: SpecifierSet) -> Offer:
        """The highest offer of ``name`` that ``specifier`` admits (no pre-release).

        Raises:
            GiveUp: there is none, only pre-releases, or ``specifier`` admits pre-releases.
        """
        if specifier.prereleases:
            raise GiveUp(f"{name}{specifier} admits pre-releases")
        matching = [o for o in self.offers(name) if specifier.contains(o.version, True)]
        finals = [o for o in matching if not o.version.is_prerelease]
        if finals:
            return finals[0]
        raise GiveUp(f"only pre-releases of {name}{specifier} are on offer" if matching else
                     f"no {name}{specifier} on offer")

    def offers(self, name: str) -> list[Offer]:
        """The offers of ``name``, highest version first, one per version (the best-ranked
        artifact).

        Raises:
            GiveUp: an offered entry lacks readable metadata.
        """
        if name in self._offers:
            return self._offers[name]
        from pyrun.store.layers import entry

        places: dict[str, list[tuple[float, int, Path]]] = {}  # key: (age, source, entry dir)
        for key, i in self.keys.get(name, ()):
            stamps, layer = self.sources[i]
            age = stamps.age(key, self.now)
            path = self.pool / key if layer is None else entry(layer, key)
            if age is not None and age <= self.limit and path is not None:
                places.setdefault(key, []).append((age, i, path))
        found: dict[Version, Offer] = {}
        for key, where in places.items():
            for age, _, path in sorted(where):  # the freshest stamp whose entry is whole
                offer = self._offer(key, name, age, path)
                if offer is not None:
                    break
            if offer is not None and (offer.version not in found
                                      or offer.rank < found[offer.version].rank):
                found[offer.version] = offer
        self._offers[name] = [found[v] for v in sorted(found, reverse=True)]
        return self._offers[name]

    def _offer(self, key: str, name: str, age: float, path: Path) -> Offer | None:
        """The entry ``key`` (its directory: ``path``) as an offer, or None when it is not
        whole, not ``name``'s, not for this interpreter (tags, ``Requires-Python``, an sdist
        built for another).

        Raises:
            GiveUp: it is on offer and its metadata cannot be read.
        """
        from pyrun.engine.pool import entry_key
        from pyrun.store.markers import read_entry_marker

        marker = read_entry_marker(path)
        if marker is None or marker.kind not in ("wheel", "sdist") or \
                canonicalize_name(marker.name) != name:
            return None
        dist = LockedDistribution(name, marker.version, marker.kind, marker.url, marker.sha256,
                                  _table(marker.name, marker.version, marker.kind, marker.url,
                                         marker.sha256))
        if entry_key(dist, self.interpreter) != key:
            return None  # an sdist built for another interpreter, or not what it says
        rank = len(self.rank)
        if marker.kind == "wheel":
            try:
                tags = parse_wheel_filename(_filename(marker.url))[3]
            except InvalidWheelFilename:
                return None
            rank = min((self.rank[str(t)] for t in tags if str(t) in self.rank), default=-1)
            if rank < 0:
                return None
        metadata = read_metadata(path / "site-packages", name)
        if metadata is None:
            raise GiveUp(f"pool entry {key} has no metadata pyrun can read")
        python, requires = metadata
        try:
            version = Version(marker.version)
            if python and not SpecifierSet(python).contains(self.python, True):
                return None
        except (InvalidVersion, InvalidSpecifier) as exc:
            raise GiveUp(f"pool entry {key}: {exc}") from None
        return Offer(key, dist, version, rank, tuple(requires), age)

    def _applies(self, marker: Marker, extra: str) -> bool:
        """Whether ``marker`` holds on the interpreter, for ``extra`` (``""``: none).

        Raises:
            GiveUp: it cannot be evaluated.
        """
        try:
            return marker.evaluate({**self.environment, "extra": extra})
        except Exception as exc:  # noqa: BLE001 - packaging's several marker errors
            raise GiveUp(f"the marker {marker} cannot be evaluated here ({exc})") from None


def read_metadata(site: Path, name: str) -> tuple[str, list[str]] | None:
    """``(Requires-Python, [Requires-Dist, ...])`` from the ``METADATA`` of distribution
    ``name`` (canonical) in ``site`` (an entry's ``site-packages``); None when there is none
    or it cannot be read. Only the header is read (core metadata, folded lines joined)."""
    try:
        names = os.listdir(site)
    except OSError:
        return None
    for found in names:
        if found.endswith(".dist-info") and \
                canonicalize_name(found[:-len(".dist-info")].rpartition("-")[0]) == name:
            try:
                with open(site / found / "METADATA", encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError):
                return None
            return _header(text)
    return None


def _header(text: str) -> tuple[str, list[str]]:
    """``(Requires-Python, [Requires-Dist, ...])`` of a ``METADATA`` file's header."""
    python, last = "", ""
    requires: list[str] = []
    for line in text.split("\n\n", 1)[0].splitlines():  # the header only
        if not line:  # the end of the header (a line of only blanks is a folded one's part)
            break
        if line[:1] in (" ", "\t"):
            if last == "requires-dist" and requires:
                requires[-1] += " " + line.strip()
            elif last == "requires-python":
                python += " " + line.strip()
            continue
        field, _, value = line.partition(":")
        last = field.strip().lower()
        if last == "requires-dist":
            requires.append(value.strip())
        elif last == "requires-python":
            python = value.strip()
    return python.strip(), requires


def _filename(url: str) -> str:
    """The file name at the end of an artifact's URL or path."""
    from urllib.parse import unquote

    return unquote(url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])


def _table(name: str, version: str, kind: str, url: str, sha256: str) -> dict[str, Any]:
    """A ``pylock.toml`` package table for one pooled artifact, from which the installer can
    install it again (a concurrent prune removed it before the environment was composed)."""
    art: dict[str, Any] = {"url": url} if "://" in url else {"path": url}
    if sha256:
        art["hashes"] = {"sha256": sha256}
    table: dict[str, Any] = {"name": name, "version": version}
    if kind == "wheel":
        table["wheels"] = [{"name": _filename(url), **art}]
    else:
        table["sdist"] = art
    if url.startswith(_PYPI_FILES):
        table["index"] = _PYPI
    return table
