"""The engine's public API: the one front door the CLI, ``pyrun python``, ``pyrun env`` and the
workflow server protocol (:mod:`pyrun.wsp`) all use.

* :func:`prepare` finds or builds a script's environment; :func:`run` runs the script in it.
* :func:`prepare_requirements` does the same for a list of requirements (a tool's ``requires``).
* :func:`create_venv` makes a venv at a given prefix and composes requirements into it from the
  pool (WSP's ``environment/create``).
* :func:`command_environ`, :func:`run_captured` and :func:`start` run commands in an
  environment, through the one subprocess helper.
* :func:`install_command` makes a script a command (``pyrun install``); :func:`outdated`
  and :func:`upgrade` find newer releases of scripts' requirements and raise a block's lower
  bounds (``pyrun outdated``, ``pyrun upgrade``).
* :func:`seed` builds the pool entries some scripts need into a pool layer (``pyrun cache
  seed --into``); :func:`bundle` writes an offline bundle (``pyrun bundle``), which
  ``RunOptions(bundle=DIR)`` runs from.
* :func:`read_script` reads a script's bytes once (a file, ``-`` or a URL), for a caller that
  must run exactly the bytes it checked (``prepare(..., data=...)``).

The stages, each one module::

    script -> metadata -> interpreter -> resolution (installer) -> pool -> environment -> launch

A warm run never comes here: :mod:`pyrun.fastpath` finds the environment and execs. The errors
are :mod:`pyrun.errors`' tree; :class:`~pyrun.progress.Reporter` is re-exported here for
callers that want progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyrun.engine.bundling import bundle
    from pyrun.engine.editing import BOUNDS
    from pyrun.engine.installers.uv import find_uv
    from pyrun.engine.installing import install_command
    from pyrun.engine.options import RunOptions, fast_key_for
    from pyrun.engine.outdated import OutdatedReport, outdated
    from pyrun.engine.preparing import create_venv, prepare, prepare_requirements
    from pyrun.engine.running import command_environ, run, run_module
    from pyrun.engine.seeding import seed
    from pyrun.engine.subcommands import (
        add_requirements,
        export,
        init_script,
        lock,
        remove_requirements,
        tree,
    )
    from pyrun.engine.upgrading import UpgradeReport, upgrade
    from pyrun.engine.uvpython import Asked, ask_early, uv_binary
    from pyrun.progress import Reporter
    from pyrun.script.metadata import read_script
    from pyrun.subprocesses import run_captured, start

#: Each public name and the module that defines it. The face imports a module only when one
#: of its names is first used (PEP 562), so ``import pyrun.engine.uvpython`` (the CLI starts
#: uv's interpreter query with it before anything else) does not load the whole engine.
_WHERE = {
    "Asked": "pyrun.engine.uvpython",
    "BOUNDS": "pyrun.engine.editing",
    "OutdatedReport": "pyrun.engine.outdated",
    "Reporter": "pyrun.progress",
    "RunOptions": "pyrun.engine.options",
    "UpgradeReport": "pyrun.engine.upgrading",
    "add_requirements": "pyrun.engine.subcommands",
    "bundle": "pyrun.engine.bundling",
    "ask_early": "pyrun.engine.uvpython",
    "command_environ": "pyrun.engine.running",
    "create_venv": "pyrun.engine.preparing",
    "export": "pyrun.engine.subcommands",
    "fast_key_for": "pyrun.engine.options",
    "find_uv": "pyrun.engine.installers.uv",
    "init_script": "pyrun.engine.subcommands",
    "install_command": "pyrun.engine.installing",
    "lock": "pyrun.engine.subcommands",
    "outdated": "pyrun.engine.outdated",
    "prepare": "pyrun.engine.preparing",
    "prepare_requirements": "pyrun.engine.preparing",
    "read_script": "pyrun.script.metadata",
    "remove_requirements": "pyrun.engine.subcommands",
    "run": "pyrun.engine.running",
    "run_captured": "pyrun.subprocesses",
    "run_module": "pyrun.engine.running",
    "seed": "pyrun.engine.seeding",
    "start": "pyrun.subprocesses",
    "tree": "pyrun.engine.subcommands",
    "upgrade": "pyrun.engine.upgrading",
    "uv_binary": "pyrun.engine.uvpython",
}

__all__ = [
    "Asked",
    "BOUNDS",
    "OutdatedReport",
    "Reporter",
    "RunOptions",
    "UpgradeReport",
    "add_requirements",
    "bundle",
    "ask_early",
    "command_environ",
    "create_venv",
    "export",
    "fast_key_for",
    "find_uv",
    "init_script",
    "install_command",
    "lock",
    "outdated",
    "prepare",
    "prepare_requirements",
    "read_script",
    "remove_requirements",
    "run",
    "run_captured",
    "run_module",
    "seed",
    "start",
    "tree",
    "upgrade",
    "uv_binary",
]


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first use (PEP 562).

    Raises:
        AttributeError: ``name`` is not part of the engine's public API.
    """
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'pyrun.engine' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value
