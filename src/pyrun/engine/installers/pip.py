"""pip, the stand-in installer where uv cannot be had.

pip runs from pyrun's own interpreter and works on the target interpreter through its
``--python`` option (pip 22.3 or newer). A resolution is ``pip install --dry-run --report``
(the report names each artifact's URL and sha256, as uv's ``pylock.toml`` does, so both
installers give the same pool keys), and an install is ``pip install --no-deps --prefix`` of
exactly those artifacts, hash-checked.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.engine.installers.base import Installer, Runner
from pyrun.errors import (
    CommandError,
    LockError,
    NetworkError,
    ToolNotFoundError,
)
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.engine.interpreters import Interpreter
    from pyrun.engine.resolution import LockedDistribution, Resolution
    from pyrun.script.metadata import Editable
    from pyrun.script.uvsettings import UvSettings

#: The oldest pip with ``--python`` (working on another interpreter) and ``--report``.
MINIMUM_PIP = (22, 3)


class Pip(Installer):
    """pip on pyrun's own interpreter.

    Args:
        reporter, offline, runner: see :class:`~pyrun.engine.installers.base.Installer`; pip has
            no cache-only mode, so with ``offline`` every call raises
            :class:`~pyrun.errors.NetworkError` saying so.
        command: the command that runs pip (default: ``python -m pip`` on pyrun's
            interpreter, asked once for its version).

    Raises:
        ToolNotFoundError: pyrun's interpreter has no pip, or one older than 22.3.
    """

    name = "pip"
    #: pip says why a request failed only in its retry warnings (pyrun keeps one retry);
    #: without them an unreachable index reads like an unknown package.
    UNREACHABLE = ("Temporary failure in name resolution", "Name or service not known",
                   "Network is unreachable", "Connection refused",
                   "Failed to establish a new connection")
    UNSATISFIABLE = ("No matching distribution found", "ResolutionImpossible")
    SERVER_ERROR = re.compile(r"too many (5\d\d) error responses|HTTP error (5\d\d)|"
                              r"(5\d\d) Server Error")

    def __init__(self, reporter: Reporter, *, offline: bool = False, cache_mode: str = "",
                 runner: Runner | None = None, settings: UvSettings | None = None,
                 command: Sequence[str] | None = None) -> None:
        super().__init__(reporter, offline=offline, runner=runner, settings=settings,
                         cache_mode=cache_mode)
        self.command = list(command) if command is not None else self._find()

    def _find(self) -> list[str]:
        command = [sys.executable, "-m", "pip"]
        try:
            out = self.runner([*command, "--version"], self.reporter,
                              what="asking pip its version").stdout
        except CommandError:
            raise ToolNotFoundError(
                "neither uv nor pip is available to resolve and install this script's "
                "requirements; install uv with `pip install uv` (or pip with `python -m ensurepip`)"
            ) from None
        words = out.split()
        parts = words[1].split(".") if len(words) > 1 else []
        version = tuple(int(p) for p in parts[:2] if p.isdigit())
        if version < MINIMUM_PIP:
            raise ToolNotFoundError(
                f"uv is not available and pip {words[1] if len(words) > 1 else '?'} is too old "
                "to stand in for it (22.3 or newer is needed); install uv with `pip install uv`"
            )
        return command

    def resolve(
        self, requirements: Sequence[Requirement | Editable], interpreter: Interpreter,
        prefer: Sequence[tuple[str, str]] = (),
    ) -> Resolution:
        """``pip install --dry-run --ignore-installed --report``; see :meth:`Installer.resolve`
        (pip has no preferences: ``prefer`` is not used, every package may move).

        Raises:
            ToolNotFoundError: the script has ``[tool.uv]`` settings, which only uv honours.
        """
        from pyrun.engine.resolution import Resolution
        from pyrun.script.uvsettings import names

        if self.settings:
            raise ToolNotFoundError(
                f"[tool.uv] and index options ({', '.join(names(self.settings))}) can be "
                "honoured only by uv, and uv was not found; install it with `pip install uv`")

        lines = tuple(str(r) for r in requirements)
        if not lines:
            return Resolution((), ())
        with tempfile.TemporaryDirectory(prefix="pyrun-pip-") as tmp:
            req, report = Path(tmp, "requirements.txt"), Path(tmp, "report.json")
            req.write_text("\n".join(lines) + "\n", encoding="utf-8")
            self._run(
                ["--python", interpreter.executable, "install", "--dry-run", "--ignore-installed",
                 "--report", str(report), "-r", str(req)],
                what=f"resolving {', '.join(lines)}",
            )
            return Resolution(lines, parse_pip_report(report.read_text(encoding="utf-8")))

    def install(
        self,
        distributions: Sequence[LockedDistribution],
        prefix: Path,
        interpreter: Interpreter,
        workdir: Path,
    ) -> None:
        """``pip install --no-deps --ignore-installed --prefix`` of exactly ``distributions``
        (:func:`pip_requirements`); see :meth:`Installer.install`."""
        req = workdir / "requirements.txt"
        req.write_text(pip_requirements(distributions), "utf-8")
        names = ", ".join(f"{d.name}=={d.version}" for d in distributions)
        self._run(  # --ignore-installed: the target's own site-packages do not count
            ["--python", interpreter.executable, "install", "--no-deps", "--ignore-installed",
             "--no-compile", "--no-warn-script-location", "--prefix", str(prefix), "-r", str(req)],
            what=f"installing {names}",
        )

    def _run(self, args: Sequence[str], *, what: str) -> str:
        if self.offline:
            raise NetworkError(f"{what}: --offline needs uv (pip cannot work from its cache "
                               "only); install uv with `pip install uv`")
        argv = [*self.command, "--disable-pip-version-check", "--no-input", *args]
        if self.cache_mode:  # pip has no revalidation switch: --refresh reads no cache either
            argv.insert(len(self.command), "--no-cache-dir")
        if self.reporter.verbosity <= 0:
            argv.append("--quiet")
        environ = {"PIP_NO_PYTHON_VERSION_WARNING": "1",
               "PIP_RETRIES": os.environ.get("PIP_RETRIES", "1")}
        try:
            return self.runner(argv, self.reporter, environ=environ, what=what).stdout
        except CommandError as exc:
            raise self.classify(exc, what) from None


def parse_pip_report(text: str) -> tuple[LockedDistribution, ...]:
    """Read the ``install`` items of a pip installation report (pip's ``--report`` format,
    version 1): name, version and the artifact's URL, kind and sha256. Sorted by name.

    Raises:
        LockError: the text is not a report of that shape.
    """
    from packaging.utils import canonicalize_name

    from pyrun.engine.resolution import LockedDistribution

    try:
        items = json.loads(text).get("install", [])
        found = []
        for item in items:
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
                name=canonicalize_name(str(meta.get("name", ""))),
                version=str(meta.get("version", "")),
                kind=kind, url=url, sha256=str(hashes.get("sha256", "")), package={},
            ))
    except (ValueError, AttributeError, TypeError) as exc:
        raise LockError("pip's installation report",
                        f"pip's installation report cannot be read: {exc}") from None
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
