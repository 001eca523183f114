"""What a client written to the protocol sends, over a real pipe to a real `pyrun wsp serve`
process (issue 13): params as an empty array, null cwd, PATH in env, bad params, long ids, lone
surrogates, deep nesting, a bad header before a good frame, ~ in .python-envs, deleting the
activated environment, pip in a venv made without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from pyrun.wsp.framing import read_frame
from tests.conftest import Runner


class Raw:
    """``pyrun wsp serve`` and the raw bytes of its stdio."""

    def __init__(self, pyrun: Runner, project: Path, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(project)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=pyrun.env(**env))

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.send_bytes(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def receive(self) -> Any:
        assert self.proc.stdout is not None
        body = read_frame(self.proc.stdout)  # type: ignore[arg-type]
        assert body is not None, self.stop()
        return json.loads(body)

    def call(self, id_: Any, method: str, params: Any = None, **extra: Any) -> Any:
        message = {"jsonrpc": "2.0", "id": id_, "method": method, **extra}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.receive()

    def start(self) -> Raw:
        reply = self.call(0, "initialize", {"client_name": "t", "client_protocol_version": "0.1.0"})
        assert "result" in reply, reply
        return self

    def stop(self) -> str:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        with self.proc.stderr:
            return self.proc.stderr.read().decode()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    venv.create(d / ".venv", with_pip=False)
    return d


def code(reply: Any) -> int:
    return int(reply["error"]["code"])


def test_params_shapes(pyrun: Runner, project: Path) -> None:
    raw = Raw(pyrun, project).start()
    assert isinstance(raw.call(1, "environment/list", [])["result"], list)  # empty array: none
    assert code(raw.call(2, "environment/get", ["x"])) == -32602  # positional: not supported
    assert code(raw.call(3, "environment/list", "x")) == -32600  # neither object nor array
    assert code(raw.call(4, "environment/list", 7)) == -32600
    assert code(raw.call(5, "environment/execute", {"id": "nope"})) == -32602  # params first
    assert raw.call(6, "shutdown", [])["result"] is None
    assert "Traceback" not in raw.stop()


def test_long_ids_surrogates_and_nesting_never_kill_the_server(pyrun: Runner,
                                                              project: Path) -> None:
    raw = Raw(pyrun, project).start()
    long = raw.call(1, "environment/get", {"id": "x" * 5000})
    assert code(long) == -31001 and len(long["error"]["message"]) <= 500
    lone = raw.call(2, "environment/get", {"id": "\ud800"})  # valid JSON, not valid UTF-8
    assert code(lone) == -31001 and lone["error"]["data"]["id"] == "\ud800"
    nested = raw.call  # a request nested 100,000 deep
    raw.send(b'{"jsonrpc":"2.0","id":3,"method":"environment/list","params":'
             + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert code(raw.receive()) == -32700
    assert isinstance(nested(4, "environment/list")["result"], list)  # still serving
    assert "Traceback" not in raw.stop()


def test_a_bad_header_never_swallows_the_next_request(pyrun: Runner, project: Path) -> None:
    raw = Raw(pyrun, project).start()
    good = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "environment/list"}).encode()
    raw.send_bytes(b"Content-Length: nonsense\r\n\r\n" + good)  # no line end after the body
    raw.send(good)
    replies = [raw.receive(), raw.receive()]
    assert replies[0]["error"]["code"] == -32700  # the bad frame, said
    assert replies[1]["id"] == 7 and isinstance(replies[1]["result"], list)  # the next, served
    assert "Traceback" not in raw.stop()


def test_execute_cwd_null_and_path_in_env_follow_the_environment(pyrun: Runner,
                                                                 project: Path) -> None:
    raw = Raw(pyrun, project).start()
    script = "import os, shutil, sys; print(sys.prefix); print(shutil.which('python'))"
    reply = raw.call(1, "environment/execute", {
        "id": ".venv", "argv": ["sh", "-c", f"python -c \"{script}\""], "cwd": None,
        "env": {"PATH": os.environ["PATH"], "X": "1"}})
    out = reply["result"]["stdout"].split()
    venv_dir = str(project / ".venv")
    assert reply["result"]["exit_code"] == 0, reply
    assert out[0] == venv_dir and out[1].startswith(venv_dir)  # python through a shell: inside
    pip = raw.call(2, "environment/execute", {"id": ".venv", "argv": ["pip", "--version"]})
    assert code(pip) == -31004 and pip["error"]["data"]["reason"] == "not in environment"
    assert "python" in pip["error"]["message"] and "requirements" in pip["error"]["message"]
    assert "Traceback" not in raw.stop()


def test_python_envs_lines_are_relative_to_the_file_never_home(pyrun: Runner, project: Path,
                                                                tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "envs").mkdir(parents=True)
    venv.create(home / "envs" / "h", with_pip=False)
    (project / ".python-envs").write_text("~/envs/h\n")
    raw = Raw(pyrun, project, HOME=str(home)).start()
    listed = {e["id"]: e for e in raw.call(1, "environment/list")["result"]}
    assert listed["~/envs/h"]["prefix"] == str(project / "~" / "envs" / "h")
    assert "error" in listed["~/envs/h"]  # no such directory beside the file
    assert "Traceback" not in raw.stop()


def test_deleting_the_activated_environment(pyrun: Runner, project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "active"
    venv.create(outside, with_pip=False)
    inside = project / "act"
    venv.create(inside, with_pip=False)
    raw = Raw(pyrun, project, VIRTUAL_ENV=str(outside)).start()
    refused = raw.call(1, "environment/delete", {"id": str(outside)})
    assert code(refused) == -32602 and refused["error"]["data"]["reason"] == "activated"
    assert outside.is_dir()
    raw.stop()
    raw = Raw(pyrun, project, VIRTUAL_ENV=str(inside)).start()
    assert raw.call(2, "environment/delete", {"id": str(inside)})["result"] == {"id": str(inside)}
    ids = [e["id"] for e in raw.call(3, "environment/list")["result"]]
    assert str(inside) not in ids and not inside.exists()  # gone, and not listed again
    assert "Traceback" not in raw.stop()
