"""Resolving from the pool first: a new script whose requirements the pool's recent choices
satisfy runs from them, with no index and no uv call (as pip and uv keep installed versions
that satisfy a requirement, and pnpm's ``prefer-offline`` reuses cached metadata). The
resolver is :mod:`pyrun.engine.poolresolve`; this module is its part in a build
(:mod:`pyrun.engine.pins`): whether the pool is asked (:func:`plan`), asking it
(:func:`first`, :func:`instead`), and stamping what an index resolution chose (:func:`stamp`).

Not asked with ``-U``, ``-P``, ``--refresh``, ``--no-cache``, a window of ``0``, pip standing in
for uv, or settings that decide versions (the script's ``[tool.uv]``, the command line's uv
options, a lock: those scripts follow them, through the index). Offline (``--offline``,
``UV_OFFLINE``), or when the index cannot be reached, entries of any age answer, with a
warning.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.engine import freshness
from pyrun.engine.poolresolve import GiveUp, PoolResolver
from pyrun.engine.resolution import Resolution
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter, InterpreterFinder
    from pyrun.engine.request import BuildRequest
    from pyrun.errors import NetworkError
    from pyrun.script.metadata import Editable
    from pyrun.script.uvsettings import UvSettings
    from pyrun.store.cache import Cache


@dataclass(frozen=True)
class PoolPlan:
    """How a build uses the pool for one resolution.

    Attributes:
        context: the settings' digest (:func:`pyrun.engine.freshness.context`).
        window: seconds an index's choice stays fresh; 0: the pool never answers.
        offline: the run may not reach the index (``--offline``, ``UV_OFFLINE``): any age
            answers, with a warning.
        asks: whether the pool is asked before the index (not with ``-U``, ``-P``,
            ``--refresh`` or a window of 0); an index resolution stamps its choices anyway.
    """

    context: str
    window: float
    offline: bool
    asks: bool


def plan(request: BuildRequest, settings: UvSettings, installer: Installer) -> PoolPlan | None:
    """The pool's part in ``request``'s resolution with ``installer`` under ``settings`` (the
    script's ``[tool.uv]`` and the command line's uv options), or None where it has none.

    Raises:
        UsageError: ``PYRUN_POOL_FRESHNESS`` cannot be read.
    """
    options, reporter = request.options, request.reporter
    why = ("--no-cache" if options.no_cache else "uv is not the installer"
           if installer.name != "uv" else "uv settings decide its versions" if settings else "")
    context = ""
    if not why:
        context, why = freshness.context(request.script)
    if why:
        reporter.debug(f"the pool does not answer for this script: {why}")
        return None
    window = freshness.window()
    offline = options.offline or freshness.offline()
    asks = window > 0 and not (options.upgrade or options.refresh or options.upgrade_packages)
    return PoolPlan(context, window, offline, asks)


def first(request: BuildRequest, settings: UvSettings, installer: Installer,
          interpreter: Interpreter, finder: InterpreterFinder,
          wanted: Sequence[Requirement | Editable]) -> tuple[Resolution | None, PoolPlan | None]:
    """``(the pool's answer or None, the plan)`` for ``wanted`` on ``interpreter``, asked
    before the index (:func:`plan`, :func:`from_pool`).

    Raises:
        UsageError: ``PYRUN_POOL_FRESHNESS`` cannot be read.
        NoInterpreterError: the interpreter cannot say its marker environment and tags.
    """
    from pyrun.errors import NoInterpreterError

    found = plan(request, settings, installer)
    if found is None or not found.asks or not wanted:
        return None, found
    try:
        target = finder.target(interpreter)
    except NoInterpreterError as exc:  # an old Python that pyrun's packaging cannot run on
        request.reporter.debug(f"the pool does not answer: {exc}")
        return None, found
    answer = from_pool(request.cache, found, interpreter, target, wanted, request.reporter,
                       request.script, layers=_layers(request))
    return answer, found


def from_uv_cache(request: BuildRequest, found: PoolPlan | None, installer: Installer,
                  interpreter: Interpreter, wanted: Sequence[Requirement | Editable],
                  ) -> Resolution | None:
    """The resolution of ``wanted`` from what uv's cache holds of PyPI (``uv pip compile
    --offline``), when every index page it reads was fetched within the window
    (:func:`pyrun.engine.freshness.page_times`): the metadata uv already has stands in for the
    index as the pool's entries do, for what the pool lacks. Asked where the pool is
    (:func:`plan`: not with ``-U``, ``--refresh``, settings that decide versions, a window of
    0) and only for PyPI (settings that name no index) and registry requirements. None when
    that is not so, or uv's cache cannot settle it (a page missing or older than the window,
    a version it does not list): the index is asked. The choices are stamped with the time
    of the oldest page read, so the pool offers them no longer than the window allows.
    """
    from pyrun.engine.pool import entry_key
    from pyrun.errors import PyrunError
    from pyrun.faults import point
    from pyrun.script.metadata import Editable

    if (found is None or not found.asks or found.offline or found.context != freshness.PYPI
            or installer.name != "uv" or not wanted
            or any(isinstance(w, Editable) or w.url for w in wanted)):
        return None
    reporter, now = request.reporter, time.time()
    names = [_canonical(w.name) for w in wanted if not isinstance(w, Editable)]
    cache_only = installer.from_cache()
    looked = request.early.pages_fresh if request.early is not None else None
    if looked is None:  # else the run looked before it started uv (uvpython.resolve_ahead)
        first_pages = freshness.page_times(names)
        looked = first_pages is not None and now - min(first_pages) <= found.window
    if cache_only is None or not looked:
        reporter.debug("uv's cache has no recent index page of every requirement")
        return None
    started = time.monotonic()
    try:
        resolution = cache_only.resolve(wanted, interpreter)
    except PyrunError as exc:
        reporter.debug(f"uv's cache does not settle it ({type(exc).__name__}); asking the index")
        return None
    registry = [d for d in resolution.distributions if d.kind in ("wheel", "sdist")]
    pages = freshness.page_times(d.name for d in registry)
    if (pages is None or len(registry) != len(resolution.distributions)
            or (pages and now - min(pages) > found.window)):
        reporter.debug("uv's cache read an index page older than the window; asking the index")
        return None
    point("resolved")
    try:
        freshness.Stamps(request.cache.root, found.context).touch(
            [entry_key(d, interpreter) for d in registry], at=min(pages, default=now))
    except OSError as exc:
        reporter.debug(f"cannot stamp the pool's entries: {exc}")
    reporter.step(f"resolved {len(registry)} distribution(s) from uv's cache of the index in "
                  f"{time.monotonic() - started:.3f} s (pages fetched within "
                  f"{freshness.shown(found.window)}; -U asks the index)")
    return resolution


def _canonical(name: str) -> str:
    """A project name in its canonical form (PEP 503), as uv's cache names its pages."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def instead(request: BuildRequest, found: PoolPlan | None, interpreter: Interpreter,
            finder: InterpreterFinder, wanted: Sequence[Requirement | Editable],
            error: NetworkError) -> Resolution | None:
    """The pool's answer, of any age, when the index could not be reached (``error``, after
    uv's cache was tried); None when the pool has none or is not to answer."""
    if found is None or found.window == 0 or not wanted:
        return None
    request.reporter.debug(f"the index failed ({error.place}); asking the pool, any age")
    anyhow = PoolPlan(found.context, found.window, True, True)
    from pyrun.errors import NoInterpreterError

    try:
        target = finder.target(interpreter)
    except NoInterpreterError:
        return None
    answer = from_pool(request.cache, anyhow, interpreter, target, wanted,
                       request.reporter, request.script, f"{error.place} cannot be reached",
                       _layers(request))
    return answer


def _layers(request: BuildRequest) -> list[Path]:
    """The trusted pool layers of ``request``'s run (a bundle's first, then the configured
    ones), whose fresh entries the pool offers too.

    Raises:
        ProjectFileError: the config file naming them cannot be read.
    """
    from pyrun.engine.pool import Pool

    return Pool(request.cache, request.reporter, request.options.layers).layers()


def stamp(request: BuildRequest, found: PoolPlan | None, resolution: Resolution,
          interpreter: Interpreter, installer: Installer) -> None:
    """Record that the index chose ``resolution``'s artifacts now (for ``interpreter``): their
    stamps in the plan's context. Not for a resolution from uv's cache only (``installer``
    offline). A cache that cannot be written is only a ``-v`` line."""
    if found is None or installer.offline:
        return
    from pyrun.engine.pool import entry_key

    keys = [entry_key(d, interpreter) for d in resolution.distributions
            if d.kind in ("wheel", "sdist")]
    try:
        freshness.Stamps(request.cache.root, found.context).touch(keys)
    except OSError as exc:
        request.reporter.debug(f"cannot stamp the pool's entries: {exc}")


def from_pool(cache: Cache, found: PoolPlan, interpreter: Interpreter,
              target: tuple[dict[str, str], list[str]],
              wanted: Sequence[Requirement | Editable], reporter: Reporter, script: str,
              why_any_age: str = "offline", layers: Sequence[Path] = ()) -> Resolution | None:
    """The pool's resolution of ``wanted`` for ``interpreter`` (``target``: its marker
    environment and wheel tags, best first), or None when the pool cannot settle it
    (:class:`pyrun.engine.poolresolve.PoolResolver`), the trusted pool ``layers``' entries
    offered too. Entries older than the window answer only offline (``found.offline``), with
    a warning that gives ``why_any_age``."""
    started = time.monotonic()
    limit = float("inf") if found.offline else found.window
    resolver = PoolResolver(cache, found.context, interpreter, target, limit, layers)
    try:
        chosen = resolver.resolve(wanted)
    except GiveUp as exc:
        reporter.debug(f"the pool does not settle it ({exc}); asking the index")
        return None
    old = [c for c in chosen if c.age > found.window]
    if old:
        pins = ", ".join(sorted(c.dist.pin for c in old))
        reporter.warn(f"{script}: {why_any_age}: running with what the pool holds, chosen by "
                      f"the index more than {freshness.shown(found.window)} ago ({pins}); "
                      "newer releases, if any, are not seen")
    dists = tuple(sorted((c.dist for c in chosen), key=lambda d: d.name))
    within = "" if old else f"chosen by the index within {freshness.shown(found.window)}; "
    reporter.step(f"resolved {len(dists)} distribution(s) from the pool in "
                  f"{time.monotonic() - started:.3f} s ({within}-U asks the index)")
    reporter.debug(f"from the pool: {', '.join(d.pin for d in dists)}")
    return Resolution(tuple(str(r) for r in wanted), dists)
