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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyrun.wsp.framing import read_frame
from tests.helpers import Runner


class Raw:
    """``pyrun wsp serve`` and the raw bytes of its stdio."""

    #: Every server started, for :func:`no_server_left` to stop after a failed test.
    started: list[Raw] = []

    def __init__(self, pyrun: Runner, project: Path, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(project)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=pyrun.env(**env))
        Raw.started.append(self)

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


@pytest.fixture(autouse=True)
def no_server_left() -> Iterator[None]:
    """A test that failed before ``stop()`` leaves no server running nor pipe open (they
    would surface as warnings in whichever test runs next)."""
    yield
    while Raw.started:
        proc = Raw.started.pop().proc
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


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


def until(raw: Raw, id_: Any) -> tuple[list[Any], Any]:
    """The notifications received before the response to ``id_``, and that response."""
    seen = []
    while True:
        message = raw.receive()
        if message.get("id") == id_ and "method" not in message:
            return seen, message
        seen.append(message)


def group_alive(pgid: int) -> bool:
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def test_a_list_is_answered_while_a_create_runs(pyrun: Runner, project: Path) -> None:
    raw = Raw(pyrun, project).start()
    raw.send({"jsonrpc": "2.0", "id": 1, "method": "environment/create",
              "params": {"name": "busy", "requirements": ["six"], "work_done_token": "w"}})
    raw.send({"jsonrpc": "2.0", "id": 2, "method": "environment/list"})
    early = []
    first = raw.receive()
    while "method" in first:  # progress notifications may come first
        early.append(first)
        first = raw.receive()
    assert first["id"] == 2, first  # not stuck behind the create
    notes, created = until(raw, 1)
    notes = early + notes
    assert created["result"]["id"] == ".venvs/busy", created
    kinds = [n["params"]["value"]["kind"] for n in notes if n["method"] == "$/progress"]
    assert kinds[0] == "begin" and kinds[-1] == "end", notes  # $/progress around the work
    assert "Traceback" not in raw.stop()


def test_cancel_kills_a_running_execute_and_its_process_group(pyrun: Runner,
                                                              project: Path) -> None:
    raw = Raw(pyrun, project).start()
    raw.send({"jsonrpc": "2.0", "id": 5, "method": "environment/execute", "params": {
        "id": ".venv", "argv": ["sh", "-c", "echo $$; sleep 60 & sleep 60; wait"],
        "stream": {"token": "s"}}})
    note = raw.receive()
    assert note["method"] == "pyrun/output" and note["params"]["token"] == "s", note
    pgid = int(note["params"]["data"].split()[0])
    assert group_alive(pgid)
    raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 5}})
    _, answer = until(raw, 5)
    assert code(answer) == -32800
    assert not group_alive(pgid)  # the shell and both sleeps are gone
    assert "Traceback" not in raw.stop()


def test_a_waiting_request_is_cancelled_at_once_and_the_workers_are_bounded(
        pyrun: Runner, project: Path) -> None:
    raw = Raw(pyrun, project).start()
    sleep = {"id": ".venv", "argv": ["sleep", "60"]}
    for i in range(4):  # every worker busy
        raw.send({"jsonrpc": "2.0", "id": 100 + i, "method": "environment/execute",
                  "params": sleep})
    raw.send({"jsonrpc": "2.0", "id": 200, "method": "environment/execute", "params": sleep})
    raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 200}})
    assert code(raw.receive()) == -32800  # waiting: answered at once
    for i in range(300, 340):  # up to 32 may wait; the rest are refused, none started
        raw.send({"jsonrpc": "2.0", "id": i, "method": "environment/execute", "params": sleep})
    busy = [raw.receive() for _ in range(12)]
    assert all(r["error"]["data"]["reason"] == "busy" for r in busy), busy
    threads = len(os.listdir(f"/proc/{raw.proc.pid}/task"))
    # bounded: 45 requests sent, at most 32 held; each running one has two output readers
    assert threads <= 32 + 2 * 4 + 4
    for i in [*range(100, 104), *range(300, 328)]:
        raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": i}})
    answers = [raw.receive() for _ in range(32)]
    assert {code(a) for a in answers} == {-32800}
    assert "Traceback" not in raw.stop()


def test_streaming_execute_sends_output_before_the_end_and_takes_stdin(
        pyrun: Runner, project: Path) -> None:
    raw = Raw(pyrun, project).start()
    raw.send({"jsonrpc": "2.0", "id": 9, "method": "environment/execute", "params": {
        "id": ".venv", "argv": ["python", "-c", "import sys; print('ready', flush=True); "
                                "print('got', sys.stdin.readline().strip())"],
        "stream": {"token": 42}}})
    text = ""
    while "ready\n" not in text:  # chunks may split a line
        note = raw.receive()
        assert note.get("method") == "pyrun/output", note  # output before the end
        assert note["params"]["token"] == 42 and note["params"]["stream"] == "stdout"
        text += note["params"]["data"]
    raw.send({"jsonrpc": "2.0", "id": 10, "method": "pyrun/process/write",
              "params": {"token": 42, "data": "hello\n", "eof": True}})
    notes, done = until(raw, 9)
    written = [n for n in notes if n.get("id") == 10]
    assert done["result"]["exit_code"] == 0, done
    assert "got hello\n" in "".join(n["params"]["data"] for n in notes if "method" in n)
    if not written:  # the write's answer may come after the command's end
        written = [until(raw, 10)[1]]
    assert written[0]["result"] is None, written
    gone = raw.call(11, "pyrun/process/kill", {"token": 42})
    assert code(gone) == -31004 and gone["error"]["data"]["reason"] == "no such process"
    assert "Traceback" not in raw.stop()


def test_the_default_environment_can_be_read_and_set(pyrun: Runner, project: Path) -> None:
    import shutil

    shutil.rmtree(project / ".venv")
    venv.create(project / "a", with_pip=False)
    venv.create(project / "b", with_pip=False)
    (project / ".python-envs").write_text("a\nb\n")
    raw = Raw(pyrun, project).start()
    assert raw.call(1, "pyrun/default_environment", {})["result"]["id"] == "b"
    assert raw.call(2, "pyrun/set_default_environment", {"id": "a"})["result"]["id"] == "a"
    assert (project / ".python-envs").read_text().splitlines()[-1] == "a"
    venv.create(project / ".venv", with_pip=False)
    refused = raw.call(3, "pyrun/set_default_environment", {"id": "b"})
    assert code(refused) == -32602 and ".venv" in refused["error"]["message"]
    init = raw.call(4, "initialize")  # a second initialize: refused, the capabilities stand
    assert code(init) == -32600
    assert "Traceback" not in raw.stop()


def test_pyrun_client_checks_the_protocol_version(pyrun: Runner, tmp_path: Path) -> None:
    from pyrun.wsp.client import Client, ProtocolError, compatible

    assert compatible("0.1.0") and compatible("0.1.7") and not compatible("0.2.0")
    assert not compatible("1.0.0") and not compatible(None) and not compatible("x")
    server = tmp_path / "v2.py"
    server.write_text(
        "import json, sys\n"
        "sys.path.insert(0, %r)\n"
        "from pyrun.wsp.framing import read_frame, write_frame\n"
        "body = read_frame(sys.stdin.buffer)\n"
        "msg = json.loads(body)\n"
        "write_frame(sys.stdout.buffer, {'jsonrpc': '2.0', 'id': msg['id'], 'result': "
        "{'protocol_version': '0.2.0', 'methods': []}})\n" % str(Path(__file__).parents[2] / "src"))
    with Client([sys.executable, str(server)], stderr=subprocess.DEVNULL) as client:
        with pytest.raises(ProtocolError, match="0.2.0"):
            client.initialize(timeout=30)


def test_requests_running_at_the_end_of_input_are_answered(pyrun: Runner, project: Path,
                                                           tmp_path: Path) -> None:
    """`printf ... | pyrun wsp serve`: the client closes its side at once, and still gets the
    answers of what it asked (issue 22); the command runs to its end, not killed."""
    go = tmp_path / "go"
    raw = Raw(pyrun, project).start()
    raw.send({"jsonrpc": "2.0", "id": 7, "method": "environment/execute", "params": {
        "id": ".venv", "argv": ["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; "
                                            "echo finished"]}})
    assert raw.proc.stdin is not None
    raw.proc.stdin.close()  # the end of input, with the execute still running
    go.touch()
    answer = raw.receive()
    assert answer["id"] == 7 and answer["result"]["exit_code"] == 0, answer
    assert answer["result"]["stdout"] == "finished\n"
    assert raw.proc.wait(timeout=60) == 0
