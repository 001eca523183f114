"""Progress and diagnostics on stderr, never on stdout (stdout belongs to the script).

Colours: on a terminal, unless ``NO_COLOR`` is set (https://no-color.org) or ``TERM`` is
``dumb``; ``FORCE_COLOR`` turns them on anywhere (as uv, pip and rich read them). A command's
own progress drawn through pyrun's terminal has its finished lines erased
(:class:`LineEraser`, used by :mod:`pyrun.subprocesses`).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

#: ANSI styles by meaning.
STYLES = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "step": "\x1b[2m"}
_RESET = "\x1b[0m"


def colour(stream: TextIO) -> bool:
    """Whether to colour what goes to ``stream``."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


#: The escapes :func:`escaped` writes for control characters that have a short one.
_SHORT = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
          "\r": "\\r", "\\": "\\\\"}


def escaped(text: str, keep: str = "\n\t") -> str:
    r"""``text`` with every control character (C0, DEL, C1) but those in ``keep`` shown as a
    backslash escape (``\033`` for ESC, ``\r``, as git quotes a path; other characters that
    are not printable, a right-to-left override say, as Python writes them: ``\u202e``), so
    that what a project file, a URL, a server or a package's metadata says can never move
    the cursor, erase a line, reorder the text or change colours on the user's terminal. A
    backslash is doubled only where the text had a character to escape (plain paths keep
    theirs).

    >>> escaped("ok\x1b[2K\rfake")
    'ok\\033[2K\\rfake'
    >>> escaped("two\nlines"), escaped("two\nlines", keep="")
    ('two\nlines', 'two\\nlines')
    """
    if all(c.isprintable() or c in keep for c in text):
        return text
    out = []
    for c in text:
        if c in keep or (c.isprintable() and c != "\\"):
            out.append(c)
        else:  # a control character as git writes it; another non-printable as Python does
            out.append(_SHORT.get(c) or (f"\\{ord(c):03o}" if c < "\xa0"
                                         else repr(c)[1:-1]))
    return "".join(out)


def styled(text: str, style: str, stream: TextIO) -> str:
    """``text`` in ``style`` (a key of :data:`STYLES`) when ``stream`` takes colours."""
    return f"{STYLES[style]}{text}{_RESET}" if colour(stream) else text


class Reporter:
    """Writes progress lines to stderr.

    Verbosity: -1 quiet (nothing but errors), 0 normal, 1 or more verbose. At normal verbosity,
    progress is shown only when stderr is a terminal; warnings are always shown unless quiet.

    Args:
        verbosity: as above.
        stream: where to write (default ``sys.stderr``).
    """

    def __init__(self, verbosity: int = 0, stream: TextIO | None = None) -> None:
        self.verbosity = verbosity
        self.stream = stream if stream is not None else sys.stderr
        self._interactive = verbosity > 0 or (verbosity == 0 and self.stream.isatty())
        self._started = time.monotonic()
        self._repaired = False

    @property
    def live(self) -> bool:
        """Whether a tool may draw its own progress on the terminal: normal verbosity (not
        ``-q``, not ``-v``, whose lines would interleave) with stderr on a terminal that can
        erase a line (``TERM`` is not ``dumb``)."""
        return (self.verbosity == 0 and self._interactive
                and os.environ.get("TERM") != "dumb")

    def step(self, message: str) -> None:
        """A progress line (``pyrun: resolving ...``), shown on a terminal or with ``-v``."""
        if self._interactive:
            self._write(message)

    def notice(self, message: str) -> None:
        """Something the user should know that is not a problem (a build from source that may
        take minutes), shown unless quiet, on a terminal or not."""
        if self.verbosity >= 0:
            self._write(message)

    def warn(self, message: str) -> None:
        """A warning, shown unless quiet."""
        if self.verbosity >= 0:
            text = message if "warning" in message else f"warning: {message}"
            if text.startswith("warning:"):
                self._write(text[len("warning:"):], styled("warning:", "warning", self.stream))
            else:
                self._write(text)

    def repair(self, message: str) -> None:
        """Something broken was found and will be rebuilt. The first such message of a run is a
        warning (one line says what was found); later ones, usually the same damage seen from
        another side, are diagnostics."""
        if self._repaired:
            self.debug(message)
        else:
            self._repaired = True
            self.warn(message)

    def debug(self, message: str) -> None:
        """A diagnostic line, shown with ``-v`` only, with the seconds since start."""
        if self.verbosity > 0:
            self._write(f"[{time.monotonic() - self._started:6.3f}s] {message}")

    def _write(self, message: str, styled_prefix: str = "") -> None:
        """One line: ``pyrun:``, ``styled_prefix`` (pyrun's own, coloured), then ``message``
        with its control characters escaped (:func:`escaped`)."""
        print(f"pyrun: {styled_prefix}{escaped(message)}", file=self.stream, flush=True)


class LineEraser:
    """Rewrites what a command writes to a terminal so that each line it finishes (a newline,
    which the terminal driver sends on as CR LF) is erased instead of kept: back to the line's
    first column, up over the rows a line wider than the terminal wrapped onto, and the screen
    cleared from there. Everything else (colours, a bar redrawn after a CR) passes unchanged.

    Args:
        columns: the terminal's width.
    """

    def __init__(self, columns: int) -> None:
        self.columns = max(columns, 1)
        self.column = 0  # characters drawn since the line's start
        self.escape = 0  # 0 text, 1 after ESC, 2 inside ESC [ ... (a control sequence)
        self.cr = False  # the last byte was a CR whose meaning the next byte decides

    def _erase(self) -> bytes:
        rows = (self.column - 1) // self.columns if self.column else 0
        self.column = 0
        return b"\r" + (f"\x1b[{rows}A".encode() if rows else b"") + b"\x1b[J"

    def feed(self, data: bytes) -> bytes:
        """The bytes to write for ``data``, the next bytes the command wrote."""
        out = bytearray()
        for byte in data:
            if self.cr:
                self.cr = False
                if byte == 0x0A:  # a finished line
                    out += self._erase()
                    continue
                out += b"\r"
                self.column = 0
            if byte == 0x0D:
                self.cr = True
                continue
            out.append(byte)
            if self.escape == 1:
                self.escape = 2 if byte == 0x5B else 0
            elif self.escape == 2:
                self.escape = 0 if 0x40 <= byte <= 0x7E else 2
            elif byte == 0x1B:
                self.escape = 1
            elif byte == 0x0A:
                self.column = 0
            elif byte >= 0x20 and not 0x80 <= byte <= 0xBF:  # a character's first byte
                self.column += 1
        return bytes(out)

    def finish(self) -> bytes:
        """The bytes that erase what is left of the last line."""
        self.cr = False
        return self._erase()
