"""What a user can ask of one run (:class:`RunOptions`), and the checks every requirement and
``--with-editable`` directory from the command line passes before it reaches an installer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyrun.errors import UsageError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.script.metadata import Editable


@dataclass(frozen=True)
class RunOptions:
    """What a user can ask of one run.

    Attributes:
        python: ``--python``: a version (``3.12``), a specifier, a command or a path; or None.
        with_requirements: ``--with``: extra requirement strings (PEP 508) for this run.
        upgrade: ``--upgrade``: resolve again instead of reusing the recorded environment;
            the lock beside the script is upgraded too (as ``uv run --upgrade``).
        upgrade_packages: ``--upgrade-package``: resolve again, upgrading these packages (PEP
            508 names or requirements) and keeping the other versions as they were (in the
            lock beside the script, or the environment recorded for the script).
        with_editables: ``--with-editable``: local project directories installed editable
            for this run (their code is used where it lies), as absolute paths.
        offline: ``--offline``: never touch the network (uv reads only its cache).
        composition: ``--composition``: ``auto``, ``pooled`` or ``link-farm``; see
            :mod:`pyrun.engine.composition`.
        index: uv's settings from the command line, ``((key, value), ...)``: the index
            options (:data:`pyrun.script.uvsettings.OPTIONS`: ``index``, ``index-url``, ...) and
            uv's resolver and installer settings (:data:`pyrun.script.uvsettings.SETTINGS`:
            ``exclude-newer``, ``no-build``, ...), on top of the script's ``[tool.uv]``.
        lock_mode: ``--locked`` or ``--frozen`` (``"locked"``, ``"frozen"``) for the lock
            beside the script (``x.py.lock``), or ``""``; see :mod:`pyrun.engine.locking`.
        lock: ``--lock FILE``: a ``pylock.toml`` (PEP 751) to install from, with no
            resolution; or None.
        refresh: ``--refresh``: resolve again (as ``upgrade``) and have uv revalidate what it
            cached (its own ``--refresh``).
        no_cache: ``--no-cache``: build the environment in a temporary cache, run the script in
            it as a child, and remove it all afterwards; uv reads and writes no cache either.
        layers: pool layers searched before the configured ones (:mod:`pyrun.store.layers`).
        bundle: ``--bundle DIR``: run from an offline bundle (:mod:`pyrun.engine.bundling`):
            its lock and its layer, no resolver, no network.
        env_files: ``--env-file``: dotenv files whose variables the script's process gets (not
            pyrun's own resolution), later files winning, the environment's own variables
            winning over them (as uv's). The CLI fills it from ``UV_ENV_FILE`` too.
    """

    python: str | None = None
    with_requirements: tuple[str, ...] = ()
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    with_editables: tuple[str, ...] = ()
    offline: bool = False
    composition: str = "auto"
    index: tuple[tuple[str, object], ...] = ()
    lock_mode: str = ""
    lock: str | None = None
    refresh: bool = False
    no_cache: bool = False
    env_files: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    bundle: str | None = None

    @property
    def upgrade_args(self) -> list[str]:
        """uv's ``--upgrade`` and ``--upgrade-package=P`` for these options, each package
        checked as a requirement (so none can be read as another option).

        Raises:
            UsageError: a package that is not a valid requirement.
        """
        packages = [str(r) for r in parse_requirements(self.upgrade_packages, "--upgrade-package")]
        return (["--upgrade"] if self.upgrade else []) + [f"--upgrade-package={p}"
                                                           for p in packages]

    @property
    def with_key(self) -> list[str]:
        """The ``--with`` requirements and editables as the fast-path key takes them."""
        return [*self.with_requirements, *(f"-e {p}" for p in self.with_editables)]

    @property
    def cache_mode(self) -> str:
        """What the installer is told of its cache: ``no-cache``, ``refresh`` or ``""``."""
        return "no-cache" if self.no_cache else "refresh" if self.refresh else ""


def fast_key_for(data: bytes, options: RunOptions, script: str = "-",
                 block: bool = False) -> str:
    """The fast-path key of ``script`` whose bytes are ``data``, under ``options``: what the
    warm path looks up (:func:`pyrun.fastpath.script_key`, the one assembly both use); with
    ``block``, its block key (the installers' settings left out).

    Raises:
        UsageError: the ``--lock`` file cannot be read.
    """
    from pyrun import fastpath

    try:
        return fastpath.script_key(data, script, options.python or "", options.with_key,
                                   options.composition, options.index, options.lock,
                                   options.lock_mode, block)
    except OSError as exc:
        raise UsageError(f"--lock {options.lock}: cannot be read ({exc.strerror})") from None


def parse_editables(paths: Sequence[str]) -> list[Editable]:
    """``--with-editable`` directories, checked: each an existing directory with a
    ``pyproject.toml``, ``setup.py`` or ``setup.cfg``, named by a path that cannot be read as
    an option or a second line.

    Raises:
        UsageError: one is not such a directory.
    """
    from pyrun.script.metadata import Editable

    out = []
    for path in paths:
        full = os.path.abspath(path)
        if any(c < " " for c in full) or not any(
                os.path.isfile(os.path.join(full, f))
                for f in ("pyproject.toml", "setup.py", "setup.cfg")):
            raise UsageError(f"--with-editable {path}: not a project directory (one with "
                             "pyproject.toml, setup.py or setup.cfg)")
        out.append(Editable(full))
    return out


def parse_requirements(texts: Sequence[str], what: str) -> list[Requirement]:
    """Parse PEP 508 strings (:func:`pyrun.script.metadata.parse_requirement`: no control
    characters, so nothing can reach the installer as an option of its own).

    Raises:
        UsageError: one is invalid; the message names it.
    """
    from pyrun.script.metadata import parse_requirement

    out = []
    for text in texts:
        if not isinstance(text, str):
            raise UsageError(f"{what} {text!r}: a requirement is one line of PEP 508 text")
        try:
            out.append(parse_requirement(text))
        except ValueError as exc:
            raise UsageError(f"{what} {text!r}: invalid requirement: {exc}") from None
    return out
