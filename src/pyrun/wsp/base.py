"""The generic WSP server every server here is built on: a table of methods, each with the
request class its params are checked into (:mod:`pyrun.wsp.params`) and whether it runs on a
worker; ``initialize``'s result and the capabilities derived from the table; serving over stdio
through :mod:`pyrun.wsp.endpoint` (the lifecycle, errors, workers and cancellation).

pyrun's own server (:mod:`pyrun.wsp.server`) and a single-file workflow script
(:mod:`pyrun.wsp.toolkit`) are both a :class:`Server` that :meth:`~Server.include`\\ s a store
(:mod:`pyrun.wsp.store`), and may add methods of their own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn, Protocol, TypeVar

from pyrun import __version__
from pyrun.wsp import PROTOCOL_VERSION
from pyrun.wsp.endpoint import Endpoint, Handler, serve
from pyrun.wsp.jsonrpc import METHOD_NOT_FOUND, RpcError
from pyrun.wsp.params import param, structure

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Method:
    """One entry of a server's method table.

    Attributes:
        name: the method (``environment/list``, ``my/tasks``).
        handler: takes the params, returns the result (any JSON value) or raises
            :class:`~pyrun.wsp.jsonrpc.RpcError`.
        params: the request class of :mod:`pyrun.wsp.params` the params are checked into
            before the handler sees them (a -32602 otherwise); None: the handler gets the params
            object itself (``{}`` when absent).
        slow: whether it runs on a worker thread (docs/wsp.md, "Concurrency").
    """

    name: str
    handler: Callable[[Any], Any]
    params: type | None = None
    slow: bool = False

    def __call__(self, params: dict[str, Any]) -> Any:
        """Answer a params object: checked into :attr:`params`, then handled."""
        return self.handler(params if self.params is None else structure(self.params, params))


class Provider(Protocol):
    """What :meth:`Server.include` takes: a store (:class:`pyrun.wsp.store.Store`), or any
    object offering methods and what they add to ``initialize``'s ``capabilities``."""

    def methods(self) -> Iterable[Method]:
        """The methods it answers."""

    def capabilities(self) -> dict[str, Any]:
        """``{key: value}`` merged into ``capabilities`` (pyrun's are under ``"pyrun"``)."""


class Server:
    """A WSP server made of methods.

    Args:
        name: the ``server_name`` ``initialize`` answers with.
        version: its ``server_version``.
        capabilities: ``initialize``'s ``capabilities`` before any :meth:`include`; by default
            ``{"toolkit": {"name": "pyrun", "version": ...}}``, naming the toolkit that serves.

    A handler registered with :meth:`method` takes the request's params (a dict; ``{}`` when
    absent) and returns the result (any JSON value), or raises
    :class:`~pyrun.wsp.jsonrpc.RpcError` (or one of its subclasses); any other exception is a
    -32603 logged to stderr, and the server goes on.
    """

    def __init__(self, name: str, version: str = "0.1",
                 capabilities: dict[str, Any] | None = None) -> None:
        self.name = name
        self.version = version
        self.table: dict[str, Method] = {}
        self.capabilities: dict[str, Any] = (
            {"toolkit": {"name": "pyrun", "version": __version__}} if capabilities is None
            else dict(capabilities))

    #: ``params[name]`` checked to be a ``kind`` (:func:`pyrun.wsp.params.param`).
    param = staticmethod(param)

    def add(self, method: Method) -> None:
        """Put ``method`` in the table, in place of one of the same name. A method that
        replaces a slow one stays slow."""
        replaced = self.table.get(method.name)
        if replaced is not None and replaced.slow and not method.slow:
            method = Method(method.name, method.handler, method.params, slow=True)
        self.table[method.name] = method

    def method(self, name: str, *, slow: bool = False,
               params: type | None = None) -> Callable[[F], F]:
        """Register the decorated function as the handler of ``name`` (after :meth:`include`,
        in place of the store's); with ``slow``, its requests run on a worker thread (other
        requests are answered meanwhile, and ``$/cancelRequest`` can cancel it: see
        :func:`~pyrun.wsp.endpoint.current`); with ``params`` (a request class of
        :mod:`pyrun.wsp.params`), it gets the params checked into one."""
        def register(handler: F) -> F:
            self.add(Method(name, handler, params, slow))
            return handler

        return register

    def include(self, provider: Provider) -> None:
        """Register every method of ``provider`` (a store such as
        :class:`~pyrun.wsp.folder.VenvFolder`) and merge its capabilities."""
        for method in provider.methods():
            self.add(method)
        self.capabilities.update(provider.capabilities())

    def initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        """``initialize``'s result: ``{protocol_version, methods, server_name,
        server_version, capabilities}``; ``methods`` are the table's and the lifecycle's
        (WSP v0.1, docs/wsp.md). The client's params are not needed."""
        methods = sorted({*self.table, "initialize", "shutdown", "exit"})
        return {"protocol_version": PROTOCOL_VERSION, "methods": methods,
                "server_name": self.name, "server_version": self.version,
                "capabilities": self.capabilities}

    def call(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Answer one request in this thread, as the wire would (params checked, then the
        handler), without the lifecycle: for tests and in-process callers.

        Raises:
            RpcError: the error a client would get (-32601 for a method not in the table).
        """
        method = self.table.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {name}")
        return method(params or {})

    def endpoint(self, log: Any = None) -> Endpoint:
        """The :class:`~pyrun.wsp.endpoint.Endpoint` that answers with this table."""
        handlers: dict[str, Handler] = {**self.table, "initialize": self.initialize}
        return Endpoint(handlers, log=log if log is not None else sys.stderr,
                        slow=[name for name, m in self.table.items() if m.slow])

    def serve(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
        """Answer requests on ``stdin``/``stdout`` (default: this process's) until ``exit`` or
        the end of input; returns the exit status (docs/wsp.md, "Lifecycle")."""
        return serve(self.endpoint(), stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)

    def run(self) -> NoReturn:
        """:meth:`serve` this process's stdio, then exit with its status."""
        sys.exit(self.serve())
