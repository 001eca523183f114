"""Which WSP server a project uses: its ``[workflow] wsp`` declaration, a user setting, or
pyrun's built-in server; how to launch it; and whether what it would run or read is the user's
(:func:`check_ownership`, :func:`foreign`). Whether the user trusts it: :mod:`pyrun.wsp.trust`.

Declarations (in ``pyproject.toml``)::

    [workflow]
    wsp = {script = "./tools/workflow.py"}            # run through pyrun (inline metadata)
    wsp = {requires = ["hatch"], cmd = ["hatch", "wsp"]}  # requires from the pool, then cmd
    wsp = {cmd = ["my-wsp-server"]}                   # a program already on PATH

The project is found by walking up from the working directory to the first ``pyproject.toml``
with a ``[workflow] wsp`` table, stopping at a repository root (a directory with ``.git``) or
the home directory. The user setting lives in ``$PYRUN_CONFIG_DIR/config.toml`` (default: the
user config directory, ``~/.config/pyrun`` on Linux)::

    [workflow]
    wsp = {script = "~/bin/my-workflow.py"}   # where a project declares none
    override = true                            # ... and where one does

A project's declaration is code from the repository: the first time, the user is asked (or
passes ``--trust``), and the answer is remembered in ``trusted.json`` beside the setting
(:mod:`pyrun.wsp.trust`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrun.errors import ExitCode, ProjectFileError, PyrunError
from pyrun.script.userconfig import check_config_file, config_file, foreign


class DeclarationError(ProjectFileError):
    """A ``[workflow] wsp`` value (or the user setting) pyrun cannot use; ``path`` is the file
    and the message names it."""


class NotTrusted(PyrunError):
    """The user has not (yet) agreed to run a project-declared server."""

    exit_code = ExitCode.NOT_TRUSTED


@dataclass(frozen=True)
class Declaration:
    """A WSP server to run.

    Attributes:
        kind: ``script``, ``cmd`` or ``builtin``.
        project: the project directory the server works on.
        origin: the file that declared it (``pyproject.toml`` or the user setting), or None for
            the built-in server.
        script: for ``script``: the script's path.
        cmd: for ``cmd``: the command line.
        requires: for ``cmd``: requirements to install (through the pool) first.
        from_project: whether the project (not the user) declared it: it needs trust.
    """

    kind: str
    project: Path
    origin: Path | None = None
    script: Path | None = None
    cmd: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    from_project: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        """One line for a person, control characters escaped (:func:`pyrun.progress.escaped`):
        a declaration cannot print over the question it is asked about."""
        from pyrun.progress import escaped

        if self.kind == "script":
            text = f"the script {self.script} (run by pyrun with its inline dependencies)"
        elif self.kind == "cmd":
            req = f" with {', '.join(self.requires)} installed" if self.requires else ""
            text = f"the command {' '.join(self.cmd)}{req}"
        else:
            text = "pyrun's built-in server"
        return escaped(text, keep="")


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(str(path), f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise DeclarationError(str(path), f"{path}: cannot read it: {exc.strerror}") from None


def _workflow(path: Path) -> dict[str, Any]:
    """The ``[workflow]`` table of the TOML file at ``path`` (empty when absent).

    Raises:
        DeclarationError: the file is not TOML, or ``workflow`` is not a table.
    """
    table = _load_toml(path).get("workflow", {})
    if not isinstance(table, dict):
        raise DeclarationError(str(path), f"{path}: `workflow` must be a table")
    return table


def find_project(start: Path) -> tuple[Path, Path | None, dict[str, Any] | None]:
    """``(project directory, pyproject.toml, its [workflow] wsp value)`` for ``start``.

    Without a declaration, the project is the nearest directory with a ``pyproject.toml``
    (or ``start`` itself), and the last two are None.
    """
    start = Path(os.path.abspath(start))
    home = Path.home()
    nearest: Path | None = None
    for d in (start, *start.parents):
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            nearest = nearest or d
            wsp = _workflow(pyproject).get("wsp")
            if wsp is not None:
                return d, pyproject, wsp
        if (d / ".git").exists() or d == home:
            break
    return nearest or start, None, None


def _parse(value: Any, origin: Path, project: Path, from_project: bool) -> Declaration:
    if not isinstance(value, dict):
        raise DeclarationError(str(origin), f"{origin}: [workflow] wsp must be a table such as "
                               '{script = "./wf.py"} or {cmd = ["tool", "wsp"]}')
    base = origin.parent
    if "script" in value:
        script = value["script"]
        if not isinstance(script, str):
            raise DeclarationError(str(origin), f"{origin}: [workflow] wsp.script must be a path "
                                   "string")
        path = Path(os.path.expanduser(script))
        path = path if path.is_absolute() else base / path
        return Declaration("script", project, origin, script=Path(os.path.normpath(path)),
                           from_project=from_project, raw=value)
    if "cmd" in value:
        cmd, requires = value["cmd"], value.get("requires", [])
        if isinstance(requires, str):
            requires = [requires]
        if (not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd)
                or not isinstance(requires, list)
                or not all(isinstance(r, str) for r in requires)):
            raise DeclarationError(str(origin), f"{origin}: [workflow] wsp.cmd must be a list of "
                                   "strings and wsp.requires a string or a list of strings")
        return Declaration("cmd", project, origin, cmd=tuple(cmd), requires=tuple(requires),
                           from_project=from_project, raw=value)
    raise DeclarationError(str(origin), f"{origin}: [workflow] wsp needs a `script` or a `cmd`")


def resolve(start: Path) -> Declaration:
    """The server for the project around ``start`` (see the module docstring for the order).

    Raises:
        DeclarationError: a declaration or the user setting is malformed.
        NotTrusted: the project directory belongs to another user and the user setting does
            not list it in ``safe-directories``.
    """
    project, pyproject, value = find_project(start)
    setting, setting_file = _setting()
    if value is not None or _has_environments(project):
        check_ownership(project, setting, setting_file)
    user_value = setting.get("wsp")
    if user_value is not None and (setting.get("override") is True or value is None):
        return _parse(user_value, setting_file, project, from_project=False)
    if value is not None and pyproject is not None:
        return _parse(value, pyproject, project, from_project=True)
    return Declaration("builtin", project)


# -- ownership -------------------------------------------------------------------------------


def _setting() -> tuple[dict[str, Any], Path]:
    """The user setting's ``[workflow]`` table (empty when there is none) and its file.

    Raises:
        DeclarationError: the file, or the directory it is in, is one another user could have
            written (:func:`foreign`): its ``wsp`` setting would run as you in every project.
    """
    setting_file = config_file()
    if not setting_file.is_file():
        return {}, setting_file
    check_config_file(setting_file, DeclarationError)
    return _workflow(setting_file), setting_file


def _has_environments(project: Path) -> bool:
    """Whether ``project`` has something ``pyrun wsp`` would run from: a ``.venv`` or a
    ``.python-envs`` file (without either, there is nothing to adopt: ``/tmp`` is fine)."""
    return (project / ".venv").exists() or (project / ".python-envs").exists()


def check_project(project: Path) -> None:
    """:func:`check_ownership` for a project given directly (``pyrun wsp serve --project``),
    when it has environments to serve.

    Raises:
        NotTrusted, DeclarationError: see :func:`check_ownership`.
    """
    if _has_environments(project):
        setting, setting_file = _setting()
        check_ownership(project, setting, setting_file)


def check_ownership(project: Path, setting: dict[str, Any], setting_file: Path) -> None:
    """Adopt ``project`` only when the current user owns it, as git does with
    ``safe.directory``: another user's directory could hold a ``.venv`` whose
    ``python`` ``pyrun wsp run`` would run as you. The user setting's
    ``[workflow] safe-directories = ["/path", ...]`` (or ``["*"]``) lifts this.

    Raises:
        NotTrusted: the project is another user's and not listed.
        DeclarationError: ``safe-directories`` is not a list of strings.
    """
    safe = setting.get("safe-directories", [])
    if not isinstance(safe, list) or not all(isinstance(s, str) for s in safe):
        raise DeclarationError(str(setting_file), f"{setting_file}: [workflow] "
                               "safe-directories must be a list of paths")
    listed = {os.path.realpath(os.path.expanduser(s)) for s in safe if s != "*"}
    if "*" in safe or os.path.realpath(project) in listed:
        return
    try:
        owner = os.stat(project).st_uid
    except OSError as exc:
        raise NotTrusted(f"{project}: it cannot be read ({exc.strerror})") from None
    me = os.getuid() if hasattr(os, "getuid") else owner  # no user ids on Windows
    why = f"it belongs to another user (uid {owner})" if owner != me else ""
    if why:
        raise NotTrusted(f"{project}: {why}, so pyrun wsp does not adopt it as your project; "
                         f"if you trust it, add it to safe-directories under [workflow] in "
                         f"{setting_file}")
    for inside in _ADOPTED:  # yours, in a directory others may write to (a sticky /tmp)
        path = project / inside
        why = foreign(path) or ""
        if why:
            raise NotTrusted(f"{path}: {why}, so pyrun wsp does not run or read it; remove "
                             "it, or, if you trust it, add the project to safe-directories "
                             f"under [workflow] in {setting_file}")


#: What ``pyrun wsp`` runs or reads in a project it adopts: each must be the user's (or
#: root's) and not writable by others (:func:`foreign`), as the project itself must be.
_ADOPTED = (".venv", ".venv/bin", ".venv/bin/python", ".venv/pyvenv.cfg", ".python-envs")
