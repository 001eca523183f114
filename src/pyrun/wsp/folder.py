"""The toolkit's store: the venvs in one folder (docs/workflow-server.md)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyrun.wsp.environment import Environment
from pyrun.wsp.jsonrpc import NameConflict
from pyrun.wsp.params import DIRECTORY_NAME, value
from pyrun.wsp.store import Store
from pyrun.wsp.venvs import make_venv


class VenvFolder(Store):
    """Environments that are the venvs in one folder (``FOLDER/NAME``, made with the standard
    library's ``venv``; ``create`` composes ``requirements`` into one from pyrun's pool), served
    with the same ``get``, ``execute`` (streaming, cancellable) and errors as pyrun's own
    server. An environment's id is its name. A folder has no default environment.

    Args:
        folder: the folder (relative paths are relative to the working directory); commands
            run in its parent when a request gives no ``cwd``.
        log: where diagnostics and progress lines go (default stderr).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     VenvFolder(Path(tmp) / "envs").environments()
    []
    """

    def __init__(self, folder: str | os.PathLike[str], log: Any = None) -> None:
        self.folder = Path(os.path.abspath(folder))
        super().__init__(self.folder.parent, log)

    def environments(self) -> list[Environment]:
        """The venvs in the folder, by name (a directory holding ``pyvenv.cfg``)."""
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return []
        return [Environment(n, self.folder / n, "folder", False) for n in names
                if (self.folder / n / "pyvenv.cfg").is_file()]

    def create(self, name: str, python_version: str | None = None,
               requirements: Sequence[str] = ()) -> Environment:
        """A venv at ``FOLDER/NAME`` with ``requirements`` composed from the pool.

        Raises:
            InvalidParams: -32602, ``name`` is not a plain directory name (checked here too: a
                handler of a script's own may pass on what a client sent).
            NameConflict: -31002, ``FOLDER/NAME`` exists.
            PythonUnavailable, RequirementsFailed: as :meth:`Store.create`.
        """
        value({"name": name}, "name", DIRECTORY_NAME)
        prefix = self.folder / name
        if os.path.lexists(prefix):
            raise NameConflict(name)
        make_venv(prefix, python_version, requirements, self.log)
        return self.find(name)

    def delete(self, env: Environment) -> None:
        """Remove the venv's directory (a symbolic link is left alone)."""
        if not env.prefix.is_symlink():
            shutil.rmtree(env.prefix)
