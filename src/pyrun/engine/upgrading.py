"""``pyrun upgrade SCRIPT [PACKAGE...]``: raise the lower bounds of a script's direct
requirements to the versions uv resolves now with upgrades allowed, and bring the lock beside
it (``x.py.lock``), if any, up to date with them.

One edit of a copy beside the script (:func:`pyrun.engine.editing.splice`: the script and its
lock are written once, after every uv call succeeded; a failure changes nothing):

1. with a lock, ``uv lock --script COPY --upgrade`` (``--upgrade-package`` for each PACKAGE
   given): the newest versions the block's bounds and the other requirements allow;
2. ``uv tree --script COPY --depth=0 --outdated`` (``--frozen`` with a lock): each direct
   requirement's version now, and its newest release;
3. each direct requirement whose lower bound is below that version gets it raised
   (:func:`raise_lower_bound`): ``>=``/``>`` becomes ``>=VERSION``, what ``pyrun add`` writes
   (``--bounds lower``, uv's default); ``~=`` keeps its precision (``~=1.2`` -> ``~=1.4``);
   none gets ``>=VERSION``. Upper bounds, exclusions, extras and markers are kept; an exact
   pin (``==1.0``, ``===``) and a URL requirement are left as they are;
4. ``uv add --script COPY REQ...`` writes them as ``pyrun add`` does (and updates the lock,
   keeping the versions of step 1).

A requirement whose newest release is beyond what the block allows is reported, not changed:
a cap is the user's to lift. Without a lock, the versions are those a resolution picks now.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyrun.engine.options import RunOptions
from pyrun.errors import OutputError, UsageError
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement


@dataclass
class UpgradeReport:
    """What ``pyrun upgrade`` changed.

    Attributes:
        script: the script.
        lock: the lock beside it that was brought up to date, or None when it has none.
        raised: ``(before, after)`` of each requirement whose bound was raised.
        versions: ``(name, before, after)`` of each package whose version in the lock changed
            (``""``: not in the lock before, or no longer).
        held: ``(name, version, latest)`` of each direct requirement still below its newest
            release: its bounds (or another requirement) hold it back.
        pinned: the requirements left as written (exact pins, URLs).
    """

    script: str
    lock: str | None
    raised: list[tuple[str, str]] = field(default_factory=list)
    versions: list[tuple[str, str, str]] = field(default_factory=list)
    held: list[tuple[str, str, str]] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)


def upgrade(script: str, packages: Sequence[str] = (), options: RunOptions = RunOptions(),
            reporter: Reporter | None = None) -> UpgradeReport:
    """Raise the lower bounds of ``script``'s direct requirements (only ``packages``, when
    given) and update the lock beside it; see the module docstring.

    Raises:
        ScriptNotFoundError, MetadataError: see :func:`pyrun.engine.editing.check_editable`.
        UsageError: a PACKAGE the block does not require. OutputError: the script or its lock
        cannot be written. ResolutionError, NetworkError, ToolNotFoundError: as uv reports.
    """
    from packaging.utils import canonicalize_name

    from pyrun.engine import editing
    from pyrun.engine.context import (
        choose_interpreter,
        command_line_settings,
        installer_for,
        open_cache,
    )
    from pyrun.engine.interpreters import InterpreterFinder
    from pyrun.engine.outdated import tree_versions
    from pyrun.engine.resolving import suggesting
    from pyrun.script import metadata

    reporter = reporter or Reporter()
    meta = metadata.load(script, editing.check_editable(script))
    direct = {canonicalize_name(r.name) for r in meta.dependencies}
    wanted = {canonicalize_name(p) for p in packages}
    if wanted - direct:
        raise UsageError(f"{script}: its block does not require "
                         f"{', '.join(sorted(wanted - direct))}; it requires "
                         f"{', '.join(sorted(direct)) or 'nothing'}")
    locked = os.path.isfile(f"{script}.lock")
    report = UpgradeReport(script, f"{script}.lock" if locked else None)
    if not direct:
        return report  # nothing to raise, and no block to write
    installer = installer_for(reporter, options.offline, command_line_settings(options, script))
    interpreter = choose_interpreter(InterpreterFinder(open_cache(options, reporter, None).root,
                                                       reporter), options.python, meta, script)
    frozen = ["--frozen"] if locked else []
    before = tree_versions(installer.tree_script(script, frozen)) if locked else {}

    def edit(copy: str) -> None:
        if locked:
            installer.lock_script(copy, [f"--upgrade-package={p}" for p in sorted(wanted)]
                                  or ["--upgrade"])
        now = tree_versions(installer.tree_script(copy, ["--depth=0", "--outdated", *frozen]),
                            roots_only=True)
        new = []
        for req in meta.dependencies:
            name = canonicalize_name(req.name)
            if (wanted and name not in wanted) or name not in now:
                continue
            version, latest = now[name]
            raised = raise_lower_bound(req, version)
            if raised is not None:
                new.append(raised)
                report.raised.append((str(req), raised))
            elif req.url or any(s.operator == "===" or (s.operator == "==" and "*" not in
                                                        s.version) for s in req.specifier):
                report.pinned.append(str(req))
            if latest and latest != version:
                report.held.append((name, version, latest))
        if new:
            installer.edit_script(["add", f"--script={copy}", "--python",
                                   interpreter.executable, *new],
                                  what=f"raising the lower bounds in {script}")
        if locked:
            after = tree_versions(installer.tree_script(copy, ["--frozen"]))
            report.versions = [(n, before.get(n, ("", ""))[0], after.get(n, ("", ""))[0])
                               for n in sorted({*before, *after})
                               if before.get(n, ("", ""))[0] != after.get(n, ("", ""))[0]]

    with suggesting(installer), _writing(script):
        editing.splice(script, edit)
    return report


def raise_lower_bound(requirement: Requirement, version: str) -> str | None:
    """``requirement`` with its lower bound raised to ``version`` (the version uv resolves
    for it), written with that bound first; or None when there is nothing to raise (see the
    module docstring).

    >>> from packaging.requirements import Requirement
    >>> raise_lower_bound(Requirement("rich[jupyter]>=12,<15; python_version>'3.8'"), "14.1")
    'rich[jupyter]>=14.1,<15; python_version > "3.8"'
    >>> raise_lower_bound(Requirement("attrs~=21.2"), "23.1.0")
    'attrs~=23.1'
    >>> raise_lower_bound(Requirement("six==1.16.0"), "1.16.0") is None
    True
    >>> raise_lower_bound(Requirement("six>=1.16"), "1.16.0") is None
    True
    """
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        new = Version(version)
    except InvalidVersion:
        return None
    old = list(requirement.specifier)
    if requirement.url or any(s.operator == "===" or (s.operator == "==" and "*" not in s.version)
                              for s in old):
        return None
    lower: list[str] = []
    rest: list[str] = []
    for spec in old:
        op, text = spec.operator, spec.version
        if op == ">=" and Version(text) >= new:
            lower.append(str(spec))
        elif op == "~=":
            places = len(Version(text).release)
            bumped = ".".join(str(n) for n in (*new.release, 0, 0, 0)[:places])
            lower.append(str(spec) if Version(bumped) <= Version(text) else f"~={bumped}")
        elif op not in (">=", ">"):
            rest.append(str(spec))
    kept = [*(lower or [f">={new.public}"]), *rest]
    if sorted(kept) == sorted(str(s) for s in old) or not SpecifierSet(
            ",".join(kept)).contains(new, prereleases=True):
        return None
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    marker = f"; {requirement.marker}" if requirement.marker else ""
    return f"{requirement.name}{extras}{','.join(kept)}{marker}"


@contextlib.contextmanager
def _writing(path: str) -> Iterator[None]:
    """Turn a failure to write ``path`` (or the copy or lock beside it) into
    :class:`OutputError`."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or path
        raise OutputError(str(where), f"{path}: cannot be written ({exc.strerror}: {where}); "
                          "check the file's and its directory's permissions") from None
