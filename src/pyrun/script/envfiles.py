"""dotenv files (``--env-file``, ``UV_ENV_FILE``): the variables they add to a script's
environment, read as ``uv run --env-file`` reads them.

uv (0.13, through the ``dotenvy`` crate) loads the files last first, and sets a variable only
when the environment does not have it yet: so a variable already set wins over every file, a
later file wins over an earlier one, and within a file the first assignment of a name wins.
A value is expanded unless it is in single quotes: ``$NAME`` and ``${NAME}`` become that
variable as set at that point (the environment, then what was loaded before), or nothing. A
line that cannot be read as an assignment ends the file's reading, with a warning.

The lines are parsed by ``python-dotenv`` (``KEY=value``, ``export``, quotes, escapes,
comments); only the order, the precedence and the expansion above are pyrun's, since
``python-dotenv``'s own differ (it expands inside single quotes, not ``$NAME``, and reads on
past a bad line).

Bounded, where uv is not (it reads a file whole and expands without a limit): a file over
:data:`MAX_FILE_BYTES` (``/dev/zero``), a NUL byte (no environment variable can hold one: uv
fails at the start, ``nul byte found in provided data``), a value over
:data:`MAX_VALUE_BYTES` once expanded, or more than :data:`MAX_TOTAL_BYTES` added in all (a
``$A$A`` expansion bomb) is a :class:`~pyrun.errors.UsageError` naming the file, the line and
the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from pyrun.errors import UsageError
from pyrun.progress import Reporter

#: ``$NAME`` or ``${NAME}`` in a value (a backslash before the ``$`` keeps it).
_REFERENCE = re.compile(r"\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")

#: ``KEY=`` (with an optional ``export``) then a single quote: a value never expanded.
_SINGLE_QUOTED = re.compile(r"\s*(?:export\s+)?[^=\s]+\s*=\s*'")

#: Largest dotenv file read (1 MiB): real ones hold a few KiB, and what they hold must fit in
#: an ``exec`` anyway (its environment is at most ``ARG_MAX``: 1 MiB on macOS, 2 MiB on Linux).
MAX_FILE_BYTES = 2**20

#: Largest value, once expanded (128 KiB): Linux refuses a longer environment string at
#: ``exec`` (``MAX_ARG_STRLEN``, "Argument list too long").
MAX_VALUE_BYTES = 2**17

#: Largest total of the variables the files add (``NAME=value``, all files together: 1 MiB).
MAX_TOTAL_BYTES = 2**20


def variables(paths: Sequence[str], reporter: Reporter,
              environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{name: value}`` that the dotenv files ``paths`` (in the order given) add to
    ``environ`` (default: this process's environment), as uv adds them; see the module.

    Raises:
        UsageError: a file does not exist, cannot be read, is not UTF-8, is too large or holds
            a NUL byte; a value or the whole is too large (see the module).
    """
    if not paths:
        return {}
    import io

    from dotenv.parser import parse_stream

    env = dict(os.environ if environ is None else environ)
    added: dict[str, str] = {}
    total = 0
    for path in reversed(paths):
        text = _read(path)
        for binding in parse_stream(io.StringIO(text)):
            line = binding.original.line
            if binding.error:
                reporter.warn(f"--env-file {path}: line {line} is not "
                              "NAME=value; it and the lines after it are not read (as uv)")
                break
            if binding.key is None or binding.value is None or binding.key in env:
                continue
            value = (binding.value if _SINGLE_QUOTED.match(binding.original.string)
                     else _expand(binding.value, env, MAX_VALUE_BYTES))
            if value is None or len(value.encode()) > MAX_VALUE_BYTES:
                raise UsageError(f"--env-file {path}: line {line}: {binding.key} comes to more "
                                 f"than {MAX_VALUE_BYTES // 1024} KiB (the limit for one "
                                 "variable); check the $references in its value")
            total += len(f"{binding.key}={value}".encode()) + 1  # and its NUL
            if total > MAX_TOTAL_BYTES:
                raise UsageError(f"--env-file {path}: line {line}: at {binding.key}, the "
                                 f"variables come to more than {MAX_TOTAL_BYTES // 2**20} MiB "
                                 "(the limit for all env files together); check the "
                                 "$references in their values")
            env[binding.key] = added[binding.key] = value
    return added


def _expand(value: str, env: Mapping[str, str], limit: int) -> str | None:
    """``value`` with each ``$NAME`` and ``${NAME}`` replaced from ``env`` (unset: empty);
    None as soon as it comes to more than ``limit`` characters (a UTF-8 byte or more each),
    so an expansion bomb stops before it is built.

    >>> _expand("${A}-$A", {"A": "xy"}, 100)
    'xy-xy'
    >>> _expand("$A$A$A", {"A": "xy"}, 5) is None
    True
    """
    pieces: list[str] = []
    size = end = 0
    for m in _REFERENCE.finditer(value):
        got = "$" if m.group(0) == "\\$" else env.get(m.group(1) or m.group(2), "")
        pieces += (value[end:m.start()], got)
        size += m.start() - end + len(got)
        end = m.end()
        if size > limit:
            return None
    pieces.append(value[end:])
    return None if size + len(value) - end > limit else "".join(pieces)


def _read(path: str) -> str:
    """The text of the dotenv file ``path``: any readable file, a pipe too
    (``--env-file <(...)``), a UTF-8 byte order mark skipped; at most :data:`MAX_FILE_BYTES`
    are read.

    Raises:
        UsageError: it does not exist, cannot be read, is not UTF-8, is larger than
            :data:`MAX_FILE_BYTES`, or holds a NUL byte (the message names its line).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise UsageError(f"--env-file {path}: larger than {MAX_FILE_BYTES // 2**20} MiB "
                             "(the limit for a dotenv file); is it the right file?")
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"--env-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--env-file {path}: cannot be read ({exc})") from None
    nul = text.find("\0")
    if nul >= 0:
        raise UsageError(f"--env-file {path}: line {text.count(chr(10), 0, nul) + 1} holds a "
                         "NUL byte, which no environment variable can hold; remove it")
    return text
