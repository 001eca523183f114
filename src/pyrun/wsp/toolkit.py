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
``$/cancelRequest`` cancels them), streaming ``execute`` and ``$/progress`` through a
:class:`Store` such as :class:`VenvFolder`, and logging to stderr only (stdout is the protocol).
pyrun's own server (``pyrun wsp serve``) is built the same way, on the same :class:`Server`.

This module is the toolkit's face: the names below, defined in :mod:`pyrun.wsp.base` (the
server), :mod:`pyrun.wsp.store` and :mod:`pyrun.wsp.folder` (stores), :mod:`pyrun.wsp.jsonrpc`
(the errors) and :mod:`pyrun.wsp.endpoint` (:func:`current`). It imports only the standard
library and pyrun's protocol layer; the engine loads only when an environment is created or a
command runs. Tutorial: docs/workflow-server.md.
"""

from __future__ import annotations

from pyrun.wsp.base import Method, Server
from pyrun.wsp.endpoint import Request, current
from pyrun.wsp.environment import Environment
from pyrun.wsp.folder import VenvFolder
from pyrun.wsp.jsonrpc import (
    EnvironmentNotFound,
    ExecutionFailed,
    InvalidParams,
    NameConflict,
    PythonUnavailable,
    RpcError,
)
from pyrun.wsp.store import Store

__all__ = [
    "Environment", "EnvironmentNotFound", "ExecutionFailed", "InvalidParams", "Method",
    "NameConflict", "PythonUnavailable", "Request", "RpcError", "Server", "Store", "VenvFolder",
    "current",
]
