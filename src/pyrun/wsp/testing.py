"""Testing a workflow server without a subprocess: :func:`connect` serves a toolkit
:class:`~pyrun.wsp.base.Server` on a thread, over a pair of in-memory pipes, and gives a client
for it. Every message goes through the real framing, endpoint, lifecycle, workers and
cancellation, as it would between an editor and ``wf.py``; only the process is missing.

::

    from pyrun.wsp.testing import connect
    from pyrun.wsp.toolkit import RpcError

    import wf                                   # the server's script, imported: app.run()
                                                # is under `if __name__ == "__main__"`
    with connect(wf.app) as client:             # initialize is sent and answered
        assert client.request("environment/list") == []
        try:
            client.request("my/hello", {"name": 3})
        except RpcError as exc:
            assert exc.code == -32602

Leaving the block sends ``shutdown`` and ``exit`` and waits for the server to stop (its
``on_shutdown`` hooks included). What the server logs (a handler's traceback, say) is kept in
:attr:`Connection.logged`, not printed. One connection at a time per server.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import threading
import time
from typing import Any, BinaryIO

from pyrun.wsp import PROTOCOL_VERSION
from pyrun.wsp.base import Server
from pyrun.wsp.framing import FramingError, encode_frame, read_frame
from pyrun.wsp.jsonrpc import RpcError

#: Seconds a call waits for its answer unless told otherwise.
TIMEOUT = 30.0


class Connection:
    """A client of a :class:`~pyrun.wsp.base.Server` served in this process (see
    :func:`connect`).

    Attributes:
        server: the server.
        init: ``initialize``'s result, once :meth:`initialize` ran.
        notifications: every notification the server sent, in order, as ``(method, params)``.
        unmatched: the answers with id null (a -32700 for a frame that is not JSON, a -32600
            for a message whose id could not be read), in order.
        exit_status: what the server's ``serve`` returned (0 after ``shutdown`` and ``exit``),
            once it stopped; else None.
    """

    def __init__(self, server: Server, log: Any = None) -> None:
        self.server = server
        self.init: Any = None
        self.notifications: list[tuple[str, Any]] = []
        self.exit_status: int | None = None
        self._log = log if log is not None else io.StringIO()
        self._ids = itertools.count(1)
        self._answers: dict[Any, Any] = {}
        self.unmatched: list[Any] = []
        self._changed = threading.Condition()
        self._ended = False
        self._send_lock = threading.Lock()
        client_end, server_in = _pipe()
        server_out, client_in = _pipe()
        self._out: BinaryIO = client_end
        self._in: BinaryIO = client_in

        def serve() -> None:
            try:
                self.exit_status = server.serve(server_in, server_out, log=self._log)
            finally:
                server_out.close()
                server_in.close()

        self._server_thread = threading.Thread(target=serve, name="wsp-test-server",
                                               daemon=True)
        self._reader = threading.Thread(target=self._read, name="wsp-test-client",
                                        daemon=True)
        self._server_thread.start()
        self._reader.start()

    @property
    def logged(self) -> str:
        """What the server logged so far (when :func:`connect` was given no ``log``)."""
        return self._log.getvalue() if isinstance(self._log, io.StringIO) else ""

    def _read(self) -> None:
        try:
            while True:
                try:
                    body = read_frame(self._in)
                except FramingError:
                    continue
                if body is None:
                    break
                message = json.loads(body)
                for one in message if isinstance(message, list) else [message]:
                    self._take(one)
        except (EOFError, OSError, ValueError):
            pass
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    def _take(self, message: Any) -> None:
        with self._changed:
            if isinstance(message, dict) and isinstance(message.get("method"), str):
                self.notifications.append((message["method"], message.get("params")))
            elif isinstance(message, dict) and message.get("id") is not None:
                self._answers[message["id"]] = message
            else:
                self.unmatched.append(message)
            self._changed.notify_all()

    def send(self, message: Any) -> None:
        """Send ``message`` (any JSON value: a request, a notification, a batch) as one frame.

        Raises:
            ConnectionError: the server stopped reading (it exited).
        """
        self.send_bytes(encode_frame(message))

    def send_bytes(self, data: bytes) -> None:
        """Send ``data`` as it is (frames of your own, broken ones included).

        Raises:
            ConnectionError: the server stopped reading (it exited).
        """
        try:
            with self._send_lock:
                self._out.write(data)
                self._out.flush()
        except (OSError, ValueError) as exc:
            raise ConnectionError(f"the server stopped reading: {exc}") from None

    def start(self, method: str, params: Any = None) -> int:
        """Send a request without waiting for its answer; returns its id (for :meth:`result`
        and :meth:`cancel`)."""
        id_ = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return id_

    def answer(self, id_: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The response to request ``id_`` (the whole message), once it came.

        Raises:
            TimeoutError: none within ``timeout`` seconds.
            ConnectionError: the server stopped without answering.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while id_ not in self._answers:
                left = deadline - time.monotonic()
                if self._ended:
                    raise ConnectionError(f"the server stopped without answering {id_!r}")
                if left <= 0:
                    raise TimeoutError(f"no answer to request {id_!r} in {timeout} s")
                self._changed.wait(left)
            return self._answers.pop(id_)  # type: ignore[no-any-return]

    def result(self, id_: Any, timeout: float = TIMEOUT) -> Any:
        """The result of request ``id_``.

        Raises:
            RpcError: the server answered with an error (``code``, ``message``, ``data``).
            TimeoutError, ConnectionError: as :meth:`answer`.
        """
        reply = self.answer(id_, timeout)
        if "error" in reply:
            error = reply["error"]
            raise RpcError(error["code"], error["message"], error.get("data"))
        return reply.get("result")

    def request(self, method: str, params: Any = None, timeout: float = TIMEOUT) -> Any:
        """Send a request and return its result (:meth:`start`, then :meth:`result`).

        Raises:
            RpcError: the server answered with an error.
            TimeoutError, ConnectionError: as :meth:`answer`.
        """
        return self.result(self.start(method, params), timeout)

    def notify(self, method: str, params: Any = None) -> None:
        """Send a notification."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def cancel(self, id_: Any) -> None:
        """Cancel request ``id_`` (``$/cancelRequest``); its answer still comes."""
        self.notify("$/cancelRequest", {"id": id_})

    def progress(self, token: Any) -> list[dict[str, Any]]:
        """The ``value`` of every ``$/progress`` notification sent so far for ``token``."""
        with self._changed:
            return [p["value"] for m, p in self.notifications
                    if m == "$/progress" and isinstance(p, dict) and p.get("token") == token]

    def initialize(self, client_name: str = "pyrun.wsp.testing",
                   timeout: float = TIMEOUT, **params: Any) -> Any:
        """Send ``initialize`` (``client_name``, ``client_protocol_version`` and ``params``);
        returns its result, kept in :attr:`init`.

        Raises:
            RpcError: the server refused (an ``on_initialize`` hook, say).
        """
        self.init = self.request("initialize", {
            "client_name": client_name, "client_protocol_version": PROTOCOL_VERSION,
            **params}, timeout)
        return self.init

    def close(self, timeout: float = TIMEOUT) -> int | None:
        """``shutdown`` (when the server is still up), ``exit``, then wait for the server to
        stop; returns its exit status (None when it did not stop within ``timeout``)."""
        if not self._ended:
            try:
                if self.init is not None:
                    self.request("shutdown", None, timeout)
                self.notify("exit")
            except (RpcError, TimeoutError, ConnectionError):
                pass
        try:
            self._out.close()
        except OSError:
            pass
        self._server_thread.join(timeout)
        self._reader.join(timeout)
        if not self._reader.is_alive():
            self._in.close()
        return self.exit_status

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(server: Server, *, initialize: bool = True, log: Any = None) -> Connection:
    """Serve ``server`` on a thread and connect a client to it; with ``initialize`` (the
    default), ``initialize`` is sent and answered first. The server's log goes to ``log``
    (default: kept, :attr:`Connection.logged`). Use the connection as a context manager.

    >>> from pyrun.wsp.toolkit import Server
    >>> app = Server("demo")
    >>> @app.method("demo/add")
    ... def add(params):
    ...     return params["a"] + params["b"]
    >>> with connect(app) as client:
    ...     client.request("demo/add", {"a": 1, "b": 2})
    3
    """
    connection = Connection(server, log)
    if initialize:
        try:
            connection.initialize()
        except BaseException:
            connection.close()
            raise
    return connection


def _pipe() -> tuple[BinaryIO, BinaryIO]:
    """``(write end, read end)`` of a new pipe, as buffered binary files."""
    read_fd, write_fd = os.pipe()
    return os.fdopen(write_fd, "wb"), os.fdopen(read_fd, "rb")
