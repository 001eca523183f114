"""Values read from JSON by their Python types, and results made JSON again: the machinery
under :func:`pyrun.wsp.params.structure` (a toolkit handler's dataclass params, element types
included) and the toolkit's dataclass results.

:func:`checker` makes, once per type, a :class:`Converter` that reads a JSON value as that type
or raises the -32602 (:class:`~pyrun.wsp.jsonrpc.InvalidParams`) naming the value's path
(``params.steps[2].name must be a string``); a dataclass field may carry a :class:`Check` of
its own instead (:func:`pyrun.wsp.params.spec`). :func:`unstructure` turns a handler's result
(dataclasses, enums, tuples, paths) into JSON values.

>>> from typing import Optional
>>> checker(Optional[list[int]]).convert([1, 2], "params.n")
[1, 2]
>>> checker(list[int]).convert([1, "2"], "params.n")
Traceback (most recent call last):
  ...
pyrun.wsp.jsonrpc.InvalidParams: params.n[1] must be an integer
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import threading
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyrun.wsp.jsonrpc import InvalidParams


@dataclass(frozen=True)
class Check:
    """What a param must be: ``test`` says whether a value is one, ``what`` says it to a person
    (``"params.id must be " + what``)."""

    what: str
    test: Callable[[Any], bool]


@dataclass
class Converter:
    """How a JSON value becomes a value of one type.

    Attributes:
        what: the type, said to a person (``a string``, ``an object``).
        convert: ``(value, path) -> the value as the type``; raises
            :class:`~pyrun.wsp.jsonrpc.InvalidParams` naming ``path`` (``params.a[0]``).
        nullable: whether ``null`` is a value of the type (``Optional[X]``, ``Any``).
    """

    what: str
    convert: Callable[[Any, str], Any]
    nullable: bool = False


_converters: dict[Any, Converter] = {}
#: Held while converters are made: a dataclass's is cached before its fields are read (a class
#: may nest itself), and no other thread may use it half made.
_making = threading.RLock()


def checker(tp: Any) -> Converter:
    """The :class:`Converter` of type ``tp``: ``str``, ``int`` (never a ``bool``), ``float``
    (an integer too), ``bool``, ``None``, ``Any``; ``list[X]``, ``Sequence[X]``, ``tuple[X,
    ...]`` and ``tuple[X, Y]`` (a JSON array); ``dict[str, X]`` and ``Mapping[str, X]`` (an
    object); ``Optional[X]`` and other unions (the first that fits); ``Literal[...]``; an
    ``Enum`` (by value); a dataclass (an object; its fields' types are read with
    :func:`typing.get_type_hints`, so define it at a module's top level). Made once per type.

    Raises:
        TypeError: for a type JSON cannot give (``set[str]``, ``dict[int, str]``, a class).
    """
    with _making:
        try:
            return _converters[tp]
        except (KeyError, TypeError):  # TypeError: an unhashable annotation, made every time
            pass
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return _dataclass(tp)  # cached before its fields are read: a class may nest itself
        made = _make(tp)
        try:
            _converters[tp] = made
        except TypeError:
            pass
        return made


def _fail(what: str) -> Callable[[Any, str], Any]:
    def convert(v: Any, path: str) -> Any:
        raise InvalidParams(f"{path} must be {what}")
    return convert


def _simple(what: str, test: Callable[[Any], bool],
            cast: Callable[[Any], Any] = lambda v: v) -> Converter:
    def convert(v: Any, path: str) -> Any:
        if not test(v):
            raise InvalidParams(f"{path} must be {what}")
        return cast(v)
    return Converter(what, convert)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        return typing.get_args(tp)
    union_type = getattr(types, "UnionType", None)  # X | Y, Python 3.10+
    if union_type is not None and isinstance(tp, union_type):
        return typing.get_args(tp)
    return None


def _make(tp: Any) -> Converter:
    if tp is Any or tp is object:
        return Converter("any value", lambda v, path: v, nullable=True)
    if tp is None or tp is type(None):
        return Converter("null", lambda v, path: v if v is None else _fail("null")(v, path),
                         nullable=True)
    simple = {str: _simple("a string", lambda v: isinstance(v, str)),
              bool: _simple("a boolean", lambda v: isinstance(v, bool)),
              int: _simple("an integer", _is_int),
              float: _simple("a number", _is_number, float)}
    if tp in simple:
        return simple[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _literal([m.value for m in tp], tp)
    args = _union_args(tp)
    if args is not None:
        return _union([checker(a) for a in args])
    origin, params = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return _literal(list(params), None)
    if tp in (list, Sequence, tuple) or origin in (list, Sequence, tuple):
        return _array(tp, origin or tp, params)
    if tp in (dict, Mapping) or origin in (dict, Mapping):
        if params and params[0] is not str:
            raise TypeError(f"{tp}: a JSON object's keys are strings (dict[str, X])")
        return _object(checker(params[1]) if params else checker(Any))
    raise TypeError(f"{tp!r} is not a type JSON params can be read into (str, int, float, "
                    "bool, list[X], dict[str, X], Optional[X], Literal, an Enum, a dataclass)")


def _literal(values: list[Any], enum_type: type | None) -> Converter:
    what = "one of " + ", ".join(json.dumps(v) for v in values)

    def convert(v: Any, path: str) -> Any:
        for allowed in values:  # 1 is not True, 1.0 is not "1"
            if v == allowed and type(v) is type(allowed):
                return enum_type(allowed) if enum_type is not None else allowed
        raise InvalidParams(f"{path} must be {what}")
    return Converter(what, convert, nullable=None in values)


def _union(options: list[Converter]) -> Converter:
    nullable = any(o.nullable for o in options)
    real = [o for o in options if o.what != "null"]
    what = " or ".join(o.what for o in real) + (" or null" if nullable else "")

    def convert(v: Any, path: str) -> Any:
        if v is None and nullable:
            return None
        inner = []  # errors inside a value of the right outer kind (an object, a list)
        for option in real:
            try:
                return option.convert(v, path)
            except InvalidParams as exc:
                if exc.message.startswith((f"{path}.", f"{path}[")):
                    inner.append(exc)
        if len(inner) == 1:  # Optional[Task] given an object: say what is wrong inside it
            raise inner[0]
        raise InvalidParams(f"{path} must be {what}")
    return Converter(what, convert, nullable)


def _array(tp: Any, origin: Any, params: tuple[Any, ...]) -> Converter:
    if origin is tuple and params and params[-1] is not Ellipsis:
        items = [checker(p) for p in params]
        what = f"a list of {len(items)} items"

        def fixed(v: Any, path: str) -> Any:
            if not isinstance(v, list) or len(v) != len(items):
                raise InvalidParams(f"{path} must be {what}")
            return tuple(_item(c, x, f"{path}[{i}]") for i, (c, x) in enumerate(zip(items, v)))
        return Converter(what, fixed)
    item = checker(params[0]) if params else checker(Any)
    make = tuple if origin is tuple else list

    def convert(v: Any, path: str) -> Any:
        if not isinstance(v, list):
            raise InvalidParams(f"{path} must be a list")
        return make(_item(item, x, f"{path}[{i}]") for i, x in enumerate(v))
    return Converter("a list", convert)


def _object(values: Converter) -> Converter:
    def convert(v: Any, path: str) -> Any:
        if not isinstance(v, dict):
            raise InvalidParams(f"{path} must be an object")
        return {k: _item(values, x, f"{path}[{json.dumps(k)}]") for k, x in v.items()}
    return Converter("an object", convert)


def _item(converter: Converter, v: Any, path: str) -> Any:
    """An element of a list or object: ``null`` only where its type takes it."""
    if v is None and not converter.nullable:
        raise InvalidParams(f"{path} must be {converter.what}")
    return converter.convert(v, path)


def _dataclass(cls: type) -> Converter:
    fields: list[tuple[dataclasses.Field[Any], Converter | Check]] = []
    made = Converter("an object", lambda v, path: None)
    _converters[cls] = made
    try:
        hints: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            check = f.metadata.get("check")
            if isinstance(check, Check):  # its type is not read (``X | None`` on Python 3.9)
                fields.append((f, check))
                continue
            hints = hints or typing.get_type_hints(cls)
            fields.append((f, checker(hints[f.name])))
    except Exception as exc:
        del _converters[cls]
        if isinstance(exc, TypeError):
            raise TypeError(f"{cls.__qualname__}: {exc}") from None
        raise TypeError(f"{cls.__qualname__}: its fields' types cannot be read ({exc}); "
                        "define it (and the types it names) at a module's top level") from None

    def convert(v: Any, path: str) -> Any:
        if not isinstance(v, Mapping):
            raise InvalidParams(f"{path} must be an object")
        values = {}
        for f, how in fields:
            values[f.name] = _field(f, how, v.get(f.name), path)
        return cls(**values)
    made.convert = convert
    return made


def _field(f: dataclasses.Field[Any], how: Converter | Check, found: Any, path: str) -> Any:
    """One field of a dataclass read from ``found`` (None: absent or null)."""
    where = f"{path}.{f.name}"
    if found is None:
        if f.default is not dataclasses.MISSING:
            return f.default
        if f.default_factory is not dataclasses.MISSING:
            return f.default_factory()
        if isinstance(how, Converter) and how.nullable:
            return None
        raise InvalidParams(f"{where} is required")
    if isinstance(how, Check):
        if not how.test(found):
            raise InvalidParams(f"{where} must be {how.what}")
        return found
    return how.convert(found, where)


def unstructure(result: Any) -> Any:
    """A handler's result as JSON values: a dataclass becomes an object of its fields (nested
    ones too), an ``Enum`` its value, a tuple a list, a path its string; the rest as it is.

    >>> @dataclass
    ... class Task:
    ...     name: str
    ...     steps: tuple[str, ...] = ()
    >>> unstructure([Task("lint", ("ruff",))])
    [{'name': 'lint', 'steps': ['ruff']}]
    """
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return {f.name: unstructure(getattr(result, f.name)) for f in dataclasses.fields(result)}
    if isinstance(result, dict):
        return {k: unstructure(v) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return [unstructure(v) for v in result]
    if isinstance(result, enum.Enum):
        return unstructure(result.value)
    if isinstance(result, os.PathLike):
        return os.fspath(result)
    return result
