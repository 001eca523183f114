"""uv, the installer pyrun drives: ``uv pip compile --format pylock.toml`` resolves, and
``uv pip install --no-deps --prefix`` installs a ``pylock.toml`` of exactly the locked artifacts.

uv is looked up as pypa/build does: the ``uv`` package's binary (``uv.find_uv_bin()``), then
``$UV``, then ``PATH``. A script's path is passed as ``--script=PATH`` (one word: a name
starting with ``-`` is never an option). Every call pins the interpreter by path and forbids
Python downloads, so uv never picks another interpreter behind pyrun's back; pool installs pin
uv's link mode, so a ``UV_LINK_MODE=symlink`` in the user's environment cannot make pool files
point into uv's cache.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyrun.engine.installers.base import Installer, Runner
from pyrun.errors import (
    CommandError,
    IndexServerError,
    InstallerError,
    NetworkError,
    StaleLockError,
    ToolNotFoundError,
)
from pyrun.progress import Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pyrun.engine.interpreters import Interpreter
    from pyrun.engine.resolution import LockedDistribution, Resolution
    from pyrun.script.metadata import Editable
    from pyrun.script.uvsettings import UvSettings

#: The link mode of pool installs: uv's own default on each platform, named explicitly so that
#: ``UV_LINK_MODE`` cannot change it (``symlink`` would point the pool into uv's cache, which
#: ``uv cache clean`` removes). uv falls back to copying where linking is refused.
LINK_MODE = "clone" if sys.platform == "darwin" else "hardlink"

def find_uv() -> str:
    """Path of the uv binary: the ``uv`` package's, when that package is installed, found
    first where its own ``find_uv_bin`` looks first (the scripts directory beside this
    interpreter, as in a venv or a tool environment) without importing ``sysconfig`` (8 ms of
    a cold run), then as the package finds it; then ``$UV``, then ``PATH``.

    Raises:
        ToolNotFoundError: neither the ``uv`` package, ``$UV`` nor ``PATH`` provides one.
    """
    from pyrun.engine.uvpython import uv_binary

    beside = uv_binary()
    if beside is not None:
        return beside
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    explicit = os.environ.get("UV")
    if explicit and os.path.isfile(explicit) and os.access(explicit, os.X_OK):
        return explicit
    found = shutil.which("uv")
    if found:
        return found
    raise ToolNotFoundError(
        "uv is needed to resolve and install this script's requirements and was not found "
        "(tried the `uv` package, $UV and PATH); install it with `pip install uv`"
    )


class Uv(Installer):
    """uv and the settings every call shares.

    Args:
        reporter, offline, runner: see :class:`~pyrun.engine.installers.base.Installer`.
        binary: path of uv (default: :func:`find_uv`).

    Raises:
        ToolNotFoundError: no ``binary`` given and :func:`find_uv` finds none.
    """

    name = "uv"
    #: No name resolution, no route, nobody listening: retrying would only wait.
    UNREACHABLE = ("dns error", "failed to lookup address", "Network is unreachable",
                   "Connection refused", "Could not resolve host", "Failed to connect to")
    NETWORK = ("Failed to fetch", "error sending request", "tcp connect error", "timed out")
    UNSATISFIABLE = ("No solution found",)
    SERVER_ERROR = re.compile(r"HTTP status server error \((5\d\d)[^)]*\)|status code:? (5\d\d)")

    def __init__(self, reporter: Reporter, *, offline: bool = False,
                 runner: Runner | None = None, settings: UvSettings | None = None,
                 binary: str | None = None, cache_mode: str = "") -> None:
        super().__init__(reporter, offline=offline, runner=runner, settings=settings,
                         cache_mode=cache_mode)
        self.binary = binary or find_uv()

    def resolve(
        self, requirements: Sequence[Requirement | Editable], interpreter: Interpreter,
        prefer: Sequence[tuple[str, str]] = (),
    ) -> Resolution:
        """``uv pip compile - --format pylock.toml`` for ``interpreter``, with the script's
        ``[tool.uv]`` read by uv (:mod:`pyrun.script.uvsettings`); ``prefer`` reaches uv as an
        existing output file, whose versions uv keeps where they still fit (as in
        ``uv pip compile -o FILE``); see :meth:`Installer.resolve`."""
        from pyrun.engine.resolution import Resolution, parse_pylock
        from pyrun.engine.uvpython import compile_args

        lines = tuple(str(r) for r in requirements)
        if not lines:
            return Resolution((), ())
        files = bool(prefer or (self.settings and self.settings.command_line))
        with _scratch(files) as tmp:
            options = self.settings.compile_options(Path(tmp)) if self.settings else []
            if prefer:
                kept = Path(tmp, "pylock.toml")
                kept.write_text('lock-version = "1.0"\ncreated-by = "pyrun"\n' + "".join(
                    f'\n[[packages]]\nname = "{n}"\nversion = "{v}"\n' for n, v in prefer
                    if _PLAIN.fullmatch(n) and _PLAIN.fullmatch(v)), encoding="utf-8")
                options.append(f"--output-file={kept}")
            proc = self._run(compile_args(interpreter.executable, options),
                             input="\n".join(lines) + "\n",
                             what=f"resolving {', '.join(lines)}")
            # with an output file, uv writes the lock there (and, unless quiet, to stdout)
            text = kept.read_text(encoding="utf-8") if prefer else proc.stdout
        found = parse_pylock(text, "uv pip compile")
        return Resolution(lines, tuple(_with_index(d, self._single_index()) for d in found))

    def _single_index(self) -> str | None:
        """The one index the settings resolve from, when there is exactly one (no extra
        indexes, no find-links); None for PyPI, which :func:`_with_index` knows by its files'
        host."""
        values = self.settings.values if self.settings else {}
        if any(values.get(k) for k in ("extra-index-url", "index", "index-tables",
                                       "find-links", "no-index")):
            return None
        single = values.get("default-index") or values.get("index-url")
        return _without_credentials(str(single)) if single else None

    def export_script(self, script: str, interpreter: Interpreter, *, mode: str = "",
                      options: Sequence[str] = (), format: str = "pylock.toml") -> str:
        """``uv export --script SCRIPT --format FORMAT`` (``pylock.toml`` or
        ``requirements.txt``) for ``interpreter`` (which sets the lower bound of a script
        without ``requires-python``); see :meth:`Installer.export_script`. uv updates a stale
        lock beside the script unless ``mode`` says otherwise, as ``uv run --script`` does."""
        args = ["export", f"--script={script}", "--format", format, "--no-header",
                "--python", interpreter.executable, *options]
        if mode:
            args.append(f"--{mode}")
        try:
            return self._run(args, what=f"resolving {script} as uv reads it").stdout
        except InstallerError as exc:
            stale = _stale_lock(exc.output, script)
            if stale:
                raise StaleLockError(f"{script}.lock", f"{script}: {stale}") from None
            raise

    def tree_script(self, script: str, options: Sequence[str] = ()) -> str:
        """``uv tree --script SCRIPT OPTIONS``: the script's dependency tree as uv prints it
        (``--outdated`` marks what has a newer release); see :meth:`Installer.tree_script`."""
        return self._run(["tree", f"--script={script}", *options],
                         what=f"the dependency tree of {script}").stdout

    def edit_script(self, args: Sequence[str], *, what: str) -> str:
        """``uv ARGS`` (``init``/``add``/``remove --script``); see
        :meth:`Installer.edit_script`."""
        from pyrun.subprocesses import redact

        proc = self._run(list(args), what=what)
        return redact(proc.stderr.strip())

    def lock_script(self, script: str, options: Sequence[str] = ()) -> str:
        """``uv lock --script SCRIPT``; see :meth:`Installer.lock_script`."""
        from pyrun.subprocesses import redact

        proc = self._run(["lock", f"--script={script}", *options], what=f"locking {script}")
        return redact(proc.stderr.strip())

    def install(
        self,
        distributions: Sequence[LockedDistribution],
        prefix: Path,
        interpreter: Interpreter,
        workdir: Path,
    ) -> None:
        """Write a ``pylock.toml`` of ``distributions`` and ``uv pip install`` it into
        ``prefix`` with :data:`LINK_MODE`; see :meth:`Installer.install`."""
        from pyrun.engine.resolution import write_pylock

        lock = workdir / "pylock.toml"
        lock.write_text(write_pylock(distributions), "utf-8")
        names = ", ".join(d.pin for d in distributions)
        index = self.settings.index_options() if self.settings else []  # their credentials
        self._run(
            ["pip", "install", "--no-deps", "--link-mode", LINK_MODE, "--prefix", str(prefix),
             "--python", interpreter.executable, "-r", str(lock), *index],
            what=f"installing {names}", progress=True,
        )

    def from_cache(self) -> Uv:
        """The same uv with ``--offline``."""
        return Uv(self.reporter, offline=True, runner=self.runner, settings=self.settings,
                  binary=self.binary, cache_mode=self.cache_mode)

    def offline_miss(self, output: str) -> bool:
        """uv says the network was disabled, or (with ``--offline``) that something is not
        in its cache."""
        said = output.lower()
        return ("network was disabled" in said or "network connectivity is disabled" in said
                or (self.offline and "not found in the cache" in said))

    def missing_packages(self, output: str) -> list[str]:
        """uv's ``Because NAME was not found in the package registry`` (an extra after the name
        allowed); see :meth:`Installer.missing_packages`."""
        return re.findall(r"Because ([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])? was not "
                          r"found in the package registry", output)

    def known_names(self) -> set[str]:
        """The projects whose index pages uv has cached (``simple-v*/*/NAME.rkyv`` under its
        cache directory: ``UV_CACHE_DIR``, else the user cache directory)."""
        import glob

        root = os.environ.get("UV_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "uv")
        pages = glob.glob(os.path.join(glob.escape(root), "simple-v*", "*", "*.rkyv"))
        pages += glob.glob(os.path.join(glob.escape(root), "simple-v*", "index", "*", "*.rkyv"))
        return {os.path.basename(p)[:-len(".rkyv")] for p in pages}

    def missing_from_cache(self, output: str) -> str | None:
        """See :func:`uncached`."""
        return uncached(output)

    def _run(
        self, args: Sequence[str], *, what: str, input: str | None = None,
        progress: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``uv ARGS``; failures are classified (:meth:`classify`).

        Without a network the first try fails fast: it makes no retries (uv's default of 3
        takes 12 s to give up when DNS fails). A failure that is not plain unreachability is
        tried again with uv's own retry policy. A ``UV_HTTP_RETRIES`` the user set is kept.
        With ``progress``, on a terminal (:attr:`Reporter.live`), uv draws its own progress
        bars there (per-package download bytes) as it runs; its summary lines are erased.
        """
        live = progress and self.reporter.live
        argv, environ, fast, config = self._command(args, live)
        with config as project:
            argv += project
            try:
                return self.runner(argv, self.reporter, input=input,
                                   environ={**environ, "UV_HTTP_RETRIES": "0"} if fast
                                   else environ, what=what, progress=live)
            except CommandError as exc:
                error = self.classify(_as_the_script(exc, project), what)
                transient = isinstance(error, IndexServerError) or (
                    isinstance(error, NetworkError) and not error.unreachable)
                if not fast or not transient:
                    raise error from None
            try:
                return self.runner(argv, self.reporter, input=input, environ=environ,
                                   what=what, progress=live)
            except CommandError as exc:
                raise self.classify(_as_the_script(exc, project), what) from None

    def _command(self, args: Sequence[str], live: bool = False) -> tuple[
            list[str], dict[str, str], bool, Any]:
        """``uv ARGS`` as :meth:`_run` runs it (:func:`pyrun.engine.uvpython.uv_command`): the
        argument list, the variables set on top of the environment, whether the first try
        makes no retries, and a context manager yielding the configuration's options
        (``--project``, :meth:`pyrun.script.uvsettings.UvSettings.project`)."""
        from pyrun.engine.uvpython import uv_command

        argv, environ = uv_command(self.binary, args, offline=self.offline,
                                   cache_mode=self.cache_mode,
                                   quiet=self.reporter.verbosity <= 0, live=live)
        fast = not self.offline and "UV_HTTP_RETRIES" not in os.environ
        # the script's [tool.uv], as uv reads a project's configuration (uv reading the script
        # itself, as `export --script` does, needs no copy)
        # uv reading the script itself (export, lock, tree --script) gets only the command
        # line's settings: it reads the table from the script
        own = args[0] in ("pip", "python")
        config: Any = (self.settings.project(table=own) if self.settings is not None
                       and (own or args[0] in ("export", "lock", "tree"))
                       else contextlib.nullcontext([]))
        return argv, environ, fast, config


@contextlib.contextmanager
def _scratch(needed: bool) -> Iterator[str]:
    """A temporary directory for the files of a ``uv pip compile`` (constraints, preferences),
    removed on exit; ``""`` when there are none to write (no directory made)."""
    if not needed:
        yield ""
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pyrun-uv-") as tmp:
        yield tmp


def _as_the_script(exc: CommandError, project: Sequence[str]) -> CommandError:
    """``exc`` with the generated ``uv.toml`` (:func:`pyrun.script.uvconfig.project_args`) named
    as what it is in uv's messages: the script's ``[tool.uv]`` table."""
    if not project or "pyrun-uvconfig-" not in project[0]:  # not one pyrun generated
        return exc
    where = project[0].split("=", 1)[1]
    generated = where if where.endswith(".toml") else os.path.join(where, "uv.toml")
    return CommandError(str(exc).replace(generated, "[tool.uv]"), exc.argv, exc.returncode,
                        exc.output.replace(generated, "the script's [tool.uv]"))


#: A name or version that can stand in a TOML string as it is.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")

#: Where PyPI's files are served from, and the index that names them.
_PYPI_FILES, _PYPI = "https://files.pythonhosted.org/", "https://pypi.org/simple"


def _with_index(dist: LockedDistribution, single: str | None) -> LockedDistribution:
    """``dist`` with the index it came from named in its lock entry, where that is certain:
    ``uv pip compile --format pylock.toml`` names none, and uv installs an artifact without an
    index as a direct URL (downloaded and unpacked again on every install, under HTTP caching
    rules), but one with an index from its registry cache. PyPI's files are known by their
    host; other artifacts by the one index the settings allow (``single``)."""
    import dataclasses

    if "index" in dist.package or dist.kind not in ("wheel", "sdist"):
        return dist
    index = _PYPI if dist.url.startswith(_PYPI_FILES) else single
    if index is None:
        return dist
    return dataclasses.replace(dist, package={**dist.package, "index": index})


def _without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part (never written into a lock file)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _stale_lock(output: str, script: str) -> str | None:
    """What to tell the user when uv's ``output`` says ``script``'s lock is stale or missing
    (``--locked``/``--frozen``) or damaged, or None."""
    if "needs to be updated, but `--locked` was provided" in output:
        return (f"{script}.lock no longer matches the script's inline metadata, and --locked "
                f"forbids updating it; run `pyrun lock {script}` (or drop --locked)")
    if "Unable to find lockfile" in output:
        return f"there is no {script}.lock to use; write one with `pyrun lock {script}`"
    if "Failed to parse `uv.lock`" in output:
        cause = next((line.strip() for line in reversed(output.splitlines())
                      if line.strip() and not line.strip().startswith(("|", "^"))), "")
        return (f"{script}.lock is damaged ({cause}); delete it and write it again with "
                f"`pyrun lock {script}`")
    return None


def uncached(output: str) -> str | None:
    """The distribution uv's offline output says is missing from its cache, if it names one."""
    m = re.search(r"Because (\S+?)(?:\[[^\]]*\])? was not found in the cache", output)
    if m is None:
        m = re.search(r"Failed to (?:download|fetch)(?: and build)?:? `?([A-Za-z0-9._-]+)", output)
    return m.group(1) if m else None
