"""One request being answered: its id and method, whether the client cancelled it, the
notifications tied to it (streamed output, ``$/progress``), and its answer, delivered once.
Every handler finds its own with :func:`current` (docs/wsp.md, "Cancellation" and "Progress").
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Request:
    """One request being answered: its id, whether the client cancelled it
    (``$/cancelRequest``), and a way to send the client notifications tied to it (streamed
    output, ``$/progress``). Every handler gets its own with :func:`current`.

    Attributes:
        id: the request's id (None for a notification).
        method: its method.
        cancelled: set once the client cancelled it.
        work_done_token: the ``work_done_token`` param (a string or integer; else None): the
            client wants LSP's work-done ``$/progress`` for this request.
        params: the request's params, as received.
        siblings: the requests received before this one and not answered yet, on workers
            (an ``execute`` a ``pyrun/process/write`` may be for, say).
    """

    def __init__(self, id_: Any, method: str, send: Callable[[Any], None],
                 work_done_token: str | int | None = None,
                 deliver: Callable[[Any], None] | None = None, params: Any = None,
                 siblings: Callable[[], list[Request]] | None = None) -> None:
        self.id = id_
        self.method = method
        self.work_done_token = work_done_token
        self.params = params
        self.siblings = siblings if siblings is not None else list
        self.cancelled = threading.Event()
        self.state = "pending"  # then "running", then "done" (under the endpoint's lock)
        self._send = send
        self._deliver = deliver
        self._answered = False
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

    def answer(self, reply: Any) -> bool:
        """Deliver ``reply`` (a response, or None for nothing), once: a second answer (a
        handler ending after its request was answered -32800 at the end of input) is dropped.
        Returns whether this one was delivered."""
        with self._lock:
            if self._answered:
                return False
            self._answered = True
        if self._deliver is not None:
            self._deliver(reply)
        return True


_local = threading.local()


def current() -> Request | None:
    """The :class:`Request` the calling handler is answering (every handler, on a worker or
    not); None outside a handler."""
    return getattr(_local, "request", None)


@contextlib.contextmanager
def answering(request: Request) -> Iterator[None]:
    """Make ``request`` what :func:`current` returns in this thread while its handler runs."""
    before = getattr(_local, "request", None)
    _local.request = request
    try:
        yield
    finally:
        _local.request = before


def work_done_token(params: Any) -> str | int | None:
    """The ``work_done_token`` of ``params`` when it is usable (a string or an integer), else
    None: no progress, as LSP says of a token it cannot use."""
    token = params.get("work_done_token") if isinstance(params, dict) else None
    if isinstance(token, (str, int)) and not isinstance(token, bool):
        return token
    return None
