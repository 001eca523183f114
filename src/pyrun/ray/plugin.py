"""The Ray runtime-environment plugin for the field ``"pyrun"``: each node composes the
driver's resolved set from its own pool and starts the job's workers with that environment's
interpreter.

Source: Ray's documentation, "Runtime Environment Plugins" (``RuntimeEnvPlugin``: ``name``,
``priority``, ``validate``, ``get_uris``, ``create``, ``modify_context``;
``RuntimeEnvContext.py_executable``), loaded by each node's runtime-env agent from
``RAY_RUNTIME_ENV_PLUGINS='[{"class": "pyrun.ray.PyrunPlugin"}]'``.

The one module that imports Ray (``pip install 'pyrun-scripts[ray]'``); a node whose agent
cannot import it does not start (it times out), so install both where ``ray start`` runs.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import logging
from typing import Any

from pyrun.engine import Reporter, RunOptions, prepare_requirements
from pyrun.ray.runtime import FIELD, FORMAT, uri_of

_base: Any = importlib.import_module("ray._private.runtime_env.plugin").RuntimeEnvPlugin


class PyrunPlugin(_base):  # type: ignore[misc]  # Ray's class, typed as Any here
    """The runtime-environment field ``"pyrun"`` (:func:`pyrun.ray.field` fills it): the
    workers of a job run on a pyrun environment holding exactly the driver's distributions,
    on the driver's Python version, composed in this node's pyrun cache (``PYRUN_CACHE_DIR``
    of the agent, default ``~/.cache/pyrun``). Two jobs with the same field share one
    environment; a set the pool holds adds no entries.

    Source: Ray's "Runtime Environment Plugins" documentation.
    """

    name = FIELD
    #: After ``working_dir``/``py_modules`` (Ray's default is 10): only the interpreter changes.
    priority = 50

    def __init__(self) -> None:
        self._pythons: dict[str, str] = {}

    @staticmethod
    def validate(runtime_env_dict: dict[str, Any]) -> None:
        """Check the field's shape (``runtime_env_dict`` is the whole runtime environment).

        Raises:
            ValueError: not a format-1 object with a ``python`` text and ``requirements``, a
            list of texts.
        """
        value = runtime_env_dict.get(FIELD)
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise ValueError(f"runtime_env[{FIELD!r}] must be an object of format {FORMAT} "
                             f"(pyrun.ray.field() makes one), not {value!r}")
        requirements = value.get("requirements")
        if not isinstance(value.get("python"), str) or not isinstance(requirements, list) \
                or not all(isinstance(r, str) for r in requirements):
            raise ValueError(f"runtime_env[{FIELD!r}] needs 'python' (a version) and "
                             f"'requirements' (a list of PEP 508 strings)")

    def get_uris(self, runtime_env: Any) -> list[str]:
        """One URI per distinct field (:func:`pyrun.ray.uri_of`): Ray creates it once a node."""
        value = runtime_env.get(FIELD)
        return [uri_of(value)] if value else []

    async def create(self, uri: str | None, runtime_env: Any, context: Any,
                     logger: logging.Logger) -> float:
        """Compose the environment in this node's cache (a thread: the agent's loop goes on).

        Returns:
            0 bytes: the environment and its pool entries belong to pyrun's cache, whose own
            prune and size cap manage them; Ray never deletes them.

        Raises:
            pyrun.errors.PyrunError: the set could not be resolved, installed or composed
            (the message names what; Ray reports it to the driver as the setup failure).
        """
        value = runtime_env.get(FIELD)
        if value:
            python = await asyncio.to_thread(_compose, value, logger)
            self._pythons[uri or uri_of(value)] = python
        return 0.0

    def modify_context(self, uris: list[str], runtime_env: Any, context: Any,
                       logger: logging.Logger) -> None:
        """Start the workers with the environment's ``bin/python`` (``context.py_executable``)."""
        value = runtime_env.get(FIELD)
        if not value:
            return
        uri = uris[0] if uris else uri_of(value)
        python = self._pythons.get(uri) or _compose(value, logger)  # the agent restarted
        self._pythons[uri] = python
        context.py_executable = python
        logger.info(f"pyrun: the workers run on {python}")


def _compose(value: dict[str, Any], logger: logging.Logger) -> str:
    """The path of the ``bin/python`` of the environment the field ``value`` describes, built
    here if missing; pyrun's progress goes to ``logger``."""
    out = io.StringIO()
    options = RunOptions(python=str(value["python"]))
    try:
        env = prepare_requirements([str(r) for r in value["requirements"]], options,
                                   Reporter(0, stream=out))
    except Exception:
        logger.error(f"pyrun: composing {value.get('env', '')}: {out.getvalue()}")
        raise
    logger.info(f"pyrun: {out.getvalue()}environment {env.path}")
    return str(env.python)
