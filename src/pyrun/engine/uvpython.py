"""uv's choice of a script's interpreter, asked early: ``uv python find --script SCRIPT``
started as soon as the script's bytes are read, so that it runs while pyrun imports what it
needs and parses the block (a cold run's critical path). :mod:`pyrun.engine.interpreters` takes the
answer (:func:`pyrun.engine.choice.choose`).

This module imports only ``os`` and :mod:`pyrun.subprocesses` (and the engine's face,
:mod:`pyrun.engine`, which imports nothing until a name is used): starting the question must
not wait for ``packaging``.

pyenv's shims: uv finds an interpreter behind a shim on ``PATH`` only by running it (a shell
script that runs pyenv, about 200 ms each time, and uncacheable, since the version behind it
depends on the working directory). uv's answer is the interpreter the shim runs, so pyrun gives
uv a ``PATH`` where the shims directory is replaced by the ``bin`` directories of the versions
pyenv selects (:func:`direct_path`, what each shim would ``exec``): the same interpreters in
the same order, queried from uv's cache. Where that cannot be said for sure, uv gets ``PATH``
as it is.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Sequence

from pyrun.errors import UsageError
from pyrun.subprocesses import DEVNULL, PIPE, start


class Asked:
    """A ``uv python find --script SCRIPT`` started by :func:`ask_early`, and the resolution
    started ahead once it answers (:meth:`resolve_ahead`).

    Attributes:
        script: the script as given. process: the running uv (text, stdout and stderr piped).
    """

    def __init__(self, script: str, process: subprocess.Popen[str]) -> None:
        import threading  # loaded with subprocess

        self.script = script
        self.process = process
        self._answer: tuple[int, str, str] | None = None
        self._reading = threading.Lock()  # the answer is read by one thread, once
        self._pages_fresh: bool | None = None

    @property
    def pages_fresh(self) -> bool | None:
        """Whether the requirements' index pages in uv's cache were recent when the resolution
        was started ahead (None: not looked at): the run's one look, which the engine takes
        (:func:`pyrun.engine.poolfirst.from_uv_cache`), since a resolution started ahead
        that asks the index refreshes them meanwhile. Waits for :meth:`resolve_ahead`'s
        thread."""
        from pyrun.subprocesses import settle_ahead

        settle_ahead()
        return self._pages_fresh

    def answer(self) -> tuple[int, str, str]:
        """uv's answer, waited for: its exit status, stdout and stderr (read once, by
        whichever thread asks first).

        Raises:
            OSError: its output cannot be read.
        """
        with self._reading:
            if self._answer is None:
                out, err = self.process.communicate()
                self._answer = (self.process.returncode, out, err)
        return self._answer

    def resolve_ahead(self, uv: str, data: bytes, verbosity: int) -> None:
        """:meth:`start_resolution` in a thread of its own (it waits for uv's answer first),
        while this one imports the engine; the engine waits for it before it takes or stops
        what was started (:func:`pyrun.subprocesses.settle_ahead`). Raises nothing."""
        from pyrun.subprocesses import ahead_in_thread

        ahead_in_thread(lambda: self.start_resolution(uv, data, verbosity))

    def start_resolution(self, uv: str, data: bytes, verbosity: int) -> bool:
        """Start the resolution the engine will ask of uv for this script (``uv pip compile``
        of its dependencies for the interpreter uv chose: the network's part of a cold run),
        so that it runs while the engine is imported and builds. Only for a script the engine
        resolves that way: the caller has checked the command line (no ``--with``, lock mode,
        ``--offline`` or uv options); here, the block (valid, no ``[tool.uv]``, no lock beside
        the script) and the pool (not when every requirement's name is in it or in a layer
        ``PYRUN_POOL_PATH`` names: the pool is asked first). The engine takes the result only
        where its own command is exactly the same (:func:`pyrun.subprocesses.start_ahead`).
        Whether it was started.

        Raises nothing: a resolution not started ahead is started when the engine asks.
        """
        try:
            return _resolve_ahead(self, uv, data, verbosity)
        except Exception:  # noqa: BLE001 - the engine meets (and reports) it again
            return False

    def close(self) -> int:
        """Stop it and reap it, when its answer was not needed (the environment was found
        without it); stop a resolution started ahead that the engine did not take. Returns
        how many of those there were."""
        from pyrun.subprocesses import discard_ahead

        if self.process.returncode is None:
            with contextlib.suppress(OSError):
                self.process.kill()
        with contextlib.suppress(OSError, ValueError):
            self.answer()  # reaped (a thread reading it meanwhile is waited for)
        return discard_ahead()


def _resolve_ahead(asked: Asked, uv: str, data: bytes, verbosity: int) -> bool:
    """:meth:`Asked.resolve_ahead`'s checks and start."""
    from pyrun import fastpath, layout
    from pyrun.subprocesses import start_ahead

    lines = plain_dependencies(data)
    root = layout.cache_root()
    if not lines or fastpath.lock_path(asked.script) or layout.check_root(root):
        return False  # (a cache this user may not trust is not read: the engine says why)
    pooled: set[str] = set()
    layers = os.environ.get("PYRUN_POOL_PATH", "").split(os.pathsep)  # store.layers.VARIABLE
    for pool in [os.path.join(root, "pool"), *(d for d in layers if os.path.isabs(d))]:
        try:
            pooled.update(n.rsplit("-", 2)[0] for n in os.listdir(pool))
        except OSError:
            continue
    if all(_canonical(_NAME.match(line).group()) in pooled for line in lines):  # type: ignore[union-attr]
        return False  # the pool may answer: asked first, with no index
    code, out, _ = asked.answer()
    path = out.strip().splitlines()[-1] if out.strip() else ""
    executable = _base_of(path, root) if code == 0 and path else None
    if executable is None:
        return False
    project = os.path.dirname(os.path.abspath(asked.script))  # pyrun.script.uvconfig.root_of
    offline = asked._pages_fresh = _from_uv_cache(lines, project)
    argv, environ = uv_command(uv, compile_args(executable, []), offline=offline,
                               quiet=verbosity <= 0)
    if not offline and "UV_HTTP_RETRIES" not in os.environ:
        environ["UV_HTTP_RETRIES"] = "0"  # as Uv._run's first try
    start_ahead([*argv, f"--project={project}"], input="\n".join(lines) + "\n", environ=environ)
    return True


def _from_uv_cache(lines: list[str], project: str) -> bool:
    """Whether the engine will resolve these requirements from uv's cache of the index
    (:func:`pyrun.engine.poolfirst.from_uv_cache`), as far as that can be told without
    reading a configuration file: a window, not offline, no uv variable that changes a
    resolution, no configuration file at all (the settings name no index), and each
    requirement's page fetched within the window. A guess: the engine decides."""
    import time

    from pyrun.engine import freshness
    from pyrun.inputs import resolution_variables

    try:
        window = freshness.window()
    except UsageError:
        return False
    if window <= 0 or freshness.offline():
        return False
    for item in resolution_variables():
        name = item.partition("=")[0]
        if name.startswith("UV_") and name not in freshness.NEUTRAL_VARIABLES:
            return False
    if os.environ.get("UV_NO_CONFIG", "").strip().lower() in ("", "0", "false", "no", "off"):
        home = os.path.expanduser("~")
        config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        dirs = (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
        files = [os.path.join(config, "uv", "uv.toml"), "/etc/uv/uv.toml",
                 *(os.path.join(d, "uv", "uv.toml") for d in dirs if d)]
        here = project
        while True:
            files += [os.path.join(here, "uv.toml"), os.path.join(here, "pyproject.toml")]
            if os.path.dirname(here) == here:
                break
            here = os.path.dirname(here)
        if os.environ.get("UV_CONFIG_FILE") or any(os.path.exists(f) for f in files):
            return False
    times = freshness.page_times(_canonical(_NAME.match(line).group())  # type: ignore[union-attr]
                                 for line in lines)
    return times is not None and time.time() - min(times) <= window


#: A requirement whose text ``packaging`` gives back unchanged (``str(Requirement(text))``): a
#: name, at most one lower-case extra, at most one specifier, no spaces, no marker.
_SIMPLE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[a-z0-9-]+\])?"
                     r"(?:(?:==|!=|<=|>=|~=|<|>)[0-9][A-Za-z0-9.*+!]*)?")
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_BLOCK_START = "# /// script"


def plain_dependencies(data: bytes) -> list[str] | None:
    r"""The dependencies of a script whose block holds nothing but a ``dependencies`` list of
    simple requirements (:data:`_SIMPLE`) and, at most, a ``requires-python`` string, read
    without a TOML parser; None for any other script (the engine reads it whole). A guess for
    :meth:`Asked.resolve_ahead`, which the engine checks: never an answer.

    >>> plain_dependencies(b'# /// script\n# requires-python = ">=3.11"\n'
    ...                    b'# dependencies = [\n#   "rich",\n#   "requests<3",\n# ]\n# ///\n')
    ['rich', 'requests<3']
    >>> plain_dependencies(b'# /// script\n# dependencies = ["rich"]\n# [tool.uv]\n# ///\n')
    """
    from pyrun.fastpath import block_span

    try:
        span = block_span(data).decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = span.splitlines()
    if not lines or lines[0] != _BLOCK_START or span.count(_BLOCK_START) != 1 \
            or lines.count("# ///") != 1:
        return None
    content = []
    for line in lines[1:lines.index("# ///")]:
        if line != "#" and not line.startswith("# "):
            return None
        content.append(line[2:])
    text = re.sub(r'(?m)^requires-python\s*=\s*"[^"\\]*"\s*$', "", "\n".join(content), count=1)
    found = _LIST.fullmatch(text)  # nothing but strings between the brackets: no comment,
    if found is None:               # no single quotes, no escape
        return None
    items = re.findall(r'"([^"\\\n]*)"', found.group(1))
    return items if all(_SIMPLE.fullmatch(i) for i in items) else None


#: ``dependencies = [...]`` holding only double-quoted strings without escapes.
_LIST = re.compile(r'\s*dependencies\s*=\s*\[((?:\s*"[^"\\\n]*"\s*,)*\s*(?:"[^"\\\n]*"\s*)?)\]\s*')


def uv_command(binary: str, args: Sequence[str], *, offline: bool = False, cache_mode: str = "",
               quiet: bool = True, live: bool = False) -> tuple[list[str], dict[str, str]]:
    """``uv ARGS`` as pyrun runs it (:class:`pyrun.engine.installers.uv.Uv`, and a resolution
    started ahead): the argument list (``--offline``, ``--refresh`` or ``--no-cache`` from
    ``cache_mode``, ``--quiet`` when ``quiet`` and not ``live``) and the variables set on top
    of the environment (no Python downloads, the ``pylock`` preview, no progress or, when
    ``live`` draws it on a terminal, no wrapping)."""
    argv = [binary, *args]
    if offline:
        argv.append("--offline")
    if cache_mode and args[0] not in ("init", "remove"):
        argv.append(f"--{cache_mode}")  # --refresh, --no-cache
    if quiet and not live:
        argv.append("--quiet")
    # pylock.toml input is a preview feature of uv: enabled by name, uv does not warn of it
    # (a uv that predates the variable ignores it)
    features = [f for f in os.environ.get("UV_PREVIEW_FEATURES", "").split(",") if f]
    environ = {"UV_PYTHON_DOWNLOADS": "never",
               "UV_PREVIEW_FEATURES": ",".join(dict.fromkeys([*features, "pylock"]))}
    if live:  # unwrapped, so that the kept copy's messages read (and classify) whole
        environ["UV_NO_WRAP"] = "1"
    else:
        environ["UV_NO_PROGRESS"] = "1"
    return argv, environ


def compile_args(executable: str, options: Sequence[str]) -> list[str]:
    """``uv pip compile``'s arguments for a resolution for the interpreter at ``executable``
    (the requirements on stdin, a PEP 751 lock on stdout)."""
    return ["pip", "compile", "-", "--format", "pylock.toml", "--no-header", "--python",
            executable, *options]


def _canonical(name: str) -> str:
    """A project name as the pool's entries spell it (PEP 503).

    >>> _canonical("Typing_Extensions")
    'typing-extensions'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def _base_of(python: str, root: str) -> str | None:
    """The base interpreter behind ``python`` as the engine names it
    (:attr:`pyrun.engine.interpreters.Interpreter.executable`) where that is known without
    asking it: pyrun's own, or one the interpreter cache of the cache at ``root`` (checked by
    the caller) describes as it is now; else None."""
    from pyrun import layout

    real = os.path.realpath(python)
    if real == os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable):
        return real
    entry = (layout.read_marker(os.path.join(root, layout.INTERPRETERS))
             or {}).get(real)
    if not isinstance(entry, dict):
        return None
    answer = entry.get("answer")
    if (isinstance(answer, dict) and isinstance(answer.get("executable"), str)
            and entry.get("stamp") == layout.file_signature(real)):
        return str(answer["executable"])
    return None


def environ() -> dict[str, str]:
    """The process environment for ``uv python find``: this one, with downloads off and
    pyenv's shims made direct (:func:`direct_path`)."""
    out = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    direct = direct_path(out)
    if direct is not None:
        out["PATH"] = direct
    return out


def direct_path(env: dict[str, str], cwd: str | None = None) -> str | None:
    """``env``'s ``PATH`` with pyenv's shims directory replaced by the ``bin`` directories of
    the versions pyenv selects, in its order (``PYENV_VERSION``, else the nearest
    ``.python-version`` from ``PYENV_DIR`` up, then from ``cwd`` up, else
    ``$PYENV_ROOT/version``; ``system``: no directory, the rest of ``PATH`` answers); None
    when ``PATH`` has no shims, or the selection is not certain (a version not installed
    under that exact name, which pyenv would resolve or refuse; ``system`` beside other
    versions).

    Source: pyenv 2.6's ``pyenv-version-name``, ``pyenv-version-file``,
    ``pyenv-version-file-read`` and ``pyenv-which``.

    >>> direct_path({"PATH": "/usr/bin"}) is None
    True
    """
    root = env.get("PYENV_ROOT") or os.path.join(os.path.expanduser("~"), ".pyenv")
    shims = os.path.join(root, "shims")
    parts = env.get("PATH", "").split(os.pathsep)
    if shims not in parts:
        return None
    versions = _selected(root, env, cwd)
    if versions is None or ("system" in versions and len(versions) > 1):
        return None
    dirs = [] if versions == ["system"] else [os.path.join(root, "versions", v, "bin")
                                              for v in versions]
    if not all(os.path.isdir(d) and "/" not in v and v not in (".", "..")
               for d, v in zip(dirs, versions)):
        return None
    out: list[str] = []
    for part in parts:
        out += dirs if part == shims else [part]
    return os.pathsep.join(out)


def _selected(root: str, env: dict[str, str], cwd: str | None) -> list[str] | None:
    """The versions pyenv selects, or None when a version file cannot be read."""
    if env.get("PYENV_VERSION"):
        return [v for v in env["PYENV_VERSION"].split(":") if v] or ["system"]
    try:
        starts = [os.path.abspath(cwd if cwd is not None else os.getcwd())]
    except OSError:
        return None
    if env.get("PYENV_DIR"):  # set by a shim that started this process: searched first
        starts.insert(0, os.path.abspath(env["PYENV_DIR"]))
    found = ""
    for here in starts:
        while not found:
            if os.path.isfile(os.path.join(here, ".python-version")):
                found = os.path.join(here, ".python-version")
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
    found = found or os.path.join(root, "version")
    if not os.path.exists(found):
        return ["system"]
    try:
        with open(found, encoding="utf-8", errors="replace") as f:
            words = [line.split()[0] for line in f.read(1 << 16).replace("\r", "\n").split("\n")
                     if line.split() and not line.split()[0].startswith("#")]
    except OSError:
        return None
    return words or ["system"]


def uv_binary() -> str | None:
    """The uv binary :func:`pyrun.engine.installers.uv.find_uv` looks for first: the ``uv``
    package's, beside this interpreter (as in a venv or a tool environment), found without
    importing the installers, so that a cold run's question to uv starts sooner; None when it
    is not there."""
    import importlib.util

    beside = os.path.join(os.path.dirname(sys.executable), "uv")
    if (os.name == "posix" and importlib.util.find_spec("uv") is not None
            and os.path.isfile(beside) and os.access(beside, os.X_OK)):
        return beside
    return None


def ask_early(uv: str, script: str) -> Asked | None:
    """Start uv's choice for ``script`` when uv will be asked to read the script itself: a
    regular file, and no ``UV_PYTHON`` (the caller checks ``--python``); None otherwise, or
    when uv cannot be started.

    Raises nothing: a question that cannot be asked early is asked later.
    """
    if os.environ.get("UV_PYTHON") or script in ("", "-") or "://" in script \
            or not os.path.isfile(script):
        return None
    try:
        process = start([uv, "python", "find", "--no-python-downloads",
                         f"--script={os.path.abspath(script)}"], stdin=DEVNULL, stdout=PIPE,
                        stderr=PIPE, text=True, environ=environ())
    except (OSError, UsageError):
        return None
    return Asked(script, process)
