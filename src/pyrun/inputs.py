"""What outside a script and its command line decides its resolution: the installers'
settings (``UV_*``/``PIP_*`` variables and configuration files) and the Python version file,
gathered in one place for the fast-path key (:mod:`pyrun.fastpath`).

* every ``UV_*`` and ``PIP_*`` environment variable, except the ones in :data:`OPERATIONAL`
  (where the cache lives, retries, timeouts, progress: they change how, not what);
* the signature (size and mtime) of every configuration file uv or pip would read: uv's
  ``$UV_CONFIG_FILE``, user (``$XDG_CONFIG_HOME/uv/uv.toml``) and system
  (``$XDG_CONFIG_DIRS/uv/uv.toml``, ``/etc/uv/uv.toml``) files, and the ``uv.toml`` and
  ``pyproject.toml`` files of the script's directory and its parents (uv's project-level
  configuration for a script: :func:`search_start`);
* the Python version file uv would read (:func:`version_file`);
* pip's ``$PIP_CONFIG_FILE``, ``/etc/pip.conf``,
  ``$XDG_CONFIG_DIRS/pip/pip.conf``, ``~/.config/pip/pip.conf``, ``~/.pip/pip.conf`` and the
  ``pip.conf`` of pyrun's own interpreter's prefix.

:func:`installer_inputs` is the digest of what one installer reads of these (uv reads no
``PIP_*`` variable, pip no ``uv.toml``). Standard library only, and cheap: part of the warm
path. Sources: uv's documentation, "Configuration files" and "Environment variables" (and
``crates/uv-static/src/env_vars.rs``); pip's documentation, "Configuration".
"""

# No ``from __future__ import annotations``: a warm run imports this module.

import os
import sys

try:  # _blake2 is built into CPython and imports in microseconds; hashlib loads OpenSSL
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other implementations
    from hashlib import blake2b

from pyrun import layout

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a warm run 3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping


#: ``UV_*``/``PIP_*`` variables that change how uv or pip work, never which distributions they
#: pick (uv's ``crates/uv-static/src/env_vars.rs`` and CLI bindings; pip reads every
#: ``PIP_<OPTION>``). Everything else with those prefixes is part of the fast-path key:
#: ``UV_OFFLINE`` and ``UV_NO_CACHE`` are not here, since an offline resolution can differ.
OPERATIONAL = frozenset({
    "UV_CACHE_DIR", "UV_NO_PROGRESS", "UV_HTTP_RETRIES", "UV_HTTP_TIMEOUT",
    "UV_HTTP_CONNECT_TIMEOUT", "UV_REQUEST_TIMEOUT", "UV_UPLOAD_HTTP_TIMEOUT",
    "UV_CONCURRENT_DOWNLOADS", "UV_CONCURRENT_BUILDS", "UV_CONCURRENT_INSTALLS",
    "UV_CONCURRENT_CACHE_READS", "UV_LINK_MODE", "UV_NO_WRAP", "UV_LOG_CONTEXT",
    "UV_STACK_SIZE", "UV_LOCK_TIMEOUT", "UV_COMPILE_BYTECODE_TIMEOUT", "UV_HIDE_BUILD_OUTPUT",
    "UV_PYTHON_DOWNLOADS", "UV_NATIVE_TLS", "UV_SYSTEM_CERTS",
    "UV_ENV_FILE", "UV_NO_ENV_FILE",  # the script's own variables (pyrun reads them), not uv's
    "PIP_RETRIES", "PIP_TIMEOUT", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_PYTHON_VERSION_WARNING", "PIP_NO_COLOR", "PIP_PROGRESS_BAR", "PIP_QUIET",
    "PIP_VERBOSE", "PIP_NO_INPUT", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_ROOT_USER_ACTION",
    "PIP_NO_WARN_SCRIPT_LOCATION", "PIP_CERT", "PIP_CLIENT_CERT", "PIP_LOG",
})

_PREFIXES = ("UV_", "PIP_")


def resolution_variables(environ: "Mapping[str, str] | None" = None) -> list[str]:
    """``NAME=value`` of each ``UV_*``/``PIP_*`` variable that can change a resolution, sorted.
    (Keys first, values only for those: decoding every value of ``os.environ`` costs more.)"""
    environ = os.environ if environ is None else environ
    return sorted(f"{k}={environ[k]}" for k in environ
                  if k.startswith(_PREFIXES) and k not in OPERATIONAL)


def config_files(environ: "Mapping[str, str] | None" = None, cwd: "str | None" = None) -> list[str]:
    """The configuration files uv and pip would look for (present or not), in a fixed order."""
    uv_files, pip_files = _config_files(environ, cwd)
    return uv_files + pip_files


def _config_files(environ: "Mapping[str, str] | None",
                  cwd: "str | None") -> "tuple[list[str], list[str]]":
    """``(uv's, pip's)`` configuration files (:func:`config_files`)."""
    environ = os.environ if environ is None else environ
    home = os.path.expanduser("~")
    xdg_config = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    xdg_dirs = [d for d in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if d]
    files = [environ.get("UV_CONFIG_FILE", ""), os.path.join(xdg_config, "uv", "uv.toml")]
    files += [os.path.join(d, "uv", "uv.toml") for d in xdg_dirs]
    files.append("/etc/uv/uv.toml")
    try:
        here = os.path.abspath(cwd if cwd is not None else os.getcwd())
    except OSError:  # the working directory was removed
        here = ""
    while here:
        files += [os.path.join(here, "uv.toml"), os.path.join(here, "pyproject.toml")]
        parent = os.path.dirname(here)
        here = "" if parent == here else parent
    pip = [environ.get("PIP_CONFIG_FILE", ""), "/etc/pip.conf"]
    pip += [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs]
    pip += [os.path.join(xdg_config, "pip", "pip.conf"), os.path.join(home, ".pip", "pip.conf"),
            os.path.join(sys.prefix, "pip.conf")]
    return [f for f in files if f], [f for f in pip if f]


#: Python version files, in the order uv looks for them in each directory.
VERSION_FILES = (".python-version", ".python-versions")

#: uv's values for a false boolean variable (clap's ``BoolishValueParser``).
_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def search_start(script: str) -> str:
    """Where uv starts looking for configuration and Python version files for ``script``:
    the script's directory (``uv run --script`` reads a project's ``uv.toml`` or
    ``pyproject.toml`` from there up, not from the working directory: checked with uv
    0.13.9), else, for ``-``, a URL or no script (``""``), the working directory; ``""``
    when that is gone."""
    try:
        if script and script != "-" and "://" not in script:
            return os.path.dirname(os.path.abspath(script))
        return os.getcwd()
    except OSError:  # the working directory was removed
        return ""


def version_file(script: str, environ: "Mapping[str, str] | None" = None) -> "str | None":
    """The Python version file ``uv run --script`` reads for ``script``, or None.

    uv looks in the script's directory and each of its parents (the working directory for
    ``-``, a URL, or no script: ``""``), in each directory ``.python-version`` first, then
    ``.python-versions``; where none is found, in its user configuration directory
    (``$XDG_CONFIG_HOME/uv``, else ``~/.config/uv``). A true ``UV_NO_CONFIG`` ignores it.
    Source: uv's ``crates/uv-python/src/version_files.rs`` (``PythonVersionFile::discover``)
    and ``ScriptPython::from_request`` (``crates/uv/src/commands/project/mod.rs``), uv 0.12.5.

    >>> version_file("/nonexistent/x.py", {"XDG_CONFIG_HOME": "/nonexistent"}) is None
    True
    """
    environ = os.environ if environ is None else environ
    if environ.get("UV_NO_CONFIG", "").strip().lower() not in _FALSE:
        return None
    here = search_start(script)
    config = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    while True:
        for name in VERSION_FILES:
            path = os.path.join(here or os.path.join(config, "uv"), name)
            if os.path.isfile(path):
                return path
        if not here:
            return None
        parent = os.path.dirname(here)
        here = "" if parent == here else parent


def version_file_input(script: str) -> str:
    """``path<TAB>signature`` of :func:`version_file` for ``script``, or ``""``: a new,
    changed or removed ``.python-version`` can change the interpreter, so it changes the
    fast-path key."""
    path = version_file(script)
    return f"{path}\t{layout.file_signature(path)}" if path else ""


def resolution_inputs(
    environ: "Mapping[str, str] | None" = None, cwd: "str | None" = None
) -> list[str]:
    """Everything outside the script and the command line that can change a resolution:
    :func:`resolution_variables`, then ``path<TAB>signature`` of each existing file of
    :func:`config_files`. Part of every fast-path key."""
    found = resolution_variables(environ)
    for path in config_files(environ, cwd):
        signature = layout.file_signature(path)
        if signature != "-":
            found.append(f"{path}\t{signature}")
    return found


NO_INSTALLER = "none"


def installer_inputs(installer: str, script: str,
                     environ: "Mapping[str, str] | None" = None) -> str:
    """The digest of the settings ``installer`` (``uv``, ``pip``, or :data:`NO_INSTALLER` for
    an environment with nothing installed) reads when it resolves for ``script``: its own
    variables of :func:`resolution_variables` (``UV_*`` for uv, ``PIP_*`` for pip) and the
    signatures of its own configuration files (:func:`config_files`). uv reads no ``PIP_*``
    variable nor ``pip.conf``, pip no ``UV_*`` nor ``uv.toml``.

    >>> installer_inputs("none", "x.py") == installer_inputs("none", "y.py", {"UV_X": "1"})
    True
    """
    h = blake2b(digest_size=16)
    if installer != NO_INSTALLER:
        prefix = "UV_" if installer == "uv" else "PIP_"
        texts = [v for v in resolution_variables(environ) if v.startswith(prefix)]
        uv_files, pip_files = _config_files(environ, search_start(script))
        for path in uv_files if installer == "uv" else pip_files:
            signature = layout.file_signature(path)
            if signature != "-":
                texts.append(f"{path}\t{signature}")
        for text in [installer, *texts]:
            part = text.encode("utf-8", "surrogateescape")
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()
