"""Start a script the way ``python x.py`` would, in an environment's interpreter.

Imports only ``os``, ``sys`` (both loaded at start-up) and :mod:`pyrun.layout` (which the
warm path has loaded already): the warm path uses it. Not even
``collections.abc``: in a plain venv it is not loaded at start-up, and importing it (and
the ``collections`` package with it) costs a warm run about 2 ms. On POSIX the script replaces
this process; elsewhere it runs as a child through
:mod:`pyrun.subprocesses`.
"""

# No ``from __future__ import annotations``: importing ``__future__`` costs a warm run a module
# load. Annotations that Python 3.9 cannot evaluate are written as strings.

import os
import sys

from pyrun.layout import ENV_MARKER, ENVS

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a warm run 3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping


def activated(env_dir: str, base: "Mapping[str, str]") -> dict[str, str]:
    """``base`` (a process environment) as activating the environment at ``env_dir`` makes it:
    its ``bin`` (``Scripts`` on Windows) first on ``PATH``, ``VIRTUAL_ENV`` naming it, and no
    ``PYTHONHOME``."""
    bin_dir = os.path.join(env_dir, "Scripts" if os.name == "nt" else "bin")
    environ = dict(base)
    path = environ.get("PATH")
    environ["PATH"] = bin_dir + os.pathsep + path if path else bin_dir
    environ["VIRTUAL_ENV"] = env_dir
    environ.pop("PYTHONHOME", None)
    return environ


def hold(marker: str) -> int:
    """Open ``marker`` and take a shared lock on it, inheritable across an exec; return the
    file descriptor. Waits while a removal holds the exclusive lock.

    Raises:
        FileNotFoundError: the marker is gone, or was removed while this waited.
    """
    return _hold(marker)[0]


def _hold(marker: str) -> "tuple[int, float]":
    """:func:`hold`, and the marker's mtime (seconds since the epoch; 0.0 off POSIX): just
    touched by a warm run (its last use), so the time now, without ``import time``."""
    fd = os.open(marker, os.O_RDONLY)
    mtime = 0.0
    try:
        if os.name == "posix":
            import fcntl  # a built-in extension: about 0.2 ms, the price of never racing a clean

            fcntl.flock(fd, fcntl.LOCK_SH)
            held, now = os.fstat(fd), os.stat(marker)  # removed (or replaced) while it waited?
            if held.st_nlink == 0 or (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino):
                raise FileNotFoundError(2, "the environment was removed", marker)
            mtime = held.st_mtime
        os.set_inheritable(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, mtime


#: The daily upkeep's stamp in the cache's root: its mtime is when a run last started the
#: background upkeep's daily prune (:mod:`pyrun.store.upkeep`).
UPKEEP_STAMP = "upkeep.stamp"

#: Seconds between two daily upkeeps.
UPKEEP_EVERY = 86400.0

#: An environment placed (renamed into ``envs/``) this many seconds before the run that
#: starts it was built by that run: the size cap is checked after it.
BUILT_WITHIN = 60.0

#: The values of ``PYRUN_CACHE_AUTO_PRUNE`` and of ``PYRUN_CACHE_MAX_SIZE`` that turn the daily
#: prune or the cap off (the upkeep reads any other value, and says what is wrong with a bad
#: one: :mod:`pyrun.store.settings`).
_NO_PRUNE = ("0", "false", "f", "no", "n", "off")
_NO_CAP = ("0", "none", "off")


def config_file() -> str:
    """Where pyrun's config file is (:func:`pyrun.script.userconfig.config_file`, which a test
    holds equal), worked out without ``platformdirs`` (40 ms to import): ``PYRUN_CONFIG_DIR``,
    else the platform's user config directory (``$XDG_CONFIG_HOME`` or ``~/.config`` on
    Linux, ``~/Library/Application Support`` on macOS), then ``pyrun/config.toml``. A size cap
    can only be set there or in ``PYRUN_CACHE_MAX_SIZE``: with neither, no upkeep process
    starts after a build."""
    explicit = os.environ.get("PYRUN_CONFIG_DIR")
    if explicit:
        return os.path.join(os.path.expanduser(explicit), "config.toml")
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        base = os.path.join(home, "Library", "Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.join(home, ".config")
    return os.path.join(base, "pyrun", "config.toml")


def upkeep(env_dir: str, now: float, built: bool) -> None:
    """Start the background upkeep (:mod:`pyrun.store.upkeep`) for the cache that holds the
    environment ``env_dir`` when it is due, detached, without waiting for it: the daily prune
    when the stamp (:data:`UPKEEP_STAMP`) is a day older than ``now`` (seconds since the epoch)
    and ``PYRUN_CACHE_AUTO_PRUNE`` does not turn it off (the stamp is set first, so that the
    runs of the next day start no other); the size cap when ``built`` and the environment was
    placed within :data:`BUILT_WITHIN` seconds, when a cap can be set (``PYRUN_CACHE_MAX_SIZE``
    set and not off, or a config file: :func:`config_file`).
    A cache without a stamp gets one (its first upkeep comes a day later).

    Costs one ``lstat`` when nothing is due (and one more after a build); never raises
    (a read-only cache, say, gets no upkeep). Does nothing off POSIX, or for an environment
    outside a cache's ``envs/``.
    """
    envs, key = os.path.split(env_dir)
    if os.name != "posix" or os.path.basename(envs) != ENVS:
        return
    root = os.path.dirname(envs)
    stamp = os.path.join(root, UPKEEP_STAMP)
    try:
        last = os.lstat(stamp).st_mtime
    except FileNotFoundError:
        last = now
        try:  # exclusive and not through a link: only this user writes in the cache anyway
            os.close(os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o600))
        except OSError:
            return
    except OSError:
        return
    daily = abs(now - last) >= UPKEEP_EVERY and os.environ.get(
        "PYRUN_CACHE_AUTO_PRUNE", "").strip().lower() not in _NO_PRUNE
    cap = os.environ.get("PYRUN_CACHE_MAX_SIZE", "").strip().lower()
    sized = built and cap not in _NO_CAP and (bool(cap) or os.path.lexists(config_file()))
    if sized:
        try:
            sized = now - os.lstat(env_dir).st_ctime < BUILT_WITHIN
        except OSError:
            sized = False
    if not (daily or sized) or not sys.executable:  # posix_spawn: safe beside threads
        return
    if daily:
        try:
            os.utime(stamp, follow_symlinks=False)
        except OSError:  # read-only: no upkeep can write either
            return
    source = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (f"import os, sys; os.chdir({root!r}); os.nice(10); sys.path.insert(0, {source!r}); "
            "from pyrun.store.upkeep import main; sys.exit(main())")  # the script's dir may go
    _detach([sys.executable, "-c", code, f"--after={os.getpid()}", f"--keep={key}",
             *(["--daily"] if daily else []), root])


def _detach(argv: "list[str]") -> None:
    """Run ``argv`` in a session of its own (no terminal, no Ctrl-C of the script's), with
    /dev/null for stdio and none of this process's inheritable descriptors (the script's lock,
    a pipe a caller reads to its end), as a grandchild that init adopts at once: nothing for
    the script's process to reap, ever.

    ``posix_spawn`` starts ``/bin/sh -c 'exec "$@" &'`` with ``argv`` as its arguments (never
    read as shell code), which puts the command in the background and exits; this waits only
    for that: about 2 ms whatever this process's size, where forking a built engine twice
    costs 10. Never raises."""
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            fds = [int(fd) for fd in os.listdir(listing)]
        except (OSError, ValueError):
            continue
        for fd in fds:
            try:
                if fd > 2 and os.get_inheritable(fd):
                    actions.append((os.POSIX_SPAWN_CLOSE, fd))
            except OSError:  # the listing's own, closed now
                pass
        break
    try:
        pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", 'exec "$@" &', "sh", *argv],
                             os.environ, file_actions=actions, setsid=True)
        os.waitpid(pid, 0)
    except (OSError, NotImplementedError):  # no sh, no posix_spawn with setsid: no upkeep
        pass


def exclusive(marker: str) -> "int | None":
    """Take the exclusive lock on an environment's ``marker`` without waiting, for removing or
    replacing the environment: returns the file descriptor that holds it (close it when done),
    -1 when there is no marker (an incomplete environment nobody runs), or None when a running
    script holds the shared lock (:func:`hold`)."""
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return -1
    if os.name != "posix":  # pragma: no cover - no flock
        return fd
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def release(fd: int) -> None:
    """Give up a lock from :func:`exclusive` (closing its descriptor)."""
    if fd >= 0:
        os.close(fd)


def _package_on_path(env_dir: str, extra: "Mapping[str, str]") -> "dict[str, str]":
    """``{"PYTHONPATH": ...}`` with :func:`pyrun.layout.package_path` of the cache holding
    ``env_dir`` first (``extra``'s or this process's ``PYTHONPATH`` after it), or ``{}`` with
    a warning when that directory cannot be made or trusted."""
    from pyrun.layout import package_path

    try:
        directory = package_path(os.path.dirname(os.path.dirname(env_dir)))
    except OSError as exc:
        sys.stderr.write(f"pyrun: warning: RAY_RUNTIME_ENV_HOOK names pyrun's hook, but the "
                         f"script cannot be given pyrun's package: {exc}\n")
        return {}
    rest = extra.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    return {"PYTHONPATH": directory + os.pathsep + rest if rest else directory}


def exec_script(python: str, script: str, args: list[str], in_process: bool = False,
                module: bool = False, extra: "Mapping[str, str] | None" = None) -> int:
    """Run ``python script *args`` with this process's stdio, terminal, environment and cwd.

    As ``uv run`` does, the environment's ``bin`` directory is put first on ``PATH`` (so the
    script can run its dependencies' commands by name) and ``VIRTUAL_ENV`` names it.

    On POSIX the current process is replaced (``os.execv``): the script's exit status, signals
    and terminal are its own and this function does not return. Elsewhere the script runs as a
    child and its exit code is returned, 128+N when signal N ended it.

    A script whose name starts with ``-`` is passed as ``./NAME``, so that the interpreter
    reads it as a file, never as an option (``pyrun -- -c`` runs the file ``-c``). With
    ``module``, ``script`` is a module's name and runs as ``python -m MODULE``. ``extra``
    variables (``--env-file``'s) are added to the script's process environment (this
    process's own is not changed).

    The script's process holds a shared lock (``flock``) on the environment's completion
    marker for as long as it runs, taken before the exec and inherited through it: ``pyrun
    cache prune`` and ``clean`` remove an environment only under an exclusive lock on it
    (:mod:`pyrun.store.maintenance`), so a running script never sees its environment go, and a run
    that waited for a removal finds the environment gone and builds it again.

    Just before the script starts, the cache's background upkeep is started when it is due
    (:func:`upkeep`: a daily prune, or the size cap after a build, which a run that is not
    ``in_process`` may have done); on the warm path that costs one ``lstat``.

    With ``in_process`` (the warm path, which has loaded next to nothing), a script whose
    environment runs on this very interpreter runs in this process instead
    (:mod:`pyrun.inprocess`): one interpreter start-up instead of two.

    When ``RAY_RUNTIME_ENV_HOOK`` names a hook of pyrun's (``pyrun.ray.hook``), the script
    (a Ray driver) must import ``pyrun`` while its environment holds only its block: the
    directory :func:`pyrun.layout.package_path` makes, holding only a link to this pyrun's
    package, is put first on its ``PYTHONPATH`` (and the script exec'd).

    Raises:
        FileNotFoundError: the environment is gone (removed by a ``clean`` meanwhile): build it
            again.
        OSError: the interpreter cannot be executed.
    """
    if script.startswith("-") and not module:
        script = os.path.join(os.curdir, script)
    env_dir = os.path.dirname(os.path.dirname(python))
    holder, used = _hold(os.path.join(env_dir, ENV_MARKER))
    if os.name == "posix":  # the warm path just touched the marker: its mtime is the time now
        if not in_process:
            import time  # the engine's path has it loaded already

            used = time.time()
        upkeep(env_dir, used, built=not in_process)
    hook = extra.get("RAY_RUNTIME_ENV_HOOK") if extra else None
    if (os.environ.get("RAY_RUNTIME_ENV_HOOK", "") if hook is None else hook).startswith("pyrun."):
        extra = {**extra} if extra else {}
        extra.update(_package_on_path(env_dir, extra))
    if in_process and not module and not extra:
        from pyrun import inprocess

        if inprocess.eligible(python):
            try:
                return inprocess.become(python, script, args, holder)
            except OSError:  # the script cannot be read: nothing changed; exec says why
                os.set_inheritable(holder, True)
    argv = [python, "-m", script, *args] if module else [python, script, *args]
    environ = activated(env_dir, {**os.environ, **extra} if extra else os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        try:
            os.execve(python, argv, environ)
        finally:  # only reached when the exec failed
            os.close(holder)
    from pyrun.subprocesses import run_attached  # pragma: no cover - Windows

    try:  # pragma: no cover - Windows
        return run_attached(argv, environ)
    finally:  # pragma: no cover
        os.close(holder)
