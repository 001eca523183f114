"""The warm path: from a script's bytes to its environment's interpreter, with almost no work.

A warm run reads the script, takes the bytes of its metadata block (:func:`block_span`),
hashes them together with every input that can change the result (:func:`fast_key`), reads one
small index file, checks the environment it names (:func:`check`) and execs its interpreter.
It parses no TOML, runs no resolver, starts no process other than the script's interpreter, and
imports only ``os``, ``sys``, a hash and two small stdlib-only pyrun modules
(:mod:`pyrun.layout`, :mod:`pyrun.launch`): this module must stay that way
(``tests/unit/test_fastpath.py`` checks the imports).

The inputs outside the script and the command line that change a resolution are gathered here,
in one place (:func:`resolution_inputs`):

* every ``UV_*`` and ``PIP_*`` environment variable, except the ones in :data:`OPERATIONAL`
  (where the cache lives, retries, timeouts, progress: they change how, not what);
* the signature (size and mtime) of every configuration file uv or pip would read: uv's
  ``$UV_CONFIG_FILE``, user (``$XDG_CONFIG_HOME/uv/uv.toml``) and system
  (``$XDG_CONFIG_DIRS/uv/uv.toml``, ``/etc/uv/uv.toml``) files, and the ``uv.toml`` and
  ``pyproject.toml`` files of the script's directory and its parents (uv's project-level
  configuration for a script: :func:`search_start`);
* the Python version file uv would read (:func:`version_file`);
* pip's ``$PIP_CONFIG_FILE``, ``/etc/pip.conf``,
  ``$XDG_CONFIG_DIRS/pip/pip.conf``, ``~/.config/pip/pip.conf``, ``~/.pip/pip.conf`` and the
  ``pip.conf`` of pyrun's own interpreter's prefix.

uv and pip read the same variables and files when they resolve; since every ``UV_*``/``PIP_*``
variable is either hashed or listed as one that cannot change a result, the key and the
resolver cannot disagree (the installers pin the operational ones they depend on, such as
uv's link mode). Sources: uv's documentation, "Configuration files" and "Environment
variables" (and ``crates/uv-static/src/env_vars.rs``); pip's documentation, "Configuration".

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

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a warm run 3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping

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

    The Python version file (its path and signature) and the installers' settings
    (:func:`resolution_inputs`) are hashed too, so a changed index,
    ``UV_*``/``PIP_*`` variable or configuration file means a new resolution.
    """
    h = blake2b(digest_size=16)
    start = search_start(script)
    texts = [python, default_python, composition, *with_requirements,
             *resolution_inputs(cwd=start), version_file_input(script)]
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

    Raises:
        OSError: ``lock_file`` cannot be read.
    """
    lock = lock_bytes(script)
    if lock_file is not None:
        with open(lock_file, "rb") as f:
            lock += b"\0--lock\0" + f.read()
    lines = sorted(f"{k}={v!r}" for k, v in dict(settings).items())
    return fast_key(block_span(data), python, with_requirements, sys.executable, composition,
                    lines, lock=lock, lock_mode=lock_mode, script=script)


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
    try:
        os.utime(os.path.join(os.path.dirname(os.path.dirname(python)), layout.ENV_MARKER))
    except OSError:
        pass
    return python


#: ``UV_*``/``PIP_*`` variables that change how uv or pip work, never which distributions they
#: pick (uv's ``crates/uv-static/src/env_vars.rs`` and CLI bindings; pip reads every
#: ``PIP_<OPTION>``). Everything else with those prefixes is part of the fast-path key:
#: ``UV_OFFLINE`` and ``UV_NO_CACHE`` are not here, since an offline resolution can differ.
OPERATIONAL = frozenset({
    "UV_CACHE_DIR", "UV_NO_PROGRESS", "UV_HTTP_RETRIES", "UV_HTTP_TIMEOUT",
    "UV_HTTP_CONNECT_TIMEOUT", "UV_REQUEST_TIMEOUT", "UV_UPLOAD_HTTP_TIMEOUT",
    "UV_CONCURRENT_DOWNLOADS", "UV_CONCURRENT_BUILDS", "UV_CONCURRENT_INSTALLS",
    "UV_CONCURRENT_CACHE_READS", "UV_LINK_MODE", "UV_NO_WRAP", "UV_LOG_CONTEXT",
    "UV_STACK_SIZE", "UV_LOCK_TIMEOUT", "UV_COMPILE_BYTECODE_TIMEOUT", "UV_HIDE_BUILD_OUTPUT",
    "UV_PYTHON_DOWNLOADS", "UV_NATIVE_TLS", "UV_SYSTEM_CERTS",
    "UV_ENV_FILE", "UV_NO_ENV_FILE",  # the script's own variables (pyrun reads them), not uv's
    "PIP_RETRIES", "PIP_TIMEOUT", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_PYTHON_VERSION_WARNING", "PIP_NO_COLOR", "PIP_PROGRESS_BAR", "PIP_QUIET",
    "PIP_VERBOSE", "PIP_NO_INPUT", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_ROOT_USER_ACTION",
    "PIP_NO_WARN_SCRIPT_LOCATION", "PIP_CERT", "PIP_CLIENT_CERT", "PIP_LOG",
})

_PREFIXES = ("UV_", "PIP_")


def resolution_variables(environ: "Mapping[str, str] | None" = None) -> list[str]:
    """``NAME=value`` of each ``UV_*``/``PIP_*`` variable that can change a resolution, sorted.
    (Keys first, values only for those: decoding every value of ``os.environ`` costs more.)"""
    environ = os.environ if environ is None else environ
    return sorted(f"{k}={environ[k]}" for k in environ
                  if k.startswith(_PREFIXES) and k not in OPERATIONAL)


def config_files(environ: "Mapping[str, str] | None" = None, cwd: "str | None" = None) -> list[str]:
    """The configuration files uv and pip would look for (present or not), in a fixed order."""
    environ = os.environ if environ is None else environ
    home = os.path.expanduser("~")
    xdg_config = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    xdg_dirs = [d for d in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if d]
    files = [environ.get("UV_CONFIG_FILE", ""), os.path.join(xdg_config, "uv", "uv.toml")]
    files += [os.path.join(d, "uv", "uv.toml") for d in xdg_dirs]
    files.append("/etc/uv/uv.toml")
    try:
        here = os.path.abspath(cwd if cwd is not None else os.getcwd())
    except OSError:  # the working directory was removed
        here = ""
    while here:
        files += [os.path.join(here, "uv.toml"), os.path.join(here, "pyproject.toml")]
        parent = os.path.dirname(here)
        here = "" if parent == here else parent
    files += [environ.get("PIP_CONFIG_FILE", ""), "/etc/pip.conf"]
    files += [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs]
    files += [os.path.join(xdg_config, "pip", "pip.conf"), os.path.join(home, ".pip", "pip.conf"),
              os.path.join(sys.prefix, "pip.conf")]
    return [f for f in files if f]


#: Python version files, in the order uv looks for them in each directory.
VERSION_FILES = (".python-version", ".python-versions")

#: uv's values for a false boolean variable (clap's ``BoolishValueParser``).
_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def search_start(script: str) -> str:
    """Where uv starts looking for configuration and Python version files for ``script``:
    the script's directory (``uv run --script`` reads a project's ``uv.toml`` or
    ``pyproject.toml`` from there up, not from the working directory: checked with uv
    0.13.9), else, for ``-``, a URL or no script (``""``), the working directory; ``""``
    when that is gone."""
    try:
        if script and script != "-" and "://" not in script:
            return os.path.dirname(os.path.abspath(script))
        return os.getcwd()
    except OSError:  # the working directory was removed
        return ""


def version_file(script: str, environ: "Mapping[str, str] | None" = None) -> "str | None":
    """The Python version file ``uv run --script`` reads for ``script``, or None.

    uv looks in the script's directory and each of its parents (the working directory for
    ``-``, a URL, or no script: ``""``), in each directory ``.python-version`` first, then
    ``.python-versions``; where none is found, in its user configuration directory
    (``$XDG_CONFIG_HOME/uv``, else ``~/.config/uv``). A true ``UV_NO_CONFIG`` ignores it.
    Source: uv's ``crates/uv-python/src/version_files.rs`` (``PythonVersionFile::discover``)
    and ``ScriptPython::from_request`` (``crates/uv/src/commands/project/mod.rs``), uv 0.12.5.

    >>> version_file("/nonexistent/x.py", {"XDG_CONFIG_HOME": "/nonexistent"}) is None
    True
    """
    environ = os.environ if environ is None else environ
    if environ.get("UV_NO_CONFIG", "").strip().lower() not in _FALSE:
        return None
    here = search_start(script)
    config = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    while True:
        for name in VERSION_FILES:
            path = os.path.join(here or os.path.join(config, "uv"), name)
            if os.path.isfile(path):
                return path
        if not here:
            return None
        parent = os.path.dirname(here)
        here = "" if parent == here else parent


def version_file_input(script: str) -> str:
    """``path<TAB>signature`` of :func:`version_file` for ``script``, or ``""``: a new,
    changed or removed ``.python-version`` can change the interpreter, so it changes the
    fast-path key."""
    path = version_file(script)
    return f"{path}\t{layout.file_signature(path)}" if path else ""


def resolution_inputs(
    environ: "Mapping[str, str] | None" = None, cwd: "str | None" = None
) -> list[str]:
    """Everything outside the script and the command line that can change a resolution:
    :func:`resolution_variables`, then ``path<TAB>signature`` of each existing file of
    :func:`config_files`. Part of every fast-path key."""
    found = resolution_variables(environ)
    for path in config_files(environ, cwd):
        signature = layout.file_signature(path)
        if signature != "-":
            found.append(f"{path}\t{signature}")
    return found
