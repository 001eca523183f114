"""Commands that ``environment/execute`` runs in an environment, and the process tokens of
streaming runs (docs/wsp.md, "environment/execute" and "Streaming execute").

:func:`execute` starts a command (``python`` means the environment's interpreter; ``pip``
without one in the environment is refused) in a process group of its own, through the engine's
one subprocess helper, and waits for it as a :class:`Running`. :class:`Processes` is the one
table of running streams by token that ``pyrun/process/write`` and ``kill`` look in.
"""

from __future__ import annotations

import codecs
import os
import queue
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from pyrun.errors import UsageError
from pyrun.wsp.endpoint import current
from pyrun.wsp.environment import Environment
from pyrun.wsp.jsonrpc import ExecutionFailed, InvalidParams, cancelled
from pyrun.wsp.params import ExecuteParams

#: Input kept for tokens whose ``execute`` has not started: at most this many tokens, and
#: this many bytes each.
EARLY_TOKENS, EARLY_BYTES = 16, 1 << 20

#: Commands that act on "the current environment": run from outside the environment, they
#: would act on another one (the host's pip installing into the host).
ENVIRONMENT_TOOLS = re.compile(r"(pip|pip3|pip3\.\d+|easy_install)$")


def _environment_python(name: str) -> bool:
    return re.fullmatch(r"python(3(\.\d+)?)?", name) is not None


def program(env: Environment, name: str) -> str:
    """What ``argv[0]`` runs in ``env``: its interpreter for ``python``, ``python3`` and
    ``python3.X``; else the name (resolved on the environment's ``PATH``, its ``bin``
    first).

    Raises:
        ExecutionFailed: ``not in environment``, for ``pip`` (and the like) when the
            environment has none: the host's would act on the host.
    """
    if _environment_python(name):
        return str(env.interpreter)
    if ENVIRONMENT_TOOLS.match(name) and not (env.interpreter.parent / name).exists():
        raise ExecutionFailed(f"{env.id} has no {name} (venvs made without pip "
                              "have none), and the one on PATH would act on another environment; "
                              f"run [\"python\", \"-m\", \"{name.rstrip('0123456789.')}\", ...] "
                              "once it is installed, or create the environment with "
                              "requirements [\"pip\"]", "not in environment", id=env.id)
    return name


def execute(env: Environment, request: ExecuteParams, home: Path,
            processes: Processes) -> dict[str, Any]:
    """Run ``request.argv`` in ``env`` (in ``request.cwd``, else ``home``) with the ``stdin``
    text as its input, never the server's stdin; returns ``{exit_code, stdout, stderr}``, a
    non-zero exit included. With ``request.stream``, the output goes out as it comes and the
    command's stdin stays open (:class:`Running`).

    Raises:
        ExecutionFailed: ``unusable environment``, ``not in environment``, ``not found``,
            ``cannot start``, ``timeout``.
        InvalidParams: a NUL byte in ``argv``.
        RpcError: -32800 when the request was cancelled.
    """
    from pyrun import engine  # the engine's face: loaded when a command first runs

    problem = env.problem()
    if problem:
        raise ExecutionFailed(f"{env.id}: {problem}", "unusable environment", id=env.id)
    argv = list(request.argv)
    child_environ = engine.command_environ(env.prefix, dict(request.env or {}))
    try:
        proc = engine.start([program(env, argv[0]), *argv[1:]], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=request.cwd if request.cwd is not None else str(home),
                            environ=child_environ, new_session=True)
    except UsageError as exc:  # a NUL byte in argv
        raise InvalidParams(str(exc)) from None
    except OSError as exc:
        raise ExecutionFailed(f"cannot run {argv[0]}: {exc.strerror}",
                              "not found" if isinstance(exc, FileNotFoundError)
                              else "cannot start") from None
    running = Running(proc, processes, request.token)
    return running.finish((request.stdin or "").encode("utf-8"), request.timeout, argv[0])


class Processes:
    """The streaming runs of one server by token, and the input written for a token whose
    ``execute`` has not started yet (waiting for a worker, or still starting): kept until it
    does, at most :data:`EARLY_TOKENS` tokens of :data:`EARLY_BYTES` each."""

    def __init__(self) -> None:
        self._running: dict[str | int, Running] = {}
        self._early: dict[str | int, list[tuple[bytes, bool]]] = {}
        self._lock = threading.Lock()

    def write(self, token: str | int, data: bytes, eof: bool) -> None:
        """``pyrun/process/write``: write ``data`` to the stdin of the run ``token`` names
        (closing it with ``eof``), or keep it for the run about to start.

        Raises:
            ExecutionFailed: ``no such process``, when no run has the token and, for a
                request, none is about to (an ``environment/execute`` with it received, not
                started yet), or when too much is kept for runs not started.
        """
        with self._lock:
            running = self._running.get(token)
            if running is None:
                if not _announced(token):
                    raise _no_such_process(token)
                early = self._early.setdefault(token, [])
                if len(self._early) > EARLY_TOKENS or sum(
                        len(d) for d, _ in early) + len(data) > EARLY_BYTES:
                    self._early.pop(token, None)
                    raise _no_such_process(token)
                early.append((data, eof))
                return
        running.write(data, eof)

    def kill(self, token: str | int) -> None:
        """``pyrun/process/kill``: kill the process group of the run ``token`` names.

        Raises:
            ExecutionFailed: ``no such process``.
        """
        with self._lock:
            running = self._running.get(token)
        if running is None:
            raise _no_such_process(token)
        running.kill()

    def started(self, token: str | int, running: Running) -> list[tuple[bytes, bool]]:
        """Record ``running`` under ``token``; returns the input written for it before."""
        with self._lock:
            self._running[token] = running
            return self._early.pop(token, [])

    def ended(self, token: str | int) -> None:
        """Forget the run under ``token``."""
        with self._lock:
            self._running.pop(token, None)


#: Bytes of input that may wait for a command that does not read them (64 MiB).
MAX_QUEUED = 64 * 2**20


def _announced(token: str | int) -> bool:
    """Whether writes to ``token`` may be kept for a run not started yet: always for a
    notification (a client may send its first input before its ``execute``: nothing could
    answer it anyway); for a request, only when an ``environment/execute`` streaming under
    ``token`` was received and is not answered yet (else it gets -31004)."""
    request = current()
    if request is None or request.id is None:
        return True  # a notification, or called outside a server
    for other in request.siblings():
        params = other.params if isinstance(other.params, dict) else {}
        stream = params.get("stream")
        if (other.method == "environment/execute" and isinstance(stream, dict)
                and stream.get("token") == token):
            return True
    return False


def _no_such_process(token: str | int) -> ExecutionFailed:
    return ExecutionFailed(f"no running process with token {token!r}", "no such process",
                           token=token)


class Running:
    """A command that ``environment/execute`` runs: in a process group of its own, so that a
    timeout, a ``$/cancelRequest`` or ``pyrun/process/kill`` ends everything it started.

    With a ``token`` (the ``stream`` param), its output goes to the client as it comes, as
    ``pyrun/output`` notifications ``{token, stream: "stdout"|"stderr", data}``, and its stdin
    stays open for ``pyrun/process/write``; the ``execute`` result then has empty ``stdout``
    and ``stderr``. Without one, the output is collected into the result.
    """

    def __init__(self, proc: subprocess.Popen[Any], processes: Processes,
                 token: str | int | None) -> None:
        self.proc = proc
        self.processes = processes
        self.token = token
        self.request = current()
        self._stdin_lock = threading.Lock()
        self._input: queue.SimpleQueue[tuple[bytes, bool]] = queue.SimpleQueue()
        self._queued = 0  # bytes given to the writer thread and not yet written
        self._writer: threading.Thread | None = None

    def kill(self) -> None:
        """Kill the whole process group (SIGKILL)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def write(self, data: bytes, eof: bool) -> None:
        """Give ``data`` to the process's stdin (closing it after, with ``eof``), in order,
        through a writer thread of its own: a command that does not read never blocks the
        caller (the server's reader, or the worker that must time the command out).

        Raises:
            ExecutionFailed: ``input too large``, when more than :data:`MAX_QUEUED` bytes
                wait for a command that does not read them.
        """
        with self._stdin_lock:
            if self._queued + len(data) > MAX_QUEUED:
                raise ExecutionFailed(f"the command has not read the {self._queued} bytes "
                                      "already written to it", "input too large",
                                      token=self.token)
            self._queued += len(data)
            self._input.put((data, eof))
            if self._writer is None:
                self._writer = threading.Thread(target=self._feed, daemon=True,
                                                name="wsp-stdin")
                self._writer.start()

    def _feed(self) -> None:
        """The writer thread: write what :meth:`write` queued until ``eof`` or a broken pipe
        (a command that ended); what comes after is dropped."""
        stdin, broken = self.proc.stdin, False
        while True:
            data, eof = self._input.get()
            if not broken and stdin is not None and not stdin.closed:
                try:
                    if data:
                        stdin.write(data)
                        stdin.flush()
                    if eof:
                        stdin.close()
                except (BrokenPipeError, OSError, ValueError):
                    broken = True
            with self._stdin_lock:
                self._queued -= len(data)
            if eof:
                return

    def finish(self, input: bytes, timeout: float | None, name: str) -> dict[str, Any]:
        """Feed ``input``, wait for the end (killing the group after ``timeout`` seconds or on
        cancellation) and return ``{exit_code, stdout, stderr}``.

        Raises:
            RpcError: -31004 ``timeout``; -32800 when the request was cancelled.
        """
        if self.request is not None:
            self.request.on_cancel(self.kill)
        early: list[tuple[bytes, bool]] = []
        if self.token is not None:
            early = self.processes.started(self.token, self)
        chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        readers = [threading.Thread(target=self._pump, args=(name_, chunks[name_]), daemon=True)
                   for name_ in ("stdout", "stderr")]
        for reader in readers:
            reader.start()
        self.write(input, eof=self.token is None)
        for data, eof in early:  # written before the command started
            self.write(data, eof)
        try:
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait()
                for reader in readers:
                    reader.join()
                raise ExecutionFailed(f"{name} did not finish in {timeout} s",
                                      "timeout") from None
            for reader in readers:
                reader.join()
        finally:
            self.write(b"", eof=True)
            if self.token is not None:
                self.processes.ended(self.token)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
        if self.request is not None and self.request.cancelled.is_set():
            raise cancelled(self.request.id)
        return {"exit_code": code,
                "stdout": b"".join(chunks["stdout"]).decode("utf-8", errors="replace"),
                "stderr": b"".join(chunks["stderr"]).decode("utf-8", errors="replace")}

    def _pump(self, name: str, sink: list[bytes]) -> None:
        """Read one output pipe to its end: into ``sink``, or to the client as it comes."""
        pipe = self.proc.stdout if name == "stdout" else self.proc.stderr
        assert pipe is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            data = pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536)
            if self.token is None or self.request is None:
                if not data:
                    return
                sink.append(data)
                continue
            text = decoder.decode(data, final=not data)
            if text:
                self.request.notify("pyrun/output", {"token": self.token, "stream": name,
                                                     "data": text})
            if not data:
                return
