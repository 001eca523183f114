"""Where a server's environments live, behind one interface, and the WSP methods every store
answers the same way.

A :class:`Store` says which environments there are, makes one and removes one; the methods
(docs/wsp.md, "Methods"; pyrun's additions under "What pyrun adds") are written once, here, on
top of that: ``environment/list``, ``get``, ``create``, ``delete`` and ``execute`` (streaming
and cancellable), ``pyrun/process/write`` and ``kill``, and, for a store with a default,
``pyrun/default_environment`` and ``pyrun/set_default_environment``. Two stores:
:class:`pyrun.wsp.project.ProjectStore` (pyrun's own server: a project's ``.venv`` and
``.python-envs``) and :class:`pyrun.wsp.folder.VenvFolder` (the toolkit's venvs in a folder).
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pyrun.wsp.base import Method
from pyrun.wsp.endpoint import MAX_PENDING, WORKERS
from pyrun.wsp.environment import EXTRA_FIELDS, Environment
from pyrun.wsp.jsonrpc import ENVIRONMENT_NOT_FOUND, EnvironmentNotFound, RpcError
from pyrun.wsp.params import (
    CreateParams,
    ExecuteParams,
    IdParams,
    NoParams,
    TokenParams,
    WriteParams,
)
from pyrun.wsp.processes import Processes, execute


class Store(ABC):
    """The environments one server serves: the toolkit's extension point (docs/workflow-server.md,
    "Serve environments from elsewhere").

    A subclass gives :meth:`environments`, :meth:`create` and :meth:`delete` (and, with
    :attr:`has_default`, :meth:`set_default`); it may override :meth:`summary` and
    :meth:`details` to change what a client is told about an environment. :meth:`methods`
    makes them WSP's methods, with params checked before the subclass is called, and
    :meth:`find` looks one up by id.

    Args:
        home: where ``environment/execute`` runs a command whose request has no ``cwd`` (a
            project's directory).
        log: where diagnostics go (default stderr; never stdout, which carries the protocol).
    """

    #: Whether one environment is the default (``Environment.is_default``): the store then
    #: answers ``pyrun/default_environment`` and ``pyrun/set_default_environment``.
    has_default: ClassVar[bool] = False

    def __init__(self, home: str | os.PathLike[str], log: Any = None) -> None:
        self.home = Path(os.path.abspath(home))
        self.log = log if log is not None else sys.stderr
        #: The streaming ``execute`` runs, by token.
        self.processes = Processes()

    # -- what a store is ------------------------------------------------------------------
    @abstractmethod
    def environments(self) -> list[Environment]:
        """The environments, sorted by id, each once.

        Raises:
            RpcError: when they cannot be read (the whole answer would be wrong).
        """

    @abstractmethod
    def create(self, name: str, python_version: str | None = None,
               requirements: Sequence[str] = ()) -> Environment:
        """Make the environment ``name`` (a plain directory name) with ``python_version``
        (anything ``pyrun --python`` takes; None: pyrun's default) and ``requirements``
        composed from pyrun's pool (:func:`pyrun.wsp.venvs.make_venv`); returns it.

        Raises:
            NameConflict: -31002, the name is taken.
            PythonUnavailable, RequirementsFailed, InvalidParams: from
                :func:`~pyrun.wsp.venvs.make_venv`.
        """

    @abstractmethod
    def delete(self, env: Environment) -> None:
        """Remove ``env`` (one of :meth:`environments`).

        Raises:
            RpcError: when the store refuses (-32602 with ``data.reason``) or cannot.
        """

    def set_default(self, env: Environment) -> None:
        """Make ``env`` the default (stores with :attr:`has_default` only).

        Raises:
            RpcError: -32602 when the store refuses (``data.reason`` says why).
        """
        raise NotImplementedError

    def find(self, env_id: str) -> Environment:
        """The environment whose id is ``env_id``.

        Raises:
            EnvironmentNotFound: -31001, there is none.
        """
        for env in self.environments():
            if env.id == env_id:
                return env
        raise EnvironmentNotFound(env_id)

    def summary(self, env: Environment) -> dict[str, Any]:
        """What ``environment/list`` says of ``env``: :meth:`Environment.summary` (``id``,
        ``name``, ``python_version`` and pyrun's optional fields). Override to add fields."""
        return env.summary()

    def details(self, env: Environment) -> dict[str, Any]:
        """What ``environment/get`` (and ``create``, and the default-environment methods)
        answer for ``env``: :meth:`Environment.details`. Override to add fields (``extra``
        is WSP's place for a server's own)."""
        return env.details()

    # -- what a server makes of it --------------------------------------------------------
    def methods(self) -> list[Method]:
        """The WSP methods over this store, each with its request class; ``create`` and
        ``execute`` run on workers."""
        table = [
            Method("environment/list", self._list, NoParams),
            Method("environment/get", self._get, IdParams),
            Method("environment/create", self._create, CreateParams, slow=True),
            Method("environment/delete", self._delete, IdParams),
            Method("environment/execute", self._execute, ExecuteParams, slow=True),
            Method("pyrun/process/write", self._write, WriteParams),
            Method("pyrun/process/kill", self._kill, TokenParams),
        ]
        if self.has_default:
            table += [Method("pyrun/default_environment", self._default, NoParams),
                      Method("pyrun/set_default_environment", self._set_default, IdParams)]
        return table

    def capabilities(self) -> dict[str, Any]:
        """What a client may use beyond WSP v0.1, as ``capabilities.pyrun`` (docs/wsp.md,
        "What pyrun adds"): derived from :meth:`methods`, declared nowhere else."""
        return {"pyrun": {
            "environment_fields": list(EXTRA_FIELDS),
            "create_params": ["requirements", "work_done_token"],
            "execute_params": ["stdin", "timeout", "stream"],
            "methods": [m.name for m in self.methods() if m.name.startswith("pyrun/")],
            "notifications": ["pyrun/output", "$/progress"],
            "concurrent": {"workers": WORKERS, "max_pending": MAX_PENDING,
                           "cancel": "$/cancelRequest"},
        }}

    def _list(self, request: NoParams) -> list[dict[str, Any]]:
        """``environment/list``: each :meth:`Environment.summary`, sorted by id."""
        return [self.summary(env) for env in self.environments()]

    def _get(self, request: IdParams) -> dict[str, Any]:
        """``environment/get``: :meth:`details`."""
        return self.details(self.find(request.id))

    def _create(self, request: CreateParams) -> dict[str, Any]:
        """``environment/create``: :meth:`create`, then the new environment's details."""
        return self.details(self.create(request.name, request.python_version,
                                        list(request.requirements)))

    def _delete(self, request: IdParams) -> dict[str, Any]:
        """``environment/delete``: ``{id}`` once :meth:`delete` is done."""
        env = self.find(request.id)
        self.delete(env)
        return {"id": env.id}

    def _execute(self, request: ExecuteParams) -> dict[str, Any]:
        """``environment/execute``: :func:`pyrun.wsp.processes.execute` in the environment."""
        return execute(self.find(request.id), request, self.home, self.processes)

    def _write(self, request: WriteParams) -> None:
        """``pyrun/process/write``: :meth:`Processes.write`."""
        self.processes.write(request.token, request.data.encode("utf-8"), request.eof)

    def _kill(self, request: TokenParams) -> None:
        """``pyrun/process/kill``: :meth:`Processes.kill`."""
        self.processes.kill(request.token)

    def _default(self, request: NoParams) -> dict[str, Any]:
        """``pyrun/default_environment``: the default's details; -31001 with ``data.reason``
        ``none`` when there is none, ``unsupported`` when it cannot be used (never a guess)."""
        for env in self.environments():
            if env.is_default:
                problem = env.problem()
                if problem:
                    raise RpcError(ENVIRONMENT_NOT_FOUND, f"the default environment {env.id!r} "
                                   f"cannot be used: {problem}",
                                   {"id": env.id, "reason": "unsupported"})
                return self.details(env)
        raise RpcError(ENVIRONMENT_NOT_FOUND, "the project has no default environment",
                       {"id": None, "reason": "none"})

    def _set_default(self, request: IdParams) -> dict[str, Any]:
        """``pyrun/set_default_environment``: :meth:`set_default`, then the new default's
        details."""
        self.set_default(self.find(request.id))
        return self._default(NoParams())
