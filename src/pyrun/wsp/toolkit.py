"""A toolkit for a workflow server (WSP) in one file: register handlers, call :meth:`Server.run`.

``pyrun wsp init`` writes such a file, whose inline metadata block points at the pyrun that
wrote it (``dependencies = ["pyrun-scripts"]`` and a ``[tool.uv.sources]`` line, until
pyrun-scripts is on PyPI)::

    from dataclasses import dataclass
    from pyrun.wsp.toolkit import Server, VenvFolder, progress

    app = Server("my-workflow")
    app.include(VenvFolder("envs"))          # environment/list, create, get, delete, execute

    @dataclass
    class Hello:
        name: str
        times: int = 1

    @app.method("my/hello")
    def hello(params: Hello):                # params checked into Hello, or -32602
        return {"greeting": " ".join([f"hello {params.name}"] * params.times)}

    app.run()

The toolkit does what every such server would otherwise repeat (and get wrong): the
Content-Length framing, the lifecycle (``initialize`` first, ``shutdown``, ``exit``, with
:meth:`Server.on_initialize` and :meth:`Server.on_shutdown` hooks), ``initialize``'s result
derived from the handlers, error codes (raise :class:`EnvironmentNotFound` and the client gets
-31001 with ``data.id``; any other exception is a -32603 logged to stderr, never sent), params
checked into dataclasses with their element types (a -32602 naming the param's path) and
dataclass results, concurrency (``slow`` handlers run on bounded workers; ``$/cancelRequest``
cancels them; :func:`current` is the request being answered, in every handler), LSP's
work-done progress (:func:`progress`), streaming ``execute`` through a :class:`Store` such as
:class:`VenvFolder` (both made to be subclassed), and logging to stderr only (stdout is the
protocol). pyrun's own server (``pyrun wsp serve``) is built the same way, on the same
:class:`Server`. :mod:`pyrun.wsp.testing` drives a server in memory, for tests.

This module is the toolkit's face: the names below, defined in :mod:`pyrun.wsp.base` (the
server), :mod:`pyrun.wsp.store` and :mod:`pyrun.wsp.folder` (stores),
:mod:`pyrun.wsp.environment`, :mod:`pyrun.wsp.workdone` (progress), :mod:`pyrun.wsp.jsonrpc`
(the errors) and :mod:`pyrun.wsp.endpoint` (:func:`current`). It imports only the standard
library and pyrun's protocol layer; the engine loads only when an environment is created or a
command runs. Tutorial: docs/workflow-server.md.
"""

from __future__ import annotations

from pyrun.wsp.base import ClientInfo, Method, Server
from pyrun.wsp.endpoint import Request, current
from pyrun.wsp.environment import Environment
from pyrun.wsp.folder import VenvFolder
from pyrun.wsp.jsonrpc import (
    EnvironmentNotFound,
    ExecutionFailed,
    InvalidParams,
    NameConflict,
    PythonUnavailable,
    RequirementsFailed,
    RpcError,
)
from pyrun.wsp.store import Store
from pyrun.wsp.workdone import WorkDone, progress

__all__ = [
    "ClientInfo", "Environment", "EnvironmentNotFound", "ExecutionFailed", "InvalidParams",
    "Method", "NameConflict", "PythonUnavailable", "Request", "RequirementsFailed", "RpcError",
    "Server", "Store", "VenvFolder", "WorkDone", "current", "progress",
]
