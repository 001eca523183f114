"""The toolkit's store: the venvs in one folder (docs/workflow-server.md), and the members a
subclass overrides to change what it serves or how it makes an environment."""

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
    server. An environment's id is its name. A folder has no default environment (a subclass
    may give it one: :attr:`~pyrun.wsp.store.Store.has_default`).

    What a subclass overrides (each calls ``super()`` to keep the rest):

    * :meth:`environment`: what one entry is (its :class:`Environment`: ``source``,
      ``is_default``);
    * :meth:`environments`: which entries there are (by default the folder's venvs);
    * :meth:`make`: how a venv is made (by default: the standard library's ``venv``, the
      requirements composed from the pool, ``$/progress``, nothing left behind when the
      request is cancelled), to add requirements or steps of your own;
    * :meth:`create` and :meth:`delete`: what ``environment/create`` and ``delete`` do around
      that (checks, clean-up);
    * :meth:`~pyrun.wsp.store.Store.summary` and :meth:`~pyrun.wsp.store.Store.details`: what
      a client is told about an environment (``extra``, fields of your own);
    * with ``has_default = True``, :meth:`~pyrun.wsp.store.Store.set_default` (and
      ``is_default`` in :meth:`environment`): the ``pyrun/default_environment`` methods.

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
        #: The folder (absolute).
        self.folder = Path(os.path.abspath(folder))
        super().__init__(self.folder.parent, log)

    def environment(self, name: str) -> Environment:
        """The environment of the entry ``FOLDER/NAME``: id and name ``NAME``, source
        ``folder``, not the default."""
        return Environment(name, self.folder / name, "folder", False)

    def environments(self) -> list[Environment]:
        """The venvs in the folder (directories holding ``pyvenv.cfg``), each as
        :meth:`environment` describes it, sorted by id."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        found = [self.environment(n) for n in names
                 if (self.folder / n / "pyvenv.cfg").is_file()]
        return sorted(found, key=lambda e: e.id)

    def make(self, prefix: Path, python_version: str | None,
             requirements: Sequence[str]) -> None:
        """Make the venv at ``prefix``: :func:`pyrun.wsp.venvs.make_venv` (the standard
        library's ``venv`` on ``python_version``, ``requirements`` composed from pyrun's pool,
        ``$/progress`` when the client asked for it, nothing left behind when the request is
        cancelled).

        Raises:
            PythonUnavailable: -31003; InvalidParams: -32602, an invalid requirement;
            RequirementsFailed: -31900; RpcError: -32800 when the request was cancelled.
        """
        make_venv(prefix, python_version, requirements, self.log)

    def create(self, name: str, python_version: str | None = None,
               requirements: Sequence[str] = ()) -> Environment:
        """A venv at ``FOLDER/NAME`` (:meth:`make`); returns :meth:`environment` of it.

        Raises:
            InvalidParams: -32602, ``name`` is not a plain directory name (checked here too: a
                handler of a script's own may pass on what a client sent).
            NameConflict: -31002, ``FOLDER/NAME`` exists.
            PythonUnavailable, RequirementsFailed: as :meth:`make`.
        """
        value({"name": name}, "name", DIRECTORY_NAME)
        prefix = self.folder / name
        if os.path.lexists(prefix):
            raise NameConflict(name)
        self.make(prefix, python_version, requirements)
        return self.environment(name)

    def delete(self, env: Environment) -> None:
        """Remove the venv's directory (a symbolic link is left alone)."""
        if not env.prefix.is_symlink():
            shutil.rmtree(env.prefix)
