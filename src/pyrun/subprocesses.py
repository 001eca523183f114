"""The one subprocess helper: argument lists only (never a shell), checked arguments, a cleaned
environment, the command logged, its output kept for the error message.

Every process pyrun starts goes through here: uv and pip (:func:`run_command`), interpreter
queries (:func:`start`), the background byte-compiler (:func:`spawn_detached`), and for the
workflow server protocol a server process (:func:`start`) and a command run in an environment
(:func:`run_captured`). ``tests/unit/test_subprocesses.py`` checks that no other module starts
one.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from pyrun.errors import CommandError, UsageError
from pyrun.progress import LineEraser, Reporter

#: Variables that would leak pyrun's own environment into the tools it runs.
_SCRUBBED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX",
             "PIP_TARGET", "PYTHONPYCACHEPREFIX")  # the pool's .pyc go in its __pycache__

#: Marks "no stream" for :func:`start`.
DEVNULL = subprocess.DEVNULL
PIPE = subprocess.PIPE


_CREDENTIALS = None


def redact(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``: index URLs
    may carry credentials, which must reach uv but never a log or an error message."""
    global _CREDENTIALS
    if _CREDENTIALS is None:
        import re

        _CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
    return _CREDENTIALS.sub(r"\1***@", text)


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``os.environ`` without variables that redirect Python or its installers, with
    ``extra`` on top."""
    environ = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    environ.update(extra or {})
    return environ


def checked_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` as a list, after checking that it can reach a process unchanged.

    Raises:
        UsageError: ``argv`` is empty, or an element is not a string or holds a NUL byte
            (which the operating system would silently cut).
    """
    out = list(argv)
    if not out:
        raise UsageError("an empty command line cannot be run")
    for arg in out:
        if not isinstance(arg, str) or "\0" in arg:
            raise UsageError(f"a command-line argument holds a NUL byte or is not text: {arg!r}")
    return out


def run_command(
    argv: Sequence[str],
    reporter: Reporter,
    *,
    input: str | None = None,
    environ: Mapping[str, str] | None = None,
    what: str = "command",
    progress: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion and return it, its stdout and stderr captured as text.

    Args:
        argv: program and arguments (never a shell string).
        reporter: receives the command line at verbose level.
        input: text for the command's stdin, or None for no stdin.
        environ: extra variables on top of :func:`clean_environ`.
        what: a few words naming the step, for the error message.
        progress: when this process's stderr is a terminal (POSIX, no ``input``), let the
            command draw its progress there as it runs (:func:`_through_terminal`).

    Raises:
        CommandError: the command could not be started, or exited non-zero; it carries the
            command line, the exit status and the output.
    """
    args = checked_argv(argv)
    reporter.debug("running: " + redact(shlex.join(args)))
    cwd = None if _cwd_exists() else os.sep  # uv refuses a deleted working directory
    try:
        proc = _take_ahead(args, input, clean_environ(environ), cwd)
        if proc is not None:
            reporter.debug("  (the same command was started ahead: its result is taken)")
        elif progress and input is None and os.name == "posix" and os.isatty(2):
            proc = _through_terminal(args, clean_environ(environ), cwd)
        if proc is None:
            proc = subprocess.run(
                args,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=clean_environ(environ),
                cwd=cwd,
                check=False,
            )
    except OSError as exc:
        raise CommandError(f"{what} failed: cannot run {args[0]}: {exc}", args, -1, "") from exc
    if proc.returncode != 0:
        output = redact((proc.stderr or "") + (proc.stdout or ""))
        raise CommandError(
            f"{what} failed (exit {proc.returncode}): {redact(shlex.join(args))}\n"
            f"{output.strip()}",
            [redact(a) for a in args],
            proc.returncode,
            output,
        )
    return proc


#: Commands started ahead (:func:`start_ahead`), each under what identifies it: its argument
#: list, its input, its whole process environment and its working directory.
_AHEAD: dict[tuple[object, ...], subprocess.Popen[str]] = {}


def start_ahead(argv: Sequence[str], *, input: str, environ: Mapping[str, str] | None = None,
                ) -> None:
    """Start ``argv`` now, with ``input`` written to its stdin and its output kept, for a
    :func:`run_command` that will ask for exactly this command later: the call whose argument
    list, input, environment (``environ`` on top of :func:`clean_environ`) and working
    directory are all the same takes its result instead of starting it again (uv's
    resolution of a plain script, started while pyrun imports what it needs:
    :mod:`pyrun.engine.uvpython`). What no call takes is stopped by :func:`discard_ahead`
    (the engine calls it once it has built; ``pyrun.launch`` before its exec; and at exit).

    Raises:
        OSError: it cannot be started. UsageError: see :func:`checked_argv`.
    """
    import atexit

    args = checked_argv(argv)
    env = clean_environ(environ)
    cwd = None if _cwd_exists() else os.sep
    proc = subprocess.Popen(args, stdin=PIPE, stdout=PIPE, stderr=PIPE, text=True, env=env,
                            cwd=cwd)
    try:
        assert proc.stdin is not None
        with proc.stdin:
            proc.stdin.write(input)
    except OSError:  # it died at once: the call that takes it reports how
        pass
    proc.stdin = None  # closed: communicate() only reads
    if not _AHEAD and not _STARTING:
        atexit.register(discard_ahead)
    _AHEAD[(tuple(args), input, tuple(sorted(env.items())), cwd)] = proc


#: Threads that may still call :func:`start_ahead` (:func:`ahead_in_thread`): waited for
#: before what was started ahead is taken or stopped.
_STARTING: list[threading.Thread] = []


def ahead_in_thread(work: Callable[[], object]) -> None:
    """Run ``work`` (which waits for something, then may call :func:`start_ahead`) in a
    thread of its own, so that this one goes on meanwhile (pyrun's imports, while uv
    chooses the interpreter); :func:`settle_ahead` waits for it. Raises nothing: ``work``'s
    exceptions are its own to catch."""
    import atexit

    if not _STARTING and not _AHEAD:
        atexit.register(discard_ahead)  # registered here: at exit, after the thread ended
    thread = threading.Thread(target=work, name="pyrun-ahead", daemon=True)
    _STARTING.append(thread)
    thread.start()


def settle_ahead() -> None:
    """Wait until the threads of :func:`ahead_in_thread` have ended: what they start ahead
    is then in place (or never will be)."""
    while _STARTING:
        _STARTING.pop().join()


def _take_ahead(args: list[str], input: str | None, env: dict[str, str],
                cwd: str | None) -> subprocess.CompletedProcess[str] | None:
    """The finished result of the command started ahead that is exactly this one, or None
    (then every command started ahead is stopped: pyrun asked for another one)."""
    settle_ahead()
    if not _AHEAD:
        return None
    proc = _AHEAD.pop((tuple(args), input, tuple(sorted(env.items())), cwd), None)
    if proc is None:
        discard_ahead()
        return None
    try:
        out, err = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def discard_ahead() -> int:
    """Stop and reap every command started ahead (:func:`start_ahead`) that no call took;
    how many there were."""
    settle_ahead()
    count = 0
    while _AHEAD:
        _, proc = _AHEAD.popitem()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        count += 1
    return count


#: ANSI control sequences, removed from the kept copy of a command's terminal output.
_CONTROL = None


def _through_terminal(args: list[str], environ: dict[str, str],
                      cwd: str | None) -> subprocess.CompletedProcess[str] | None:
    """Run ``args`` with a pseudo-terminal as its stderr (as wide as pyrun's), its stdout
    captured; what it writes to the pseudo-terminal goes on to pyrun's stderr at once, so its
    progress bars (uv's per-package download bytes) are drawn live, except that each line it
    finishes is erased instead of kept (:class:`pyrun.progress.LineEraser`): pyrun prints its
    own summary, and the command's transient bars clear themselves. The output is also kept,
    without control sequences, as the result's ``stderr`` (for an error message). Ctrl-C kills the
    command, then is raised. None when no pseudo-terminal can be had (the caller runs the
    command with its output captured instead).

    Raises:
        OSError: the command cannot be started.
    """
    import fcntl
    import pty
    import re
    import struct
    import termios
    import threading

    global _CONTROL
    if _CONTROL is None:
        _CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
    try:
        master, slave = pty.openpty()
    except OSError:  # out of pseudo-terminals, say
        return None
    columns = 80
    try:
        try:
            size = fcntl.ioctl(2, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
            columns = struct.unpack("HHHH", size)[1] or columns
        except OSError:  # pragma: no cover - a terminal without a size
            pass
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=slave, env=environ, cwd=cwd)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    pipe = proc.stdout
    assert pipe is not None
    stdout: list[bytes] = []
    reader = threading.Thread(target=lambda: stdout.append(pipe.read()), daemon=True)
    reader.start()
    kept, eraser = bytearray(), LineEraser(columns)
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command closed its end
                break
            if not chunk:
                break
            kept += chunk
            _write_stderr(eraser.feed(chunk))
        proc.wait()
    except BaseException:  # Ctrl-C: the command is in the same process group and got it too
        proc.kill()
        proc.wait()
        raise
    finally:
        os.close(master)
        reader.join()
        pipe.close()
        _write_stderr(eraser.finish())
    text = kept.decode("utf-8", "replace").replace("\r\n", "\n")
    lines = [_CONTROL.sub("", line).rsplit("\r", 1)[-1] for line in text.split("\n")]
    return subprocess.CompletedProcess(
        args, proc.returncode, b"".join(stdout).decode("utf-8", "replace"), "\n".join(lines))


def _write_stderr(data: bytes) -> None:
    try:
        os.write(2, data)
    except OSError:  # pragma: no cover - the terminal went away; the command goes on
        pass


def _cwd_exists() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


def start(
    argv: Sequence[str],
    *,
    stdin: int | IO[Any] | None = DEVNULL,
    stdout: int | IO[Any] | None = PIPE,
    stderr: int | IO[Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    text: bool = False,
    new_session: bool = False,
) -> subprocess.Popen[Any]:
    """Start ``argv`` and return the running process (the caller reaps it).

    ``environ`` is the child's whole process environment (default: this process's). With
    ``new_session``, the child leads a new session and process group (POSIX), so that
    ``os.killpg(proc.pid, ...)`` reaches everything it starts.

    Raises:
        OSError: the program cannot be started.
        UsageError: see :func:`checked_argv`.
    """
    return subprocess.Popen(
        checked_argv(argv), stdin=stdin, stdout=stdout, stderr=stderr,
        env=dict(environ) if environ is not None else None, cwd=cwd, text=text,
        start_new_session=new_session and os.name == "posix",
    )


def spawn_detached(argv: Sequence[str], *, cwd: str) -> None:
    """Start ``argv`` in ``cwd``, in a new session, with no stdio, and do not wait: it outlives
    this process (the background byte-compiler, which lowers its own priority first: code run
    in the child between ``fork`` and ``exec`` would make Python fork instead of ``vfork``,
    about 15 ms of a cold run's critical path).

    Raises:
        OSError: it cannot be started. UsageError: see :func:`checked_argv`.
    """
    subprocess.Popen(
        checked_argv(argv), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, cwd=cwd,
        start_new_session=True, close_fds=True,
    )


def run_captured(
    argv: Sequence[str],
    *,
    input: bytes,
    environ: Mapping[str, str],
    cwd: str | None,
    timeout: float | None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` with ``input`` as its stdin and ``environ`` as its process environment; return
    it with stdout and stderr captured as bytes, whatever its exit status.

    Raises:
        subprocess.TimeoutExpired: it ran longer than ``timeout`` seconds (it is killed).
        OSError: it cannot be started.
        UsageError: see :func:`checked_argv`.
    """
    return subprocess.run(
        checked_argv(argv), input=input, capture_output=True, cwd=cwd, env=dict(environ),
        timeout=timeout, check=False,
    )


def run_attached(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run ``argv`` with this process's stdio and ``environ`` as its process environment; return its
    exit code, 128+N when signal N ended it (where a script cannot replace this process).

    Raises:
        OSError: it cannot be started.
    """
    code = subprocess.call(checked_argv(argv), env=dict(environ))
    return 128 - code if code < 0 else code


def wait_for_exit(pid: int, limit: float) -> None:
    """Return once process ``pid`` (not a child) has exited, or after ``limit`` seconds: a
    pidfd where Linux offers one (no reuse race), else polling every 50 ms. For a background
    process (the bytecode compiler, the upkeep) that waits for the script it was started for."""
    import time

    deadline = time.monotonic() + limit
    try:
        fd = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        import select

        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)
        return
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # pragma: no cover - another user's: it is alive
            pass
        time.sleep(0.05)
