"""A toolkit for a workflow server (WSP) in one file: register handlers, call :meth:`Server.run`.

A single-file script declares pyrun's distribution in its inline metadata (``dependencies =
["pyrun-scripts"]``) and needs nothing else::

    from pyrun.wsp.toolkit import Server, VenvFolder

    app = Server("my-workflow")
    app.include(VenvFolder("envs"))          # environment/list, create, get, delete, execute

    @app.method("my/hello")
    def hello(params):
        return {"greeting": f"hello {app.param(params, 'name', str)}"}

    app.run()

The toolkit does what every such server would otherwise repeat (and get wrong): the
Content-Length framing, the lifecycle (``initialize`` first, ``shutdown``, ``exit``),
``initialize``'s result derived from the handlers, error codes (raise :class:`EnvironmentNotFound`
and the client gets -31001 with ``data.id``; any other exception is a -32603 logged to stderr),
params validation (:meth:`Server.param`), concurrency (``slow`` handlers run on bounded workers;
``$/cancelRequest`` cancels them), streaming ``execute`` and ``$/progress`` through
:class:`VenvFolder`, and logging to stderr only (stdout is the protocol).

It imports only the standard library and pyrun's protocol layer (:mod:`pyrun.wsp.framing`,
:mod:`pyrun.wsp.jsonrpc`, :mod:`pyrun.wsp.server`); the engine loads only when an environment is
created from the pool. Tutorial: docs/workflow-server.md.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeVar

from pyrun import __version__
from pyrun.wsp import PROTOCOL_VERSION
from pyrun.wsp.jsonrpc import (
    ENVIRONMENT_NAME_CONFLICT,
    ENVIRONMENT_NOT_FOUND,
    EXECUTION_FAILED,
    INVALID_PARAMS,
    PYTHON_VERSION_UNAVAILABLE,
    Endpoint,
    RpcError,
    current,
    serve,
)
from pyrun.wsp.server import SLOW_METHODS, ProjectEnv, ProjectServer, create_reporting

__all__ = [
    "EnvironmentNotFound", "ExecutionFailed", "InvalidParams", "NameConflict",
    "PythonUnavailable", "RpcError", "Server", "VenvFolder", "current",
]

Handler = Callable[[dict[str, Any]], Any]
F = TypeVar("F", bound=Handler)


class EnvironmentNotFound(RpcError):
    """-31001: no environment ``env_id`` (``data: {id}``)."""

    def __init__(self, env_id: str) -> None:
        super().__init__(ENVIRONMENT_NOT_FOUND, f"no environment {env_id!r}", {"id": env_id})


class NameConflict(RpcError):
    """-31002: an environment named ``name`` exists (``data: {name}``)."""

    def __init__(self, name: str) -> None:
        super().__init__(ENVIRONMENT_NAME_CONFLICT, f"an environment named {name!r} exists",
                         {"name": name})


class PythonUnavailable(RpcError):
    """-31003: no installed Python matches ``version`` (``data: {python_version}``)."""

    def __init__(self, version: str, message: str = "") -> None:
        super().__init__(PYTHON_VERSION_UNAVAILABLE,
                         message or f"no installed Python matches {version!r}",
                         {"python_version": version})


class ExecutionFailed(RpcError):
    """-31004: a command could not be run; ``reason`` goes to ``data.reason``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(EXECUTION_FAILED, message, {"reason": reason})


class InvalidParams(RpcError):
    """-32602: the params are not what the method takes."""

    def __init__(self, message: str) -> None:
        super().__init__(INVALID_PARAMS, message)


_MISSING: Any = object()


class Server:
    """A WSP server made of handlers.

    Args:
        name: the ``server_name`` ``initialize`` answers with.
        version: its ``server_version``.

    A handler takes the request's params (a dict; ``{}`` when absent) and returns the result
    (any JSON value), or raises :class:`RpcError` (or one of the classes above).
    """

    def __init__(self, name: str, version: str = "0.1") -> None:
        self.name = name
        self.version = version
        self.handlers: dict[str, Handler] = {}
        self.slow: set[str] = set()
        self.capabilities: dict[str, Any] = {}

    def method(self, name: str, *, slow: bool = False) -> Callable[[F], F]:
        """Register the decorated function as the handler of ``name``; with ``slow``, its
        requests run on a worker thread (other requests are answered meanwhile, and
        ``$/cancelRequest`` can cancel it: see :func:`current`)."""
        def register(handler: F) -> F:
            self.handlers[name] = handler
            if slow:
                self.slow.add(name)
            return handler

        return register

    def include(self, provider: Any) -> None:
        """Register every method of ``provider`` (an object with ``methods()`` returning
        ``{name: handler}``, such as :class:`VenvFolder`) and its ``capabilities``; its
        ``environment/create`` and ``execute`` run on workers."""
        for name, handler in provider.methods().items():
            if name != "initialize":
                self.method(name, slow=name in SLOW_METHODS)(handler)
        self.capabilities.update(getattr(provider, "capabilities", {}) or {})

    @staticmethod
    def param(params: dict[str, Any], name: str, kind: type | tuple[type, ...],
              default: Any = _MISSING) -> Any:
        """``params[name]`` when it is a ``kind`` (``None`` counts as absent), else
        ``default``.

        Raises:
            InvalidParams: it is missing (with no default) or of another type.
        """
        value = params.get(name)
        if value is None:
            if default is _MISSING:
                raise InvalidParams(f"params.{name} is required")
            return default
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise InvalidParams(f"params.{name} must be a {names}")
        return value

    def initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        """``initialize``'s result: the protocol version, the methods registered (and the
        lifecycle's), the server's name and version, and ``capabilities``."""
        methods = sorted({*self.handlers, "initialize", "shutdown", "exit"})
        return {"protocol_version": PROTOCOL_VERSION, "methods": methods,
                "server_name": self.name, "server_version": self.version,
                "capabilities": {"toolkit": {"name": "pyrun", "version": __version__},
                                 **self.capabilities}}

    def serve(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
        """Answer requests on ``stdin``/``stdout`` (default: this process's) until ``exit`` or
        the end of input; returns the exit status."""
        endpoint = Endpoint({**self.handlers, "initialize": self.initialize}, log=sys.stderr,
                            slow=self.slow)
        return serve(endpoint, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)

    def run(self) -> NoReturn:
        """:meth:`serve` this process's stdio, then exit with its status."""
        sys.exit(self.serve())


class VenvFolder(ProjectServer):
    """Environments that are the venvs in one folder (``FOLDER/NAME``, made with the standard
    library's ``venv``; ``create`` composes ``requirements`` into one from pyrun's pool), served
    with the same ``get``, ``execute`` (streaming, cancellable) and errors as pyrun's own
    server.

    Args:
        folder: the folder (relative paths are relative to the working directory).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(os.path.abspath(folder))
        super().__init__(self.folder.parent)

    def methods(self) -> dict[str, Any]:
        """The built-in server's methods but ``initialize`` (the toolkit's :class:`Server`
        answers it) and the default environment's (a folder has none): the core environment
        methods, and ``pyrun/process/write``/``kill`` for streaming."""
        return {m: h for m, h in super().methods().items() if m not in (
            "initialize", "pyrun/default_environment", "pyrun/set_default_environment")}

    @property
    def capabilities(self) -> dict[str, Any]:
        """What a client may use beyond the core protocol (as ``capabilities.pyrun``)."""
        return {"pyrun": {"create_params": ["requirements", "work_done_token"],
                          "execute_params": ["stdin", "timeout", "stream"],
                          "methods": ["pyrun/process/write", "pyrun/process/kill"],
                          "notifications": ["pyrun/output", "$/progress"]}}

    def environments(self) -> list[ProjectEnv]:
        """The venvs in the folder, by name (a directory holding ``pyvenv.cfg``)."""
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return []
        return [ProjectEnv(n, self.folder / n, "folder", False) for n in names
                if (self.folder / n / "pyvenv.cfg").is_file()]

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """``environment/create`` ``{name, python_version?, requirements?}``: a venv at
        ``FOLDER/NAME`` with ``requirements`` composed from the pool."""
        name = Server.param(params, "name", str)
        if not name or name in (".", "..") or any(c in name for c in "/\\\n\r\0"):
            raise InvalidParams("params.name must be a plain directory name")
        version = Server.param(params, "python_version", str, None)
        requirements = Server.param(params, "requirements", list, [])
        if not all(isinstance(r, str) for r in requirements):
            raise InvalidParams("params.requirements must be a list of strings")
        prefix = self.folder / name
        if os.path.lexists(prefix):
            raise NameConflict(name)
        create_reporting(prefix, version, requirements, params, sys.stderr)
        return self.find({"id": name}).details()

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        """``environment/delete`` ``{id}``: remove the venv's directory."""
        env = self.find(params)
        if not env.prefix.is_symlink():
            shutil.rmtree(env.prefix)
        return {"id": env.id}

    def find(self, params: dict[str, Any]) -> ProjectEnv:
        """The environment ``params.id`` names (:class:`EnvironmentNotFound` otherwise)."""
        env_id = Server.param(params, "id", str)
        for env in self.environments():
            if env.id == env_id:
                return env
        raise EnvironmentNotFound(env_id)
