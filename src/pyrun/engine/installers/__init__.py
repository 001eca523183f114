"""The installers behind one interface (:class:`~pyrun.engine.installers.base.Installer`): uv
(:mod:`~pyrun.engine.installers.uv`), and pip (:mod:`~pyrun.engine.installers.pip`) where uv
cannot be had."""

from __future__ import annotations

from pyrun.engine.installers.base import Installer
from pyrun.errors import ToolNotFoundError
from pyrun.progress import Reporter
from pyrun.script.uvsettings import UvSettings


def find_installer(
    reporter: Reporter, *, offline: bool = False, settings: UvSettings | None = None,
    cache_mode: str = "",
) -> Installer:
    """uv, or pip where uv cannot be had, with ``settings`` (:mod:`pyrun.script.uvsettings`) and
    ``cache_mode`` (see :class:`~pyrun.engine.installers.base.Installer`).

    Raises:
        ToolNotFoundError: neither is available.
    """
    from pyrun.engine.installers.uv import Uv

    try:
        return Uv(reporter, offline=offline, settings=settings, cache_mode=cache_mode)
    except ToolNotFoundError:
        reporter.debug("uv was not found: resolving and installing with pip")
    from pyrun.engine.installers.pip import Pip

    return Pip(reporter, offline=offline, settings=settings, cache_mode=cache_mode)
