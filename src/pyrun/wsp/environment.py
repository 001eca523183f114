"""An environment as a WSP server describes it: the ``environment/list`` item and the
``environment/get`` details, read from the environment's directory without a subprocess
(docs/wsp.md, "Methods"; pyrun's optional fields are listed in :data:`EXTRA_FIELDS`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: pyrun's optional fields on an environment (``capabilities.pyrun.environment_fields``).
EXTRA_FIELDS = ("prefix", "kind", "source", "is_default", "error")


@dataclass(frozen=True)
class Environment:
    """One environment a store serves.

    Attributes:
        id: its id, as the store names it (``.venv``, a ``.python-envs`` line, a folder's
            entry).
        prefix: its directory.
        source: where the store found it (``.venv``, ``.python-envs``, ``activated``,
            ``folder``): pyrun's ``source`` field.
        is_default: whether it is the store's default.
    """

    id: str
    prefix: Path
    source: str
    is_default: bool

    @property
    def name(self) -> str:
        """The directory's name (``.venv`` for the default venv)."""
        return self.prefix.name

    @property
    def interpreter(self) -> Path:
        """Its interpreter (``bin/python``)."""
        return self.prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def config(self) -> dict[str, str]:
        """Its ``pyvenv.cfg`` as a dict; empty when there is none."""
        try:
            text = (self.prefix / "pyvenv.cfg").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return {}
        out = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                out[key.strip()] = value.strip()
        return out

    def problem(self) -> str | None:
        """Why it cannot be used, or None (pyrun's ``error`` field): missing, not a venv, no
        interpreter, or its directory, ``bin`` or interpreter one another user could have
        written (:func:`pyrun.script.userconfig.foreign`): its ``python`` would run as you."""
        if not self.prefix.exists():
            return "the directory does not exist"
        if not (self.prefix / "pyvenv.cfg").is_file():
            return "not a virtual environment (no pyvenv.cfg): not supported by this server"
        if not self.interpreter.exists():
            return f"its interpreter {self.interpreter} is missing"
        from pyrun.script.userconfig import foreign

        for path in (self.prefix, self.prefix / "bin", self.interpreter):
            why = foreign(path)  # the link itself: where it points is the base interpreter
            if why:
                return (f"{path}: {why}; pyrun does not run what another user could have "
                        "written")
        return None

    def summary(self) -> dict[str, Any]:
        """The ``environment/list`` item: ``id``, ``name``, ``python_version`` and pyrun's
        optional fields."""
        cfg = self.config()
        version = cfg.get("version_info") or cfg.get("version") or ""
        item: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "python_version": ".".join(version.split(".")[:3]),
            "prefix": str(self.prefix),
            "kind": "pyrun" if "pyrun" in cfg else "venv",
            "source": self.source,
            "is_default": self.is_default,
        }
        problem = self.problem()
        if problem:
            item["error"] = problem
        return item

    def details(self) -> dict[str, Any]:
        """The ``environment/get`` result."""
        out = self.summary()
        out["interpreter_path"] = str(self.interpreter)
        out["installed_packages"] = installed_packages(self.prefix)
        out["extra"] = {}
        return out


def installed_packages(prefix: Path) -> list[dict[str, str]]:
    """``[{name, version}]`` of the distributions an environment sees: its site-packages, and
    the pool directories its ``.pth`` files name. Read from ``.dist-info`` metadata, no
    subprocess."""
    sites = sorted(prefix.glob("lib/python*/site-packages")) + sorted(
        prefix.glob("Lib/site-packages")
    )
    dirs: list[Path] = []
    for site in sites:
        dirs.append(site)
        for pth in sorted(site.glob("*.pth")):
            try:
                lines = pth.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            dirs += [Path(ln.strip()) for ln in lines
                     if ln.strip() and not ln.startswith(("#", "import"))]
    found: dict[str, dict[str, str]] = {}
    for d in dirs:
        for info in sorted(d.glob("*.dist-info")):
            meta = _metadata_fields(info / "METADATA")
            name = meta.get("name") or info.name.rsplit("-", 1)[0]
            version = meta.get("version") or info.name[: -len(".dist-info")].rsplit("-", 1)[-1]
            found.setdefault(name.lower(), {"name": name, "version": version})
    return [found[k] for k in sorted(found)]


def _metadata_fields(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if sep and key.lower() in ("name", "version"):
                    out[key.lower()] = value.strip()
    except OSError:
        pass
    return out
