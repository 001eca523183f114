"""The generic WSP server every server here is built on: a table of methods, each with the
dataclass its params are checked into (:mod:`pyrun.wsp.params`) and whether it runs on a
worker; ``initialize``'s result and the capabilities derived from the table; the lifecycle hooks
(:meth:`Server.on_initialize`, :meth:`Server.on_shutdown`); serving over stdio through
:mod:`pyrun.wsp.endpoint` (the lifecycle, errors, workers and cancellation).

pyrun's own server (:mod:`pyrun.wsp.server`) and a single-file workflow script
(:mod:`pyrun.wsp.toolkit`) are both a :class:`Server` that :meth:`~Server.include`\\ s a store
(:mod:`pyrun.wsp.store`), and may add methods of their own.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import threading
import traceback
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn, Protocol, TypeVar

from pyrun import __version__
from pyrun.wsp import PROTOCOL_VERSION
from pyrun.wsp.endpoint import Endpoint, Handler, serve
from pyrun.wsp.jsonrpc import METHOD_NOT_FOUND, RpcError
from pyrun.wsp.params import param, structure
from pyrun.wsp.typed import checker, unstructure

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Method:
    """One entry of a server's method table.

    Attributes:
        name: the method (``environment/list``, ``my/tasks``).
        handler: takes the params, returns the result (JSON values, dataclasses among them:
            :func:`~pyrun.wsp.typed.unstructure`) or raises
            :class:`~pyrun.wsp.jsonrpc.RpcError`.
        params: the dataclass the params are checked into before the handler sees them, every
            field with its element types (:func:`~pyrun.wsp.params.structure`; a -32602 naming
            the param otherwise); None: the handler gets the params object itself (``{}`` when
            absent).
        slow: whether it runs on a worker thread (docs/wsp.md, "Concurrency").
    """

    name: str
    handler: Callable[[Any], Any]
    params: type | None = None
    slow: bool = False

    def __call__(self, params: dict[str, Any]) -> Any:
        """Answer a params object: checked into :attr:`params`, handled, and the result made
        JSON values."""
        checked = params if self.params is None else structure(self.params, params)
        return unstructure(self.handler(checked))


@dataclass(frozen=True)
class ClientInfo:
    """Who connected: what ``initialize``'s params say (WSP v0.1 names two fields; a client may
    send more). A field of the wrong type counts as absent: ``initialize`` never fails on it.

    Attributes:
        name: ``client_name`` (``"pyrun"``, an editor's name), or None.
        protocol_version: ``client_protocol_version`` (``"0.1.0"``), or None.
        params: the whole params object, for fields beyond WSP v0.1.
    """

    name: str | None
    protocol_version: str | None
    params: Mapping[str, Any]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ClientInfo:
        """The client's info from ``initialize``'s params.

        >>> ClientInfo.from_params({"client_name": "ed", "client_protocol_version": 1}).name
        'ed'
        """
        name, version = params.get("client_name"), params.get("client_protocol_version")
        return cls(name if isinstance(name, str) else None,
                   version if isinstance(version, str) else None, dict(params))


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
            ``{"pyrun": {"toolkit": {"name": "pyrun", "version": ...}}}``, naming the toolkit
            that serves (under ``pyrun``, the namespace of everything pyrun adds to WSP).

    A handler registered with :meth:`method` takes the request's params (a dict; ``{}`` when
    absent; or the dataclass its parameter is annotated with, checked) and returns the result
    (JSON values or dataclasses), or raises :class:`~pyrun.wsp.jsonrpc.RpcError` (or one of its
    subclasses); any other exception is a -32603 logged to stderr, and the server goes on.

    Attributes:
        client: who connected (:class:`ClientInfo`), once ``initialize`` arrived; else None.
        table: the methods, by name.
        log: where the server logs (a text stream): stderr, or what :meth:`serve` is given
            (the in-memory client of :mod:`pyrun.wsp.testing` keeps it). Never stdout.
    """

    def __init__(self, name: str, version: str = "0.1",
                 capabilities: dict[str, Any] | None = None) -> None:
        self.name = name
        self.version = version
        self.table: dict[str, Method] = {}
        self.capabilities: dict[str, Any] = (
            {"pyrun": {"toolkit": {"name": "pyrun", "version": __version__}}}
            if capabilities is None else dict(capabilities))
        self.client: ClientInfo | None = None
        self.log: Any = sys.stderr
        self._on_initialize: list[Callable[[ClientInfo], Any]] = []
        self._on_shutdown: list[Callable[[], Any]] = []
        self._shut_down = False
        self._lock = threading.Lock()

    #: ``params[name]`` checked to be a ``kind`` (:func:`pyrun.wsp.params.param`).
    param = staticmethod(param)

    def add(self, method: Method) -> None:
        """Put ``method`` in the table, in place of one of the same name. A method that
        replaces a slow one stays slow.

        Raises:
            TypeError: its params class has a field of a type JSON cannot give
                (:func:`~pyrun.wsp.typed.checker`): found when it is added, not at a request.
        """
        if method.params is not None:
            checker(method.params)
        replaced = self.table.get(method.name)
        if replaced is not None and replaced.slow and not method.slow:
            method = Method(method.name, method.handler, method.params, slow=True)
        self.table[method.name] = method

    def method(self, name: str, *, slow: bool = False,
               params: type | None = None) -> Callable[[F], F]:
        """Register the decorated function as the handler of ``name`` (after :meth:`include`,
        in place of the store's); with ``slow``, its requests run on a worker thread (other
        requests are answered meanwhile, and ``$/cancelRequest`` can cancel it: see
        :func:`~pyrun.wsp.endpoint.current`). The handler gets the params checked into a
        dataclass when its parameter is annotated with one (or ``params`` names one), else the
        params object itself.

        Raises:
            TypeError: the dataclass has a field of a type JSON cannot give, or the annotation
                cannot be resolved (define the class at a module's top level).
        """
        def register(handler: F) -> F:
            self.add(Method(name, handler, params or declared_params(handler), slow))
            return handler

        return register

    def include(self, provider: Provider) -> None:
        """Register every method of ``provider`` (a store such as
        :class:`~pyrun.wsp.folder.VenvFolder`) and merge its capabilities (key by key, so the
        toolkit's ``pyrun.toolkit`` and a store's other ``pyrun`` keys stand side by side)."""
        for method in provider.methods():
            self.add(method)
        _merge(self.capabilities, provider.capabilities())

    def on_initialize(self, hook: Callable[[ClientInfo], Any]) -> Callable[[ClientInfo], Any]:
        """Register ``hook(client)`` (a decorator): called with the client's
        :class:`ClientInfo` when ``initialize`` arrives, before it is answered, in the order
        registered. A hook that raises :class:`~pyrun.wsp.jsonrpc.RpcError` refuses the client:
        ``initialize`` gets that error and the server stays uninitialized (any other exception
        is a -32603, logged)."""
        self._on_initialize.append(hook)
        return hook

    def on_shutdown(self, hook: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``hook()`` (a decorator) for clean-up: called once, when ``shutdown``
        arrives (before it is answered), or when the server stops without one (``exit``, the
        end of input); in the reverse order of registration. A hook's exception is logged and
        the others still run: ``shutdown`` always succeeds."""
        self._on_shutdown.append(hook)
        return hook

    def initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        """``initialize``'s result: ``{protocol_version, methods, server_name,
        server_version, capabilities}``; ``methods`` are the table's and the lifecycle's
        (WSP v0.1, docs/wsp.md). Keeps the client's info (:attr:`client`) and runs the
        :meth:`on_initialize` hooks first.

        Raises:
            RpcError: from a hook that refuses the client.
        """
        client = ClientInfo.from_params(params)
        for hook in self._on_initialize:
            hook(client)
        self.client = client
        methods = sorted({*self.table, "initialize", "shutdown", "exit"})
        return {"protocol_version": PROTOCOL_VERSION, "methods": methods,
                "server_name": self.name, "server_version": self.version,
                "capabilities": self.capabilities}

    def shutdown(self, params: Any = None) -> None:
        """Run the :meth:`on_shutdown` hooks, once (``shutdown``, or the server stopping
        without it); each one's exception is logged, never raised."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        for hook in reversed(self._on_shutdown):
            try:
                hook()
            except Exception:  # clean-up that failed: said, and shutdown goes on
                print(f"wsp: a shutdown hook failed:\n{traceback.format_exc()}", end="",
                      file=self.log, flush=True)

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
        """The :class:`~pyrun.wsp.endpoint.Endpoint` that answers with this table, its
        ``initialize`` and ``shutdown`` this server's (:meth:`initialize`, :meth:`shutdown`);
        ``log`` (default stderr) gets what goes wrong. A new session: no client yet, the
        shutdown hooks to run again."""
        if log is not None:
            self.log = log
        with self._lock:
            self.client, self._shut_down = None, False
        handlers: dict[str, Handler] = {**self.table, "initialize": self.initialize,
                                        "shutdown": self.shutdown}
        return Endpoint(handlers, log=self.log,
                        slow=[name for name, m in self.table.items() if m.slow])

    def serve(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None,
              log: Any = None) -> int:
        """Answer requests on ``stdin``/``stdout`` (default: this process's) until ``exit`` or
        the end of input, logging to ``log`` (default stderr); the :meth:`on_shutdown` hooks
        run before it returns, if ``shutdown`` did not run them. Returns the exit status
        (docs/wsp.md, "Lifecycle")."""
        try:
            return serve(self.endpoint(log), stdin or sys.stdin.buffer,
                         stdout or sys.stdout.buffer)
        finally:
            self.shutdown()

    def run(self) -> NoReturn:
        """:meth:`serve` this process's stdio, then exit with its status."""
        sys.exit(self.serve())


def declared_params(handler: Callable[..., Any]) -> type | None:
    """The dataclass ``handler``'s first parameter is annotated with, or None (no annotation,
    or one that is not a dataclass: the handler takes the params object).

    Raises:
        TypeError: the annotation is a name that cannot be resolved (a class defined inside a
            function, with ``from __future__ import annotations``): pass ``params=`` instead.
    """
    try:
        first = next(iter(inspect.signature(handler).parameters.values()), None)
    except (TypeError, ValueError):  # a builtin: no signature to read
        return None
    if first is None or first.annotation is inspect.Parameter.empty:
        return None
    annotation = first.annotation
    if isinstance(annotation, str):
        try:
            annotation = typing.get_type_hints(handler)[first.name]
        except Exception as exc:
            if re.match(r"((typing|collections\.abc|abc|t)\.)?(dict|Dict|Mapping|"
                        r"MutableMapping|Any|object)\b", annotation):
                return None  # the params object, named by a type imported for checkers only
            raise TypeError(f"the params annotation {annotation!r} of {handler.__qualname__} "
                            f"cannot be resolved ({exc}): define it at a module's top level, "
                            "or pass params= to method()") from None
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return annotation
    return None


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Merge ``new`` into ``into``, objects key by key."""
    for key, value in new.items():
        if isinstance(into.get(key), dict) and isinstance(value, Mapping):
            into[key] = dict(into[key])
            _merge(into[key], value)
        else:
            into[key] = value
