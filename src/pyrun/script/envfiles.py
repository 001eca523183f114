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


def variables(paths: Sequence[str], reporter: Reporter,
              environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{name: value}`` that the dotenv files ``paths`` (in the order given) add to
    ``environ`` (default: this process's environment), as uv adds them; see the module.

    Raises:
        UsageError: a file does not exist, cannot be read, or is not UTF-8.
    """
    if not paths:
        return {}
    import io

    from dotenv.parser import parse_stream

    env = dict(os.environ if environ is None else environ)
    added: dict[str, str] = {}
    for path in reversed(paths):
        text = _read(path)
        for binding in parse_stream(io.StringIO(text)):
            if binding.error:
                reporter.warn(f"--env-file {path}: line {binding.original.line} is not "
                              "NAME=value; it and the lines after it are not read (as uv)")
                break
            if binding.key is None or binding.value is None or binding.key in env:
                continue
            value = binding.value
            if not _SINGLE_QUOTED.match(binding.original.string):
                value = _expand(value, env)
            env[binding.key] = added[binding.key] = value
    return added


def _expand(value: str, env: Mapping[str, str]) -> str:
    """``value`` with each ``$NAME`` and ``${NAME}`` replaced from ``env`` (unset: empty)."""
    return _REFERENCE.sub(
        lambda m: "$" if m.group(0) == "\\$" else env.get(m.group(1) or m.group(2), ""), value)


def _read(path: str) -> str:
    """The text of the dotenv file ``path``: any readable file, a pipe too
    (``--env-file <(...)``), a UTF-8 byte order mark skipped.

    Raises:
        UsageError: it does not exist, cannot be read, or is not UTF-8.
    """
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"--env-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--env-file {path}: cannot be read ({exc})") from None
