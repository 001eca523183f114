"""uv's configuration files as ``uv run --script`` finds and combines them: the user's
``uv.toml`` (or ``UV_CONFIG_FILE``, none with ``UV_NO_CONFIG``), the project configuration found
from the script's directory up, relative paths rebased to the file they are in, and the
generated ``uv.toml`` pyrun hands uv (:func:`project_args`). Source: uv's
``crates/uv-settings/src/lib.rs`` and ``combine.rs`` (uv 0.12.5)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

#: Keys of a project's ``[tool.uv]`` that a ``uv.toml`` may not hold (uv's
#: ``validate_uv_toml``): left out when the project configuration found from the script's
#: directory (a ``pyproject.toml``) is merged in.
PROJECT_ONLY = frozenset({"conflicts", "workspace", "sources", "dev-dependencies",
                          "default-groups", "dependency-groups", "managed", "package",
                          "build-backend", "environments", "required-environments"})

#: Index keys whose values may be relative paths, rebased from the file's directory.
_REBASED = ("index-url", "extra-index-url", "find-links")


def _config_file() -> str:
    """``UV_CONFIG_FILE``: the one configuration file uv reads instead of discovering any."""
    return os.environ.get("UV_CONFIG_FILE", "")


def _no_config() -> bool:
    """``UV_NO_CONFIG`` set true: uv reads no configuration file (a script's table still)."""
    return os.environ.get("UV_NO_CONFIG", "").strip().lower() not in (
        "", "0", "false", "f", "no", "n", "off")


def user_config_file() -> dict[str, Any] | None:
    """The content of ``UV_CONFIG_FILE``, rebased to its directory; None when it cannot be
    read as TOML (uv then says why, reading it itself)."""
    loads = _toml_loads()
    path = os.path.abspath(_config_file())
    try:
        with open(path, encoding="utf-8") as f:
            return rebased(loads(f.read()), os.path.dirname(path))
    except (OSError, ValueError):
        return None


def _toml_loads() -> Callable[[str], dict[str, Any]]:
    """``tomllib.loads`` (``tomli``'s before Python 3.11)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.9 and 3.10 only
        import tomli as tomllib
    return tomllib.loads


def root_of(script: str) -> str:
    """The directory a script's relative paths start from (:attr:`UvSettings.root`)."""
    if script and script != "-" and "://" not in script:
        return os.path.dirname(os.path.abspath(script))
    return ""


def rebased(table: Mapping[str, Any], root: str) -> dict[str, Any]:
    """``table`` with relative index paths made absolute from ``root`` (uv's
    ``rebase_indexes``): a value with no URL scheme that is not an absolute path.

    >>> rebased({"find-links": ["./wheels", "https://x/y"], "index-url": "/abs"}, "/s")
    {'find-links': ['/s/wheels', 'https://x/y'], 'index-url': '/abs'}
    """
    def fix(value: Any) -> Any:
        if isinstance(value, str) and "://" not in value and not value.startswith("file:") \
                and not os.path.isabs(value) and not value.startswith("~"):
            return os.path.normpath(os.path.join(root, value))
        return value

    out = dict(table)
    for key in _REBASED:
        if isinstance(out.get(key), list):
            out[key] = [fix(v) for v in out[key]]
        elif key in out:
            out[key] = fix(out[key])
    if isinstance(out.get("index"), list):
        out["index"] = [{**i, "url": fix(i.get("url"))} if isinstance(i, dict) else i
                        for i in out["index"]]
    return out


def combine(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """``first`` over ``second`` as uv's ``Combine`` joins two configurations: a value set in
    ``first`` wins, lists are joined (``first``'s items first), tables merged key by key.

    >>> combine({"a": 1, "l": [1], "t": {"x": 1}}, {"a": 2, "b": 3, "l": [2], "t": {"y": 2}})
    {'a': 1, 'l': [1, 2], 't': {'x': 1, 'y': 2}, 'b': 3}
    """
    out = dict(first)
    for key, value in second.items():
        mine = out.get(key)
        if key not in out:
            out[key] = value
        elif isinstance(mine, list) and isinstance(value, list):
            out[key] = [*mine, *value]
        elif isinstance(mine, dict) and isinstance(value, dict):
            out[key] = combine(mine, value)
    return out


def discovered_config(start: str) -> dict[str, Any] | None:
    """The project configuration uv finds for a script in directory ``start`` (uv's
    ``FilesystemOptions::find``): in the nearest directory that has one, ``uv.toml``, else
    ``pyproject.toml``'s ``[tool.uv]`` (a ``pyproject.toml`` without one is passed over),
    rebased to that directory, without :data:`PROJECT_ONLY` keys. None when there is none, or
    it cannot be read as TOML (uv then says so when it reads it itself).
    """
    loads = _toml_loads()
    here = os.path.abspath(start)
    while True:
        for name in ("uv.toml", "pyproject.toml"):
            path = os.path.join(here, name)
            try:
                with open(path, encoding="utf-8") as f:
                    data = loads(f.read())
            except (OSError, ValueError):
                continue
            table = data if name == "uv.toml" else data.get("tool", {}).get("uv") \
                if isinstance(data.get("tool"), dict) else None
            if isinstance(table, dict):
                return rebased({k: v for k, v in table.items() if k not in PROJECT_ONLY}, here)
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


@contextlib.contextmanager
def project_args(config: Mapping[str, Any] | None, as_file: bool = False
                 ) -> Iterator[list[str]]:
    """``["--project=DIR"]`` for a temporary directory holding ``config`` as its ``uv.toml``
    (removed on exit), or ``[]`` for no config. With ``as_file``, ``["--config-file=FILE"]``
    for that file instead: where uv reads no discovered configuration (``UV_NO_CONFIG``) or
    one given file (``UV_CONFIG_FILE``), a script's table still counts, and the command line's
    ``--config-file`` wins over both variables.

    Raises:
        OSError: the directory cannot be written.
    """
    if not config:
        yield []
        return
    import tempfile

    import tomli_w

    with tempfile.TemporaryDirectory(prefix="pyrun-uvconfig-") as tmp:
        Path(tmp, "uv.toml").write_text(tomli_w.dumps(dict(config)), encoding="utf-8")
        yield [f"--config-file={Path(tmp, 'uv.toml')}"] if as_file else [f"--project={tmp}"]
