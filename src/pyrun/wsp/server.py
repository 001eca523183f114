"""pyrun's own WSP server for a project directory (``pyrun wsp serve``).

The project's environments are the ``.venv`` at its root (made with the standard library's
``venv``) and those listed in its ``.python-envs`` (see :mod:`pyrun.script.pythonenvs`), plus the
activated one (``VIRTUAL_ENV``) when there is one. An environment's ``id`` is its path as the
project records it: ``.venv``, the ``.python-envs`` line, or the absolute path of the activated
environment.

Methods: the WSP v0.1 set (``initialize``, ``shutdown``, ``exit``, ``environment/list``,
``environment/create``, ``environment/get``, ``environment/delete``,
``environment/execute``), plus ``pyrun/default_environment``. pyrun's extra fields on an
environment (``prefix``, ``kind``, ``source``, ``is_default``, ``error``) and its extra params
(``requirements`` on create; ``stdin`` and ``timeout`` on execute) are optional; ``initialize``
advertises them under ``capabilities.pyrun``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pyrun import __version__, engine

from pyrun.script import pythonenvs
from pyrun.errors import (
    CommandError,
    IndexServerError,
    NetworkError,
    NoInterpreterError,
    PyrunError,
    ResolutionError,
    UsageError,
)
from pyrun.wsp import PROTOCOL_VERSION, jsonrpc
from pyrun.wsp.jsonrpc import (
    ENVIRONMENT_NAME_CONFLICT,
    ENVIRONMENT_NOT_FOUND,
    EXECUTION_FAILED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    PYTHON_VERSION_UNAVAILABLE,
    Endpoint,
    RpcError,
    serve,
)

#: pyrun's own error code (WSP reserves -31999..-31900 for servers): the requirements could not
#: be resolved or installed; ``data.reason`` says which (``resolution``, ``network``,
#: ``install``, ``venv``).
REQUIREMENTS_FAILED = -31900

#: Where ``environment/create`` puts environments other than ``.venv``, under the project.
CREATED_DIR = ".venvs"

EXTRA_FIELDS = ("prefix", "kind", "source", "is_default", "error")

#: Input kept for tokens whose ``execute`` has not started: at most this many tokens, and
#: this many bytes each.
EARLY_TOKENS, EARLY_BYTES = 16, 1 << 20

#: Answered on worker threads (they take seconds to minutes); everything else at once.
SLOW_METHODS = ("environment/create", "environment/execute")


@dataclass(frozen=True)
class ProjectEnv:
    """One environment of the project.

    Attributes:
        id: its id (see the module docstring).
        prefix: its directory.
        source: ``.venv``, ``.python-envs`` or ``activated``.
        is_default: whether it is the project's default.
    """

    id: str
    prefix: Path
    source: str
    is_default: bool

    @property
    def name(self) -> str:
        """The directory's name (``.venv`` for the default venv)."""
        return self.prefix.name

    @property
    def interpreter(self) -> Path:
        """Its interpreter (``bin/python``)."""
        return self.prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def config(self) -> dict[str, str]:
        """Its ``pyvenv.cfg`` as a dict; empty when there is none."""
        try:
            text = (self.prefix / "pyvenv.cfg").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return {}
        out = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                out[key.strip()] = value.strip()
        return out

    def problem(self) -> str | None:
        """Why it cannot be used, or None (pyrun's ``error`` field)."""
        if not self.prefix.exists():
            return "the directory does not exist"
        if not (self.prefix / "pyvenv.cfg").is_file():
            return "not a virtual environment (no pyvenv.cfg): not supported by this server"
        if not self.interpreter.exists():
            return f"its interpreter {self.interpreter} is missing"
        return None

    def summary(self) -> dict[str, Any]:
        """The ``environment/list`` item: ``id``, ``name``, ``python_version`` and pyrun's
        optional fields."""
        cfg = self.config()
        version = cfg.get("version_info") or cfg.get("version") or ""
        item: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "python_version": ".".join(version.split(".")[:3]),
            "prefix": str(self.prefix),
            "kind": "pyrun" if "pyrun" in cfg else "venv",
            "source": self.source,
            "is_default": self.is_default,
        }
        problem = self.problem()
        if problem:
            item["error"] = problem
        return item

    def details(self) -> dict[str, Any]:
        """The ``environment/get`` result."""
        out = self.summary()
        out["interpreter_path"] = str(self.interpreter)
        out["installed_packages"] = installed_packages(self.prefix)
        out["extra"] = {}
        return out


def installed_packages(prefix: Path) -> list[dict[str, str]]:
    """``[{name, version}]`` of the distributions an environment sees: its site-packages, and
    the pool directories its ``.pth`` files name. Read from ``.dist-info`` metadata, no
    subprocess."""
    sites = sorted(prefix.glob("lib/python*/site-packages")) + sorted(
        prefix.glob("Lib/site-packages")
    )
    dirs: list[Path] = []
    for site in sites:
        dirs.append(site)
        for pth in sorted(site.glob("*.pth")):
            try:
                lines = pth.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            dirs += [Path(ln.strip()) for ln in lines if ln.strip() and not ln.startswith(("#", "import"))]
    found: dict[str, dict[str, str]] = {}
    for d in dirs:
        for info in sorted(d.glob("*.dist-info")):
            meta = _metadata_fields(info / "METADATA")
            name = meta.get("name") or info.name.rsplit("-", 1)[0]
            version = meta.get("version") or info.name[: -len(".dist-info")].rsplit("-", 1)[-1]
            found.setdefault(name.lower(), {"name": name, "version": version})
    return [found[k] for k in sorted(found)]


def _metadata_fields(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if sep and key.lower() in ("name", "version"):
                    out[key.lower()] = value.strip()
    except OSError:
        pass
    return out


class ProjectServer:
    """The methods of pyrun's WSP server for ``project``.

    Args:
        project: the project directory (holding ``pyproject.toml``, ``.venv``, ``.python-envs``).
        log: where diagnostics go (stderr; never stdout, which carries the protocol).
    """

    def __init__(self, project: Path, log: Any = None) -> None:
        self.project = Path(os.path.abspath(project))
        self.log = log if log is not None else sys.stderr
        #: Environments this server deleted: an activated one stays in ``VIRTUAL_ENV``, and
        #: must not be listed again.
        self.deleted: set[Path] = set()
        #: Streaming ``execute`` runs by token (``pyrun/process/write`` and ``kill``).
        self.processes: dict[str | int, Running] = {}
        #: Input written for a token whose ``execute`` has not started yet.
        self.early_input: dict[str | int, list[tuple[bytes, bool]]] = {}
        self._lock = threading.Lock()

    def methods(self) -> dict[str, Any]:
        """``{method: handler}`` for :class:`~pyrun.wsp.jsonrpc.Endpoint`."""
        return {
            "initialize": self.initialize,
            "environment/list": self.list,
            "environment/create": self.create,
            "environment/get": self.get,
            "environment/delete": self.delete,
            "environment/execute": self.execute,
            "pyrun/default_environment": self.default_environment,
            "pyrun/set_default_environment": self.set_default_environment,
            "pyrun/process/write": self.process_write,
            "pyrun/process/kill": self.process_kill,
        }

    # -- the environments ---------------------------------------------------------------
    def environments(self) -> list[ProjectEnv]:
        """The project's environments, sorted by id (each path once).

        Raises:
            RpcError: -32603 with ``data.reason = "unreadable .python-envs"`` when the
                project's ``.python-envs`` cannot be read (not UTF-8).
        """
        with python_envs_failure("unreadable .python-envs"):
            envs = pythonenvs.read(self.project)
        for problem in envs.problems:  # one bad line costs that line, not the list
            print(f"wsp: {problem}", file=self.log, flush=True)
        default = envs.default
        active = os.environ.get("VIRTUAL_ENV")
        found: dict[Path, ProjectEnv] = {}
        for line in envs.unique():
            source = ".venv" if line.number == 0 else ".python-envs"
            found[line.path] = ProjectEnv(line.text, line.path, source, False)
        default_path = default.path if default else None
        if active and Path(os.path.abspath(active)) not in self.deleted:
            active_path = Path(os.path.abspath(active))
            if active_path not in found:
                found[active_path] = ProjectEnv(str(active_path), active_path, "activated", False)
            default_path = active_path  # an activated environment wins (PEP 832 draft)
        out = [
            ProjectEnv(e.id, e.prefix, e.source, e.prefix == default_path)
            for e in found.values()
        ]
        return sorted(out, key=lambda e: e.id)

    def find(self, params: dict[str, Any]) -> ProjectEnv:
        """The environment ``params["id"]`` names.

        Raises:
            RpcError: -32602 without a string ``id``; -31001 when there is no such environment.
        """
        env_id = params.get("id")
        if not isinstance(env_id, str):
            raise RpcError(INVALID_PARAMS, "params.id must be a string")
        for env in self.environments():
            if env.id == env_id:
                return env
        raise RpcError(ENVIRONMENT_NOT_FOUND, f"no environment {env_id!r}", {"id": env_id})

    # -- methods --------------------------------------------------------------------------
    def initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        """``initialize``: ``{protocol_version, methods, server_name, server_version,
        capabilities}``; ``capabilities.pyrun`` lists pyrun's optional fields, params and
        methods (WSP v0.1, docs/wsp.md). The client's params are not needed."""
        return {
            "protocol_version": PROTOCOL_VERSION,
            "methods": sorted(set(self.methods()) | {"initialize", "shutdown", "exit"}),
            "server_name": "pyrun",
            "server_version": __version__,
            "capabilities": {
                "pyrun": {
                    "environment_fields": list(EXTRA_FIELDS),
                    "create_params": ["requirements", "work_done_token"],
                    "execute_params": ["stdin", "timeout", "stream"],
                    "methods": ["pyrun/default_environment", "pyrun/set_default_environment",
                                "pyrun/process/write", "pyrun/process/kill"],
                    "notifications": ["pyrun/output", "$/progress"],
                    "concurrent": {"workers": jsonrpc.WORKERS,
                                   "max_pending": jsonrpc.MAX_PENDING,
                                   "cancel": "$/cancelRequest"},
                }
            },
        }

    def list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """``environment/list``: one :meth:`ProjectEnv.summary` per environment, sorted by id."""
        return [e.summary() for e in self.environments()]

    def get(self, params: dict[str, Any]) -> dict[str, Any]:
        """``environment/get`` ``{id}``: :meth:`ProjectEnv.details`.

        Raises:
            RpcError: -32602 without a string id; -31001 for an unknown one.
        """
        return self.find(params).details()

    def default_environment(self, params: dict[str, Any]) -> dict[str, Any]:
        """The default environment's details; -31001 when there is none, and -31001 with
        ``data.reason = "unsupported"`` when the default cannot be used (never a guess)."""
        for env in self.environments():
            if env.is_default:
                problem = env.problem()
                if problem:
                    raise RpcError(ENVIRONMENT_NOT_FOUND, f"the default environment {env.id!r} "
                                   f"cannot be used: {problem}",
                                   {"id": env.id, "reason": "unsupported"})
                return env.details()
        raise RpcError(ENVIRONMENT_NOT_FOUND, "the project has no default environment",
                       {"id": None, "reason": "none"})

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """``environment/create`` ``{name, python_version?, requirements?}``: a venv at
        ``.venv`` (name ``.venv``) or ``.venvs/<name>`` (appended to ``.python-envs``), its
        requirements composed from the pool; returns its details.

        Raises:
            RpcError: -32602 for bad params or an invalid requirement; -31002 when the name is
                taken; -31003 when no installed Python matches; -31900 when the requirements
                cannot be resolved or installed (``data.reason`` says why).
        """
        name = params.get("name")
        if not isinstance(name, str) or not name or name in (".", "..") or any(
            c in name for c in "/\\\n\r\0"
        ):
            raise RpcError(INVALID_PARAMS, "params.name must be a plain directory name")
        version = params.get("python_version")
        if version is not None and not isinstance(version, str):
            raise RpcError(INVALID_PARAMS, "params.python_version must be a string")
        requirements = params.get("requirements", [])
        if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
            raise RpcError(INVALID_PARAMS, "params.requirements must be a list of strings")
        if any(e.name == name for e in self.environments()):
            raise RpcError(ENVIRONMENT_NAME_CONFLICT, f"an environment named {name!r} exists",
                           {"name": name})
        prefix = self.project / (name if name == pythonenvs.VENV else f"{CREATED_DIR}/{name}")
        if os.path.lexists(prefix):
            raise RpcError(ENVIRONMENT_NAME_CONFLICT, f"{prefix} already exists", {"name": name})
        if name != pythonenvs.VENV:  # refused before anything is created: no venv is left
            with python_envs_failure("unwritable .python-envs"):  # without its line
                pythonenvs.check_writable(self.project)
        create_reporting(prefix, version, requirements, params, self.log)
        if name != pythonenvs.VENV:
            with python_envs_failure("unwritable .python-envs"):
                pythonenvs.append(self.project, prefix)
        return self.find({"id": pythonenvs.record_text(self.project, prefix)
                          if name != pythonenvs.VENV else pythonenvs.VENV}).details()

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        """Remove the environment's lines from ``.python-envs``; remove its directory only when
        it lies inside the project (a line may name an environment another tool owns)."""
        env = self.find(params)
        real = os.path.realpath(env.prefix)
        inside = real.startswith(os.path.realpath(self.project) + os.sep)
        if env.source == "activated" and not inside:
            raise RpcError(INVALID_PARAMS, f"{env.id} is the activated environment "
                           "(VIRTUAL_ENV), outside the project: this server does not own it; "
                           "deactivate it instead", {"id": env.id, "reason": "activated"})
        with python_envs_failure("unwritable .python-envs"):
            pythonenvs.remove(self.project, env.prefix)
        # Contained by real path: a symlink inside the project may point anywhere.
        if inside and not env.prefix.is_symlink() and env.prefix.is_dir():
            shutil.rmtree(env.prefix)
        self.deleted.add(env.prefix)
        return {"id": env.id}

    def _program(self, env: ProjectEnv, name: str) -> str:
        """What ``argv[0]`` runs in ``env``: its interpreter for ``python``, ``python3`` and
        ``python3.X``; else the name (resolved on the environment's ``PATH``, its ``bin``
        first).

        Raises:
            RpcError: -31004 with ``data.reason = "not in environment"`` for ``pip`` (and the
                like) when the environment has none: the host's would act on the host.
        """
        if _environment_python(name):
            return str(env.interpreter)
        if ENVIRONMENT_TOOLS.match(name) and not (env.interpreter.parent / name).exists():
            raise RpcError(EXECUTION_FAILED, f"{env.id} has no {name} (venvs made without pip "
                           "have none), and the one on PATH would act on another environment; "
                           f"run [\"python\", \"-m\", \"{name.rstrip('0123456789.')}\", ...] "
                           "once it is installed, or create the environment with "
                           "requirements [\"pip\"]", {"id": env.id, "reason": "not in environment"})
        return name

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        """``environment/execute`` ``{id, argv, cwd?, env?, stdin?, timeout?}`` (timeout in
        seconds): runs ``argv`` in the environment (``python`` is its interpreter) with the
        ``stdin`` text as input, never the server's stdin; returns ``{exit_code, stdout,
        stderr}``, a non-zero exit included.

        Raises:
            RpcError: -32602 for bad params; -31001 for an unknown id; -31004 with
                ``data.reason`` ``timeout``, ``not found``, ``cannot start`` or
                ``unusable environment``.
        """
        argv = params.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise RpcError(INVALID_PARAMS, "params.argv must be a non-empty list of strings")
        env = self.find(params)  # after the params are known to be valid (-32602 first)
        cwd = params.get("cwd")
        if cwd is None:
            cwd = str(self.project)
        extra_environ = params.get("env") or {}
        stdin = params.get("stdin")
        timeout = params.get("timeout")
        if not isinstance(cwd, str) or not isinstance(extra_environ, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in extra_environ.items()
        ):
            raise RpcError(INVALID_PARAMS, "params.cwd must be a string, params.env an object "
                           "of strings")
        if stdin is not None and not isinstance(stdin, str):
            raise RpcError(INVALID_PARAMS, "params.stdin must be a string")
        if timeout is not None and not isinstance(timeout, (int, float)):
            raise RpcError(INVALID_PARAMS, "params.timeout must be a number of seconds")
        problem = env.problem()
        if problem:
            raise RpcError(EXECUTION_FAILED, f"{env.id}: {problem}",
                           {"id": env.id, "reason": "unusable environment"})
        stream = params.get("stream")
        if stream is not None and not (isinstance(stream, dict)
                                       and isinstance(stream.get("token"), (str, int))):
            raise RpcError(INVALID_PARAMS, "params.stream must be {\"token\": a string or "
                           "integer}")
        child_environ = engine.command_environ(env.prefix, extra_environ)
        program = self._program(env, argv[0])
        try:
            proc = engine.start([program, *argv[1:]], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                environ=child_environ, new_session=True)
        except UsageError as exc:  # a NUL byte in argv
            raise RpcError(INVALID_PARAMS, str(exc)) from None
        except OSError as exc:
            raise RpcError(EXECUTION_FAILED, f"cannot run {argv[0]}: {exc.strerror}",
                           {"reason": "not found" if isinstance(exc, FileNotFoundError)
                            else "cannot start"}) from None
        token = stream["token"] if stream is not None else None
        return Running(proc, self, token).finish((stdin or "").encode("utf-8"), timeout,
                       argv[0])

    # -- pyrun's optional methods (capabilities.pyrun) --------------------------------------
    def process_write(self, params: dict[str, Any]) -> None:
        """``pyrun/process/write`` ``{token, data?, eof?}``: write ``data`` (text) to a
        streaming ``execute``'s stdin; ``eof: true`` closes it.

        Raises:
            RpcError: -32602 for bad params; -31004 with ``reason: "no such process"``.
        """
        token = params.get("token")
        data = params.get("data", "")
        if not isinstance(token, (str, int)) or isinstance(token, bool):
            raise RpcError(INVALID_PARAMS, "params.token must be a string or integer")
        if not isinstance(data, str) or not isinstance(params.get("eof", False), bool):
            raise RpcError(INVALID_PARAMS, "params.data must be a string, params.eof a boolean")
        chunk = (data.encode("utf-8"), bool(params.get("eof")))
        with self._lock:
            running = self.processes.get(token)
            if running is None:  # its execute is not running yet (waiting for a worker, or
                # still starting): kept until it does, within bounds
                early = self.early_input.setdefault(token, [])
                if len(self.early_input) > EARLY_TOKENS or sum(
                        len(d) for d, _ in early) + len(chunk[0]) > EARLY_BYTES:
                    self.early_input.pop(token, None)
                    raise RpcError(EXECUTION_FAILED, f"no running process with token "
                                   f"{token!r}", {"token": token, "reason": "no such process"})
                early.append(chunk)
                return
        running.write(*chunk)

    def process_kill(self, params: dict[str, Any]) -> None:
        """``pyrun/process/kill`` ``{token}``: kill a streaming ``execute``'s process group;
        its ``execute`` request is then answered with the exit status (-9).

        Raises:
            RpcError: -32602 for bad params; -31004 with ``reason: "no such process"``.
        """
        self._running(params).kill()

    def _running(self, params: dict[str, Any]) -> Running:
        token = params.get("token")
        if not isinstance(token, (str, int)) or isinstance(token, bool):
            raise RpcError(INVALID_PARAMS, "params.token must be a string or integer")
        with self._lock:
            running = self.processes.get(token)
        if running is None:
            raise RpcError(EXECUTION_FAILED, f"no running process with token {token!r}",
                           {"token": token, "reason": "no such process"})
        return running

    def set_default_environment(self, params: dict[str, Any]) -> dict[str, Any]:
        """``pyrun/set_default_environment`` ``{id}``: make the environment the project's
        default, as the last line of ``.python-envs`` (PEP 832 draft); returns its details.

        Raises:
            RpcError: -32602 for bad params, or when a ``.venv`` (always the default: it is the
                file's implicit last line) stands in the way; -31001 for an unknown id; -32603
                when ``.python-envs`` cannot be written.
        """
        env = self.find(params)
        venv = self.project / pythonenvs.VENV
        if env.prefix != venv and (venv / "pyvenv.cfg").is_file():
            raise RpcError(INVALID_PARAMS, f"{pythonenvs.VENV} is the default while it exists "
                           "(the implicit last line of .python-envs, PEP 832); remove or rename "
                           "it first", {"id": env.id, "reason": ".venv is the default"})
        if env.source == "activated":
            raise RpcError(INVALID_PARAMS, f"{env.id} is the activated environment: it is the "
                           "default while it is activated", {"id": env.id, "reason": "activated"})
        with python_envs_failure("unwritable .python-envs"):
            pythonenvs.append(self.project, env.prefix)
        return self.default_environment({})


@contextlib.contextmanager
def python_envs_failure(reason: str) -> Iterator[None]:
    """Turn a :class:`~pyrun.script.pythonenvs.PythonEnvsError` (the project's ``.python-envs`` cannot
    be read or written) into the -32603 a client gets, with ``data.reason`` (``unreadable
    .python-envs`` or ``unwritable .python-envs``) and ``data.path``."""
    try:
        yield
    except pythonenvs.PythonEnvsError as exc:
        raise RpcError(INTERNAL_ERROR, str(exc), {"reason": reason, "path": exc.path}) from None


class Running:
    """A command that ``environment/execute`` runs: in a process group of its own, so that a
    timeout, a ``$/cancelRequest`` or ``pyrun/process/kill`` ends everything it started.

    With a ``token`` (the ``stream`` param), its output goes to the client as it comes, as
    ``pyrun/output`` notifications ``{token, stream: "stdout"|"stderr", data}``, and its stdin
    stays open for ``pyrun/process/write``; the ``execute`` result then has empty ``stdout``
    and ``stderr``. Without one, the output is collected into the result.
    """

    def __init__(self, proc: subprocess.Popen[Any], server: ProjectServer,
                 token: str | int | None) -> None:
        self.proc = proc
        self.server = server
        self.token = token
        self.request = jsonrpc.current()
        self._stdin_lock = threading.Lock()

    def kill(self) -> None:
        """Kill the whole process group (SIGKILL)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def write(self, data: bytes, eof: bool) -> None:
        """Write to the process's stdin (closing it with ``eof``)."""
        with self._stdin_lock:
            stdin = self.proc.stdin
            if stdin is None or stdin.closed:
                return
            try:
                if data:
                    stdin.write(data)
                    stdin.flush()
                if eof:
                    stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass

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
            with self.server._lock:
                self.server.processes[self.token] = self
                early = self.server.early_input.pop(self.token, [])
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
                raise RpcError(EXECUTION_FAILED, f"{name} did not finish in {timeout} s",
                               {"reason": "timeout"}) from None
            for reader in readers:
                reader.join()
        finally:
            self.write(b"", eof=True)
            if self.token is not None:
                with self.server._lock:
                    self.server.processes.pop(self.token, None)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
        if self.request is not None and self.request.cancelled.is_set():
            raise RpcError(jsonrpc.REQUEST_CANCELLED, "request cancelled",
                           {"id": self.request.id})
        return {"exit_code": code,
                "stdout": b"".join(chunks["stdout"]).decode("utf-8", errors="replace"),
                "stderr": b"".join(chunks["stderr"]).decode("utf-8", errors="replace")}

    def _pump(self, name: str, sink: list[bytes]) -> None:
        """Read one output pipe to its end: into ``sink``, or to the client as it comes."""
        import codecs

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


#: Commands that act on "the current environment": run from outside the environment, they
#: would act on another one (the host's pip installing into the host).
ENVIRONMENT_TOOLS = re.compile(r"(pip|pip3|pip3\.\d+|easy_install)$")


def _environment_python(name: str) -> bool:
    return re.fullmatch(r"python(3(\.\d+)?)?", name) is not None


class Progress:
    """A text stream that turns the engine's progress lines into ``$/progress`` notifications
    (LSP's work-done progress: ``begin``, a ``report`` per line, ``end``) for ``token``."""

    def __init__(self, request: jsonrpc.Request, token: str | int, title: str) -> None:
        self.request = request
        self.token = token
        request.notify("$/progress", {"token": token, "value": {"kind": "begin",
                                                                "title": title}})

    def write(self, text: str) -> int:
        """Send each non-blank line of ``text`` as a ``report``; returns ``len(text)``."""
        for line in text.splitlines():
            if line.strip():
                message = line.removeprefix("pyrun: ")
                self.request.notify("$/progress", {"token": self.token, "value": {
                    "kind": "report", "message": message}})
        return len(text)

    def flush(self) -> None:
        """Nothing to flush: each line is sent as it is written."""

    def isatty(self) -> bool:
        """True: the engine's progress lines are for this stream, its debug lines are not."""
        return True

    def end(self) -> None:
        """Send the ``end`` of the progress."""
        self.request.notify("$/progress", {"token": self.token, "value": {"kind": "end"}})


def create_reporting(prefix: Path, python_version: str | None, requirements: list[str],
                     params: dict[str, Any], log: Any) -> None:
    """:func:`create_venv`, with ``$/progress`` notifications when the request gave a
    ``work_done_token`` (and runs on a worker), else its progress lines to ``log``."""
    token, request = params.get("work_done_token"), jsonrpc.current()
    if not isinstance(token, (str, int)) or isinstance(token, bool) or request is None:
        create_venv(prefix, python_version, requirements, log)
        return
    progress = Progress(request, token, f"creating {prefix.name}")
    try:
        create_venv(prefix, python_version, requirements, progress)
    finally:
        progress.end()


def create_venv(prefix: Path, python_version: str | None, requirements: list[str],
                log: Any, verbosity: int = 0) -> None:
    """``environment/create``'s work: :func:`pyrun.engine.create_venv`, its errors mapped to
    WSP's codes.

    Raises:
        RpcError: -32602 for an invalid requirement, -31003 when no installed Python matches,
            :data:`REQUIREMENTS_FAILED` when the venv, resolution or installation fails.
    """
    try:
        engine.create_venv(prefix, python_version, requirements,
                           engine.Reporter(verbosity, stream=log))
    except UsageError as exc:
        raise RpcError(INVALID_PARAMS, str(exc)) from None
    except NoInterpreterError as exc:  # the engine speaks of --python; the client sent this
        message = str(exc).replace("--python ", "python_version ", 1)
        raise RpcError(PYTHON_VERSION_UNAVAILABLE, message,
                       {"python_version": python_version}) from None
    except PyrunError as exc:
        reason = ("resolution" if isinstance(exc, ResolutionError)
                  else "network" if isinstance(exc, (NetworkError, IndexServerError))
                  else "venv" if isinstance(exc, CommandError) else "install")
        raise RpcError(REQUIREMENTS_FAILED, str(exc), {"reason": reason}) from None


def run_server(project: Path, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Serve ``project`` over stdio until ``exit`` or the end of input; returns the exit status."""
    server = ProjectServer(project)
    endpoint = Endpoint(server.methods(), slow=SLOW_METHODS)
    return serve(endpoint, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)
