"""Editing a script's inline metadata block: ``pyrun init``, ``pyrun add`` and ``pyrun remove``.

The edits are uv's own (``uv init --script``, ``uv add --script``, ``uv remove --script``): uv
reads and writes the block with a format-preserving TOML library, resolves an added requirement
once (so it is known to exist, and gets the bound ``--bounds`` asks for), and whatever it writes
reads the same in ``uv run --script``. pyrun adds what uv does not do:

* a file with two ``script`` blocks, or an unclosed one, is refused with a message naming the
  lines (uv would report a TOML error, or edit the wrong block);
* a block is created where the specification expects it: after a shebang line and a PEP 263
  encoding line (uv puts it between them, which breaks the encoding declaration);
* uv never downloads a Python, and is given the interpreter pyrun would choose (never a pyenv
  shim, which uv cannot query when the version is not selected);
* the rest of the file is kept byte for byte: uv edits a copy of the block alone, and the
  block it wrote is spliced into the original, in the original's line endings (uv writes the
  whole file back with ``\n`` line endings and a final newline, and reads it as UTF-8 whatever
  its PEP 263 encoding); the script is written once, after uv succeeded.

Paths reach uv as ``--script=PATH`` (one word), or absolute for ``uv init``, so a script
named ``-x.py`` is never read as an option.

Source: the inline script metadata specification (PyPA), PEP 263, and uv's "Running scripts"
guide (``uv add --script``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pyrun.errors import MetadataError, ScriptNotFoundError, UsageError

if TYPE_CHECKING:
    from pyrun.engine.installers.base import Installer
    from pyrun.engine.interpreters import Interpreter

#: The ``--bounds`` choices uv offers for an added requirement's version bound.
BOUNDS = ("lower", "major", "minor", "exact")

#: PEP 263's encoding declaration (on line 1 or 2).
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")

#: UTF-8's byte order mark, which a script may start with.
BOM = b"\xef\xbb\xbf"

#: The block a file without one gets before uv edits it.
EMPTY_BLOCK = b"# /// script\n# dependencies = []\n# ///\n"


def check_editable(path: str) -> bytes:
    """The bytes of the script at ``path``, once it is known to hold at most one closed
    ``script`` block.

    Raises:
        ScriptNotFoundError: ``path`` is not a regular file.
        MetadataError: two ``script`` blocks, or one that is never closed (the message names
            the lines), or a block that is not valid TOML.
    """
    from pyrun.script import metadata

    if not os.path.isfile(path):
        raise ScriptNotFoundError(path, f"{path}: no such file; check the script's path "
                                  "(`pyrun init` makes a new one)")
    data = metadata.read_script(path)
    scan = metadata.scan_blocks(metadata.decode_source(data))
    if scan.unclosed:
        lines = ", ".join(str(i + 1) for i in scan.unclosed)
        raise MetadataError(path, [f"{path}:{lines}: a `# /// script` block is never closed "
                                   "by a `# ///` line; close it (every line of the block "
                                   "starts with #) before editing it"])
    metadata.load(path, data)  # two blocks, invalid TOML: the parser's own messages
    return data


def with_block(data: bytes) -> bytes:
    """A script's bytes ``data`` with an empty ``script`` block added when it has none: after
    its byte order mark, shebang line and encoding line; the rest byte for byte, in the file's
    line endings. ``data`` itself when it has a block."""

    if block_span(data) is not None:
        return data
    bom = BOM if data.startswith(BOM) else b""
    lines = data[len(bom):].splitlines(keepends=True)
    at = 0
    if lines and lines[0].startswith(b"#!"):
        at = 1
    if len(lines) > at and at < 2 and _CODING.match(lines[at]):
        at += 1
    head = b"".join(lines[:at])
    if head and not head.endswith((b"\n", b"\r")):
        head += b"\n"
    head4k = data[:4096]
    newline = b"\r\n" if b"\r\n" in head4k else b"\r" if b"\r" in head4k else b"\n"
    block = EMPTY_BLOCK.replace(b"\n", newline)
    rest = b"".join(lines[at:])
    # no blank line after it, as uv adds a block; but a comment right below would read as
    # part of the block (the specification's expression is greedy), so then one
    gap = newline if rest.startswith(b"#") else b""
    return bom + head + block + gap + rest


def init(installer: Installer, path: str, interpreter: Interpreter,
         dependencies: Sequence[str] = ()) -> None:
    """``uv init --script PATH --python INTERPRETER``, then ``uv add`` for ``dependencies``.

    Raises:
        UsageError: ``path`` exists already. And the errors of :meth:`Installer.edit_script`.
    """
    if os.path.lexists(path):
        raise UsageError(f"{path} exists already; `pyrun add {path} REQ` adds to it")
    # `uv init`'s --script is a flag and the path a positional: absolute, it is never an option
    installer.edit_script(["init", "--script", os.path.abspath(path), "--python",
                           interpreter.executable],
                          what=f"creating {path}")
    if dependencies:
        add(installer, path, dependencies, interpreter)


def add(installer: Installer, path: str, requirements: Sequence[str],
        interpreter: Interpreter, bounds: str | None = None,
        options: Sequence[str] = ()) -> None:
    """Add ``requirements`` (PEP 508, validated: none can start with ``-``, so none is read as
    an option) to the block of ``path`` with ``uv add --script``, which resolves them once; a
    block is made first where there is none. ``options`` are uv add's own, already checked
    (``--raw``, ``--frozen``, ``--index=URL``).

    Raises:
        MetadataError, ScriptNotFoundError: see :func:`check_editable`. UsageError: an
        invalid requirement or ``bounds``. ResolutionError: a requirement does not exist (or
        cannot be met); and the other errors of :meth:`Installer.edit_script`.
    """
    from pyrun.script.metadata import parse_requirement

    for text in requirements:
        try:
            parse_requirement(text)
        except ValueError as exc:
            raise UsageError(f"{text!r}: not a requirement ({exc})") from None
    if bounds is not None and bounds not in BOUNDS:
        raise UsageError(f"--bounds must be one of {', '.join(BOUNDS)}, not {bounds!r}")
    check_editable(path)
    extra = [f"--bounds={bounds}"] if bounds else []
    splice(path, lambda copy: installer.edit_script(
        ["add", f"--script={copy}", "--python", interpreter.executable, *extra, *options,
         *requirements],
        what=f"adding to {path}"))


def remove(installer: Installer, path: str, names: Sequence[str]) -> None:
    """Remove the requirements named ``names`` from the block of ``path`` (``uv remove
    --script``).

    Raises:
        MetadataError, ScriptNotFoundError: see :func:`check_editable`. UsageError: a name
        that is not a distribution name, or that the block does not require.
    """
    from packaging.utils import canonicalize_name

    from pyrun.script import metadata

    data = check_editable(path)
    required = {canonicalize_name(r.name) for r in metadata.load(path, data).dependencies}
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", name):
            raise UsageError(f"{name!r}: not a distribution name")
        if canonicalize_name(name) not in required:
            raise UsageError(f"{path}: its block does not require {name}; "
                             f"it requires {', '.join(sorted(required)) or 'nothing'}")
    splice(path, lambda copy: installer.edit_script(["remove", f"--script={copy}", *names],
                                                    what=f"removing from {path}"))


def block_span(data: bytes) -> tuple[int, int] | None:
    """Byte offsets ``(start, end)`` of the ``script`` block's lines in ``data`` (from its
    ``# /// script`` line, after a byte order mark, to the end of its closing ``# ///`` line,
    line end included), the block as :func:`pyrun.script.metadata.scan_blocks` finds it (the
    specification's regular expression: a ``# ///`` inside the block's TOML does not end
    it); or None."""
    from pyrun.script import metadata

    found = [b for b in metadata.scan_blocks(metadata.decode_source(data)).blocks
             if b.type == "script"]
    if not found:
        return None
    # bytes.splitlines breaks lines exactly where decode_source's newlines are (CR LF, LF, CR)
    lines = data.splitlines(keepends=True)
    start = sum(len(line) for line in lines[:found[0].start])
    if found[0].start == 0 and data.startswith(BOM):
        start += len(BOM)
    return start, sum(len(line) for line in lines[:found[0].end + 1])


def uv_blind_spot(data: bytes) -> tuple[str, str] | None:
    """``(what, fix)`` when the block of the script whose bytes are ``data`` is one pyrun reads
    (as Python reads the source) but uv 0.13 does not, so that ``uv run --script`` runs the
    script without its dependencies: a block right after a UTF-8 byte order mark, or one in
    lone-CR line endings. None for any other script, and for one without a block."""
    span = block_span(data)
    if span is None:
        return None
    block = data[span[0]:span[1]]
    if span[0] == len(BOM) and data.startswith(BOM):
        return "a UTF-8 byte order mark right before its block", "remove the mark"
    if b"\r" in block and b"\r\n" not in block:
        return "lone-CR line endings (classic Mac OS)", "make them LF"
    return None


def _read_own(path: str) -> bytes:
    """The bytes of ``path``, a copy pyrun made beside a script and uv edited, read only if it
    is still a regular file of this user that no one else can write (the script's directory may
    be another's: a copy swapped for a link, or for someone else's file, is never read back).

    Raises:
        MetadataError: it is not.
    """
    from pyrun import layout

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        why = layout.foreign(st)
        if why or st.st_mode & 0o170000 != 0o100000:
            raise MetadataError(path, [f"{path}: the copy uv edited was replaced "
                                       f"({why or 'not a regular file'}); nothing changed"])
        return f.read()


def _newlines(text: bytes, ending: bytes) -> bytes:
    """``text`` with every line ending (CR LF, LF or a lone CR) made ``ending``."""
    return text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", ending)


def splice(path: str, edit: Callable[[str], object]) -> None:
    """Run ``edit`` (uv) on a copy of the block of the script at ``path`` (an empty file when
    there is none, where uv writes a new block; it goes where :func:`with_block` puts one),
    beside it so uv sees the same configuration; then write
    the script once, with the block uv wrote in place of the original's, in the original's line
    endings. Only the block reaches uv, so the rest of the file (in any PEP 263 encoding) is
    never read or rewritten by it, and a failed edit leaves the script as it was.

    Raises:
        MetadataError: uv's copy has no block (it failed to write one).
        OSError: the file cannot be read or written.
    """
    from pyrun import layout

    lock = f"{path}.lock"  # uv updates the lock beside a script it edits: the copy's, then ours
    path = os.path.realpath(path)  # a link to the script: the script is edited, the link kept
    with open(path, "rb") as f:
        raw = f.read()
    data = with_block(raw)
    span = block_span(data)
    assert span is not None  # check_editable and with_block saw to it
    original = data[span[0]:span[1]]
    directory, name = os.path.split(path)
    copy = os.path.join(directory, f"{layout.tmp_prefix()}edit-{name}")
    locked = os.path.isfile(lock)
    try:
        # no block yet: uv gets an empty file and writes the block as it writes a new one
        # (with the requires-python it derives from the interpreter)
        given = _newlines(original, b"\n") if block_span(raw) is not None else b""
        layout.write_atomic(copy, given)
        if locked:
            with open(lock, "rb") as f:
                layout.write_atomic(f"{copy}.lock", f.read())
        edit(copy)
        edited = _read_own(copy)
        if locked:
            new_lock = _read_own(f"{copy}.lock")
    finally:
        for leftover in (copy, f"{copy}.lock"):
            if os.path.lexists(leftover):
                os.unlink(leftover)
    new_span = block_span(edited)
    if new_span is None:
        raise MetadataError(path, [f"{path}: uv left no `# /// script` block; nothing changed"])
    ending = b"\r\n" if b"\r\n" in original else b"\r" if b"\r" in original else b"\n"
    block = _newlines(edited[new_span[0]:new_span[1]], ending)
    if not original.endswith((b"\n", b"\r")):  # the block ended the file without a line end
        block = block.rstrip(b"\r\n")
    mode = os.stat(path).st_mode & 0o7777
    layout.write_atomic(path, data[:span[0]] + block + data[span[1]:], mode=mode)
    if locked:
        layout.write_atomic(lock, new_lock, mode=os.stat(lock).st_mode & 0o7777)
