"""The server side of JSON-RPC over a stream: the LSP-style lifecycle, dispatch to a table of
handlers, and the workers that answer slow requests while others are answered at once.

:class:`Endpoint` turns one received frame body into what to send; it knows nothing of streams.
:func:`serve` runs an endpoint over a pair of byte streams (docs/wsp.md, "The wire").

Lifecycle (docs/wsp.md, "Lifecycle"): before ``initialize`` every request gets -32002; a second
``initialize`` gets -32600; after ``shutdown`` everything but ``exit`` gets -32600; ``exit``
ends the process with status 0 after ``shutdown``, else 1. Notifications never get a response.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Collection
from typing import Any, BinaryIO

from pyrun.wsp.framing import FramingError, read_frame, write_frame
from pyrun.wsp.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_NOT_INITIALIZED,
    RpcError,
    cancelled,
    parse,
    response,
)

#: Requests answered at once on worker threads, and waiting for one at most.
WORKERS = 4
MAX_PENDING = 32

#: A handler: the params object (``{}`` when absent) to the result, or :class:`RpcError`.
Handler = Callable[[dict[str, Any]], Any]


class Request:
    """One request being answered on a worker (:attr:`Endpoint.slow` methods): its id, whether
    the client cancelled it (``$/cancelRequest``), and a way to send the client notifications
    tied to it (streamed output, ``$/progress``). A handler gets it with :func:`current`.

    Attributes:
        id: the request's id.
        method: its method.
        cancelled: set once the client cancelled it.
        work_done_token: the ``work_done_token`` param (a string or integer; else None): the
            client wants LSP's work-done ``$/progress`` for this request.
    """

    def __init__(self, id_: Any, method: str, send: Callable[[Any], None],
                 work_done_token: str | int | None = None) -> None:
        self.id = id_
        self.method = method
        self.work_done_token = work_done_token
        self.cancelled = threading.Event()
        self.state = "pending"  # then "running", then "done" (under the endpoint's lock)
        self._send = send
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def notify(self, method: str, params: Any) -> None:
        """Send the client a notification (never after this request's response)."""
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the request is cancelled (at once if it already was): to kill
        the process a request runs, say."""
        with self._lock:
            if not self.cancelled.is_set():
                self._on_cancel.append(callback)
                return
        callback()

    def cancel(self) -> None:
        """Mark the request cancelled and run its callbacks."""
        with self._lock:
            self.cancelled.set()
            callbacks, self._on_cancel = self._on_cancel, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a process that is already gone, say
                pass


_local = threading.local()


def current() -> Request | None:
    """The :class:`Request` the calling handler is answering, when it runs on a worker."""
    return getattr(_local, "request", None)


class Endpoint:
    """The server side of the protocol: lifecycle state, dispatch, errors.

    Args:
        methods: ``{method name: handler}``; a handler takes the params object (``{}`` when
            absent) and returns the result, or raises :class:`RpcError`. ``initialize``,
            ``shutdown`` and ``exit`` are handled here; an ``initialize`` handler, if given,
            supplies the result of ``initialize``.
        log: where unexpected handler failures are described (default stderr).

    Attributes:
        state: ``"new"``, ``"running"`` or ``"shutdown"``.
        exit_code: set when ``exit`` arrives: 0 after ``shutdown``, else 1.
    """

    def __init__(self, methods: dict[str, Handler], log: Any = None,
                 slow: Collection[str] = ()) -> None:
        self.methods = methods
        self.log = log if log is not None else sys.stderr
        self.state = "new"
        self.exit_code: int | None = None
        self.slow = frozenset(slow)
        self._lock = threading.Lock()
        self._requests: dict[Any, Request] = {}
        self._slots = threading.BoundedSemaphore(WORKERS)
        self._workers: list[threading.Thread] = []

    def receive(self, body: bytes, send: Callable[[Any], None]) -> None:
        """Answer one frame body through ``send`` (called from several threads: it must write
        whole frames atomically). A single request for a :attr:`slow` method runs on a worker
        thread (at most :data:`WORKERS` at once, :data:`MAX_PENDING` waiting) and is answered
        when done, in any order; everything else, batches included, is answered here, so an
        ``environment/list`` is never stuck behind a ``create``. ``$/cancelRequest`` cancels a
        waiting request (answered -32800 at once) or a running one (its :meth:`Request.cancel`
        callbacks run, and it is answered -32800 when its handler returns)."""
        try:
            message = parse(body)
        except RpcError as exc:
            send(response(None, error=exc))
            return
        if isinstance(message, dict) and message.get("method") == "$/cancelRequest":
            params = message.get("params")
            self.cancel(params.get("id") if isinstance(params, dict) else None, send)
            return
        if (isinstance(message, dict) and message.get("method") in self.slow
                and "id" in message and self.state == "running"
                and isinstance(message.get("id"), (str, int))
                and not isinstance(message.get("id"), bool)):
            self._spawn(message, send)
            return
        reply = self._answer(message)
        if reply is not None:
            send(reply)

    def _spawn(self, message: dict[str, Any], send: Callable[[Any], None]) -> None:
        id_ = message["id"]
        params = message.get("params")
        token = params.get("work_done_token") if isinstance(params, dict) else None
        if not isinstance(token, (str, int)) or isinstance(token, bool):
            token = None  # no progress, as LSP says of a token it cannot use
        request = Request(id_, str(message["method"]), send, token)
        with self._lock:
            busy = len(self._requests) >= MAX_PENDING or id_ in self._requests
            if not busy:
                self._requests[id_] = request
        if busy:
            send(response(id_, error=RpcError(INTERNAL_ERROR, "too many requests at once, or "
                                               "this id is in use; try again when one is "
                                               "answered", {"reason": "busy",
                                                            "limit": MAX_PENDING})))
            return

        def work() -> None:
            with self._slots:
                with self._lock:
                    if request.state != "pending":  # cancelled (and answered) while waiting
                        self._requests.pop(id_, None)
                        return
                    request.state = "running"
                _local.request = request
                try:
                    reply = self._one(message)
                finally:
                    _local.request = None
            with self._lock:
                request.state = "done"
                self._requests.pop(id_, None)
            if request.cancelled.is_set():
                reply = response(id_, error=cancelled(id_))
            if reply is not None:
                send(reply)

        worker = threading.Thread(target=work, name=f"wsp-{request.method}", daemon=True)
        with self._lock:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def drain(self) -> None:
        """Wait until every request taken so far is answered (the end of input: a client that
        closed its side, as ``printf ... | pyrun wsp serve`` does, still reads the answers)."""
        while True:
            with self._lock:
                running = [w for w in self._workers if w.is_alive()]
            if not running:
                return
            for worker in running:
                worker.join()

    def cancel(self, id_: Any, send: Callable[[Any], None] | None = None) -> bool:
        """Cancel request ``id_`` (``$/cancelRequest``): a waiting one is answered -32800 now
        (through ``send``), a running one is told (:meth:`Request.cancel`). Returns whether
        there was such a request. Unknown ids are ignored, as LSP says."""
        with self._lock:
            request = self._requests.get(id_)
            if request is None:
                return False
            waiting = request.state == "pending"
            if waiting:  # its thread, once it gets a worker's slot, just ends
                request.state = "done"
                del self._requests[id_]
        request.cancel()
        if waiting and send is not None:
            send(response(id_, error=cancelled(id_)))
        return True

    def cancel_all(self) -> None:
        """Cancel every waiting and running request (``exit``, or the end of input)."""
        with self._lock:
            ids = list(self._requests)
        for id_ in ids:
            self.cancel(id_)

    def handle(self, body: bytes) -> Any:
        """The response to one frame body: a response object, a list (for a batch), or None
        when nothing is to be sent (notifications only)."""
        try:
            message = parse(body)
        except RpcError as exc:
            return response(None, error=exc)
        return self._answer(message)

    def _answer(self, message: Any) -> Any:
        """The response to one parsed message: one request, or a batch."""
        if isinstance(message, list):
            if not message:
                return response(None, error=RpcError(INVALID_REQUEST, "empty batch"))
            out = [r for r in (self._one(m) for m in message) if r is not None]
            return out or None
        return self._one(message)

    def _one(self, message: Any) -> dict[str, Any] | None:
        if not isinstance(message, dict):
            return response(None, error=RpcError(INVALID_REQUEST, "a request must be an object"))
        has_id = "id" in message
        id_ = message.get("id")
        if has_id and not (id_ is None or isinstance(id_, (str, int))) or isinstance(id_, bool):
            return response(None, error=RpcError(INVALID_REQUEST, "id must be a string or integer"))
        method = message.get("method")
        if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return response(id_, error=RpcError(INVALID_REQUEST, 'not a JSON-RPC 2.0 request'))
        params = message.get("params", {})
        if params == []:  # by position with nothing in it: the same as no params
            params = {}
        if not isinstance(params, (dict, list)):  # JSON-RPC 2.0, 4.2: structured, or absent
            return response(id_, error=RpcError(INVALID_REQUEST, "params must be an object or "
                                                 "an array")) if has_id else None
        if not has_id and method.startswith("$/") and method not in self.methods:
            return None  # LSP: a server may ignore the $/ notifications it does not know
        try:
            result = self._dispatch(method, params)
        except RpcError as exc:
            return response(id_, error=exc) if has_id else None
        except Exception as exc:  # a bug in a handler: answer, keep serving
            print(f"wsp: internal error in {method}: {exc!r}", file=self.log, flush=True)
            err = RpcError(INTERNAL_ERROR, f"internal error in {method}", {"reason": repr(exc)})
            return response(id_, error=err) if has_id else None
        return response(id_, result=result) if has_id else None

    def _dispatch(self, method: str, params: Any) -> Any:
        if method == "exit":
            self.exit_code = 0 if self.state == "shutdown" else 1
            return None
        if self.state == "new" and method != "initialize":
            raise RpcError(SERVER_NOT_INITIALIZED, "the server is not initialized yet")
        if method == "initialize":
            if self.state != "new":
                raise RpcError(INVALID_REQUEST, "initialize was already received")
        elif self.state == "shutdown":
            raise RpcError(INVALID_REQUEST, "the server is shut down; only exit is accepted")
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "params must be an object (named), not positional")
        if method == "shutdown":
            self.state = "shutdown"
            return None
        handler = self.methods.get(method)
        if handler is None:
            if method == "initialize":
                self.state = "running"
                return {"protocol_version": "0.1.0", "methods": sorted(self.methods)}
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")
        result = handler(params)
        if method == "initialize":
            self.state = "running"
        return result


def serve(endpoint: Endpoint, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Answer frames from ``stdin`` on ``stdout`` until ``exit`` or the end of input; requests
    for the endpoint's slow methods are answered from worker threads (:meth:`Endpoint.receive`),
    each frame written whole under one lock.

    Returns the process's exit status: ``endpoint.exit_code`` after ``exit``, 0 at a clean end
    of input, 1 when the input ends inside a frame. At the end of input, requests still running
    are finished and answered first (:meth:`Endpoint.drain`); after ``exit`` they are cancelled
    (their processes killed).
    """
    lock = threading.Lock()

    def send(message: Any) -> None:
        with lock:
            try:
                write_frame(stdout, message)
            except (OSError, ValueError):  # the client is gone: nobody to answer
                pass

    try:
        while True:
            try:
                body = read_frame(stdin)
            except FramingError as exc:
                send(response(None, error=RpcError(PARSE_ERROR, f"bad frame: {exc}")))
                continue
            except EOFError:
                endpoint.drain()
                return 1
            if body is None:
                endpoint.drain()
                return 0
            endpoint.receive(body, send)
            if endpoint.exit_code is not None:
                return endpoint.exit_code
    finally:
        endpoint.cancel_all()
