"""The server side of JSON-RPC over a stream: the LSP-style lifecycle, dispatch to a table of
handlers, and the workers that answer slow requests while others are answered at once.

:class:`Endpoint` turns one received frame body into what to send; it knows nothing of streams.
:func:`serve` runs an endpoint over a pair of byte streams (docs/wsp.md, "The wire").

Lifecycle (docs/wsp.md, "Lifecycle"): before ``initialize`` every request gets -32002; a second
``initialize`` gets -32600; after ``shutdown`` everything but ``exit`` gets -32600; ``exit``
ends the process with status 0 after ``shutdown``, else 1. Notifications never get a response.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Collection
from typing import Any, BinaryIO

from pyrun.wsp.framing import FramingError, encode_frame, read_frame
from pyrun.wsp.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_NOT_INITIALIZED,
    Incoming,
    InvalidRequest,
    RpcError,
    cancelled,
    incoming,
    parse,
    response,
    valid_id,
)
from pyrun.wsp.request import Request, answering, current, work_done_token

#: :class:`Request` and :func:`current` are the request module's, named here too (the toolkit's
#: handlers have always found them here).
__all__ = ["Endpoint", "Handler", "Request", "current", "serve"]

#: Requests answered at once on worker threads, and waiting for one at most.
WORKERS = 4
MAX_PENDING = 32

#: A handler: the params object (``{}`` when absent) to the result, or :class:`RpcError`.
Handler = Callable[[dict[str, Any]], Any]


#: Seconds the end of input waits for requests still running before they are cancelled and
#: answered -32800 (``PYRUN_WSP_DRAIN_SECONDS`` overrides it), and then for their handlers to
#: end (docs/wsp.md, "End of input").
DRAIN_SECONDS = 120.0
CANCEL_GRACE_SECONDS = 5.0


class _Batch:
    """The answers to one batch, sent as one array once every member is answered (members run
    like single requests: a slow one on a worker). Nothing is sent when no member needs an
    answer (JSON-RPC 2.0, section 6)."""

    def __init__(self, size: int, send: Callable[[Any], None]) -> None:
        self.left = size
        self.replies: list[Any] = []
        self.send = send
        self.lock = threading.Lock()

    def deliver(self, reply: Any) -> None:
        with self.lock:
            if reply is not None:
                self.replies.append(reply)
            self.left -= 1
            done = self.left == 0
        if done and self.replies:
            self.send(self.replies)


class Endpoint:
    """The server side of the protocol: lifecycle state, dispatch, errors.

    Args:
        methods: ``{method name: handler}``; a handler takes the params object (``{}`` when
            absent) and returns the result, or raises :class:`RpcError`. ``initialize``,
            ``shutdown`` and ``exit`` are handled here; an ``initialize`` handler, if given,
            supplies the result of ``initialize`` (it gets the client's params); a
            ``shutdown`` handler, if given, runs before the server enters its shut-down state.
        log: where unexpected handler failures are described (default stderr).
        slow: the methods whose requests run on worker threads.

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
        whole frames atomically). Every message is checked first (:func:`incoming`); a
        request for a :attr:`slow` method runs on a worker thread (at most :data:`WORKERS` at
        once, :data:`MAX_PENDING` waiting) and is answered when done, in any order, a batch's
        members included (the batch's array is sent when all are answered); everything else is
        answered here, so an ``environment/list`` is never stuck behind a ``create``.
        ``$/cancelRequest`` cancels a waiting request (answered -32800 at once) or a running
        one (its :meth:`Request.cancel` callbacks run; it is answered with whatever its handler
        ends with: its result if it finished its work, -32800 if it stopped for the cancel)."""
        try:
            message = parse(body)
        except RpcError as exc:
            send(response(None, error=exc))
            return
        if not isinstance(message, list):
            self._take(message, send, lambda reply: None if reply is None else send(reply))
            return
        if not message:
            send(response(None, error=RpcError(INVALID_REQUEST, "empty batch")))
            return
        batch = _Batch(len(message), send)
        for member in message:
            self._take(member, send, batch.deliver)

    def _take(self, message: Any, send: Callable[[Any], None],
              deliver: Callable[[Any], None]) -> None:
        """Check one message and answer it through ``deliver`` (None: nothing to send),
        now or from a worker."""
        try:
            req = incoming(message)
        except InvalidRequest as exc:
            deliver(response(exc.id, error=exc))
            return
        if req.method == "$/cancelRequest":
            deliver(self._cancel_request(req))
            return
        if (req.has_id and req.id is not None and req.method in self.slow
                and self.state == "running"):
            self._spawn(req, send, deliver)
            return
        with answering(Request(req.id, req.method, send, work_done_token(req.params),
                               params=req.params, siblings=self._waiting)):
            reply = self._one(req)
        deliver(reply)

    def _cancel_request(self, req: Incoming) -> dict[str, Any] | None:
        """``$/cancelRequest``: a notification in LSP; sent as a request (with an id), it is
        answered ``null`` as JSON-RPC requires (-32602 when ``params.id`` is unusable)."""
        params = req.params
        id_ = params.get("id") if isinstance(params, dict) else None
        usable = isinstance(params, dict) and id_ is not None and valid_id(id_)
        if usable:
            self.cancel(id_)
        if not req.has_id:
            return None
        if not usable:
            return response(req.id, error=RpcError(INVALID_PARAMS, "$/cancelRequest needs "
                                                   "params.id, a string or an integer"))
        return response(req.id, result=None)

    def _spawn(self, req: Incoming, send: Callable[[Any], None],
               deliver: Callable[[Any], None]) -> None:
        id_ = req.id
        request = Request(id_, req.method, send, work_done_token(req.params), deliver,
                          req.params, self._waiting)
        with self._lock:
            busy = len(self._requests) >= MAX_PENDING or id_ in self._requests
            if not busy:
                self._requests[id_] = request
        if busy:
            deliver(response(id_, error=RpcError(INTERNAL_ERROR, "too many requests at once, "
                                                 "or this id is in use; try again when one is "
                                                 "answered", {"reason": "busy",
                                                              "limit": MAX_PENDING})))
            return

        def work() -> None:
            with self._slots:
                with self._lock:
                    if request.state != "pending":  # cancelled (and answered) while waiting
                        return
                    request.state = "running"
                with answering(request):
                    reply = self._one(req)
            with self._lock:
                request.state = "done"
                self._requests.pop(id_, None)
            error = reply.get("error") if isinstance(reply, dict) else None
            if (request.cancelled.is_set() and isinstance(error, dict)
                    and error.get("code") == INTERNAL_ERROR):
                reply = response(id_, error=cancelled(id_))  # it broke off for the cancel
            request.answer(reply)

        worker = threading.Thread(target=work, name=f"wsp-{request.method}", daemon=True)
        with self._lock:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def _waiting(self) -> list[Request]:
        """The requests taken and not answered yet (:attr:`Request.siblings`)."""
        with self._lock:
            return list(self._requests.values())

    def drain(self, seconds: float | None = None) -> None:
        """At the end of input, answer every request taken so far before returning (a client
        that closed its side, as ``printf ... | pyrun wsp serve`` does, still reads the
        answers): wait up to ``seconds`` (default :data:`DRAIN_SECONDS`, or
        ``PYRUN_WSP_DRAIN_SECONDS``) for them to finish, then cancel the rest, give their
        handlers :data:`CANCEL_GRACE_SECONDS` to end, and answer any still running -32800."""
        if seconds is None:
            seconds = _drain_seconds()
        if not self._join(seconds):
            self.cancel_all()
            self._join(CANCEL_GRACE_SECONDS)
            with self._lock:
                left = list(self._requests.values())
            for request in left:
                request.answer(response(request.id, error=cancelled(request.id)))

    def _join(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the workers; returns whether all ended."""
        import time

        deadline = time.monotonic() + seconds
        while True:
            with self._lock:
                running = [w for w in self._workers if w.is_alive()]
            if not running:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            running[0].join(left)

    def cancel(self, id_: Any) -> bool:
        """Cancel request ``id_`` (``$/cancelRequest``): a waiting one is answered -32800 now,
        a running one is told (:meth:`Request.cancel`). Returns whether there was such a
        request. Unknown ids (and requests already answered) are ignored, as LSP says."""
        with self._lock:
            request = self._requests.get(id_)
            if request is None:
                return False
            waiting = request.state == "pending"
            if waiting:  # its thread, once it gets a worker's slot, just ends
                request.state = "done"
                del self._requests[id_]
        request.cancel()
        if waiting:
            request.answer(response(id_, error=cancelled(id_)))
        return True

    def cancel_all(self) -> None:
        """Cancel every waiting and running request (``exit``, or the end of input)."""
        with self._lock:
            ids = list(self._requests)
        for id_ in ids:
            self.cancel(id_)

    def handle(self, body: bytes) -> Any:
        """The response to one frame body, answered in this thread (slow methods too): a
        response object, a list (for a batch), or None when nothing is to be sent."""
        try:
            message = parse(body)
        except RpcError as exc:
            return response(None, error=exc)
        if isinstance(message, list) and not message:
            return response(None, error=RpcError(INVALID_REQUEST, "empty batch"))
        replies = []
        for member in message if isinstance(message, list) else [message]:
            try:
                reply = self._one(incoming(member))
            except InvalidRequest as exc:
                reply = response(exc.id, error=exc)
            if reply is not None:
                replies.append(reply)
        if not isinstance(message, list):
            return replies[0] if replies else None
        return replies or None

    def _one(self, req: Incoming) -> dict[str, Any] | None:
        """The response to one checked request (None for a notification)."""
        method, id_ = req.method, req.id
        if not req.has_id and method.startswith("$/") and method not in self.methods:
            return None  # LSP: a server may ignore the $/ notifications it does not know
        try:
            result = self._dispatch(method, req.params)
        except RpcError as exc:
            return response(id_, error=exc) if req.has_id else None
        except Exception:  # a bug in a handler: logged here, never sent; keep serving
            import traceback

            print(f"wsp: internal error in {method}:\n{traceback.format_exc()}",
                  file=self.log, end="", flush=True)
            err = RpcError(INTERNAL_ERROR, f"internal error in {method} (the server's log "
                           "says more)")
            return response(id_, error=err) if req.has_id else None
        return response(id_, result=result) if req.has_id else None

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
            hook = self.methods.get("shutdown")
            if hook is not None:
                hook(params)
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


def _encoded(message: Any, log: Any) -> bytes | None:
    """The frame for ``message``; a response whose result cannot be JSON (a handler returned
    an object, ``NaN``, a cycle) becomes a -32603 for its id, logged; a notification that
    cannot be is dropped, logged; a batch's members are judged one by one."""
    try:
        return encode_frame(message)
    except (TypeError, ValueError, RecursionError) as exc:
        why = f"{type(exc).__name__}: {exc}"
    if isinstance(message, list):
        members = [json.loads(frame.split(b"\r\n\r\n", 1)[1]) for frame in
                   (_encoded(m, log) for m in message) if frame is not None]
        return encode_frame(members) if members else None
    is_response = isinstance(message, dict) and "id" in message and "method" not in message
    what = f"the answer to {message.get('id')!r}" if is_response else "a notification"
    print(f"wsp: {what} is not JSON ({why})", file=log, flush=True)
    if not is_response:
        return None
    error = RpcError(INTERNAL_ERROR, "internal error: the result is not JSON (the server's "
                     "log says more)")
    id_ = message["id"] if valid_id(message.get("id")) else None
    return encode_frame(response(id_, error=error))


def _drain_seconds() -> float:
    """:data:`DRAIN_SECONDS`, or ``PYRUN_WSP_DRAIN_SECONDS`` when it is a number of seconds
    (0 or more)."""
    import os

    try:
        seconds = float(os.environ.get("PYRUN_WSP_DRAIN_SECONDS", DRAIN_SECONDS))
    except ValueError:
        return DRAIN_SECONDS
    return seconds if 0 <= seconds < 1e9 else DRAIN_SECONDS


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
        frame = _encoded(message, endpoint.log)
        if frame is None:
            return
        with lock:
            try:
                stdout.write(frame)
                stdout.flush()
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
