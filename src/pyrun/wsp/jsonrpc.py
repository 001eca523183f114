"""JSON-RPC 2.0 messages and errors as WSP uses them: the codes, the error response, and the
one class per WSP error a handler raises (docs/wsp.md, "Errors").

Everything here is data: parsing a frame's body, shaping a response, and :class:`RpcError` with
its subclasses. The lifecycle, dispatch and workers are :mod:`pyrun.wsp.endpoint`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pyrun.errors import ExitCode, PyrunError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
#: WSP's own codes.
ENVIRONMENT_NOT_FOUND = -31001
ENVIRONMENT_NAME_CONFLICT = -31002
PYTHON_VERSION_UNAVAILABLE = -31003
EXECUTION_FAILED = -31004
#: pyrun's own code (WSP reserves -31999..-31900 for servers): the requirements could not be
#: resolved or installed; ``data.reason`` says which (``resolution``, ``network``, ``install``,
#: ``venv``).
REQUIREMENTS_FAILED = -31900
#: pyrun's own code: a project file the server needs (``.python-envs``) cannot be used: it
#: cannot be read or written, or it is refused (a symbolic link); ``data.reason`` says which
#: (``unreadable .python-envs``, ``unwritable .python-envs``) and ``data.path`` names it.
PROJECT_FILE_REFUSED = -31901

#: The longest error message sent (characters); a longer one is cut, ending in an ellipsis.
MAX_MESSAGE = 500
#: LSP's code for a request the client cancelled (``$/cancelRequest``).
REQUEST_CANCELLED = -32800


class RpcError(PyrunError):
    """An error response: ``{"code", "message", "data"?}`` (JSON-RPC 2.0, section 5.1). As a
    :class:`~pyrun.errors.PyrunError` (a client received it), its exit code is 1.

    Args:
        code: one of the codes above.
        message: one sentence for a person.
        data: optional structured detail (``{"id": ...}``, ``{"reason": ...}``).
    """

    exit_code = ExitCode.SERVER_ERROR

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        if len(message) > MAX_MESSAGE:  # a 5,000-character id quoted in it, say
            message = message[:MAX_MESSAGE - 1] + "\u2026"
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def __str__(self) -> str:
        """The message, then the data as JSON when there is some (for a person reading it)."""
        return self.message if self.data is None else f"{self.message} {json.dumps(self.data)}"

    def to_json(self) -> dict[str, Any]:
        """The ``error`` member of a response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class InvalidParams(RpcError):
    """-32602: the params are not what the method takes (``message`` names the param)."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(INVALID_PARAMS, message, data)


class EnvironmentNotFound(RpcError):
    """-31001: no environment ``env_id`` (``data: {id}``)."""

    def __init__(self, env_id: str) -> None:
        super().__init__(ENVIRONMENT_NOT_FOUND, f"no environment {env_id!r}", {"id": env_id})


class NameConflict(RpcError):
    """-31002: an environment named ``name`` exists (``data: {name}``); ``message`` may say
    more (the path in the way)."""

    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(ENVIRONMENT_NAME_CONFLICT,
                         message or f"an environment named {name!r} exists", {"name": name})


class PythonUnavailable(RpcError):
    """-31003: no installed Python matches ``version`` (``data: {python_version}``)."""

    def __init__(self, version: str | None, message: str = "") -> None:
        super().__init__(PYTHON_VERSION_UNAVAILABLE,
                         message or f"no installed Python matches {version!r}",
                         {"python_version": version})


class ExecutionFailed(RpcError):
    """-31004: a command could not be run; ``reason`` goes to ``data.reason`` (``timeout``,
    ``not found``, ``cannot start``, ``unusable environment``, ``not in environment``, ``no such
    process``), ``extra`` beside it (``{"id": ...}``, ``{"token": ...}``)."""

    def __init__(self, message: str, reason: str, **extra: Any) -> None:
        super().__init__(EXECUTION_FAILED, message, {**extra, "reason": reason})


class RequirementsFailed(RpcError):
    """:data:`REQUIREMENTS_FAILED`: an environment's requirements could not be resolved or
    installed; ``reason`` (``resolution``, ``network``, ``install``, ``venv``) goes to
    ``data.reason``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(REQUIREMENTS_FAILED, message, {"reason": reason})


def cancelled(id_: Any) -> RpcError:
    """-32800, LSP's answer to a request the client cancelled (``data: {id}``)."""
    return RpcError(REQUEST_CANCELLED, "request cancelled", {"id": id_})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(body: bytes) -> Any:
    """One frame's body as JSON (RFC 8259: ``NaN`` and ``Infinity`` are not JSON).

    Raises:
        RpcError: -32700, for a body that is not UTF-8 JSON or is nested too deeply.
    """
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RpcError(PARSE_ERROR, f"parse error: {exc}") from None
    except RecursionError:
        raise RpcError(PARSE_ERROR, "parse error: nested too deeply") from None


def response(id_: Any, *, result: Any = None, error: RpcError | None = None) -> dict[str, Any]:
    """The response object to request ``id_``: ``{"jsonrpc", "id", "result"}``, or ``"error"``
    instead of ``"result"`` when ``error`` is given (JSON-RPC 2.0, section 5)."""
    if error is not None:
        return {"jsonrpc": "2.0", "id": id_, "error": error.to_json()}
    return {"jsonrpc": "2.0", "id": id_, "result": result}




class InvalidRequest(RpcError):
    """-32600: a message that is not a JSON-RPC 2.0 request; :attr:`id` is the id to answer
    with (None when the message has none, or its id is unusable: JSON-RPC 2.0, section 5)."""

    def __init__(self, message: str, id_: Any = None) -> None:
        super().__init__(INVALID_REQUEST, message)
        self.id = id_


def valid_id(value: Any) -> bool:
    """Whether ``value`` can be a request's id: a string or an integer (not a boolean), or
    null (JSON-RPC 2.0, section 4; LSP allows no null, but answers it)."""
    return value is None or isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool))


@dataclass(frozen=True)
class Incoming:
    """One received request or notification, every field checked (:func:`incoming`).

    Attributes:
        method: the method's name.
        params: the params: an object, or an array (by position); ``{}`` when absent or ``[]``.
        id: the request's id (a string, an integer or None).
        has_id: whether it is a request (it must be answered) rather than a notification.
    """

    method: str
    params: dict[str, Any] | list[Any] = field(default_factory=dict)
    id: str | int | None = None
    has_id: bool = False


def incoming(message: Any) -> Incoming:
    """Check one message (a batch's member, or a whole frame) before anything uses it: the one
    place a received message's shape is judged, for every server (JSON-RPC 2.0, section 4).

    Raises:
        InvalidRequest: -32600: not an object, ``jsonrpc`` is not ``"2.0"``, the id is not a
            string, an integer or null, the method is not a string, or the params are neither
            an object nor an array. Answered even for a message without an id, with id null,
            as JSON-RPC 2.0's examples answer ``{"jsonrpc": "2.0", "method": 1}``.

    >>> incoming({"jsonrpc": "2.0", "id": 1, "method": "m"})
    Incoming(method='m', params={}, id=1, has_id=True)
    >>> incoming({"jsonrpc": "2.0", "method": ["m"]})
    Traceback (most recent call last):
    ...
    pyrun.wsp.jsonrpc.InvalidRequest: the method must be a string
    """
    if not isinstance(message, dict):
        raise InvalidRequest("a request must be an object")
    has_id = "id" in message
    id_ = message.get("id")
    if not valid_id(id_):
        raise InvalidRequest("the id must be a string or an integer")
    if message.get("jsonrpc") != "2.0":
        raise InvalidRequest('not a JSON-RPC 2.0 request ("jsonrpc": "2.0" is missing)', id_)
    method = message.get("method")
    if not isinstance(method, str):
        raise InvalidRequest("the method must be a string", id_)
    params = message.get("params", {})
    if params == []:  # by position with nothing in it: the same as no params
        params = {}
    if not isinstance(params, (dict, list)):  # JSON-RPC 2.0, 4.2: structured, or absent
        raise InvalidRequest("params must be an object or an array", id_)
    return Incoming(method, params, id_, has_id)
