"""``pyrun outdated``: for every script under some paths, the direct requirements whose
resolved version has a newer release on the index, as ``uv tree --outdated --script`` shows
them (uv reads each script, its ``[tool.uv]`` and the lock beside it, and asks the index).

"Resolved" is uv's: the version the lock beside the script pins (``uv tree --locked``, which
never writes the lock), or, without a lock, the version a resolution picks now (so a script
without a lock is outdated only where its own bounds hold a requirement back; the environment
pyrun built for it earlier may be older: ``pyrun -U`` resolves it again). A lock that no longer
matches its block is read as it is (``--frozen``), with a note. The scripts are asked of uv a
few at a time; one that fails (a block uv cannot read, an index that is down) is reported and
the others still are.

The tree parsing (:func:`tree_versions`) is shared with ``pyrun upgrade``
(:mod:`pyrun.engine.upgrading`): uv's text output, one package a line (``name[extras] vX``,
``(latest: vY)`` with ``--outdated``), drawn with box characters below the roots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pyrun.engine.options import RunOptions
from pyrun.errors import InstallerError, PyrunError
from pyrun.progress import Reporter

#: One package of uv's tree, once the drawing before it is stripped.
_PACKAGE = re.compile(r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:\[[^\]]*\])?"
                      r" v(?P<version>[^\s(]+)(?P<rest>.*)")
_LATEST = re.compile(r"\(latest: v(?P<latest>[^)\s]+)\)")
_DRAWING = "│├└─ \t"

#: How many scripts uv is asked about at once.
JOBS = 4


@dataclass(frozen=True)
class Outdated:
    """One direct requirement with a newer release.

    Attributes:
        script: the script's path, as found.
        name: the distribution's name (normalised, PEP 503).
        version: the version resolved (the lock's, with a lock).
        latest: the newest release on the index.
        requirements: the block's requirements for it, as written (two with different
            markers, say).
        locked: whether ``version`` comes from the lock beside the script.
    """

    script: str
    name: str
    version: str
    latest: str
    requirements: tuple[str, ...]
    locked: bool


@dataclass
class OutdatedReport:
    """What ``pyrun outdated`` found.

    Attributes:
        checked: the scripts uv was asked about, in order.
        outdated: every outdated direct requirement, by script then name.
        failures: ``(script, error)`` for each script uv could not answer for.
        notes: lines for the user (a named file with no block, a stale lock).
    """

    checked: list[str] = field(default_factory=list)
    outdated: list[Outdated] = field(default_factory=list)
    failures: list[tuple[str, PyrunError]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def tree_versions(text: str, roots_only: bool = False) -> dict[str, tuple[str, str]]:
    """``{canonical name: (version, latest or "")}`` of the packages in uv tree's ``text``
    (with ``roots_only``, of its unindented lines only). A package uv shows at two versions
    (a universal tree) keeps the first."""
    from packaging.utils import canonicalize_name

    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        if roots_only and line[:1] in tuple(_DRAWING):
            continue
        m = _PACKAGE.fullmatch(line.lstrip(_DRAWING).rstrip())
        if m is None:
            continue
        latest = _LATEST.search(m.group("rest"))
        found.setdefault(canonicalize_name(m.group("name")),
                         (m.group("version"), latest.group("latest") if latest else ""))
    return found


def outdated(paths: Sequence[str], options: RunOptions = RunOptions(),
             reporter: Reporter | None = None, *, recursive: bool = False) -> OutdatedReport:
    """The outdated direct requirements of every script under ``paths`` (see the module
    docstring; which files are scripts: :func:`pyrun.script.scan.find_scripts`).

    Raises:
        ScriptNotFoundError: a path does not exist. ToolNotFoundError: no uv. Errors about one
        script are in the report's ``failures``.
    """
    from pyrun.engine.installers.uv import find_uv
    from pyrun.script.scan import find_scripts

    reporter = reporter or Reporter()
    scripts, notes = find_scripts(paths, recursive)
    report = OutdatedReport(checked=scripts, notes=notes)
    if not scripts:
        return report
    find_uv()  # no uv: one error, not one per script
    with ThreadPoolExecutor(max_workers=min(JOBS, len(scripts))) as pool:
        answers = list(pool.map(lambda s: _ask(s, options, reporter), scripts))
    for script, answer in zip(scripts, answers):
        if isinstance(answer, PyrunError):
            report.failures.append((script, answer))
        else:
            rows, note = answer
            report.outdated += rows
            if note:
                report.notes.append(note)
    return report


def _ask(script: str, options: RunOptions, reporter: Reporter,
         ) -> tuple[list[Outdated], str] | PyrunError:
    """The outdated direct requirements of one script and a note (``""``), or the error."""
    from packaging.utils import canonicalize_name

    from pyrun.engine.subcommands import tree
    from pyrun.script import metadata

    try:
        meta = metadata.load(script, metadata.read_script(script))
        required: dict[str, list[str]] = {}
        for req in meta.dependencies:
            required.setdefault(canonicalize_name(req.name), []).append(str(req))
        locked = os.path.isfile(f"{script}.lock")
        flags = ["--outdated", "--depth=0"]
        note = ""
        if not locked:
            text = tree(script, options, flags, reporter)
        else:
            try:
                text = tree(script, options, [*flags, "--locked"], reporter)
            except InstallerError as exc:
                if "needs to be updated" not in exc.output:
                    raise
                note = (f"{script}.lock does not match the script's block: the versions shown "
                        f"are the lock's (`pyrun lock {script}` updates it)")
                text = tree(script, options, [*flags, "--frozen"], reporter)
    except PyrunError as exc:
        return exc
    rows = [Outdated(script, name, version, latest, tuple(required[name]), locked)
            for name, (version, latest) in sorted(tree_versions(text, roots_only=True).items())
            if latest and latest != version and name in required]
    return rows, note
