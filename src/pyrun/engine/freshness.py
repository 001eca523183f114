"""When the pool may answer a resolution: the freshness window, the resolution context, and
the stamps an index resolution leaves.

A pool entry may stand in for the index (:mod:`pyrun.engine.poolresolve`) while an index
resolution *chose* it recently, under the same settings:

* **The window** (:func:`window`): ``PYRUN_POOL_FRESHNESS``, seconds or a number with ``s``,
  ``m``, ``h``, ``d`` or ``w`` (``90m``, ``12h``, ``1d``); default :data:`DEFAULT_WINDOW`
  (a day); ``0`` turns the pool's answer off (every new block asks the index, as uv does).
* **The context** (:func:`context`): the digest of what says where uv looks for packages: the
  index variables (``UV_INDEX_URL``, ``UV_DEFAULT_INDEX``, ``UV_INDEX``,
  ``UV_EXTRA_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_NO_INDEX``) and the index keys of the
  configuration files uv reads for the script (the user's and the system's ``uv.toml``, or
  ``UV_CONFIG_FILE``; the project configuration found from the script's directory). Any other
  setting that can change which versions uv picks (``UV_RESOLUTION``, ``UV_PRERELEASE``,
  ``UV_EXCLUDE_NEWER``, a ``uv.toml`` key such as ``exclude-newer``, a ``[pip]`` table, a
  variable or key pyrun does not know) means there is no context: the index decides.
* **The stamps** (:class:`Stamps`): ``pool-stamps/<context>/<entry key>`` in the cache, an
  empty file whose mtime is when an index resolution under that context last chose the entry
  (:func:`pyrun.engine.poolresolve.stamp`). An entry without a stamp in the context (installed
  from a ``--lock`` file, by a script with ``[tool.uv]`` settings, or by another pyrun) is not
  the pool's to offer.

Source: uv's documentation, "Settings" and "Environment variables" (uv 0.13.9).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pyrun.errors import UsageError

#: The variable that sets the window.
VARIABLE = "PYRUN_POOL_FRESHNESS"

#: The window when :data:`VARIABLE` is unset (seconds): a day.
DEFAULT_WINDOW = 86400.0

#: The stamps' directory in the cache.
STAMPS = "pool-stamps"

#: Seconds in each unit a window may be written in.
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}

#: uv's variables that say where the index is: their values are part of the context.
INDEX_VARIABLES = frozenset({"UV_INDEX", "UV_DEFAULT_INDEX", "UV_INDEX_URL",
                             "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_NO_INDEX"})

#: uv's variables (beyond :data:`pyrun.inputs.OPERATIONAL`) that never change which versions
#: ``uv pip compile`` picks for a given interpreter.
NEUTRAL_VARIABLES = frozenset({
    "UV_OFFLINE", "UV_NO_CACHE", "UV_PYTHON", "UV_PYTHON_PREFERENCE", "UV_MANAGED_PYTHON",
    "UV_NO_MANAGED_PYTHON", "UV_PYTHON_INSTALL_DIR", "UV_PYTHON_INSTALL_MIRROR",
    "UV_PYPY_INSTALL_MIRROR", "UV_PREVIEW", "UV_PREVIEW_FEATURES", "UV_KEYRING_PROVIDER",
    "UV_NO_CONFIG", "UV_CONFIG_FILE", "UV_TOOL_DIR", "UV_TOOL_BIN_DIR", "UV_COMPILE_BYTECODE",
    "UV_NO_PROGRESS", "UV_INSECURE_HOST", "UV_REQUIRE_HASHES", "UV_VERIFY_HASHES",
})

#: ``uv.toml`` keys that say where the index is: their values are part of the context.
INDEX_KEYS = frozenset({"index-url", "extra-index-url", "find-links", "no-index", "index"})

#: ``uv.toml`` keys that never change which versions ``uv pip compile`` picks.
NEUTRAL_KEYS = frozenset({
    "cache-dir", "link-mode", "compile-bytecode", "native-tls", "system-certs", "offline",
    "no-cache", "python-preference", "python-downloads", "python-install-mirror",
    "pypy-install-mirror", "python-downloads-json-url", "concurrent-downloads",
    "concurrent-builds", "concurrent-installs", "keyring-provider", "allow-insecure-host",
    "preview", "preview-features", "required-version", "publish-url", "check-url",
    "trusted-publishing", "http-proxy", "https-proxy", "no-proxy", "cache-keys",
})

_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def parse_window(text: str) -> float:
    """Seconds in a window written as ``PYRUN_POOL_FRESHNESS`` takes it.

    >>> parse_window("1d"), parse_window("12h"), parse_window("90"), parse_window("0")
    (86400.0, 43200.0, 90.0, 0.0)

    Raises:
        ValueError: not a number of seconds, nor one with a unit of :data:`_UNITS`; or
            negative.
    """
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:], 0.0) if value else 0.0
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):  # also NaN
        raise ValueError(f"needs seconds, or a number with s, m, h, d or w (1d, 12h; 0 asks "
                         f"the index every time), not {text!r}")
    return seconds


def window(environ: Mapping[str, str] | None = None) -> float:
    """The freshness window in seconds: :data:`VARIABLE` in ``environ`` (default
    ``os.environ``) when set and not blank, else :data:`DEFAULT_WINDOW`.

    Raises:
        UsageError: the variable cannot be read (exit 64).
    """
    text = (os.environ if environ is None else environ).get(VARIABLE, "")
    if not text.strip():
        return DEFAULT_WINDOW
    try:
        return parse_window(text)
    except ValueError as exc:
        raise UsageError(f"{VARIABLE}: {exc}") from None


def shown(seconds: float) -> str:
    """A window for messages: ``1d``, ``12h``, ``90s``.

    >>> shown(86400), shown(43200), shown(90), shown(5400)
    ('1d', '12h', '90s', '90m')
    """
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def offline(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``UV_OFFLINE`` is set true (uv's booleans), as uv reads it."""
    text = (os.environ if environ is None else environ).get("UV_OFFLINE", "")
    return text.strip().lower() not in _FALSE


def context(script: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(digest, "")`` of the settings uv resolves ``script``'s plain requirements under,
    when they say nothing but where the index is (see the module's docstring); else
    ``("", why)``, ``why`` naming the variable or the file and key. The digest of settings
    that name no index at all (PyPI, uv's default) is :data:`PYPI`.

    Configuration files are read as uv reads them for a script: none with ``UV_NO_CONFIG``;
    only ``UV_CONFIG_FILE`` when it is set; else the user's, the system's and the project
    configuration from the script's directory up (:func:`pyrun.script.uvconfig.discovered_config`).
    """
    import json

    from pyrun.inputs import resolution_variables

    try:  # built in, no OpenSSL to load (hashlib's sha256 loads it)
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - other implementations
        from hashlib import blake2b

    environ = os.environ if environ is None else environ
    variables = []
    for item in resolution_variables(environ):
        name = item.partition("=")[0]
        if not name.startswith("UV_") or name in NEUTRAL_VARIABLES:
            continue
        if name.startswith("UV_INDEX_") and name.endswith(("_USERNAME", "_PASSWORD")):
            continue  # credentials of a named index
        if name not in INDEX_VARIABLES:
            return "", f"{name} is set"
        variables.append(item)
    tables = []
    for where, table in configurations(script, environ):
        if table is None:
            return "", f"{where} cannot be read"
        for key in sorted(table):
            if key not in INDEX_KEYS and key not in NEUTRAL_KEYS:
                return "", f"{where} sets `{key}`"
        tables.append({k: table[k] for k in sorted(table) if k in INDEX_KEYS})
    if not variables and not any(tables):
        return PYPI, ""
    text = json.dumps(["uv", variables, tables], sort_keys=True, default=str)
    return blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest(), ""


#: :func:`context`'s digest for settings that name no index: uv resolves from PyPI.
PYPI = "pypi"


def page_times(names: Iterable[str], environ: Mapping[str, str] | None = None,
               ) -> list[float] | None:
    """When uv last fetched (or revalidated) PyPI's index page of each project in ``names``
    (canonical names): the mtime of ``simple-vN/pypi/NAME.rkyv`` in uv's cache, ``N`` the
    newest layout there; None when one is missing, or uv's cache is off (``UV_NO_CACHE``) or
    not where pyrun looks (``UV_CACHE_DIR``, else the user cache directory's ``uv``).

    What uv's cache holds of the index is metadata it already fetched, as the pool's entries
    are distributions it already fetched: within the window, a resolution from it (uv's
    ``--offline``) stands in for the index as the pool does
    (:func:`pyrun.engine.poolfirst.from_uv_cache`).
    """
    environ = os.environ if environ is None else environ
    if environ.get("UV_NO_CACHE", "").strip().lower() not in _FALSE:
        return None
    root = environ.get("UV_CACHE_DIR") or os.path.join(
        environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "uv")
    try:
        layouts = [n for n in os.listdir(root) if n.startswith("simple-v") and n[8:].isdigit()]
    except OSError:
        return None
    if not layouts:
        return None
    pages = os.path.join(root, max(layouts, key=lambda n: int(n[8:])), "pypi")
    times = []
    for name in names:
        try:
            times.append(os.stat(os.path.join(pages, f"{name}.rkyv")).st_mtime)
        except OSError:
            return None
    return times


def configurations(script: str, environ: Mapping[str, str],
                   ) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """``(where, table)`` of each configuration uv reads for ``script`` (None: a file that
    exists and cannot be read as TOML)."""
    from pyrun.script.uvconfig import discovered_config, root_of

    if environ.get("UV_NO_CONFIG", "").strip().lower() not in _FALSE:
        return
    explicit = environ.get("UV_CONFIG_FILE", "")
    if explicit:
        yield explicit, _toml(explicit)
        return
    home = os.path.expanduser("~")
    config = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    dirs = [d for d in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if d]
    for path in [os.path.join(config, "uv", "uv.toml"),
                 *(os.path.join(d, "uv", "uv.toml") for d in dirs), "/etc/uv/uv.toml"]:
        if os.path.isfile(path):
            yield path, _toml(path)
    project = discovered_config(root_of(script) or os.getcwd())
    if project:
        yield "the project configuration", project


def _toml(path: str) -> dict[str, Any] | None:
    """The TOML file at ``path``; None when it cannot be read."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, ValueError):
        return None


class Stamps:
    """The stamps of one context (``pool-stamps/<context>/`` under the cache ``root``, or
    ``directory``: a pool layer's, :func:`pyrun.store.layers.stamps`).

    Args:
        root: the cache's root directory.
        context: :func:`context`'s digest.
        directory: the stamps' directory, when not the cache's.
    """

    def __init__(self, root: Path, context: str, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else root / STAMPS / context

    def keys(self) -> list[str]:
        """The entry keys stamped in this context (whatever their age)."""
        try:
            return [n for n in os.listdir(self.directory) if not n.startswith(".")]
        except OSError:
            return []

    def age(self, key: str, now: float) -> float | None:
        """Seconds since an index resolution last chose ``key``; None without a stamp."""
        try:
            return now - os.stat(self.directory / key).st_mtime
        except OSError:
            return None

    def touch(self, keys: list[str], at: float | None = None, shared: bool = False) -> None:
        """Stamp ``keys`` now, or at the time ``at`` (seconds since the epoch; created, or their
        mtime set). ``shared``: a pool layer's, which others read (the directory 0755 and
        the stamps 0644 whatever the umask; its parent, the layer's ``.stamps``, too).

        Raises:
            OSError: the directory or a stamp cannot be written.
        """
        if shared and not self.directory.is_dir():
            self.directory.mkdir(mode=0o755, parents=True)
            for made in (self.directory.parent, self.directory):
                os.chmod(made, 0o755)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for key in keys:
            path = self.directory / key
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW,
                             0o644 if shared else 0o600))
            os.utime(path, None if at is None else (at, at))
