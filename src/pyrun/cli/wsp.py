"""``pyrun wsp ...``: serve a project, call a project's workflow server once, or run a command
in one of its environments: the front end of :mod:`pyrun.wsp`, which itself prints nothing
and never exits."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pyrun.errors import ExitCode, PyrunError, UsageError, argument_parser

USAGE = """\
usage: pyrun wsp serve [--project DIR]
       pyrun wsp METHOD [PARAMS_JSON] [--trust] [--timeout S] [--start-timeout S]
       pyrun wsp run [--env ID] [--trust] -- CMD [ARGS...]
       pyrun wsp init [PATH] [--declare] [--from-index]

Talk to the project's workflow server (WSP: JSON-RPC over stdio). The server is the project's
[workflow] wsp declaration in pyproject.toml, your own setting, or pyrun's built-in server.

  serve                 be the built-in server for the project (stdio)
  METHOD [PARAMS_JSON]  send initialize, METHOD with PARAMS_JSON (an object), shutdown and exit,
                        and print the result as JSON: e.g. `pyrun wsp environment/list`,
                        `pyrun wsp environment/get '{"id": ".venv"}'`
  run                   run CMD in an environment (the default, or --env ID) with the terminal
                        attached; its exit code is passed through
  init                  write PATH (default wf.py), a workflow server of your own made with
                        pyrun's toolkit (`pyrun wsp init --help`)

  --trust               run a project-declared server without asking (and remember that)
  --timeout S           seconds to wait for each answer (default 60); for run through the
                        server, the longest the server may stay silent
  --start-timeout S     seconds to wait for the server to answer initialize (default 30)

exit codes: 0 done; 1 the server answered with an error (printed); 64 usage; 65 PARAMS_JSON is
not a JSON object; 75 the server did not answer in time (or did not read its input); 76 the
server broke the protocol (not a frame, not JSON, a malformed response or result) or exited;
77 a project-declared server you have not agreed to run; 78 a malformed declaration; pyrun's
own codes (67, 69, ...) when building the server's environment fails.
"""

#: Commands under ``pyrun wsp`` with a module (and parser) of their own: ``{name: module}``.
NESTED = {"init": "pyrun.cli.wspinit"}


def parser(command: str = "wsp") -> argparse.ArgumentParser:
    """The parser of ``pyrun wsp ...``: ``serve``, ``run`` or a METHOD."""
    p = argument_parser("pyrun wsp", usage=USAGE.split("\n\n")[0][len("usage: "):],
                        description=USAGE.split("\n\n", 1)[1])
    p.add_argument("--trust", action="store_true",
                   help="run a project-declared server without asking (and remember that)")
    p.add_argument("--timeout", type=_seconds, default=60.0, metavar="S",
                   help="seconds to wait for each answer (default 60); for run through the "
                        "server, the longest the server may stay silent")
    p.add_argument("--start-timeout", type=_seconds, default=30.0, metavar="S",
                   help="seconds to wait for the server to answer initialize (default 30)")
    p.add_argument("--env", metavar="ID", help="for run: the environment (default: the default)")
    p.add_argument("--project", metavar="DIR", help="for serve: the project (default: here)")
    p.add_argument("method", metavar="serve|run|METHOD")
    p.add_argument("params", metavar="PARAMS_JSON", nargs="*")
    return p


def _seconds(text: str) -> float:
    """A timeout's value: a finite number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 1e9:  # also NaN and inf
        raise argparse.ArgumentTypeError(f"needs a number of seconds above 0, not {text!r}")
    return seconds


def main(subcommand: str, argv: list[str], edge: object = None) -> int:
    """Run ``pyrun wsp ARGV``; returns the exit code (see :data:`USAGE`).

    Raises:
        UsageError, ParamsError, DeclarationError, NotTrusted, ProtocolError, CallTimeout:
        for :func:`pyrun.errors.report`, the one error edge, in :func:`pyrun.cli.main`.
    """
    if not argv:
        raise UsageError("pyrun wsp needs serve, run or a METHOD (see `pyrun wsp --help`)")
    if argv[0] in NESTED:  # init: a workflow script of your own (pyrun.cli.wspinit)
        import importlib

        return int(importlib.import_module(NESTED[argv[0]]).main(argv[1:], edge))
    cut = argv.index("--") if "--" in argv else len(argv)
    ns = parser().parse_args(argv[:cut])
    rest, command = list(ns.params), argv[cut + 1:]
    if ns.method == "serve":
        if rest or command:
            raise UsageError("pyrun wsp serve takes only --project DIR (see `pyrun wsp --help`)")
        from pyrun.wsp.declaration import check_project
        from pyrun.wsp.server import run_server

        project = Path(ns.project) if ns.project else Path.cwd()
        check_project(project)
        return run_server(project)
    if ns.method == "run":
        if rest or not command:
            raise UsageError("pyrun wsp run needs a command after -- (see `pyrun wsp --help`)")
        return _run_command(command, ns)
    params: Any = None
    if command:
        raise UsageError(f"{ns.method} takes no command after -- (see `pyrun wsp --help`)")
    if rest:
        try:
            params = json.loads(rest[0], parse_constant=_not_json)
        except (ValueError, RecursionError) as exc:
            raise ParamsError(f"PARAMS_JSON is not JSON: {exc}") from None
        if not isinstance(params, dict) or len(rest) > 1:
            raise ParamsError("PARAMS_JSON must be one JSON object")
    return _call(ns.method, params, ns)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: Seconds a server gets to say goodbye (answer ``shutdown``, then exit) before it is killed:
#: after an answer, and after an error (which is shown once the server is gone).
GOODBYE = 5.0
GOODBYE_AFTER_ERROR = 0.5


class CannotRun(PyrunError):
    """``pyrun wsp run``: the command cannot be run (not found, not executable)."""

    exit_code = ExitCode.CANNOT_RUN


class ParamsError(PyrunError):
    """``pyrun wsp METHOD PARAMS_JSON``: PARAMS_JSON is not one JSON object."""

    exit_code = ExitCode.METADATA


def _with_server(opts: argparse.Namespace, work: Any) -> int:
    """Start the project's server, ``initialize`` it, run ``work(client, init_result)``, stop
    it. Errors propagate to the one error edge; one raised while building the server's
    environment, or an error the server answered with, carries its ``context``.

    Raises:
        DeclarationError, NotTrusted, ProtocolError, CallTimeout, RpcError, and the engine's
        errors.
    """
    from pyrun.wsp import declaration, trust
    from pyrun.wsp.client import CallTimeout, Client, ProtocolError
    from pyrun.wsp.jsonrpc import RpcError

    decl = declaration.resolve(Path.cwd())
    agreed = trust.ensure_trusted(decl, trust=opts.trust, stdin=sys.stdin, stderr=sys.stderr)
    try:
        argv, environ = launch(decl, agreed)
    except (declaration.DeclarationError, declaration.NotTrusted):
        raise
    except PyrunError as exc:
        exc.context = "cannot start the workflow server"
        raise
    try:
        client = Client(argv, cwd=str(decl.project), environ=environ)
    except OSError as exc:
        raise ProtocolError(f"cannot start the workflow server {argv[0]}: {exc.strerror}") from None
    try:
        try:
            init = client.initialize(opts.start_timeout)
            code = int(work(client, init))
        except BaseException:
            client.close(GOODBYE_AFTER_ERROR)
            raise
        client.close(GOODBYE)
        return code
    except RpcError as exc:
        from pyrun.progress import escaped

        exc.context = f"the server answered with error {exc.code}"
        exc.message = escaped(exc.message, keep="")  # one line, whatever the server sent
        raise
    except CallTimeout as exc:
        exc.context = "the workflow server did not answer"
        raise


def _call(method: str, params: dict[str, Any] | None, opts: argparse.Namespace) -> int:
    from pyrun.wsp.jsonrpc import METHOD_NOT_FOUND, RpcError

    def work(client: Any, init: Any) -> int:
        try:
            result = client.request(method, params, opts.timeout)
        except RpcError as exc:
            if exc.code == METHOD_NOT_FOUND:
                exc.message += _did_you_mean(method, init)
            raise
        _print_json(result)
        return 0

    return _with_server(opts, work)


def _print_json(value: Any) -> None:
    """Print ``value`` as indented JSON, with ASCII escapes where stdout cannot take a
    character (a lone surrogate a server sent, say)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(value, indent=2)
    print(text, flush=True)


def _listed(value: Any) -> list[str]:
    """The strings of ``value`` when it is a list (a server's list of methods, say), else []."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _did_you_mean(method: str, init: Any) -> str:
    """``; did you mean `pyrun wsp X`?`` for a method the server does not have, X being close
    to one of the methods its ``initialize`` listed, or to ``serve`` or ``run``; else ``""``."""
    import difflib

    known = _listed(init.get("methods") if isinstance(init, dict) else None)
    close = difflib.get_close_matches(method, [*known, "serve", "run"], n=1, cutoff=0.6)
    return f"; did you mean `pyrun wsp {close[0]}`?" if close else ""


def _run_command(command: list[str], opts: argparse.Namespace) -> int:
    """Run ``command`` in an environment: through the server's streaming ``execute`` when it
    offers one and this is not an interactive terminal (the command runs where the server
    runs it: a remote or conda environment too); else find the environment's prefix through
    the server and exec ``command`` in it here, with the terminal attached."""
    found: dict[str, Any] = {}
    interactive = sys.stdin.isatty() and sys.stdout.isatty()

    def work(client: Any, init: Any) -> int:
        env_id = _environment_id(client, init, opts, found)
        if env_id is None:
            return 0
        if not interactive and "stream" in _listed(client.capabilities.get("execute_params")):
            found["streamed"] = True
            return _stream(client, env_id, command, opts.timeout)
        found.update(client.request("environment/get", {"id": env_id}, opts.timeout))
        return 0

    code = _with_server(opts, work)
    if code != 0 or found.get("streamed"):
        return code
    interpreter, prefix = found.get("interpreter_path"), found.get("prefix")
    if not (isinstance(prefix, str) and prefix):
        prefix = str(Path(interpreter).parent.parent) if isinstance(interpreter, str) else None
    if not prefix:
        from pyrun.wsp.client import ProtocolError

        raise ProtocolError("the server gave no interpreter_path for the environment")
    from pyrun.engine import command_environ

    environ = command_environ(Path(prefix))
    sys.stdout.flush()
    try:
        os.execvpe(command[0], command, environ)
    except OSError as exc:
        raise CannotRun(f"cannot run {command[0]}: {exc.strerror}") from None
    return 0  # pragma: no cover - execvpe does not return


def _environment_id(client: Any, init: Any, opts: argparse.Namespace,
                    found: dict[str, Any]) -> str | None:
    """The id of the environment ``pyrun wsp run`` uses: ``--env``, else the server's
    default (when ``pyrun/default_environment`` answers it, its details go into ``found``)."""
    if opts.env is not None:
        return str(opts.env)
    if "pyrun/default_environment" in _listed(init.get("methods")):
        found.update(client.request("pyrun/default_environment", {}, opts.timeout))
        return str(found["id"])
    items = client.request("environment/list", None, opts.timeout)
    defaults = [e for e in items if e.get("is_default")] or (items if len(items) == 1 else [])
    if len(defaults) != 1:
        raise UsageError("the server names no single default environment; pass --env "
                         "ID (see `pyrun wsp environment/list`)")
    return str(defaults[0]["id"])


def _stream(client: Any, env_id: str, command: list[str], timeout: float) -> int:
    """``environment/execute`` with ``stream``: the command's output is written here as the
    server sends it, this process's stdin is forwarded (``pyrun/process/write``) once the
    request is sent, Ctrl-C cancels the request (the server kills the command's process
    group). ``timeout`` bounds the server's silence: output restarts it, and a server that
    answers requests while one runs (``concurrent``) is asked ``$/ping`` when the command is
    quiet, so only a server that stopped answering times out. Returns the command's exit
    code (128+N when signal N ended it).

    Raises:
        CallTimeout: the server was silent for ``timeout`` seconds (the request is cancelled
            first, as far as the server still reads). ProtocolError, RpcError: see request.
    """
    import threading

    from pyrun.wsp.client import CallTimeout

    token = f"run-{os.getpid()}"
    sent: list[int] = []

    def output(method: str, params: Any) -> None:
        if method == "pyrun/output" and isinstance(params, dict) and params.get("token") == token:
            target = sys.stderr if params.get("stream") == "stderr" else sys.stdout
            data = params.get("data")
            text = str(data if data is not None else "")
            target.flush()  # bytes: a lone surrogate a server sent cannot stop the output
            raw = getattr(target, "buffer", None)
            if raw is None:
                target.write(text.encode("utf-8", "replace").decode("utf-8"))
            else:
                raw.write(text.encode("utf-8", "replace"))
            (raw or target).flush()

    def forward() -> None:
        try:
            while True:
                data = os.read(sys.stdin.fileno(), 65536)
                client.notify("pyrun/process/write", {"token": token,
                                                      "data": data.decode("utf-8", "replace"),
                                                      "eof": not data}, timeout)
                if not data:
                    return
        except (OSError, PyrunError, ValueError):
            return

    def started(id_: int) -> None:
        sent.append(id_)
        threading.Thread(target=forward, daemon=True).start()

    try:
        result = client.request("environment/execute", {
            "id": env_id, "argv": command, "cwd": os.getcwd(), "stream": {"token": token}},
            timeout, on_notify=output, on_sent=started,
            keepalive=isinstance(client.capabilities.get("concurrent"), dict))
    except (KeyboardInterrupt, CallTimeout):
        if sent:  # the server kills the command's process group (if it still reads)
            try:
                client.notify("$/cancelRequest", {"id": sent[0]}, 0.2)
            except PyrunError:
                pass
        raise
    code = int(result["exit_code"])
    return 128 - code if code < 0 else code


def launch(decl: Any, agreed: Any) -> tuple[list[str], dict[str, str] | None]:
    """The command line and environment that start the server ``decl`` names, ``agreed``
    (:class:`pyrun.wsp.trust.Agreed`) being what the user agreed to run.

    A ``script`` gets its environment from pyrun's engine first (so the start timeout covers
    the server's start, not an install), built from the bytes agreed to, and runs only those
    bytes (:func:`pyrun.wsp.trust.pinned_command`); a ``cmd`` with ``requires`` gets those
    installed through the pool and its environment's ``bin`` first on ``PATH``. What the
    trust key covers is checked again once the environment is ready, right before the start.

    Raises:
        PyrunError: building the environment failed.
        NotTrusted: what was agreed to changed while the environment was built.
    """
    from pyrun.engine import Reporter, command_environ, prepare, prepare_requirements
    from pyrun.wsp import trust

    if decl.kind == "builtin":
        return [sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(decl.project)], None
    if decl.kind == "script":
        assert decl.script is not None and agreed.script is not None
        env = prepare(decl.script, reporter=Reporter(0), data=agreed.script)
        trust.recheck(decl, agreed)
        if not decl.from_project:
            return [str(env.python), str(decl.script)], command_environ(env.path)
        command = trust.pinned_command(str(env.python), decl.script, agreed.script)
        return command, command_environ(env.path)
    environ = None
    if decl.requires:
        env = prepare_requirements(list(decl.requires), reporter=Reporter(0))
        environ = command_environ(env.path)
    trust.recheck(decl, agreed)
    return list(decl.cmd), environ
