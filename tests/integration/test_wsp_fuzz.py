"""Generated frames against real servers over real pipes (issue 23, point 1): whatever a
client sends, `pyrun wsp serve` and a toolkit server stay up, answer every request they can
identify with a JSON-RPC 2.0 response of the right shape, and never print a traceback.

Each server runs once per test; hypothesis sends it generated frames (messages of every
shape, batches, `$/cancelRequest`s, headers with odd lengths), each followed by a sentinel
request whose answer shows that the server is alive and still in step with the stream."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrun.wsp.framing import read_frame
from tests.helpers import Runner, write

TOOLKIT_SERVER = '''\
from pyrun.wsp.toolkit import Server, VenvFolder

app = Server("fuzzed")
app.include(VenvFolder("envs"))


@app.method("t/echo")
def echo(params):
    return params


@app.method("t/slow", slow=True)
def slow(params):
    return {"n": len(params)}


app.run()
'''

# JSON values, nested a little; strings include control characters and lone surrogates
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
methods = st.sampled_from(["initialize", "shutdown", "environment/list", "environment/get",
                           "environment/execute", "environment/delete", "$/cancelRequest",
                           "pyrun/process/write", "pyrun/process/kill",
                           "pyrun/default_environment", "pyrun/set_default_environment",
                           "t/echo", "t/slow", "$/setTrace"]) | json_values
ids = st.integers(-2**40, 2**40) | st.text(max_size=10) | json_values
params = st.dictionaries(st.sampled_from(["id", "argv", "token", "data", "eof", "name",
                                          "stream", "timeout", "cwd", "env", "stdin",
                                          "work_done_token"]), json_values, max_size=4) \
    | json_values


@st.composite
def messages(draw: Any) -> Any:
    message: dict[str, Any] = {}
    if draw(st.booleans()):
        message["jsonrpc"] = draw(st.just("2.0") | json_values)
    if draw(st.booleans()):
        message["id"] = draw(ids)
    method = draw(methods)
    if method != "exit":  # the one message that ends a server, by design
        message["method"] = method
    if draw(st.booleans()):
        message["params"] = draw(params)
    return message if draw(st.integers(0, 9)) else draw(json_values)


bodies = (messages().map(json.dumps)
          | st.lists(messages(), max_size=4).map(json.dumps)
          | st.sampled_from(['{"jsonrpc": "2.0", "id": 1, "method": "t/echo", "params": NaN}',
                             '{"jsonrpc": "2.0", "id": 1e400, "method": "t/echo"}',
                             "[" * 100000 + "]" * 100000, "{not json", "\ud800", ""])
          ).map(lambda text: text.encode("utf-8", "surrogatepass"))
length_spellings = st.sampled_from(["{n}", "{n}", "{n}", " {n} ", "1_0", "+{n}", "-1", "abc",
                                    "\uff11\uff10", "99999999999999999999999", ""])


@st.composite
def frames(draw: Any) -> bytes:
    body = draw(bodies)
    spelling = draw(length_spellings).format(n=len(body))
    name = draw(st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH"]))
    extra = draw(st.sampled_from([b"", b"Content-Type: application/json\r\n", b"X: y\n"]))
    end = draw(st.sampled_from([b"\r\n", b"\n"]))
    header = f"{name}: {spelling}".encode("utf-8") + end + extra + end
    return header + body


class Served:
    """A server process, its stdin, and the answers read from its stdout."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        with log.open("wb") as stderr:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=stderr, env=env, cwd=cwd)
        self.sentinel = 0

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request(self, method: str, params: Any = None) -> Any:
        """Send a good request; read frames until its answer, checking every frame read."""
        self.sentinel += 1
        id_ = f"sentinel-{self.sentinel}"
        message = {"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}}
        body = json.dumps(message).encode()
        self.send(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert self.proc.stdout is not None
        while True:
            frame = read_frame(self.proc.stdout)  # type: ignore[arg-type]
            assert frame is not None, f"the server ended: {self.log.read_text()[-2000:]}"
            for reply in (lambda m: m if isinstance(m, list) else [m])(json.loads(frame)):
                assert_response(reply)
                if reply.get("id") == id_:
                    return reply

    def stop(self) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return self.log.read_text()


def assert_response(reply: Any) -> None:
    """A JSON-RPC 2.0 response (section 5), or one of the server's notifications."""
    assert isinstance(reply, dict) and reply.get("jsonrpc") == "2.0", reply
    if "method" in reply:  # a notification ($/progress, pyrun/output)
        assert "id" not in reply, reply
        return
    assert ("result" in reply) != ("error" in reply), reply
    assert "id" in reply and (reply["id"] is None or isinstance(reply["id"], (str, int)))
    if "error" in reply:
        error = reply["error"]
        assert isinstance(error["code"], int) and isinstance(error["message"], str), reply
        assert error["code"] != -32603 or "internal error in" not in error["message"], reply


@pytest.fixture(params=["pyrun wsp serve", "toolkit"])
def server(request: Any, pyrun: Runner, tmp_path: Path) -> Iterator[Served]:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    if request.param == "toolkit":
        argv = [sys.executable, str(write(project / "wf.py", TOOLKIT_SERVER))]
    else:
        argv = [sys.executable, "-m", "pyrun", "wsp", "serve", "--project", str(project)]
    served = Served(argv, pyrun.env(), project, tmp_path / "server.log")
    try:
        assert "result" in served.request("initialize", {"client_name": "fuzz",
                                                         "client_protocol_version": "0.1.0"})
        yield served
        served.request("shutdown")  # null, or -32600 when a generated one came first
        served.send(b'Content-Length: 33\r\n\r\n{"jsonrpc":"2.0","method":"exit"}')
        log = served.stop()
        assert served.proc.returncode == 0 and "Traceback" not in log, log[-3000:]
    finally:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait()
        for pipe in (served.proc.stdin, served.proc.stdout):
            if pipe is not None:
                pipe.close()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.lists(frames(), min_size=1, max_size=3))
def test_no_frame_ends_a_server_or_draws_a_traceback(server: Served, data: list[bytes]) -> None:
    for frame in data:
        server.send(frame)
    reply = server.request("environment/list")
    assert "result" in reply or reply["error"]["code"] == -32600, reply  # -32600: shut down
