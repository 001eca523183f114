"""Ray's workers in a script's pyrun environment: the runtime-environment field ``"pyrun"``,
the hook that fills it in a driver and the plugin that composes it on every node.

Source: Ray's documentation, "Environment Dependencies" (runtime environments,
``RAY_RUNTIME_ENV_HOOK``) and "Runtime Environment Plugins" (``RAY_RUNTIME_ENV_PLUGINS``).

* :func:`hook`, for ``RAY_RUNTIME_ENV_HOOK=pyrun.ray.hook``: runs in the driver (in
  ``ray.init`` or a job's entrypoint); when the driver runs in a pyrun environment
  (``pyrun driver.py``) it adds the field ``"pyrun"`` (:func:`field`) to the job's runtime
  environment.
* :class:`PyrunPlugin` (:mod:`pyrun.ray.plugin`), for ``RAY_RUNTIME_ENV_PLUGINS=
  '[{"class": "pyrun.ray.PyrunPlugin"}]'``: runs in each node's runtime-env agent; composes
  the same set from that node's own pool (:func:`pyrun.engine.prepare_requirements`) and starts
  the job's workers with that environment's ``bin/python``.

This module imports the standard library only, so the hook works in a driver whose environment
holds only its script's dependencies (the ``pyrun`` package need only be on its path); Ray is
imported by the plugin alone, when a node loads it.

The field, a JSON object (format 1)::

    {"format": 1, "python": "3.11.7", "implementation": "cpython",
     "requirements": ["ray==2.9.0", "six==1.16.0", ...], "env": "<the driver's env key>"}

``requirements`` pins every distribution of the driver's environment (``name==version``, or
``name @ URL`` for one installed from a direct URL), sorted: the resolved set, not the block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyrun.ray.runtime import FIELD, FORMAT, field, hook, uri_of

if TYPE_CHECKING:
    from pyrun.ray.plugin import PyrunPlugin

__all__ = ["FIELD", "FORMAT", "PyrunPlugin", "field", "hook", "uri_of"]


def __getattr__(name: str) -> Any:
    """:class:`PyrunPlugin`, imported (with Ray) only when a node's agent asks for it (PEP 562).

    Raises:
        AttributeError: another name.
    """
    if name == "PyrunPlugin":
        from pyrun.ray.plugin import PyrunPlugin

        return PyrunPlugin
    raise AttributeError(f"module 'pyrun.ray' has no attribute {name!r}")
