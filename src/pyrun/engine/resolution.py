"""Resolution: the pinned set of distributions for one interpreter, and its lock format.

A resolution names, for each package, the one artifact to install on the chosen interpreter,
with its URL and sha256; that artifact's hash is the distribution's pool key. Installers
(:mod:`pyrun.engine.installers`) produce it: uv as a PEP 751 lock (``pylock.toml``, read by
:func:`parse_pylock`), pip as an installation report; both give the same artifacts, so both
share pool entries. :func:`write_pylock` writes the lock uv installs from.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

from pyrun.errors import LockError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class LockedDistribution:
    """One pinned distribution of a resolution.

    Attributes:
        name: canonical name (PEP 503 normalised).
        version: the pinned version string, or ``""`` for a direct reference without one.
        kind: the artifact's kind: ``wheel``, ``sdist``, ``archive``, ``vcs`` or ``directory``.
        url: the artifact's URL (or path for ``directory``).
        sha256: the artifact's sha256 in hex, or ``""`` when the source gives none.
        package: this package's ``[[packages]]`` table (PEP 751), restricted to that artifact.
    """

    name: str
    version: str
    kind: str
    url: str
    sha256: str
    package: Mapping[str, Any]

    @property
    def pin(self) -> str:
        """``name==version`` for messages, or ``name @ url`` when there is no version (a local
        directory)."""
        return f"{self.name}=={self.version}" if self.version else f"{self.name} @ {self.url}"


@dataclass(frozen=True)
class Resolution:
    """The resolved set for a list of requirements on one interpreter.

    Attributes:
        requirements: the requirement strings as given to the resolver.
        distributions: the pins, sorted by name.
    """

    requirements: tuple[str, ...]
    distributions: tuple[LockedDistribution, ...]


def parse_pylock(text: str, source: str = "pylock.toml") -> tuple[LockedDistribution, ...]:
    """Read the packages of a ``pylock.toml`` (PEP 751) that uv wrote for one interpreter.

    Where a package lists several wheels, the first is taken (uv lists only the one it would
    install when it resolves for a single interpreter). Sorted by name.

    Raises:
        LockError: ``text`` is not TOML, or a package lacks a name or an artifact; the message
            names ``source``.
    """
    try:
        data = tomllib.loads(text)
        found = [_locked(pkg) for pkg in data.get("packages", [])]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise LockError(source, f"{source}: not a lock pyrun can read ({exc!r})") from None
    return tuple(sorted(found, key=lambda d: d.name))


def select_pylock(
    text: str, source: str, markers: Mapping[str, str], tags: Sequence[str], base: str = "."
) -> tuple[LockedDistribution, ...]:
    """Choose, from a ``pylock.toml`` that may cover many interpreters (a universal lock, as
    ``uv export --format pylock.toml`` writes), the packages and the one artifact of each to
    install on the interpreter whose marker environment is ``markers`` and whose wheel tags,
    best first, are ``tags``. Sorted by name.

    The choice is ``packaging.pylock.Pylock.select`` (PEP 751, "Installation": markers and
    ``requires-python`` pick packages; the best-tagged wheel, else the sdist, is the artifact).
    An artifact's relative ``path`` (a local wheel, archive or directory) is made absolute
    from ``base``: the lock file's directory (PEP 751), or the directory uv wrote it from.

    Raises:
        LockError: ``text`` is not a valid lock, or it has nothing for this interpreter (no
            wheel for its tags and no sdist, an unmet ``requires-python``); names ``source``.
    """
    from packaging.pylock import Pylock, PylockSelectError, PylockValidationError
    from packaging.tags import Tag

    try:
        data = tomllib.loads(text)
        lock = Pylock.from_dict(data)
        chosen = list(lock.select(environment=markers,  # type: ignore[arg-type]
                                  tags=[Tag(*t.split("-", 2)) for t in tags]))
    except tomllib.TOMLDecodeError as exc:
        raise LockError(source, f"{source}: not TOML ({exc})") from None
    except (PylockValidationError, ValueError, TypeError) as exc:
        raise LockError(source, f"{source}: not a valid PEP 751 lock ({exc})") from None
    except PylockSelectError as exc:
        raise LockError(source, f"{source}: nothing in it can be installed on Python "
                                f"{markers.get('python_full_version', '?')} here ({exc})") from None
    raw = {id(p): r for p, r in zip(lock.packages, data.get("packages", []))}
    found = []
    for package, artifact in chosen:
        table = raw[id(package)]
        kind = _kind_of(package, artifact)
        if kind == "wheel":
            wheels = [w for w in table["wheels"] if _same_wheel(w, artifact)]
            table = {k: v for k, v in table.items() if k not in ("sdist", "wheels")}
            table["wheels"] = wheels[:1]
        else:
            table = {k: v for k, v in table.items() if k not in ("sdist", "wheels")
                     or k == kind}
        found.append(_locked(_absolute(table, kind, base)))
    return tuple(sorted(found, key=lambda d: d.name))


def _absolute(table: dict[str, Any], kind: str, base: str) -> dict[str, Any]:
    """``table`` with its artifact's relative ``path`` joined to ``base``."""
    import os

    def fix(art: Any) -> Any:
        if isinstance(art, dict) and isinstance(art.get("path"), str):
            return {**art, "path": os.path.normpath(os.path.join(base, art["path"]))}
        return art

    if kind == "wheel":
        return {**table, "wheels": [fix(w) for w in table["wheels"]]}
    return {**table, kind: fix(table[kind])}


def _kind_of(package: Any, artifact: Any) -> str:
    for kind in ("vcs", "directory", "archive", "sdist"):
        if getattr(package, kind) is artifact:
            return kind
    return "wheel"


def _same_wheel(table: Mapping[str, Any], wheel: Any) -> bool:
    name = table.get("name") or str(table.get("url") or table.get("path") or "").rsplit("/", 1)[-1]
    return bool(name == wheel.filename)


def _locked(pkg: Mapping[str, Any]) -> LockedDistribution:
    name = canonicalize_name(pkg["name"])
    version = str(pkg.get("version", ""))
    base = {k: v for k, v in pkg.items() if k in ("name", "version", "index", "marker")}
    if pkg.get("wheels"):
        kind, art = "wheel", pkg["wheels"][0]
        package = {**base, "wheels": [art]}
    else:
        kind = next((k for k in ("sdist", "archive", "vcs", "directory") if k in pkg), "")
        if not kind:
            raise ValueError(f"package {name} has no artifact")
        art = pkg[kind]
        package = {**base, kind: art}
    url = str(art.get("url") or art.get("path") or "")
    if kind == "vcs":
        url = f"{url}@{art.get('commit-id', '')}"
    sha256 = str(art.get("hashes", {}).get("sha256", ""))
    return LockedDistribution(name, version, kind, url, sha256, package)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string with ASCII escapes is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items() if _keep(v)]
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _keep(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str, list, dict))  # drops upload-time datetimes


def write_pylock(distributions: Sequence[LockedDistribution]) -> str:
    """A ``pylock.toml`` (PEP 751) holding exactly ``distributions`` and their one artifact."""
    out = ['lock-version = "1.0"', 'created-by = "pyrun"', ""]
    for dist in distributions:
        out.append("[[packages]]")
        out += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in dist.package.items() if _keep(v)]
        out.append("")
    return "\n".join(out)
