"""``pyrun wsp ...``: serve a project, call a project's workflow server once, or run a command
in one of its environments. The only place in :mod:`pyrun.wsp` that prints or exits."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

USAGE = """\
usage: pyrun wsp serve [--project DIR]
       pyrun wsp METHOD [PARAMS_JSON] [--trust] [--timeout S] [--start-timeout S]
       pyrun wsp run [--env ID] [--trust] -- CMD [ARGS...]

Talk to the project's workflow server (WSP: JSON-RPC over stdio). The server is the project's
[workflow] wsp declaration in pyproject.toml, your own setting, or pyrun's built-in server.

  serve                 be the built-in server for the project (stdio)
  METHOD [PARAMS_JSON]  send initialize, METHOD with PARAMS_JSON (an object), shutdown and exit,
                        and print the result as JSON: e.g. `pyrun wsp environment/list`,
                        `pyrun wsp environment/get '{"id": ".venv"}'`
  run                   run CMD in an environment (the default, or --env ID) with the terminal
                        attached; its exit code is passed through

  --trust               run a project-declared server without asking (and remember that)
  --timeout S           seconds to wait for each answer (default 60)
  --start-timeout S     seconds to wait for the server to answer initialize (default 30)

exit codes: 0 done; 1 the server answered with an error (printed); 64 usage; 65 PARAMS_JSON is
not a JSON object; 75 the server did not answer in time; 76 the server broke the protocol or
exited; 77 a project-declared server you have not agreed to run; 78 a malformed declaration;
pyrun's own codes (67, 69, ...) when building the server's environment fails.
"""

EXIT_SERVER_ERROR = 1
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_TIMEOUT = 75
EXIT_PROTOCOL = 76
EXIT_NOT_TRUSTED = 77
EXIT_CONFIG = 78


def _fail(message: str, code: int) -> int:
    print(f"pyrun: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    """Run ``pyrun wsp ARGV``; returns the exit code."""
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EXIT_USAGE
    if argv[0] == "serve":
        return _serve(argv[1:])
    opts: dict[str, Any] = {"trust": False, "timeout": 60.0, "start_timeout": 30.0, "env": None}
    positional: list[str] = []
    command: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            command = argv[i + 1:]
            break
        name, eq, value = arg.partition("=")
        if name in ("--timeout", "--start-timeout", "--env"):
            if not eq:
                if i + 1 >= len(argv):
                    return _fail(f"{name} needs a value", EXIT_USAGE)
                i += 1
                value = argv[i]
            if name == "--env":
                opts["env"] = value
            else:
                try:
                    opts[name[2:].replace("-", "_")] = float(value)
                except ValueError:
                    return _fail(f"{name} needs a number of seconds, not {value!r}", EXIT_USAGE)
        elif arg == "--trust":
            opts["trust"] = True
        elif arg.startswith("--"):
            return _fail(f"unknown option {arg}\n\n{USAGE}", EXIT_USAGE)
        else:
            positional.append(arg)
        i += 1
    if not positional:
        return _fail(f"missing METHOD\n\n{USAGE}", EXIT_USAGE)
    if positional[0] == "run":
        if not command:
            return _fail("pyrun wsp run needs a command after --", EXIT_USAGE)
        return _run_command(command, opts)
    method, rest = positional[0], positional[1:]
    params: Any = None
    if rest:
        try:
            params = json.loads(rest[0])
        except ValueError as exc:
            return _fail(f"PARAMS_JSON is not JSON: {exc}", EXIT_DATA)
        if not isinstance(params, dict) or len(rest) > 1:
            return _fail("PARAMS_JSON must be one JSON object", EXIT_DATA)
    return _call(method, params, opts)


def _serve(argv: list[str]) -> int:
    from pyrun.wsp.server import run_server

    project = Path.cwd()
    if argv[:1] == ["--project"] and len(argv) == 2:
        project = Path(argv[1])
    elif argv:
        return _fail("usage: pyrun wsp serve [--project DIR]", EXIT_USAGE)
    return run_server(project)


def _with_server(opts: dict[str, Any], work: Any) -> int:
    """Start the project's server, ``initialize`` it, run ``work(client, init_result)``, stop
    it; turn each failure into its exit code."""
    from pyrun.errors import PyrunError
    from pyrun.wsp import declaration
    from pyrun.wsp.client import CallTimeout, Client, ProtocolError
    from pyrun.wsp.jsonrpc import RpcError

    try:
        decl = declaration.resolve(Path.cwd())
        declaration.ensure_trusted(decl, trust=opts["trust"], stdin=sys.stdin, stderr=sys.stderr)
        argv, env = launch(decl)
    except declaration.DeclarationError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except declaration.NotTrusted as exc:
        return _fail(str(exc), EXIT_NOT_TRUSTED)
    except PyrunError as exc:
        return _fail(f"cannot start the workflow server: {exc}", exc.exit_code)
    try:
        client = Client(argv, cwd=str(decl.project), env=env)
    except OSError as exc:
        return _fail(f"cannot start the workflow server {argv[0]}: {exc.strerror}", EXIT_PROTOCOL)
    try:
        with client:
            init = client.initialize(opts["start_timeout"])
            return int(work(client, init))
    except RpcError as exc:
        detail = f" {json.dumps(exc.data)}" if exc.data is not None else ""
        return _fail(f"the server answered with error {exc.code}: {exc.message}{detail}",
                     EXIT_SERVER_ERROR)
    except CallTimeout as exc:
        return _fail(f"the workflow server did not answer: {exc}", EXIT_TIMEOUT)
    except ProtocolError as exc:
        return _fail(str(exc), EXIT_PROTOCOL)


def _call(method: str, params: dict[str, Any] | None, opts: dict[str, Any]) -> int:
    def work(client: Any, _init: Any) -> int:
        result = client.request(method, params, opts["timeout"])
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0

    return _with_server(opts, work)


def _run_command(command: list[str], opts: dict[str, Any]) -> int:
    """Find the environment's prefix through the server, then exec ``command`` in it."""
    found: dict[str, Any] = {}

    def work(client: Any, init: Any) -> int:
        env_id = opts["env"]
        if env_id is None:
            methods = init.get("methods", []) if isinstance(init, dict) else []
            if "pyrun/default_environment" in methods:
                found.update(client.request("pyrun/default_environment", {}, opts["timeout"]))
                return 0
            items = client.request("environment/list", None, opts["timeout"])
            defaults = [e for e in items if e.get("is_default")] or (items if len(items) == 1 else [])
            if len(defaults) != 1:
                print("pyrun: error: the server names no single default environment; "
                      "pass --env ID (see `pyrun wsp environment/list`)", file=sys.stderr)
                return EXIT_USAGE
            env_id = defaults[0]["id"]
        found.update(client.request("environment/get", {"id": env_id}, opts["timeout"]))
        return 0

    code = _with_server(opts, work)
    if code != 0:
        return code
    interpreter = found.get("interpreter_path")
    prefix = found.get("prefix") or (str(Path(interpreter).parent.parent) if interpreter else None)
    if not prefix:
        return _fail("the server gave no interpreter_path for the environment", EXIT_PROTOCOL)
    from pyrun.wsp.server import environment_variables

    env = environment_variables(Path(prefix))
    sys.stdout.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        return _fail(f"cannot run {command[0]}: {exc.strerror}", 127)
    return 0  # pragma: no cover - execvpe does not return


def launch(decl: Any) -> tuple[list[str], dict[str, str] | None]:
    """The command line and environment that start the server ``decl`` names.

    A ``script`` gets its environment from pyrun's engine first (so the start timeout covers
    the server's start, not an install); a ``cmd`` with ``requires`` gets those installed
    through the pool and its environment's ``bin`` first on ``PATH``.

    Raises:
        PyrunError: building the environment failed.
    """
    from pyrun.wsp.server import environment_variables

    if decl.kind == "builtin":
        return [sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(decl.project)], None
    if decl.kind == "script":
        from pyrun.progress import Reporter
        from pyrun.runner import prepare

        env = prepare(decl.script, reporter=Reporter(0))
        return [str(env.python), str(decl.script)], environment_variables(env.path)
    if decl.requires:
        from pyrun.progress import Reporter
        from pyrun.runner import prepare_requirements

        env = prepare_requirements(list(decl.requires), reporter=Reporter(0))
        return list(decl.cmd), environment_variables(env.path)
    return list(decl.cmd), None
