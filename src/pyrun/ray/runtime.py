"""The runtime-environment field ``"pyrun"`` (:func:`field`) and the hook that adds it in a
driver (:func:`hook`), standard library only; :mod:`pyrun.ray` re-exports them.

Source: Ray's documentation, "Environment Dependencies" (runtime environments,
``RAY_RUNTIME_ENV_HOOK``).
"""

from __future__ import annotations

import copy
import json
import os
import platform
import sys
from typing import Any

__all__ = ["FIELD", "FORMAT", "field", "hook", "uri_of"]

#: The runtime-environment field the plugin owns (``PyrunPlugin.name``).
FIELD = "pyrun"

#: What the field's ``format`` says; the plugin refuses another.
FORMAT = 1

#: A pyrun environment's marker, at the root of its directory (``envs/<key>/``), and a pool
#: entry's (:data:`pyrun.layout.ENTRY_MARKER`, which a unit test holds equal).
_MARKER = "pyrun-env.json"
_ENTRY_MARKER = "pyrun-entry.json"

#: Fields of a runtime environment that choose the workers' interpreter or packages too: the
#: hook refuses to combine them with the driver's environment.
_CONFLICTS = ("pip", "uv", "conda", "container", "image_uri")


def field(prefix: str | None = None, path: list[str] | None = None) -> dict[str, Any] | None:
    """The ``"pyrun"`` field describing the pyrun environment at ``prefix`` (default
    ``sys.prefix``), or None when ``prefix`` is not one (no ``pyrun-env.json`` at its root).

    Args:
        prefix: an environment directory (``<cache>/envs/<key>``).
        path: the import path whose distributions are the environment's (default
            ``sys.path``); only its ``site-packages`` directories count (the environment's own
            and its pool entries', ``<cache>/pool/<entry>/site-packages``), not what an import
            added (Ray puts its vendored ``ray/thirdparty_files`` on the path).

    Returns:
        ``{"format", "python", "implementation", "requirements", "env"}``: see the module.
    """
    prefix = os.path.abspath(prefix if prefix is not None else sys.prefix)
    if not os.path.isfile(os.path.join(prefix, _MARKER)):
        return None
    from importlib import metadata

    pool = os.path.join(os.path.dirname(os.path.dirname(prefix)), "pool")
    inside = [p for p in (sys.path if path is None else path) if p and _ours(p, prefix, pool)]
    pins: dict[str, str] = {}
    for dist in metadata.distributions(path=inside):
        name = dist.metadata["Name"]
        if not name:
            continue
        key = name.lower().replace("_", "-").replace(".", "-")
        if key not in pins:
            pins[key] = _pin(name, dist.version, dist.read_text("direct_url.json"))
    return {"format": FORMAT, "python": platform.python_version(),
            "implementation": sys.implementation.name, "requirements": sorted(pins.values()),
            "env": os.path.basename(prefix)}


def hook(runtime_env: dict[str, Any] | None) -> dict[str, Any]:
    """``RAY_RUNTIME_ENV_HOOK``: ``runtime_env`` (the dict given to ``ray.init`` or a job, or
    None) with the field ``"pyrun"`` added when this driver runs in a pyrun environment;
    a copy, unchanged otherwise (not a pyrun environment, ``"pyrun"`` or ``py_executable``
    given already).

    Raises:
        ValueError: ``runtime_env`` chooses the workers' packages another way (``pip``,
        ``uv``, ``conda``, a container): the two cannot both hold.
    """
    out: dict[str, Any] = copy.deepcopy(runtime_env) if runtime_env else {}
    if FIELD in out or out.get("py_executable"):
        return out
    described = field()
    if described is None:
        return out
    given = [name for name in _CONFLICTS if out.get(name)]
    if given:
        raise ValueError(
            f"this driver runs in a pyrun environment, whose packages its workers get; the "
            f"runtime environment's {', '.join(given)} would choose others: list those "
            f"packages in the script's block instead")
    out[FIELD] = described
    return out


def uri_of(value: dict[str, Any]) -> str:
    """The URI Ray caches the field ``value`` under on a node: ``pyrun://`` and a digest of
    its canonical JSON (the same field, the same URI)."""
    import hashlib

    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "pyrun://" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _ours(path: str, prefix: str, pool: str) -> bool:
    """Whether ``path`` is a ``site-packages`` of the environment at ``prefix``, of one of the
    entries of ``pool``, or of a pool layer's entry the environment reads in place (a
    directory holding its entry marker, :mod:`pyrun.store.layers`)."""
    path = os.path.abspath(path)
    if os.path.basename(path) != "site-packages":
        return False
    entry = os.path.dirname(path)
    return (path.startswith(prefix + os.sep) or os.path.dirname(entry) == pool
            or os.path.isfile(os.path.join(entry, _ENTRY_MARKER)))


def _pin(name: str, version: str, direct: str | None) -> str:
    """``name==version``, or ``name @ URL`` for a distribution installed from a direct URL
    (its ``direct_url.json``, PEP 610), which no index would find."""
    if direct:
        try:
            url = json.loads(direct).get("url")
        except (ValueError, AttributeError):
            url = None
        if isinstance(url, str) and url:
            return f"{name} @ {url}"
    return f"{name}=={version}"
