"""Make a project environment for ``environment/create``: a venv from the standard library's
``venv`` module, with its requirements taken from pyrun's pool (no package files copied: the
same activation ``.pth`` a pyrun environment has)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from pyrun.wsp.jsonrpc import INVALID_PARAMS, PYTHON_VERSION_UNAVAILABLE, RpcError

#: pyrun's own error code (WSP reserves -31999..-31900 for servers): the requirements could not
#: be resolved or installed; ``data.reason`` says which (``resolution``, ``network``,
#: ``install``).
REQUIREMENTS_FAILED = -31900


def provision(prefix: Path, python_version: str | None, requirements: list[str], log: Any) -> None:
    """Create the venv at ``prefix`` for ``python_version`` (any form ``--python`` takes; None
    for pyrun's own Python) and compose ``requirements`` (PEP 508) into it from the pool.

    Nothing is left at ``prefix`` when this fails.

    Raises:
        RpcError: -32602 for an invalid requirement, -31003 when no installed Python matches,
            :data:`REQUIREMENTS_FAILED` when resolution or installation fails.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    from pyrun import bytecode
    from pyrun.cache import Cache
    from pyrun.composition import compose
    from pyrun.environment import populate
    from pyrun.errors import NetworkError, NoInterpreterError, PyrunError, ResolutionError
    from pyrun.interpreters import InterpreterFinder
    from pyrun.pool import Pool
    from pyrun.progress import Reporter
    from pyrun.resolution import resolve
    from pyrun.runner import installer

    try:
        reqs = [Requirement(r) for r in requirements]
    except InvalidRequirement as exc:
        raise RpcError(INVALID_PARAMS, f"invalid requirement: {exc}") from None
    reporter = Reporter(0, stream=log)
    cache = Cache().create()
    try:
        interpreter = InterpreterFinder(cache.root, reporter).choose(
            python_version, None, str(prefix)
        )
    except NoInterpreterError as exc:
        raise RpcError(PYTHON_VERSION_UNAVAILABLE, str(exc),
                       {"python_version": python_version}) from None
    prefix.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [interpreter.executable, "-m", "venv", "--without-pip", str(prefix)],
            check=True, capture_output=True, stdin=subprocess.DEVNULL,
        )
        if reqs:
            uv = installer(reporter, False)
            resolution = resolve(reqs, interpreter, uv)
            entries = Pool(cache, reporter).ensure(resolution.distributions, interpreter, uv)
            plan = compose(entries)
            if plan.mode == "farm":
                bytecode.before_link_farm(cache, entries, interpreter, reporter)
            with cache.locked([e.key for e in entries]):  # no prune between these two
                populate(prefix, prefix, interpreter, plan)
                cache.record_reference(prefix, [e.key for e in entries])
            bytecode.schedule(cache, entries, interpreter, reporter)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(prefix, ignore_errors=True)
        raise RpcError(REQUIREMENTS_FAILED, f"python -m venv failed: {exc.stderr.decode()[-400:]}",
                       {"reason": "venv"}) from None
    except PyrunError as exc:
        shutil.rmtree(prefix, ignore_errors=True)
        reason = ("resolution" if isinstance(exc, ResolutionError)
                  else "network" if isinstance(exc, NetworkError) else "install")
        raise RpcError(REQUIREMENTS_FAILED, str(exc), {"reason": reason}) from None
    except BaseException:
        shutil.rmtree(prefix, ignore_errors=True)
        raise
