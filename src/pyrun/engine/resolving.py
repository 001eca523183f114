"""Resolving: one resolution with its fallbacks and hints (the cache when the index cannot be
reached, ``did you mean`` for a name that does not exist, ``--with`` on top of a lock, the
versions ``--upgrade-package`` keeps)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from pyrun.errors import NetworkError, ResolutionError
from pyrun.progress import Reporter

if TYPE_CHECKING:

    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter
    from pyrun.engine.resolution import Resolution


def resolve(
    installer: Installer,
    script: str,
    reporter: Reporter,
    interpreter: Interpreter,
    requirements: Sequence[object],
    how: Callable[[Installer], Resolution],
) -> tuple[Resolution, Installer]:
    """Resolve with ``how(installer)``; when the network proves unreachable, once more with
    the installer's cache only (uv's ``--offline``), with a warning that newer releases are
    not seen. Returns the resolution and the installer to install it with (the cache-only one
    after that fallback). ``requirements`` are for the progress line.

    Raises:
        NetworkError: unreachable and the cache lacks something; the message names it.
        And the other errors of :meth:`pyrun.engine.installers.base.Installer.resolve`.
    """
    import time

    from pyrun.faults import point

    reporter.step(f"resolving {len(requirements)} requirement(s) for Python {interpreter.version}")
    started = time.monotonic()
    try:
        with suggesting(installer):
            resolution = how(installer)
    except NetworkError as exc:
        cached = installer.from_cache() if exc.unreachable else None
        if cached is None:
            raise
        reporter.step(f"{script}: {exc.place} cannot be reached; trying the cache")
        reporter.debug(str(exc))
        try:
            resolution = how(cached)
        except NetworkError as offline_exc:
            missing = cached.missing_from_cache(offline_exc.output) or "a distribution it needs"
            raise NetworkError(
                f"{script}: {exc.place} cannot be reached, and {missing} is not in the "
                "cache; connect to the network and run again (pyrun --offline works once "
                f"everything is cached). {installer.name} said:\n{_said(exc)}",
                offline_exc.command, place=exc.place,
            ) from None
        reporter.warn(f"{script}: {exc.place} cannot be reached; resolved from "
                      f"{installer.name}'s cache (newer releases, if any, are not seen)")
        installer = cached
    point("resolved")
    reporter.step(f"resolved {len(resolution.distributions)} distribution(s) in "
                  f"{time.monotonic() - started:.1f} s")
    pins = ", ".join(d.pin for d in resolution.distributions)
    reporter.debug(f"resolved: {pins}")
    return resolution, installer


def _said(exc: NetworkError) -> str:
    """What the tool said when it could not reach the network (its first failure), indented,
    credentials shown as ``***``."""
    from pyrun.engine.installers.base import tool_said
    from pyrun.subprocesses import redact

    return redact(tool_said(exc.output)) if exc.command is not None else ""


@contextlib.contextmanager
def suggesting(installer: Installer) -> Iterator[None]:
    """A :class:`ResolutionError` raised inside gets :func:`_did_you_mean`'s hint appended."""
    try:
        yield
    except ResolutionError as exc:
        hint = _did_you_mean(exc.output, installer)
        if not hint:
            raise
        raise ResolutionError(f"{exc}\n{hint}", exc.command) from None


def _did_you_mean(output: str, installer: Installer) -> str:
    """``did you mean `requests`?`` when the resolver's ``output`` says a package does not
    exist and a close name is one the installer has seen (uv's cached index pages: names this
    machine has used), else ``""``."""
    import difflib

    from packaging.utils import canonicalize_name

    missing = installer.missing_packages(output)
    if not missing:
        return ""
    known = sorted(installer.known_names())
    hints = []
    for name in dict.fromkeys(missing):
        close = difflib.get_close_matches(canonicalize_name(name), known, n=1, cutoff=0.75)
        if close and close[0] != canonicalize_name(name):
            hints.append(f"did you mean `{close[0]}` instead of `{name}`?")
    return "; ".join(hints)
