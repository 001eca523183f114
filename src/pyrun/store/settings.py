"""The cache's settings: how big it may grow and when the background upkeep prunes it.

Read from the process environment first, then from the ``[cache]`` table of pyrun's config
file (``$PYRUN_CONFIG_DIR/config.toml``, default ``~/.config/pyrun/config.toml``):

=====================================  ========================================================
variable / ``[cache]`` key             meaning
=====================================  ========================================================
``PYRUN_CACHE_MAX_SIZE`` / max-size    the size cap: ``500M``, ``2G``, a number of bytes;
                                       ``0`` or ``none``: no cap (the default)
``PYRUN_CACHE_UNUSED_FOR`` /           how long an environment may go unused before the upkeep
unused-for                             (and ``pyrun cache prune``) removes it: days (``30``),
                                       or ``12h``, ``30d``, ``2w`` (default 30 days)
``PYRUN_CACHE_AUTO_PRUNE`` /           whether a run starts the daily prune (default true)
auto-prune
``PYRUN_POOL_PATH`` / pool-path        read-only pool layers searched after your own pool
                                       (:mod:`pyrun.store.layers`)
=====================================  ========================================================

A value pyrun cannot read is an error naming the variable or the file: a
:class:`~pyrun.errors.UsageError` (exit 64) for a variable, a
:class:`~pyrun.errors.ProjectFileError` (exit 78) for the file, which is also refused when
another user could have written it or the directory it is in (as ``pyrun wsp`` refuses it). The
background upkeep turns such an error into a warning it records, and then does nothing.

Never read on the warm path: only by the background upkeep (:mod:`pyrun.store.upkeep`) and
``pyrun cache`` commands.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrun.errors import ProjectFileError, UsageError
from pyrun.script.userconfig import check_config_file, config_file
from pyrun.store.sizes import parse_size

#: Default age (days) after which an environment nobody ran is pruned.
DEFAULT_UNUSED_FOR = 30.0

#: uv's boolean spellings (any case), as pyrun reads ``UV_NO_ENV_FILE``.
TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE = frozenset({"0", "false", "f", "no", "n", "off"})

#: ``[cache]`` key -> environment variable.
VARIABLES = {"max-size": "PYRUN_CACHE_MAX_SIZE", "unused-for": "PYRUN_CACHE_UNUSED_FOR",
             "auto-prune": "PYRUN_CACHE_AUTO_PRUNE", "pool-path": "PYRUN_POOL_PATH"}

#: Seconds in each unit ``unused-for`` accepts.
_PERIODS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


@dataclass(frozen=True)
class CacheSettings:
    """The cache's settings (see the module docstring).

    Attributes:
        max_size: the size cap in bytes; None for no cap.
        unused_for: days an environment may go unused before a prune removes it.
        auto_prune: whether runs start the daily background prune.
        origin: ``{key: where its value came from}``: the variable's name, the config file's
            path, or ``"default"``.
    """

    max_size: int | None = None
    unused_for: float = DEFAULT_UNUSED_FOR
    auto_prune: bool = True
    origin: Mapping[str, str] = field(default_factory=dict)


def read(environ: Mapping[str, str] | None = None, path: Path | None = None) -> CacheSettings:
    """The cache's settings: each from its variable in ``environ`` (default ``os.environ``)
    when set and not empty, else from ``path``'s ``[cache]`` table (default
    :func:`config_file`; a missing file is no setting), else the default.

    Raises:
        UsageError: a variable's value cannot be read.
        ProjectFileError: the file is not TOML, its ``[cache]`` is not a table, holds an
            unknown key or a value that cannot be read, or another user could have written it.
    """
    environ = os.environ if environ is None else environ
    path = config_file() if path is None else path
    table = _cache_table(path)
    values: dict[str, Any] = {}
    origin = {}
    for key, variable in VARIABLES.items():
        if key == "pool-path":  # read by pyrun.store.layers
            continue
        text = environ.get(variable, "")
        if text.strip():
            try:
                values[key] = _value(key, text)
            except ValueError as exc:
                raise UsageError(f"{variable}: {exc}") from None
            origin[key] = variable
        elif key in table:
            try:
                values[key] = _value(key, table[key])
            except ValueError as exc:
                raise ProjectFileError(str(path), f"{path}: [cache] {key}: {exc}") from None
            origin[key] = str(path)
        else:
            origin[key] = "default"
    return CacheSettings(values.get("max-size"), values.get("unused-for", DEFAULT_UNUSED_FOR),
                         values.get("auto-prune", True), origin)


def pool_path(path: Path) -> tuple[str, ...]:
    """The ``pool-path`` of the config file at ``path`` (:mod:`pyrun.store.layers`): a list of
    directories, or one string separated by ``os.pathsep``; ``()`` when unset.

    Raises:
        ProjectFileError: the file cannot be read, another user could have written it, or the
            value is neither.
    """
    table = _cache_table(path)
    if "pool-path" not in table:
        return ()
    raw = table["pool-path"]
    if isinstance(raw, str):
        return tuple(raw.split(os.pathsep))
    if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        return tuple(raw)
    raise ProjectFileError(str(path), f"{path}: [cache] pool-path: needs a list of directories "
                           f"(or one string separated by {os.pathsep!r}), not {raw!r}")


def _cache_table(path: Path) -> dict[str, Any]:
    """The ``[cache]`` table of the config file at ``path`` (empty when either is missing)."""
    if not path.is_file():
        return {}
    check_config_file(path)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectFileError(str(path), f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ProjectFileError(str(path), f"{path}: cannot read it: {exc.strerror}") from None
    table = data.get("cache", {})
    if not isinstance(table, dict):
        raise ProjectFileError(str(path), f"{path}: [cache] must be a table")
    unknown = sorted(set(table) - set(VARIABLES))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0].replace("_", "-"), VARIABLES, 1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ProjectFileError(str(path), f"{path}: [cache] has no key {unknown[0]!r} ({hint}"
                               f"the keys are {', '.join(VARIABLES)})")
    return table


def _value(key: str, raw: object) -> Any:
    """``raw`` (text from a variable, or a TOML value) read as ``key``'s value.

    Raises:
        ValueError: it cannot be; the message says what is accepted.
    """
    if key == "auto-prune":
        if isinstance(raw, bool):
            return raw
        word = raw.strip().lower() if isinstance(raw, str) else ""
        if word in TRUE or word in FALSE:
            return word in TRUE
        raise ValueError(f"needs true or false (1/0, yes/no, on/off), not {raw!r}")
    if key == "max-size":
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str):
            raise ValueError(f"needs a size (500M, 2G, a number of bytes) or none, not {raw!r}")
        return parse_size(raw)
    return parse_days(raw)  # unused-for


def parse_days(raw: object) -> float:
    """A period in days from a number of days (``30``, ``0.5``) or a number with a unit
    (``12h``, ``30d``, ``2w``).

    >>> parse_days("36h"), parse_days(30), parse_days("2w")
    (1.5, 30.0, 14.0)

    Raises:
        ValueError: anything else, or a negative period.
    """
    seconds_per = 86400.0
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().lower()
        if text[-1:] in _PERIODS:
            seconds_per, text = _PERIODS[text[-1]], text[:-1]
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
    else:
        number = float("nan")
    if not 0 <= number < float("inf"):  # also NaN
        raise ValueError(f"needs a period: a number of days (30), or hours, days or weeks "
                         f"(12h, 30d, 2w), not {raw!r}")
    return number * seconds_per / 86400.0
