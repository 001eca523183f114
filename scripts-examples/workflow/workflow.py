# /// script
# requires-python = ">=3.9"
# dependencies = ["packaging>=23"]
# ///
"""A personal workflow server in one file: WSP (JSON-RPC over stdio) for this project.

Environments are the venvs under ./envs/<name>, made with the standard library's venv module.
`packaging` checks the requested Python version and the requirements. Declared in
pyproject.toml as `[workflow] wsp = {script = "./workflow.py"}`; pyrun runs it with its
dependencies from pyrun's pool, so there is nothing to install or package.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent / "envs"
METHODS = ["initialize", "shutdown", "exit", "environment/list", "environment/create",
           "environment/get", "environment/delete", "environment/execute"]


class Error(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def read_message(stream):
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if length is None:
                continue
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length))


def write_message(stream, message):
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    stream.flush()


def python_version(env):
    for line in (env / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:3])
    return ""


def find(params):
    env = ROOT / str(params.get("id", ""))
    if not params.get("id") or not (env / "pyvenv.cfg").is_file():
        raise Error(-31001, f"no environment {params.get('id')!r}", {"id": params.get("id")})
    return env


def details(env):
    packages = []
    for info in sorted(env.glob("lib/python*/site-packages/*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        packages.append({"name": name, "version": version})
    return {"id": env.name, "name": env.name, "python_version": python_version(env),
            "interpreter_path": str(env / "bin" / "python"), "installed_packages": packages,
            "extra": {}}


def create(params):
    name = params.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise Error(-32602, "name must be an identifier")
    if (ROOT / name).exists():
        raise Error(-31002, f"{name} exists", {"name": name})
    wanted = params.get("python_version")
    if wanted and Version(".".join(map(str, sys.version_info[:3]))) not in SpecifierSet(
        wanted if wanted[0] in "<>=!~" else f"=={wanted}.*"
    ):
        raise Error(-31003, f"this server runs Python {sys.version.split()[0]}, not {wanted}",
                    {"python_version": wanted})
    try:
        reqs = [str(Requirement(r)) for r in params.get("requirements", [])]
    except InvalidRequirement as exc:
        raise Error(-32602, f"invalid requirement: {exc}") from None
    subprocess.run([sys.executable, "-m", "venv", str(ROOT / name)], check=True,
                   stdin=subprocess.DEVNULL, stdout=sys.stderr)
    if reqs:
        subprocess.run([str(ROOT / name / "bin" / "python"), "-m", "pip", "install", "-q", *reqs],
                       check=True, stdin=subprocess.DEVNULL, stdout=sys.stderr)
    return details(ROOT / name)


def execute(params):
    env = find(params)
    argv = params.get("argv") or []
    if argv[:1] == ["python"]:
        argv = [str(env / "bin" / "python"), *argv[1:]]
    child_env = {**os.environ, **(params.get("env") or {}), "VIRTUAL_ENV": str(env),
                 "PATH": f"{env / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          cwd=params.get("cwd"), env=child_env)
    return {"exit_code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


def handle(method, params, state):
    if method == "initialize":
        if state["initialized"]:
            raise Error(-32600, "already initialized")
        state["initialized"] = True
        return {"protocol_version": "0.1.0", "methods": METHODS,
                "server_name": "example-workflow"}
    if not state["initialized"]:
        raise Error(-32002, "not initialized")
    if state["shut_down"]:
        raise Error(-32600, "shut down")
    if method == "shutdown":
        state["shut_down"] = True
        return None
    if method == "environment/list":
        envs = sorted(p for p in ROOT.glob("*") if (p / "pyvenv.cfg").is_file())
        return [{"id": e.name, "name": e.name, "python_version": python_version(e)} for e in envs]
    if method == "environment/get":
        return details(find(params))
    if method == "environment/create":
        return create(params)
    if method == "environment/delete":
        env = find(params)
        shutil.rmtree(env)
        return {"id": env.name}
    if method == "environment/execute":
        return execute(params)
    raise Error(-32601, f"method not found: {method}")


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    state = {"initialized": False, "shut_down": False}
    while True:
        message = read_message(stdin)
        if message is None:
            return 0
        method, msg_id = message.get("method"), message.get("id")
        if method == "exit":
            return 0 if state["shut_down"] else 1
        try:
            result = handle(method, message.get("params") or {}, state)
            reply = {"jsonrpc": "2.0", "id": msg_id, "result": result}
        except Error as exc:
            error = {"code": exc.code, "message": exc.message}
            if exc.data is not None:
                error["data"] = exc.data
            reply = {"jsonrpc": "2.0", "id": msg_id, "error": error}
        if "id" in message:
            write_message(stdout, reply)


if __name__ == "__main__":
    sys.exit(main())
