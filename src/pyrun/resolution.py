"""Resolution: requirements -> exact pins with artifact hashes, for one interpreter.

uv resolves (``uv pip compile --format pylock.toml``) for the chosen interpreter and platform; the
answer is a PEP 751 lock (``pylock.toml``) in which each package names the one artifact uv would
install here, with its URL and sha256. That artifact's hash is the distribution's pool key.
Where uv cannot be had, pip resolves instead (``pip install --dry-run --report``, whose report
names the same artifact URL and sha256), so both installers share pool entries.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pyrun.interpreters import Interpreter
from pyrun.piptool import Pip
from pyrun.uvtool import Uv

#: The installers pyrun drives: uv, or pip as the fallback.
Installer = Union[Uv, Pip]

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


@dataclass(frozen=True)
class Resolution:
    """The resolved set for a list of requirements on one interpreter.

    Attributes:
        requirements: the requirement strings as given to the resolver.
        distributions: the pins, sorted by name.
    """

    requirements: tuple[str, ...]
    distributions: tuple[LockedDistribution, ...]


def resolve(
    requirements: Sequence[Requirement], interpreter: Interpreter, uv: Installer
) -> Resolution:
    """Resolve ``requirements`` for ``interpreter`` with uv (or pip, when that is what
    ``uv`` is).

    Raises:
        ResolutionError: no set of versions satisfies the requirements.
        NetworkError: the index is unreachable (or ``--offline`` lacks what is needed).
        CommandError: the installer failed otherwise.
    """
    lines = tuple(str(r) for r in requirements)
    if not lines:
        return Resolution((), ())
    if isinstance(uv, Pip):
        return Resolution(lines, _resolve_with_pip(lines, interpreter, uv))
    proc = uv.run(
        [
            "pip",
            "compile",
            "-",
            "--format",
            "pylock.toml",
            "--no-header",
            "--python",
            interpreter.executable,
        ],
        input="\n".join(lines) + "\n",
        what=f"resolving {', '.join(lines)}",
    )
    return Resolution(lines, parse_pylock(proc.stdout))


def _resolve_with_pip(
    lines: Sequence[str], interpreter: Interpreter, pip: Pip
) -> tuple[LockedDistribution, ...]:
    with tempfile.TemporaryDirectory(prefix="pyrun-pip-") as tmp:
        req, report = Path(tmp, "requirements.txt"), Path(tmp, "report.json")
        req.write_text("\n".join(lines) + "\n", encoding="utf-8")
        pip.run(
            ["--python", interpreter.executable, "install", "--dry-run", "--ignore-installed",
             "--report", str(report), "-r", str(req)],
            what=f"resolving {', '.join(lines)}",
        )
        return parse_pip_report(report.read_text(encoding="utf-8"))


def parse_pip_report(text: str) -> tuple[LockedDistribution, ...]:
    """Read the ``install`` items of a pip installation report (pip's ``--report`` format,
    version 1): name, version and the artifact's URL, kind and sha256."""
    found = []
    for item in json.loads(text).get("install", []):
        meta, info = item.get("metadata", {}), item.get("download_info", {})
        url = str(info.get("url", ""))
        if "dir_info" in info:
            kind = "directory"
        elif "vcs_info" in info:
            kind = "vcs"
        else:
            kind = "wheel" if url.split("?")[0].split("#")[0].endswith(".whl") else "sdist"
        hashes = info.get("archive_info", {}).get("hashes") or {}
        found.append(LockedDistribution(
            name=canonicalize_name(str(meta.get("name", ""))), version=str(meta.get("version", "")),
            kind=kind, url=url, sha256=str(hashes.get("sha256", "")), package={},
        ))
    return tuple(sorted(found, key=lambda d: d.name))


def pip_requirements(distributions: Sequence[LockedDistribution]) -> str:
    """A requirements file that makes pip install exactly ``distributions``' artifacts, with
    ``--hash`` on every line when every artifact has a sha256 (pip's hash-checking mode)."""
    hashed = all(d.sha256 for d in distributions)
    lines = []
    for d in distributions:
        line = f"{d.name} @ {d.url}" if d.kind in ("wheel", "sdist") and d.url else (
            f"{d.name}=={d.version}")
        lines.append(f"{line} --hash=sha256:{d.sha256}" if hashed else line)
    return "\n".join(lines) + "\n"


def parse_pylock(text: str) -> tuple[LockedDistribution, ...]:
    """Read the packages of a ``pylock.toml`` (PEP 751) that uv wrote for one interpreter.

    Where a package lists several wheels, the first is taken (uv lists only the one it would
    install when it resolves for a single interpreter).
    """
    data = tomllib.loads(text)
    found = []
    for pkg in data.get("packages", []):
        name = canonicalize_name(pkg["name"])
        version = str(pkg.get("version", ""))
        base = {k: v for k, v in pkg.items() if k in ("name", "version", "index", "marker")}
        if pkg.get("wheels"):
            kind, art = "wheel", pkg["wheels"][0]
            package = {**base, "wheels": [art]}
        else:
            kind = next((k for k in ("sdist", "archive", "vcs", "directory") if k in pkg), "")
            if not kind:
                raise ValueError(f"pylock.toml package {name} has no artifact")
            art = pkg[kind]
            package = {**base, kind: art}
        url = str(art.get("url") or art.get("path") or "")
        if kind == "vcs":
            url = f"{url}@{art.get('commit-id', '')}"
        sha256 = str(art.get("hashes", {}).get("sha256", ""))
        found.append(LockedDistribution(name, version, kind, url, sha256, package))
    return tuple(sorted(found, key=lambda d: d.name))


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
