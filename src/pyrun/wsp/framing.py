"""Content-Length framing of JSON-RPC messages over a byte stream (the LSP base protocol).

A frame is ``Content-Length: N\\r\\n``, optionally other header lines (read and ignored),
``\\r\\n``, then N bytes of UTF-8 JSON. Bare ``\\n`` line ends in headers are accepted too.
After a frame whose header was unusable, its body cannot be told from a header: reading goes on
line by line and starts a new frame at the next ``Content-Length`` found, even in the middle of
a line, so one bad frame never swallows the next.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from pyrun.errors import ExitCode, PyrunError

#: Largest frame accepted (bytes): a guard against a garbage length eating memory.
MAX_FRAME = 64 * 1024 * 1024


class FramingError(PyrunError):
    """A frame's header is malformed (no or a bad ``Content-Length``); the frame is skipped."""

    exit_code = ExitCode.PROTOCOL


def read_frame(stream: BinaryIO) -> bytes | None:
    """Read one frame's body from ``stream``; None at a clean end of input.

    Works however the bytes arrive (``read`` may return fewer bytes than asked).

    Raises:
        FramingError: the header had no valid ``Content-Length`` (the header block has been
            consumed, so the caller can report it and read on).
        EOFError: the input ended inside a frame.
    """
    length: int | None = None
    bad: str | None = None
    seen_any = False
    while True:
        line = stream.readline(65536)
        if not line:
            if seen_any:
                raise EOFError("the input ended inside a frame header")
            return None
        if line in (b"\r\n", b"\n"):
            if not seen_any:
                continue  # stray blank lines between frames
            break
        seen_any = True
        marker = line.lower().find(b"content-length:")
        if marker > 0:  # a frame glued to the garbage before it (the body of a frame whose
            line, length, bad = line[marker:], None, None  # header was bad): start over here
        name, sep, value = line.decode("ascii", errors="replace").partition(":")
        if not sep:
            bad = f"malformed header line {line[:80]!r}"
            continue
        if name.strip().lower() == "content-length":
            digits = value.strip()
            if digits.isascii() and digits.isdigit() and len(digits) <= 20:
                length = int(digits)  # not int()'s "1_0", "+10" or other scripts' digits
            else:
                bad = f"Content-Length is not a number: {digits[:40]!r}"
    if length is None or length < 0 or length > MAX_FRAME:
        raise FramingError(bad or f"no usable Content-Length header (got {length})")
    body = b""
    while len(body) < length:
        chunk = stream.read(length - len(body))
        if not chunk:
            raise EOFError(f"the input ended after {len(body)} of {length} bytes of a frame")
        body += chunk
    return body


def encode_frame(message: Any) -> bytes:
    """The frame for ``message`` (any JSON value): header and compact UTF-8 JSON body.

    Raises:
        TypeError, ValueError, RecursionError: ``message`` is not JSON (an object of another
            type, ``NaN``, a cycle, nested too deeply).
    """
    # ASCII escapes: valid JSON for any string a request held, lone surrogates included
    # (``"\ud800"`` is valid JSON, but cannot be encoded as UTF-8).
    body = json.dumps(message, ensure_ascii=True, separators=(",", ":"),
                      allow_nan=False).encode("ascii")
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def write_frame(stream: BinaryIO, message: Any) -> None:
    """Write ``message`` as one frame and flush."""
    stream.write(encode_frame(message))
    stream.flush()
