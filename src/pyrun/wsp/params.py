"""A method's params, checked in one place: the typed request each environment method takes, any
dataclass a toolkit handler declares (read by :mod:`pyrun.wsp.typed`), and :func:`param` for a
handler's single params.

The way pygls turns params into typed request classes: :func:`structure` reads a params object
into a dataclass, field by field in the order they are declared, and raises the one -32602
(:class:`~pyrun.wsp.jsonrpc.InvalidParams`) a client gets for a missing or mistyped param,
naming its whole path (``params.tasks[2].name must be a string``). A field's type says what it
takes, element types included (``list[str]``, ``dict[str, int]``, ``Optional[X]``, a nested
dataclass, ``Literal``, an ``Enum``); the request classes of the environment methods below give
their fields a :class:`Check` of their own instead (:func:`spec`). ``null`` counts as absent for
a field with a default (it gets the default); params a method does not take are ignored
(docs/wsp.md, "Methods"). A handler then works with values of the right type only.

>>> structure(IdParams, {"id": ".venv", "extra": 1})
IdParams(id='.venv')
>>> structure(IdParams, {"id": 7})
Traceback (most recent call last):
  ...
pyrun.wsp.jsonrpc.InvalidParams: params.id must be a string
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pyrun.wsp.jsonrpc import InvalidParams
from pyrun.wsp.typed import Check, checker

T = TypeVar("T")

#: The longest file name POSIX systems create (NAME_MAX, in bytes): an environment's name
#: becomes one.
NAME_MAX = 255
#: The longest ``timeout`` taken (seconds): longer ones overflow the clocks waiting on them.
MAX_SECONDS = 1e9


def _token(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _directory_name(value: Any) -> bool:
    """A name that can be one directory's: not ``.`` or ``..``, no separator, no control
    character, at most :data:`NAME_MAX` bytes in UTF-8 (a lone surrogate has no UTF-8 form)."""
    if not isinstance(value, str) or value in ("", ".", ".."):
        return False
    if any(c in "/\\" or c < " " or c == "\x7f" for c in value):
        return False
    try:
        return len(value.encode("utf-8")) <= NAME_MAX
    except UnicodeEncodeError:
        return False


def _seconds(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value <= MAX_SECONDS)  # NaN and infinities fail too


STRING = Check("a string", lambda v: isinstance(v, str))
BOOLEAN = Check("a boolean", lambda v: isinstance(v, bool))
STRINGS = Check("a list of strings",
                lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))
ARGV = Check("a non-empty list of strings", lambda v: STRINGS.test(v) and len(v) > 0)
ENVIRON = Check("an object of strings", lambda v: isinstance(v, dict) and all(
    isinstance(k, str) and isinstance(x, str) for k, x in v.items()))
SECONDS = Check("a number of seconds above 0 (at most 1e9)", _seconds)
#: A process token (``stream.token``, ``pyrun/process/write``'s and ``kill``'s ``token``).
TOKEN = Check("a string or integer", _token)
STREAM = Check('{"token": a string or integer}',
               lambda v: isinstance(v, dict) and _token(v.get("token")))
#: An environment's name: it becomes a directory (``FOLDER/NAME``, ``.venvs/NAME``).
DIRECTORY_NAME = Check("a plain directory name (not . or .., no / or \\ or control character, "
                       f"at most {NAME_MAX} bytes)", _directory_name)

_REQUIRED: Any = object()


def spec(check: Check, default: Any = _REQUIRED) -> Any:
    """A field of a request class: its :class:`Check`, and its default when it is optional."""
    if default is _REQUIRED:
        return dataclasses.field(metadata={"check": check})
    return dataclasses.field(default=default, metadata={"check": check})


def value(params: Mapping[str, Any], name: str, check: Check, default: Any = _REQUIRED,
          where: str = "params") -> Any:
    """``params[name]`` when it passes ``check`` (``None`` counts as absent), else ``default``.

    Raises:
        InvalidParams: it is absent with no default (``params.NAME is required``), or fails the
            check (``params.NAME must be WHAT``).
    """
    found = params.get(name)
    if found is None:
        if default is _REQUIRED:
            raise InvalidParams(f"{where}.{name} is required")
        return default
    if not check.test(found):
        raise InvalidParams(f"{where}.{name} must be {check.what}")
    return found


def structure(cls: type[T], params: Mapping[str, Any]) -> T:
    """``params`` as a ``cls`` (a dataclass), each field read in the order declared, checked
    by its :class:`Check` (:func:`spec`) or by its type (:func:`~pyrun.wsp.typed.checker`): the
    first bad param
    is the one named.

    Raises:
        InvalidParams: -32602, for the first missing or mistyped field, named by its path.
        TypeError: ``cls`` is not a dataclass, or a field's type is one JSON cannot give.
    """
    return checker(cls).convert(params, "params")  # type: ignore[no-any-return]


_KINDS = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
          list: "a list", dict: "an object"}


def param(params: Mapping[str, Any], name: str, kind: type | tuple[type, ...],
          default: Any = _REQUIRED) -> Any:
    """A toolkit handler's param: ``params[name]`` when it is a ``kind`` (an ``int`` is never a
    ``bool``), else ``default`` when it is absent; :func:`value` with a check made of ``kind``.

    Raises:
        InvalidParams: it is missing (with no default) or of another type.

    >>> param({"n": 3}, "n", int)
    3
    >>> param({}, "kind", str, "all")
    'all'
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    what = " or ".join(_KINDS.get(k, f"a {k.__name__}") for k in kinds)
    return value(params, name, Check(what, lambda v: isinstance(v, kinds) and not (
        isinstance(v, bool) and bool not in kinds)), default)


# -- the requests of the environment methods (docs/wsp.md, "Methods") --------------------------

@dataclass(frozen=True)
class NoParams:
    """A method that takes no params (``environment/list``, ``pyrun/default_environment``)."""


@dataclass(frozen=True)
class IdParams:
    """``{id}``: ``environment/get``, ``environment/delete``,
    ``pyrun/set_default_environment``."""

    id: str = spec(STRING)


@dataclass(frozen=True)
class CreateParams:
    """``environment/create`` ``{name, python_version?, requirements?}`` (``work_done_token``
    is the request's: :attr:`pyrun.wsp.endpoint.Request.work_done_token`)."""

    name: str = spec(DIRECTORY_NAME)
    python_version: str | None = spec(STRING, None)
    requirements: Sequence[str] = spec(STRINGS, ())


@dataclass(frozen=True)
class ExecuteParams:
    """``environment/execute`` ``{id, argv, cwd?, env?, stdin?, timeout?, stream?}``; ``argv``
    is checked first, so a request without one is a -32602 whatever its ``id``."""

    argv: Sequence[str] = spec(ARGV)
    id: str = spec(STRING)
    cwd: str | None = spec(STRING, None)
    env: Mapping[str, str] | None = spec(ENVIRON, None)
    stdin: str | None = spec(STRING, None)
    timeout: float | None = spec(SECONDS, None)
    stream: Mapping[str, Any] | None = spec(STREAM, None)

    @property
    def token(self) -> str | int | None:
        """The streaming token (``stream.token``), or None for a collected run."""
        return self.stream["token"] if self.stream is not None else None


@dataclass(frozen=True)
class TokenParams:
    """``pyrun/process/kill`` ``{token}``."""

    token: str | int = spec(TOKEN)


@dataclass(frozen=True)
class WriteParams:
    """``pyrun/process/write`` ``{token, data?, eof?}``."""

    token: str | int = spec(TOKEN)
    data: str = spec(STRING, "")
    eof: bool = spec(BOOLEAN, False)
