"""The warm path: from a script's bytes to its environment's interpreter, with almost no work.

A warm run reads the script, takes the bytes of its metadata block (:func:`block_span`),
hashes them together with every input that can change the result (:func:`fast_key`), reads one
small index file, checks the environment it names (:func:`check`) and execs its interpreter.
It parses no TOML, runs no resolver, starts no process other than the script's interpreter, and
imports only ``os``, ``sys``, a hash and three small stdlib-only pyrun modules
(:mod:`pyrun.layout`, :mod:`pyrun.settings`, :mod:`pyrun.launch`): this module must stay that
way (``tests/unit/test_fastpath.py`` checks the imports).

The index is written by the engine (:mod:`pyrun.engine`) once an environment is whole.
"""

from __future__ import annotations

import os

try:  # _blake2 is built into CPython and imports in microseconds; hashlib loads OpenSSL
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other implementations
    from hashlib import blake2b

from pyrun import layout, settings

_START = b"# /// script"
_BOM = b"\xef\xbb\xbf"


def block_span(data: bytes) -> bytes:
    """The bytes that decide a script's metadata, for the fast-path key.

    For every line that is exactly ``# /// script``, the run of lines starting with ``#`` that
    begins there. This is a superset of any block the PEP 723 scanner can find (a block lies
    inside such a run), so an edit to the block always changes the key, while an edit to the
    script's code never does. A UTF-8 byte-order mark is skipped, as the scanner skips it.
    Returns ``b""`` for a script without a ``# /// script`` line.

    >>> block_span(b'# /// script\\n# dependencies = ["rich"]\\n# ///\\nprint(1)\\n')
    b'# /// script\\n# dependencies = ["rich"]\\n# ///\\n'
    >>> block_span(b"print(1)\\n")
    b''
    """
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    spans = []
    pos = data.find(_START)
    while pos >= 0:
        after = pos + len(_START)
        at_line_start = pos == 0 or data[pos - 1 : pos] in (b"\n", b"\r")
        if at_line_start and data[after : after + 1] in (b"\n", b"\r"):
            end = after
            while True:
                nl = data.find(b"\n", end)
                if nl < 0:
                    end = len(data)
                    break
                end = nl + 1
                if data[end : end + 1] != b"#":
                    break
            spans.append(data[pos:end])
            after = end
        pos = data.find(_START, after)
    return b"\0".join(spans)


def fast_key(
    span: bytes,
    python: str,
    with_requirements: list[str],
    default_python: str,
    composition: str = "auto",
) -> str:
    """Hash every input that decides a script's environment, as 32 hex digits.

    Args:
        span: :func:`block_span` of the script.
        python: the ``--python`` request as given, or ``""``.
        with_requirements: the ``--with`` requirements as given, in order.
        default_python: the interpreter used when nothing asks for another (pyrun's own).
        composition: the ``--composition`` request (``auto`` when none).

    The installer's settings (:func:`pyrun.settings.resolution_inputs`) are hashed too, so a
    changed index, ``UV_*``/``PIP_*`` variable or configuration file means a new resolution.
    """
    h = blake2b(digest_size=16)
    parts = [layout.CACHE_FORMAT.encode(), span, python.encode(), default_python.encode(),
             composition.encode()]
    parts += [r.encode() for r in with_requirements]
    parts += [s.encode("utf-8", "surrogateescape") for s in settings.resolution_inputs()]
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


#: What :func:`check` says when the environment works but some of its pool entries still wait
#: for their bytecode (a background compiler that has not finished, or died).
PENDING = "bytecode pending"


def check(root: str, key: str) -> tuple[str | None, str]:
    """Look ``key`` up and check the environment it maps to, cheaply (a few ``stat`` calls).

    Returns ``(interpreter, "")`` for a usable environment, ``(interpreter, PENDING)`` for one
    whose bytecode is still pending, else ``(None, why)``: ``why`` is ``""`` when there is no
    index entry at all, else one line saying what was found (for the engine to tell the user
    before it rebuilds).
    """
    entry = layout.read_index(root, key)
    if entry is None:
        return None, ""
    if isinstance(entry, str):
        return None, entry
    env_dir = entry.env_dir
    if not os.path.isdir(env_dir):
        return None, f"the environment {env_dir} is gone"
    if not os.path.isfile(os.path.join(env_dir, layout.ENV_MARKER)):
        return None, f"the environment {env_dir} has no completion marker"
    current = layout.file_signature(entry.base)
    python = layout.env_python(env_dir)
    if current == "-" or not os.path.exists(python):
        return None, f"its interpreter {entry.base} is gone"
    if current != entry.base_signature:
        return None, f"its interpreter {entry.base} changed (upgraded or reinstalled)"
    for path in entry.required:
        if not os.path.exists(path):
            return None, f"{path} is missing"
    for path in entry.pending:
        if not os.path.exists(path):
            return python, PENDING
    return python, ""


def lookup(root: str, key: str) -> str | None:
    """The interpreter of the usable environment that ``key`` maps to, or None.

    None when there is no index entry, when :func:`check` finds the environment unusable, or
    when its bytecode is pending. Records the use by touching the environment's marker (best
    effort: a read-only cache still runs).
    """
    python, why = check(root, key)
    if python is None or why:  # pending bytecode: the engine sees to it, then runs
        return None
    try:
        os.utime(os.path.join(os.path.dirname(os.path.dirname(python)), layout.ENV_MARKER))
    except OSError:
        pass
    return python
