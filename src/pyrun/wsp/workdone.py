"""LSP's work-done progress for the request being answered, sent right: ``$/progress``
notifications under the ``work_done_token`` the client gave, ``begin`` first, then any
``report``, then ``end``, and nothing at all when the client gave no token (docs/wsp.md,
"Progress for create"; LSP 3.17, "Work Done Progress").

A handler writes::

    from pyrun.wsp.toolkit import progress

    @app.method("my/build", slow=True)
    def build(params):
        with progress("building", percentage=0) as work:
            for done, step in enumerate(STEPS, 1):
                run(step)
                work.report(f"{step} done", percentage=100 * done // len(STEPS))
        return {"built": len(STEPS)}

and the client that sent ``"work_done_token": "t1"`` gets ``begin`` (``title``), a ``report``
per step and ``end`` (also when the handler raises), all before the response. LSP's rules are
kept: one ``begin`` and one ``end`` per token (a progress opened inside another one, such as
:class:`~pyrun.wsp.folder.VenvFolder`'s ``create`` inside yours, reports into the outer one), a
percentage between 0 and 100 that never goes down. Misuse raises :class:`RuntimeError`, token or
no token, so a test without one finds it: a ``report`` before ``begin`` or after ``end``, a
second ``begin``.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from pyrun.wsp.request import Request, current


class _Token:
    """What has been sent under one request's token: whether its ``begin`` and ``end`` went
    out, the progress open on it, and the last percentage sent."""

    def __init__(self) -> None:
        self.open: WorkDone | None = None
        self.ended = False
        self.percentage = 0


_tokens: weakref.WeakKeyDictionary[Request, _Token] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class WorkDone:
    """One piece of work a request reports on (use :func:`progress` to make one for the
    request being answered).

    Args:
        title: what is being done (``begin``'s ``title``: ``"creating dev"``).
        request: the request (:class:`~pyrun.wsp.endpoint.Request`); None: nothing is sent.
        message: ``begin``'s optional ``message``.
        percentage: ``begin``'s optional ``percentage`` (0 to 100): given, the client shows a
            bar; absent, a spinner.

    Attributes:
        active: whether notifications are sent: the request has a ``work_done_token`` whose
            progress has not ended (known once :meth:`begin` ran).
    """

    def __init__(self, title: str, request: Request | None = None, *,
                 message: str | None = None, percentage: float | None = None) -> None:
        self.title = _text(title, "title")
        self.message = None if message is None else _text(message, "message")
        self.percentage = percentage
        self.request = request
        self.active = False
        self._state = "new"  # then "begun", then "ended"
        self._outer: WorkDone | None = None
        self._token: _Token | None = None

    @property
    def cancelled(self) -> bool:
        """Whether the client cancelled the request (``$/cancelRequest``): time to stop."""
        return self.request is not None and self.request.cancelled.is_set()

    def begin(self) -> WorkDone:
        """Send ``begin`` (or, inside an open progress of the same request, a ``report`` of
        the title to it). Returns self.

        Raises:
            RuntimeError: it already began.
        """
        if self._state != "new":
            raise RuntimeError(f"progress {self.title!r} already began")
        self._state = "begun"
        request = self.request
        if request is None or request.work_done_token is None:
            return self
        with _lock:
            token = _tokens.setdefault(request, _Token())
            if token.ended and token.open is None:  # LSP: one begin and one end per token
                return self
            self._outer, self._token = token.open, token
            if token.open is None:
                token.open = self
            self.active = True
        if self._outer is not None:
            self._outer.report(_join(self.title, self.message), self.percentage)
        else:
            value: dict[str, Any] = {"kind": "begin", "title": self.title}
            if self.message is not None:
                value["message"] = self.message
            if self.percentage is not None:
                value["percentage"] = self._percent(self.percentage)
            self._send(value)
        return self

    def report(self, message: str | None = None, percentage: float | None = None) -> None:
        """Send a ``report``: ``message`` (what is happening now) and ``percentage`` (0 to 100;
        a lower one than before is sent as the last one, as LSP wants it rising).

        Raises:
            RuntimeError: before :meth:`begin` or after :meth:`end`.
            TypeError: ``message`` is not a string or ``percentage`` not a number.
        """
        if self._state != "begun":
            raise RuntimeError(f"progress {self.title!r}: a report "
                               + ("before begin" if self._state == "new" else "after end"))
        text = None if message is None else _text(message, "message")
        if not self.active:
            if percentage is not None:
                _number(percentage)
            return
        if self._outer is not None:
            self._outer.report(text, percentage)
            return
        value: dict[str, Any] = {"kind": "report"}
        if text is not None:
            value["message"] = text
        if percentage is not None:
            value["percentage"] = self._percent(percentage)
        self._send(value)

    def end(self, message: str | None = None) -> None:
        """Send ``end`` (with an optional last ``message``), once; a progress opened inside
        another sends its message as a report of the outer one, and no ``end``.

        Raises:
            RuntimeError: before :meth:`begin`.
        """
        if self._state == "new":
            raise RuntimeError(f"progress {self.title!r}: end before begin")
        if self._state == "ended":
            return
        self._state = "ended"
        text = None if message is None else _text(message, "message")
        if not self.active:
            return
        if self._outer is not None:
            if text is not None:
                self._outer.report(text)
            return
        assert self._token is not None
        with _lock:
            self._token.open, self._token.ended = None, True
        self._send({"kind": "end"} if text is None else {"kind": "end", "message": text})

    def __enter__(self) -> WorkDone:
        return self.begin()

    def __exit__(self, *exc: object) -> None:
        self.end()

    def _percent(self, percentage: float) -> int:
        """``percentage`` as LSP takes it: an integer from 0 to 100, never below the last."""
        assert self._token is not None
        value = min(100, max(0, round(_number(percentage))))
        with _lock:
            self._token.percentage = max(self._token.percentage, value)
            return self._token.percentage

    def _send(self, value: dict[str, Any]) -> None:
        assert self.request is not None
        self.request.notify("$/progress", {"token": self.request.work_done_token,
                                           "value": value})


def progress(title: str, *, message: str | None = None,
             percentage: float | None = None) -> WorkDone:
    """A :class:`WorkDone` for the request the calling handler answers
    (:func:`~pyrun.wsp.endpoint.current`): use it as a context manager, which sends ``begin``
    on entry and ``end`` on exit. Outside a handler, or when the client gave no
    ``work_done_token``, it sends nothing (and still checks its use)."""
    return WorkDone(title, current(), message=message, percentage=percentage)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a progress {what} is a string, not {type(value).__name__}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise TypeError(f"a progress percentage is a number from 0 to 100, not {value!r}")
    return float(value)


def _join(title: str, message: str | None) -> str:
    return title if message is None else f"{title}: {message}"
