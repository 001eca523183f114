"""The inputs outside a script that change what the installer resolves, gathered in one place.

The fast-path key hashes :func:`resolution_inputs`; uv and pip read the same variables and
files when they resolve. Every ``UV_*``/``PIP_*`` variable is either hashed or listed in
:data:`OPERATIONAL` as one that cannot change a result, so the two cannot disagree (the
installers pin the operational ones they depend on, such as ``UV_LINK_MODE``).

What counts:

* every ``UV_*`` and ``PIP_*`` environment variable, except the ones in :data:`OPERATIONAL`
  (where the cache lives, retries, timeouts, progress, colour: they change how, not what);
* the signature (size and mtime) of every configuration file uv or pip would read: uv's
  ``$UV_CONFIG_FILE``, user (``$XDG_CONFIG_HOME/uv/uv.toml``) and system
  (``$XDG_CONFIG_DIRS/uv/uv.toml``, ``/etc/uv/uv.toml``) files, and the ``uv.toml`` and
  ``pyproject.toml`` files of the working directory and its parents (uv's project-level
  configuration); pip's ``$PIP_CONFIG_FILE``, ``/etc/pip.conf``, ``$XDG_CONFIG_DIRS/pip/pip.conf``,
  ``~/.config/pip/pip.conf``, ``~/.pip/pip.conf`` and the ``pip.conf`` of pyrun's own
  interpreter's prefix.

Sources: uv's documentation, "Configuration files" and "Environment variables"; pip's
documentation, "Configuration" (file locations and ``PIP_<OPTION>`` variables).

Standard library only, and only ``os`` and ``sys`` at import: the warm path calls
:func:`resolution_inputs` on every run (a few dozen ``stat`` calls at most).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyrun.layout import file_signature

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
    "PIP_RETRIES", "PIP_TIMEOUT", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_PYTHON_VERSION_WARNING", "PIP_NO_COLOR", "PIP_PROGRESS_BAR", "PIP_QUIET",
    "PIP_VERBOSE", "PIP_NO_INPUT", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_ROOT_USER_ACTION",
    "PIP_NO_WARN_SCRIPT_LOCATION", "PIP_CERT", "PIP_CLIENT_CERT", "PIP_LOG",
})

_PREFIXES = ("UV_", "PIP_")


def resolution_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """``NAME=value`` of each ``UV_*``/``PIP_*`` variable that can change a resolution, sorted."""
    env = os.environ if environ is None else environ
    return sorted(f"{k}={v}" for k, v in env.items()
                  if k.startswith(_PREFIXES) and k not in OPERATIONAL)


def config_files(environ: Mapping[str, str] | None = None, cwd: str | None = None) -> list[str]:
    """The configuration files uv and pip would look for (present or not), in a fixed order."""
    env = os.environ if environ is None else environ
    home = os.path.expanduser("~")
    xdg_config = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    xdg_dirs = [d for d in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if d]
    files = [env.get("UV_CONFIG_FILE", ""), os.path.join(xdg_config, "uv", "uv.toml")]
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
    files += [env.get("PIP_CONFIG_FILE", ""), "/etc/pip.conf"]
    files += [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs]
    files += [os.path.join(xdg_config, "pip", "pip.conf"), os.path.join(home, ".pip", "pip.conf"),
              os.path.join(sys.prefix, "pip.conf")]
    return [f for f in files if f]


def resolution_inputs(environ: Mapping[str, str] | None = None, cwd: str | None = None) -> list[str]:
    """Everything outside the script and the command line that can change a resolution:
    :func:`resolution_variables`, then ``path<TAB>signature`` of each existing file of
    :func:`config_files`. Part of every fast-path key."""
    found = resolution_variables(environ)
    for path in config_files(environ, cwd):
        signature = file_signature(path)
        if signature != "-":
            found.append(f"{path}\t{signature}")
    return found

