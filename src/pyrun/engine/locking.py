"""Script locks: uv's ``x.py.lock`` beside a script, and PEP 751 ``pylock.toml`` files.

Two routes lead from a script to its pinned distributions
(:class:`~pyrun.engine.resolution.Resolution`):

* the usual one, ``uv pip compile`` of the requirements for one interpreter (fastest), and
* uv reading the script itself, ``uv export --script x.py --format pylock.toml``
  (:func:`resolve_script`), taken when the script needs what only that reading honours: a
  ``[tool.uv] sources`` or named ``index`` table, or a lock beside it (``x.py.lock``, written
  by ``uv lock --script`` or ``pyrun lock``), or ``--locked``/``--frozen``. Its answer is a
  universal lock (markers, every wheel); :func:`pyrun.engine.resolution.select_pylock` picks what
  the chosen interpreter installs, so the pool keys are the same on both routes.

``--lock FILE`` runs a script from a ``pylock.toml`` it was exported to (:func:`from_pylock`):
no resolver runs at all. As ``uv run --script`` does, an ``x.py.lock`` that no longer matches
the script is brought up to date (and rewritten), unless ``--locked`` (then it is an error) or
``--frozen`` (then it is used as it is).

Source: uv's documentation, "Locking dependencies" of "Running scripts", and PEP 751.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyrun.errors import StaleLockError, UsageError
from pyrun.fastpath import lock_path

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter
    from pyrun.engine.resolution import LockedDistribution
    from pyrun.script.metadata import ScriptMetadata

#: ``--locked``: the lock must match the script; ``--frozen``: the lock is used unchecked.
MODES = ("locked", "frozen")


def takes_export(script: str, meta: ScriptMetadata, mode: str) -> bool:
    """Whether ``script`` is resolved by uv reading it (``uv export --script``): its
    ``[tool.uv]`` has sources or named indexes, a lock is beside it, or ``mode`` (one of
    :data:`MODES`) asks about that lock."""
    return bool(meta.uv.script_read or mode or lock_path(script))


def resolve_script(
    installer: Installer,
    script: str,
    interpreter: Interpreter,
    target: tuple[dict[str, str], list[str]],
    mode: str = "",
    options: Sequence[str] = (),
) -> tuple[LockedDistribution, ...]:
    """The distributions ``script`` installs on ``interpreter``, as uv reads the script
    (``[tool.uv]`` whole, the lock beside it).

    Args:
        installer: uv (only uv reads scripts; any other installer raises).
        script: the script's path.
        interpreter: the interpreter chosen for it; ``target`` is its marker environment and
            wheel tags (:meth:`pyrun.engine.interpreters.InterpreterFinder.target`).
        mode: ``""``, ``"locked"`` or ``"frozen"`` (:data:`MODES`).
        options: the command line's index options for uv (``--index=URL``, ...).

    Raises:
        ToolNotFoundError: the installer is not uv.
        StaleLockError: ``mode`` is ``locked`` and the lock does not match the script, or a
            lock is asked for and there is none.
        LockError: uv's answer has nothing for this interpreter.
        ResolutionError, NetworkError, InstallError: as :meth:`Installer.resolve`.
    """
    from pyrun.engine.resolution import select_pylock

    text = installer.export_script(script, interpreter, mode=mode, options=options)
    return select_pylock(text, f"uv export --script {script}", *target, base=os.getcwd())


def from_pylock(
    path: str,
    requirements: Sequence[Requirement],
    target: tuple[dict[str, str], list[str]],
) -> tuple[LockedDistribution, ...]:
    """The distributions to install from the ``pylock.toml`` at ``path`` (``--lock FILE``):
    no resolver runs. Every requirement of the script that applies here must be met by a
    locked package, so a lock made for another script is refused.

    Raises:
        UsageError: ``path`` cannot be read.
        LockError: not a PEP 751 lock, or nothing in it for this interpreter.
        StaleLockError: the lock lacks a package the script requires, or pins a version the
            requirement excludes.
    """
    from packaging.utils import canonicalize_name

    from pyrun.engine.resolution import select_pylock

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--lock {path}: cannot be read ({exc})") from None
    markers = target[0]
    chosen = select_pylock(text, path, *target, base=os.path.dirname(os.path.abspath(path)))
    pinned = {d.name: d for d in chosen}
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate(markers):
            continue
        dist = pinned.get(canonicalize_name(req.name))
        if dist is None:
            raise StaleLockError(path, f"--lock {path}: it has no `{req.name}`, which the "
                                 "script requires; export the lock again (`pyrun export`)")
        if dist.version and not req.specifier.contains(dist.version, prereleases=True):
            raise StaleLockError(path, f"--lock {path}: it pins {dist.name} {dist.version}, "
                                 f"which `{req}` excludes; export the lock again")
    return chosen


def check_mode(mode: str, script: str) -> None:
    """Refuse ``--locked``/``--frozen`` where there is no lock to check or use.

    Raises:
        UsageError: ``mode`` is set and ``script`` has no lock beside it.
    """
    if mode and lock_path(script) is None:
        raise UsageError(f"--{mode}: {script} has no lock beside it ({script}.lock); "
                         f"write one with `pyrun lock {script}`")

