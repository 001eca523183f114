"""One request to the build (:class:`BuildRequest`): everything a build needs, in one object
instead of parameters threaded through every step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyrun.progress import Reporter

if TYPE_CHECKING:
    from pyrun.engine.options import RunOptions
    from pyrun.engine.uvpython import Asked
    from pyrun.script.metadata import ScriptMetadata
    from pyrun.store.cache import Cache


@dataclass(frozen=True)
class BuildRequest:
    """One environment to find or build.

    Attributes:
        script: the script's name in messages: its path, ``-``, a URL, or ``<requires>`` for a
            list of requirements.
        meta: its inline metadata (PEP 723), already read and checked.
        options: what the user asked (:class:`~pyrun.engine.options.RunOptions`).
        key_of: computes the fast key (:func:`pyrun.fastpath.fast_key`) from what is on disk
            now: asked before the build and again after the resolution, since uv may have
            brought the lock beside the script up to date meanwhile.
        reporter: progress and diagnostics.
        block_key_of: computes the block key (:func:`pyrun.fastpath.fast_key` with ``block``),
            under which the environment is found when only settings its installer never reads
            changed (:func:`pyrun.fastpath.lookup_block`); None: no such lookup.
        cache: the cache, created.
        readable: a path where uv can read the script (a copy of one read from stdin or a
            URL); the script itself when None.
        early: uv's choice of the interpreter, asked already
            (:func:`pyrun.engine.context.ask_uv_early`), or None.
    """

    script: str
    meta: ScriptMetadata
    options: RunOptions
    key_of: Callable[[], str]
    reporter: Reporter
    cache: Cache
    readable: str | None = None
    early: Asked | None = None
    block_key_of: Callable[[], str] | None = None
