"""The scripts under some paths (``pyrun outdated``): files with a ``# /// script`` block.

A file named on the command line is a script when it has a block (else a note says it was
skipped). A directory gives its scripts: its ``*.py`` files, and its files without a suffix
that start with a ``#!`` line naming ``python``, ``pyrun`` or ``uv`` (a script made
executable), that have a block; its own files only, unless ``recursive``, which descends into
its subdirectories except hidden ones (``.git``, ``.venv``), virtual environments (a
``pyvenv.cfg``), ``__pycache__`` and ``node_modules``, never following a symbolic link to a
directory. Hidden files are skipped (pyrun's own temporary copies are hidden). Each script is
given once, in the order found (a directory's files sorted by name).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from pyrun.errors import ScriptNotFoundError
from pyrun.script.metadata import MAX_PIPED_BYTES, decode_source, scan_blocks

#: Directories a recursive scan never enters (hidden ones neither).
SKIPPED = frozenset({"__pycache__", "node_modules", "site-packages"})

#: What a shebang line of a script without a suffix names.
_INTERPRETERS = (b"python", b"pyrun", b"uv")


def find_scripts(paths: Sequence[str], recursive: bool = False) -> tuple[list[str], list[str]]:
    """``(scripts, notes)``: the scripts under ``paths`` (see the module docstring), and a
    line for each named file that is not one.

    Raises:
        ScriptNotFoundError: a path that does not exist.
    """
    scripts: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            scripts.append(path)

    for top in paths:
        if os.path.isdir(top):
            for path in _walk(top, recursive):
                if _has_block(path):
                    add(path)
        elif os.path.isfile(top):
            if _has_block(top):
                add(top)
            else:
                notes.append(f"{top}: no `# /// script` block (or unreadable); skipped")
        else:
            raise ScriptNotFoundError(top, f"{top}: no such file or directory; check the path")
    return scripts, notes


def _walk(top: str, recursive: bool) -> list[str]:
    """The candidate files under ``top``, by name within each directory."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if recursive and not d.startswith(".")
                             and d not in SKIPPED
                             and not os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg")))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not name.startswith(".") and _candidate(path, name):
                found.append(path)
    return found


def _candidate(path: str, name: str) -> bool:
    """Whether a directory's file ``name`` may be a script: ``*.py``, or no suffix and a
    shebang naming Python, pyrun or uv."""
    if name.endswith(".py"):
        return True
    if "." in name:
        return False
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            first = f.read(256).split(b"\n", 1)[0]
    except OSError:
        return False
    return first.startswith(b"#!") and any(word in first for word in _INTERPRETERS)


def _has_block(path: str) -> bool:
    """Whether the regular file ``path`` has a ``script`` block (closed or not: an unclosed
    one is the checker's to report)."""
    try:  # never blocks on a FIFO
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return False
            data = f.read(MAX_PIPED_BYTES + 1)
    except OSError:
        return False
    if b"# /// script" not in data or len(data) > MAX_PIPED_BYTES:
        return False
    scan = scan_blocks(decode_source(data))
    return bool(scan.unclosed) or any(b.type == "script" for b in scan.blocks)
