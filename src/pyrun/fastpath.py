"""The warm path: from a script's bytes to its environment's interpreter, with almost no work.

A warm run reads the script, takes the bytes of its metadata block, hashes them together with
every input that can change the result (:func:`fast_key`), reads one small index file, checks the
environment's completion marker and execs its interpreter. It parses no TOML, runs no resolver,
starts no process other than the script's interpreter, and imports only ``os``, ``sys`` and a
hash: this module must stay that way (``tests/unit/test_fastpath.py`` checks its imports).

The index is written by the slow path (:mod:`pyrun.runner`) once an environment is whole.
"""

from __future__ import annotations

import os
import sys

try:  # _blake2 is built into CPython and imports in microseconds; hashlib loads OpenSSL
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other implementations
    from hashlib import blake2b

from pyrun import CACHE_FORMAT

#: Name of the completion marker inside an environment, written last.
ENV_MARKER = "pyrun-env.json"

#: Environment variables that change what uv resolves, and so belong in the fast-path key.
RESOLUTION_ENV = (
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
    "UV_PRERELEASE",
    "UV_RESOLUTION",
    "UV_EXCLUDE_NEWER",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_NO_BINARY",
    "UV_NO_BUILD",
    "UV_CONFIG_FILE",
    "UV_NO_CONFIG",
)

_START = b"# /// script"


def block_span(data: bytes) -> bytes:
    """The bytes that decide a script's metadata, for the fast-path key.

    For every line that is exactly ``# /// script``, the run of lines starting with ``#`` that
    begins there. This is a superset of any block the PEP 723 scanner can find (a block lies
    inside such a run), so an edit to the block always changes the key, while an edit to the
    script's code never does. Returns ``b""`` for a script without a ``# /// script`` line.
    """
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
    link_mode: str = "auto",
) -> str:
    """Hash every input that decides a script's environment, as 32 hex digits.

    Args:
        span: :func:`block_span` of the script.
        python: the ``--python`` request as given, or ``""``.
        with_requirements: the ``--with`` requirements as given, in order.
        default_python: the interpreter used when nothing asks for another (pyrun's own).
        link_mode: the ``--link-mode`` request (``auto`` when none).
    """
    h = blake2b(digest_size=16)
    parts = [CACHE_FORMAT.encode(), span, python.encode(), default_python.encode()]
    parts.append(link_mode.encode())
    parts += [r.encode() for r in with_requirements]
    parts += [f"{k}={os.environ.get(k, '')}".encode() for k in RESOLUTION_ENV]
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def cache_root() -> str:
    """pyrun's cache directory: ``$PYRUN_CACHE_DIR``, else the platform's user cache directory.

    On Linux this is platformdirs' rule (``$XDG_CACHE_HOME/pyrun``, else ``~/.cache/pyrun``),
    computed here without importing platformdirs (it costs more than a warm run's budget);
    elsewhere platformdirs itself is asked.
    """
    explicit = os.environ.get("PYRUN_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    if sys.platform.startswith("linux"):
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        return os.path.join(xdg or os.path.expanduser("~/.cache"), "pyrun")
    import platformdirs  # pragma: no cover - macOS and Windows

    return platformdirs.user_cache_dir("pyrun", appauthor=False)  # pragma: no cover


def index_path(root: str, key: str) -> str:
    """Path of the fast-path index entry for ``key`` under cache ``root``."""
    return os.path.join(root, "index", key[:2], key)


def env_python(env_dir: str) -> str:
    """Path of an environment's interpreter."""
    if os.name == "nt":  # pragma: no cover
        return os.path.join(env_dir, "Scripts", "python.exe")
    return os.path.join(env_dir, "bin", "python")


def is_whole(env_dir: str) -> bool:
    """Whether ``env_dir`` is a finished environment: its completion marker is there and its
    interpreter resolves (a removed base Python leaves a dangling ``bin/python``)."""
    marker = os.path.join(env_dir, ENV_MARKER)
    return os.path.isfile(marker) and os.path.exists(env_python(env_dir))


def stamp(path: str) -> str:
    """``size:mtime_ns`` of ``path`` (following symlinks), or ``"-"`` when it cannot be read.
    An interpreter upgraded or reinstalled in place gets a new stamp."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


#: What :func:`check` says when the environment works but some of its pool entries still wait
#: for their bytecode (a background compiler that has not finished, or died).
PENDING = "bytecode pending"


def index_text(
    env_dir: str, base: str, required: list[str], pending: tuple[str, ...] = ()
) -> str:
    """The text of an index entry (written by the slow path, read by :func:`check`).

    Line 1: the environment's directory. Line 2: its base interpreter's real path and
    :func:`stamp`, tab-separated. Then one path per line that must exist for the environment
    to work (its activation ``.pth``, each pool entry's marker), and ``?``-prefixed paths whose
    absence means only that bytecode is still pending (the compiled stamps of its entries).
    """
    lines = [env_dir, f"{base}\t{stamp(base)}", *required, *(f"?{p}" for p in pending)]
    return "\n".join(lines) + "\n"


def check(root: str, key: str) -> tuple[str | None, str]:
    """Look ``key`` up and check the environment it maps to, cheaply (a few ``stat`` calls).

    Returns ``(interpreter, "")`` for a usable environment, ``(interpreter, PENDING)`` for one
    whose bytecode is still pending, else ``(None, why)``: ``why`` is ``""`` when there is no
    index entry at all, else one line saying what was found (for the slow path to tell the user
    before it rebuilds).
    """
    try:
        with open(index_path(root, key), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None, ""
    if len(lines) < 2 or "\t" not in lines[1]:
        return None, "the fast-path index entry is unreadable"
    env_dir = lines[0]
    base, _, expected = lines[1].partition("\t")
    if not os.path.isdir(env_dir):
        return None, f"the environment {env_dir} is gone"
    if not os.path.isfile(os.path.join(env_dir, ENV_MARKER)):
        return None, f"the environment {env_dir} has no completion marker"
    current = stamp(base)
    if current == "-" or not os.path.exists(env_python(env_dir)):
        return None, f"its interpreter {base} is gone"
    if current != expected:
        return None, f"its interpreter {base} changed (upgraded or reinstalled)"
    pending = ""
    for path in lines[2:]:
        if path.startswith("?"):
            if not pending and not os.path.exists(path[1:]):
                pending = PENDING
        elif path and not os.path.exists(path):
            return None, f"{path} is missing"
    return env_python(env_dir), pending


def lookup(root: str, key: str) -> str | None:
    """The interpreter of the usable environment that ``key`` maps to, or None.

    None when there is no index entry, when :func:`check` finds the environment unusable (no
    completion marker, its base interpreter gone or changed, its activation file or a pool
    entry missing), or when its bytecode is pending. Records the use by touching the marker (best effort: a read-only cache
    still runs).
    """
    python, why = check(root, key)
    if python is None or why:  # pending bytecode: the slow path sees to it, then runs
        return None
    try:
        os.utime(os.path.join(os.path.dirname(os.path.dirname(python)), ENV_MARKER))
    except OSError:
        pass
    return python
