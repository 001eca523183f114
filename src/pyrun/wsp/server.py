"""pyrun's own WSP server for a project directory (``pyrun wsp serve``): the toolkit's
:class:`~pyrun.wsp.base.Server`, named ``pyrun``, serving a project's environments
(:class:`~pyrun.wsp.project.ProjectStore`: its ``.venv``, its ``.python-envs`` and the activated
one).

Methods: the WSP v0.1 set (``initialize``, ``shutdown``, ``exit``, ``environment/list``,
``environment/create``, ``environment/get``, ``environment/delete``,
``environment/execute``), plus pyrun's optional ones (``pyrun/default_environment``,
``pyrun/set_default_environment``, ``pyrun/process/write``, ``pyrun/process/kill``). pyrun's
extra fields and params are optional; ``initialize`` advertises them under
``capabilities.pyrun`` (docs/wsp.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

from pyrun import __version__
from pyrun.wsp.base import Server
from pyrun.wsp.project import ProjectStore


def project_server(project: Path, log: Any = None) -> Server:
    """pyrun's server for ``project``, its diagnostics going to ``log`` (default stderr).

    >>> server = project_server(Path("proj"))
    >>> list(server.initialize({})["capabilities"]), "pyrun/default_environment" in server.table
    (['pyrun'], True)
    """
    server = Server("pyrun", __version__, capabilities={})
    server.include(ProjectStore(project, log))
    return server


def run_server(project: Path, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Serve ``project`` over stdio until ``exit`` or the end of input; returns the exit status."""
    return project_server(project).serve(stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)
