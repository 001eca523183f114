"""The warm path: from a script's bytes to its environment's interpreter, with almost no work.

A warm run reads the script, takes the bytes of its metadata block (:func:`block_span`),
hashes them together with every input that can change the result (:func:`fast_key`), reads one
small index file, checks the environment it names (:func:`check`) and execs its interpreter.
It parses no TOML, runs no resolver, starts no process other than the script's interpreter, and
imports only ``os``, ``sys``, a hash and two small stdlib-only pyrun modules
(:mod:`pyrun.layout`, :mod:`pyrun.launch`): this module must stay that way
(``tests/unit/test_fastpath.py`` checks the imports).

The inputs outside the script and the command line that change a resolution (the installers'
``UV_*``/``PIP_*`` variables and configuration files, the Python version file) are gathered in
:mod:`pyrun.inputs`. A run whose fast key misses only because of settings its environment's
installer never reads (cron's stripped environment) finds the environment under the block key
(:func:`lookup_block`) and records its fast key (:func:`adopt`).

The index is written by the engine (:mod:`pyrun.engine`) once an environment is whole.
"""

# No ``from __future__ import annotations``: importing ``__future__`` costs a warm run a module
# load. Annotations that Python 3.9 cannot evaluate are written as strings.

import os
import sys

try:  # _blake2 is built into CPython and imports in microseconds; hashlib loads OpenSSL
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other implementations
    from hashlib import blake2b

from pyrun import layout
from pyrun.inputs import installer_inputs, resolution_inputs, search_start, version_file_input

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


def unclosed(data: bytes) -> int:
    """The 1-based line of the first ``# /// script`` line whose run of ``#`` lines
    (:func:`block_span`) holds no ``# ///`` line, so that no block can close there; 0 when
    there is none. The warm path warns of it on every run, as the engine does (the full
    check, with the same words, is :func:`pyrun.script.metadata.load`'s).

    >>> unclosed(b'# /// script\\n# dependencies = ["rich"]\\nimport rich\\n')
    1
    >>> unclosed(b'# /// script\\n# dependencies = []\\n# ///\\n')
    0
    """
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    for span in block_span(body).split(b"\0") if body else ():
        lines = span.replace(b"\r", b"").split(b"\n")
        if span and b"# ///" not in lines[1:]:
            return body[:body.find(span)].count(b"\n") + 1
    return 0


UNCLOSED = ("{path}:{line}:1: warning: the `# /// script` block opened here is never closed "
            "with a `# ///` line, so it is ignored (PEP 723)")


def lock_path(script: str) -> "str | None":
    """The path of the lock beside ``script`` (``x.py.lock``, as ``uv lock --script`` writes
    it) when that is a regular file; None otherwise, and for ``-`` (stdin) and URLs."""
    if script == "-" or "://" in script:
        return None
    path = script + ".lock"
    return path if os.path.isfile(path) else None  # never a FIFO, whose open would block


def lock_bytes(script: str) -> bytes:
    """The content of the lock beside ``script`` (:func:`lock_path`), or ``b""``."""
    path = lock_path(script)
    if path is None:
        return b""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def fast_key(
    span: bytes,
    python: str,
    with_requirements: list[str],
    default_python: str,
    composition: str = "auto",
    index_options: "list[str] | None" = None,
    lock: bytes = b"",
    lock_mode: str = "",
    script: str = "-",
    block: bool = False,
) -> str:
    """Hash every input that decides a script's environment, as 32 hex digits.

    Args:
        span: :func:`block_span` of the script.
        python: the ``--python`` request as given, or ``""``.
        with_requirements: the ``--with`` requirements as given, in order.
        default_python: the interpreter used when nothing asks for another (pyrun's own).
        composition: the ``--composition`` request (``auto`` when none).
        index_options: the index options of the command line, as ``key=value`` lines (none
            on the warm path, which leaves a command line with any to the engine).
        lock: the bytes of the lock beside the script (:func:`lock_bytes`), and of a
            ``--lock`` file; ``b""`` when there is none.
        lock_mode: ``--locked`` or ``--frozen`` as ``locked``/``frozen``, or ``""``.
        script: the script's path as given (``-`` for standard input, or a URL): where the
            Python version file that uv would read is looked for (:func:`version_file`).
        block: the block key instead: everything but the installers' settings (see below).

    The Python version file (its path and signature) and the installers' settings
    (:func:`resolution_inputs`) are hashed too, so a changed index,
    ``UV_*``/``PIP_*`` variable or configuration file means a new resolution. The block key
    leaves the installers' settings out: under it the index records the environment last
    built for the block with the digest of the settings its installer read
    (:func:`installer_inputs`), for a run whose fast key misses because of settings that
    installer never reads (cron's stripped environment: :func:`lookup_block`).
    """
    h = blake2b(digest_size=16)
    start = search_start(script)
    inputs = ["\0block"] if block else resolution_inputs(cwd=start)
    texts = [python, default_python, composition, *with_requirements,
             *inputs, version_file_input(script)]
    if index_options:
        texts += ["\0index", *index_options]
    parts = [layout.CACHE_FORMAT.encode(), span]
    if lock or lock_mode:  # keys of scripts without a lock stay as they were
        parts += [b"\0lock", lock_mode.encode(), lock]
    parts += [t.encode("utf-8", "surrogateescape") for t in texts]  # as the OS gave them
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def script_key(
    data: bytes,
    script: str,
    python: str,
    with_requirements: "list[str]",
    composition: str = "auto",
    settings: "tuple[tuple[str, object], ...]" = (),
    lock_file: "str | None" = None,
    lock_mode: str = "",
    block: bool = False,
) -> str:
    """The fast key of a run of ``script`` (its bytes: ``data``) under one command line: the
    one assembly of :func:`fast_key`'s inputs that the warm scan (:mod:`pyrun.cli`) and the
    engine (:func:`pyrun.engine.options.fast_key_for`) both use, so both always agree
    (``tests/unit/test_fastpath.py`` checks them against each other).

    Args:
        data: the script's bytes (the block is :func:`block_span` of them).
        script: its path as given (``-``, a path, a URL): where the lock beside it and the
            Python version file are looked for.
        python: ``--python`` as given, or ``""``.
        with_requirements: ``--with`` requirements then ``-e PATH`` for ``--with-editable``.
        composition: ``--composition``.
        settings: uv's settings from the command line, ``((key, value), ...)``; hashed as
            sorted ``key=repr(value)`` lines.
        lock_file: a ``--lock`` file, whose bytes are hashed with the lock beside the script.
        lock_mode: ``locked``, ``frozen`` or ``""``.
        block: the block key instead (:func:`fast_key`).

    Raises:
        OSError: ``lock_file`` cannot be read.
    """
    lock = lock_bytes(script)
    if lock_file is not None:
        with open(lock_file, "rb") as f:
            lock += b"\0--lock\0" + f.read()
    lines = sorted(f"{k}={v!r}" for k, v in dict(settings).items())
    return fast_key(block_span(data), python, with_requirements, sys.executable, composition,
                    lines, lock=lock, lock_mode=lock_mode, script=script, block=block)


#: What :func:`check` says when the environment works but some of its pool entries still wait
#: for their bytecode (a background compiler that has not finished, or died).
PENDING = "bytecode pending"


def check(root: str, key: str) -> "tuple[str | None, str]":
    """Look ``key`` up and check the environment it maps to, cheaply (a few ``stat`` calls).

    Returns ``(interpreter, "")`` for a usable environment, ``(interpreter, PENDING)`` for one
    whose bytecode is still pending, else ``(None, why)``: ``why`` is ``""`` when there is no
    index entry at all, else one line saying what was found (for the engine to tell the user
    before it rebuilds).
    """
    try:
        why = layout.foreign(os.stat(root))  # the cache as a whole: ours, and only ours
    except OSError:
        return None, ""
    if why:
        return None, f"the cache {root} cannot be trusted ({why})"
    entry = layout.read_index(root, key)
    if entry is None:
        return None, ""
    if isinstance(entry, str):
        return None, entry
    return check_entry(root, entry)


def check_entry(root: str, entry: "layout.IndexEntry") -> "tuple[str | None, str]":
    """:func:`check` of an index entry already read (the cache's own ownership checked)."""
    env_dir = entry.env_dir
    try:
        st = os.lstat(env_dir)
    except OSError:
        return None, f"the environment {env_dir} is gone"
    head, name = os.path.split(env_dir)
    if head != os.path.join(root, layout.ENVS) or not layout.is_key(name):
        return None, f"the fast-path index entry names {env_dir}, not an environment of this cache"
    if not (st.st_mode & 0o170000 == 0o040000) or layout.foreign(st):  # a real directory, ours
        return None, f"the environment {env_dir} is not a directory of yours"
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
    for path, signature in entry.watched:
        if layout.watch_signature(path) != signature:
            return None, f"{path} changed (a local directory source)"
    for path, digest in entry.contents:  # a few dozen bytes: one read and hash
        if layout.content_digest(path) != digest:
            return None, f"{path} changed"
    for path in entry.pending:
        if not os.path.exists(path):
            return python, PENDING
    return python, ""


def lookup(root: str, key: str) -> "str | None":
    """The interpreter of the usable environment that ``key`` maps to, or None.

    None when there is no index entry, when :func:`check` finds the environment unusable, or
    when its bytecode is pending. Records the use by touching the environment's marker (best
    effort: a read-only cache still runs).
    """
    python, why = check(root, key)
    if python is None or why:  # pending bytecode: the engine sees to it, then runs
        return None
    _used(python)
    return python


def _used(python: str) -> None:
    """Record the use of the environment of ``python`` (its marker's mtime; best effort)."""
    try:
        os.utime(os.path.join(os.path.dirname(os.path.dirname(python)), layout.ENV_MARKER))
    except OSError:
        pass


def lookup_block(root: str, block: str, script: str) -> "str | None":
    """The interpreter of the environment recorded under the block key ``block`` when the
    settings its installer reads are still the ones it resolved with
    (:func:`installer_inputs`) and the environment is usable (:func:`check_entry`); else
    None. Settings only another installer reads, or none reads (a cron job's stripped
    environment), then lead to the same environment, as ``uv run`` keeps an environment that
    still satisfies its script, without starting uv."""
    try:
        if layout.foreign(os.stat(root)):
            return None
    except OSError:
        return None
    entry = layout.read_index(root, block)
    if not isinstance(entry, layout.IndexEntry) or entry.inputs is None:
        return None
    installer, digest = entry.inputs
    if installer_inputs(installer, script) != digest:
        return None
    python, why = check_entry(root, entry)
    if python is None or why:
        return None
    _used(python)
    return python


def adopt(root: str, key: str, block: str) -> None:
    """Record under the fast key ``key`` the environment :func:`lookup_block` found under
    ``block`` (the entry's text without its ``@`` line), so the next run like this one is
    an ordinary warm run. Best effort: a cache that cannot be written still runs."""
    try:
        with open(layout.index_path(root, block), "rb") as f:
            lines = f.read(1 << 20).decode("utf-8").splitlines()
        text = "\n".join(line for line in lines if not line.startswith("@")) + "\n"
        path = layout.index_path(root, key)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        layout.write_atomic(path, text)
    except (OSError, UnicodeDecodeError):
        pass
