"""Choosing the pins: the exact distributions an environment is made of, by one of three
routes, then ``--with`` on top of a locked set.

* ``--lock FILE``: the pins a ``pylock.toml`` (PEP 751) selects for the interpreter.
* the lock beside the script (``x.py.lock``, uv's own): ``uv export --script``
  (:mod:`pyrun.engine.locking`), so the versions are the ones ``uv run --script`` runs.
* otherwise the pool's recent choices, when they satisfy the requirements and ``--with``
  (:mod:`pyrun.engine.poolfirst`); else a resolution of them (:mod:`pyrun.engine.resolving`),
  keeping the recorded versions ``--upgrade-package`` does not name, whose choices are then
  stamped fresh; the pool, of any age, when the index cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyrun.errors import NetworkError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter, InterpreterFinder
    from pyrun.engine.request import BuildRequest
    from pyrun.engine.resolution import Resolution
    from pyrun.script.metadata import Editable
    from pyrun.store.cache import Cache


@dataclass(frozen=True)
class Pins:
    """The chosen distributions and the installer that installs the missing ones into the
    pool (None when nothing is to be installed: a script with no requirements)."""

    resolution: Resolution
    installer: Installer | None


def choose(request: BuildRequest, interpreter: Interpreter, finder: InterpreterFinder,
           extra: Sequence[Requirement | Editable]) -> Pins:
    """The pins of ``request`` for ``interpreter`` (found by ``finder``, which gives its
    marker environment and wheel tags where a lock needs them), with ``extra`` (``--with``
    requirements and editables, checked).

    Raises:
        LockError, StaleLockError: a lock that cannot be used. ResolutionError, NetworkError,
        InstallError, ToolNotFoundError: as the installer raises them.
    """
    from pyrun.engine import locking, poolfirst
    from pyrun.engine.context import installer_for
    from pyrun.engine.resolution import Resolution
    from pyrun.engine.resolving import resolve
    from pyrun.script.uvsettings import UvSettings, merged, not_applied

    script, meta, options, reporter = (request.script, request.meta, request.options,
                                       request.reporter)
    settings = merged(meta.uv, dict(options.index))
    for warning in not_applied(meta.uv):
        reporter.warn(f"{script}: {warning}")
    requirements = tuple(str(r) for r in meta.dependencies)
    exported = options.lock is None and locking.takes_export(script, meta, options.lock_mode)
    if options.lock is None and not exported and not (meta.dependencies or extra):
        return Pins(Resolution((), ()), None)
    installer = installer_for(reporter, options.offline, settings, options.cache_mode)
    if options.lock is not None:
        pinned = locking.from_pylock(options.lock, meta.dependencies, finder.target(interpreter))
        reporter.debug(f"from {options.lock}: {', '.join(d.pin for d in pinned)}")
        resolution = Resolution(requirements, pinned)
    elif exported:
        target = finder.target(interpreter)
        cli = [*UvSettings(command_line=dict(options.index)).index_options(),
               *options.upgrade_args]
        readable = request.readable or script
        resolution, installer = resolve(
            installer, script, reporter, interpreter, meta.dependencies,
            lambda inst: Resolution(requirements, locking.resolve_script(
                inst, readable, interpreter, target, options.lock_mode, cli)))
    else:
        wanted = [*meta.dependencies, *extra]
        pooled, plan = poolfirst.first(request, settings, installer, interpreter, finder,
                                       wanted)  # the pool's recent choices, if they suffice
        if pooled is not None:
            return Pins(pooled, installer)
        if not options.upgrade_packages:  # what uv has of the index, when recent enough
            cached = poolfirst.from_uv_cache(request, plan, installer, interpreter, wanted)
            if cached is not None:
                return Pins(cached, installer)
        keep = () if options.upgrade or not options.upgrade_packages else kept_versions(
            request.cache, request.key_of(), options.upgrade_packages)
        try:
            resolution, installer = resolve(
                installer, script, reporter, interpreter, wanted,
                lambda inst: inst.resolve(wanted, interpreter, prefer=keep))
        except NetworkError as exc:  # the pool, of any age, before giving up
            pooled = poolfirst.instead(request, plan, interpreter, finder, wanted, exc)
            if pooled is None:
                raise
            return Pins(pooled, installer)
        poolfirst.stamp(request, plan, resolution, interpreter, installer)
        return Pins(resolution, installer)
    if extra:  # --with on top of a lock: resolved within its pins
        resolution = overlay(resolution, extra, interpreter, installer, script, reporter)
    return Pins(resolution, installer)


def overlay(
    base: Resolution,
    extra: Sequence[Requirement | Editable],
    interpreter: Interpreter,
    installer: Installer,
    script: str,
    reporter: Reporter,
) -> Resolution:
    """``base`` (a locked set) with ``--with`` requirements resolved on top of it: every
    registry pin of ``base`` is a constraint, so the overlay never moves a locked version
    (as ``uv run --script --with`` resolves its extras beside a locked script)."""
    from pyrun.engine.context import installer_for
    from pyrun.engine.resolution import Resolution
    from pyrun.engine.resolving import resolve
    from pyrun.script.uvsettings import UvSettings, merged

    pins = tuple(d.pin for d in base.distributions if d.version and d.kind in ("wheel", "sdist"))
    constrained = merged(installer.settings or UvSettings(), {"constraint-dependencies": pins})
    overlay = installer_for(reporter, installer.offline, constrained, installer.cache_mode)
    got, _ = resolve(overlay, script, reporter, interpreter, extra,
                      lambda inst: inst.resolve(extra, interpreter))
    locked = {d.name for d in base.distributions}
    merged_set = sorted([*base.distributions,
                         *(d for d in got.distributions if d.name not in locked)],
                        key=lambda d: d.name)
    return Resolution((*base.requirements, *(str(r) for r in extra)), tuple(merged_set))


def kept_versions(cache: Cache, key: str, upgrading: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``(name, version)`` of each distribution of the environment recorded under ``key``
    but those named in ``upgrading`` (``--upgrade-package``): the versions a resolution
    keeps where it can, as ``uv run --upgrade-package`` keeps the installed ones. Empty when
    nothing usable is recorded."""
    from packaging.utils import canonicalize_name

    from pyrun import layout
    from pyrun.engine.options import parse_requirements
    from pyrun.store.markers import read_entry_marker, read_env_marker

    entry = layout.read_index(str(cache.root), key)
    if not isinstance(entry, layout.IndexEntry):
        return ()
    marker = read_env_marker(Path(entry.env_dir))
    names = {canonicalize_name(str(r.name)) for r in parse_requirements(upgrading,
                                                                        "--upgrade-package")}
    kept = []
    for name in marker.entries if marker else ():
        about = read_entry_marker(cache.pool / name) if layout.is_key(name) else None
        if about is not None and canonicalize_name(about.name) not in names:
            kept.append((about.name, about.version))
    return tuple(kept)
