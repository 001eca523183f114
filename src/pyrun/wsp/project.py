"""The store of pyrun's own server: a project's environments.

They are the ``.venv`` at the project's root (made with the standard library's ``venv``) and
those listed in its ``.python-envs`` (see :mod:`pyrun.script.pythonenvs`, the PEP 832 draft),
plus the activated one (``VIRTUAL_ENV``) when there is one. An environment's ``id`` is its path
as the project records it: ``.venv``, the ``.python-envs`` line, or the absolute path of the
activated environment. The default is the activated one, else the file's last line (``.venv``
being its implicit last line). docs/wsp.md, "Which environments pyrun's server sees".
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pyrun.script import pythonenvs
from pyrun.wsp.environment import Environment
from pyrun.wsp.jsonrpc import PROJECT_FILE_REFUSED, InvalidParams, NameConflict, RpcError
from pyrun.wsp.store import Store
from pyrun.wsp.venvs import make_venv

#: Where ``environment/create`` puts environments other than ``.venv``, under the project.
CREATED_DIR = ".venvs"


class ProjectStore(Store):
    """A project's ``.venv``, ``.python-envs`` and activated environment.

    Args:
        project: the project directory (holding ``pyproject.toml``, ``.venv``,
            ``.python-envs``); commands run there when a request gives no ``cwd``.
        log: where diagnostics go (stderr; never stdout, which carries the protocol).
    """

    has_default = True

    def __init__(self, project: str | os.PathLike[str], log: Any = None) -> None:
        super().__init__(project, log)
        self.project = self.home
        #: Environments this server deleted: an activated one stays in ``VIRTUAL_ENV``, and
        #: must not be listed again.
        self.deleted: set[Path] = set()

    def environments(self) -> list[Environment]:
        """The project's environments, sorted by id (each path once).

        Raises:
            RpcError: -31901 with ``data.reason = "unreadable .python-envs"`` when the
                project's ``.python-envs`` cannot be read (not UTF-8).
        """
        with python_envs_failure("unreadable .python-envs"):
            envs = pythonenvs.read(self.project)
        for problem in envs.problems:  # one bad line costs that line, not the list
            print(f"wsp: {problem}", file=self.log, flush=True)
        default = envs.default
        active = os.environ.get("VIRTUAL_ENV")
        found: dict[Path, Environment] = {}
        for line in envs.unique():
            source = ".venv" if line.number == 0 else ".python-envs"
            found[line.path] = Environment(line.text, line.path, source, False)
        default_path = default.path if default else None
        if active and Path(os.path.abspath(active)) not in self.deleted:
            active_path = Path(os.path.abspath(active))
            if active_path not in found:
                found[active_path] = Environment(str(active_path), active_path, "activated",
                                                 False)
            default_path = active_path  # an activated environment wins (PEP 832 draft)
        out = [Environment(e.id, e.prefix, e.source, e.prefix == default_path)
               for e in found.values()]
        return sorted(out, key=lambda e: e.id)

    def create(self, name: str, python_version: str | None = None,
               requirements: Sequence[str] = ()) -> Environment:
        """A venv at ``.venv`` (name ``.venv``) or ``.venvs/<name>``, appended to
        ``.python-envs``; nothing is created when that file cannot be written.

        Raises:
            NameConflict: -31002, an environment of that name is listed, or its directory
                exists.
            RpcError: -31901 when ``.python-envs`` cannot be written; as :meth:`Store.create`.
        """
        if any(e.name == name for e in self.environments()):
            raise NameConflict(name)
        venv = name == pythonenvs.VENV
        prefix = self.project / (name if venv else f"{CREATED_DIR}/{name}")
        if os.path.lexists(prefix):
            raise NameConflict(name, f"{prefix} already exists")
        if not venv:  # refused before anything is created: no venv is left without its line
            with python_envs_failure("unwritable .python-envs"):
                pythonenvs.check_writable(self.project)
        make_venv(prefix, python_version, requirements, self.log)
        if not venv:
            with python_envs_failure("unwritable .python-envs"):
                pythonenvs.append(self.project, prefix)
        return self.find(pythonenvs.record_text(self.project, prefix) if not venv else name)

    def delete(self, env: Environment) -> None:
        """Remove the environment's lines from ``.python-envs``; remove its directory only when
        it lies inside the project (a line may name an environment another tool owns), by
        real path, never through a symbolic link.

        Raises:
            InvalidParams: -32602 with ``data.reason = "activated"`` for the activated
                environment outside the project (the shell that activated it owns it).
            RpcError: -31901 when ``.python-envs`` cannot be written.
        """
        real = os.path.realpath(env.prefix)
        inside = real.startswith(os.path.realpath(self.project) + os.sep)
        if env.source == "activated" and not inside:
            raise InvalidParams(f"{env.id} is the activated environment "
                                "(VIRTUAL_ENV), outside the project: this server does not own "
                                "it; deactivate it instead", {"id": env.id, "reason": "activated"})
        with python_envs_failure("unwritable .python-envs"):
            pythonenvs.remove(self.project, env.prefix)
        if inside and not env.prefix.is_symlink() and env.prefix.is_dir():
            shutil.rmtree(env.prefix)
        self.deleted.add(env.prefix)

    def set_default(self, env: Environment) -> None:
        """Make ``env`` the default: its line goes last in ``.python-envs`` (PEP 832 draft).

        Raises:
            InvalidParams: -32602 while a ``.venv`` exists (the file's implicit last line, it
                is always the default), or for the activated environment (the default while it
                is activated).
            RpcError: -31901 when ``.python-envs`` cannot be written.
        """
        venv = self.project / pythonenvs.VENV
        if env.prefix != venv and (venv / "pyvenv.cfg").is_file():
            raise InvalidParams(f"{pythonenvs.VENV} is the default while it exists (the "
                                "implicit last line of .python-envs, PEP 832); remove or rename "
                                "it first", {"id": env.id, "reason": ".venv is the default"})
        if env.source == "activated":
            raise InvalidParams(f"{env.id} is the activated environment: it is the default "
                                "while it is activated", {"id": env.id, "reason": "activated"})
        with python_envs_failure("unwritable .python-envs"):
            pythonenvs.append(self.project, env.prefix)


@contextlib.contextmanager
def python_envs_failure(reason: str) -> Iterator[None]:
    """Turn a :class:`~pyrun.script.pythonenvs.PythonEnvsError` (the project's ``.python-envs``
    cannot be read or written, or is refused) into the -31901 a client gets, with ``data.reason``
    (``unreadable .python-envs`` or ``unwritable .python-envs``) and ``data.path``."""
    try:
        yield
    except pythonenvs.PythonEnvsError as exc:
        raise RpcError(PROJECT_FILE_REFUSED, str(exc), {"reason": reason, "path": exc.path}) \
            from None
